/** Security headers and the CORS allowlist, on a real controller serving a built page and the API. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController } from '../test/harness.js';

const APP = 'https://app.example';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmlive-edge-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>viewer</title><script src="/assets/app.js"></script>');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'app.js'), 'document.title = "x"');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const csp = (h: Headers) =>
  new Map(
    (h.get('content-security-policy') ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...v]) => [name, v.join(' ')]),
  );

describe('with the defaults (same origin only, nothing may frame)', () => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start({ webDir: dir });
  });
  afterAll(() => t.close());

  it.each(['/', '/view', '/api/vms', '/healthz', '/assets/app.js', '/api/nothing'])(
    '%s says nosniff and no-referrer, and no HSTS over plain HTTP',
    async (path) => {
      const r = await t.call('GET', path);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('strict-transport-security')).toBeNull();
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  it('the console page has a strict CSP with no inline script or style and may not be framed', async () => {
    const r = await t.call('GET', '/', { token: null });
    const p = csp(r.headers);
    expect(p.get('default-src')).toBe("'none'");
    expect(p.get('script-src')).toBe("'self'");
    expect(p.get('style-src')).toBe("'self'");
    expect(p.get('connect-src')).toBe("'self'");
    expect(p.get('media-src')).toBe('blob:');
    expect(p.get('frame-ancestors')).toBe("'none'");
    expect(r.headers.get('x-frame-options')).toBe('DENY');
  });

  it('the viewer page is not framable either unless VMLIVE_FRAME_ANCESTORS says so', async () => {
    const r = await t.call('GET', '/view?vm=x', { token: null });
    expect(csp(r.headers).get('frame-ancestors')).toBe("'none'");
    expect(csp(r.headers).get('script-src')).toBe("'self'");
    expect(r.headers.get('x-frame-options')).toBe('DENY');
  });

  it('API answers and assets carry a no-document CSP', async () => {
    for (const path of ['/api/vms', '/assets/app.js']) {
      const p = csp((await t.call('GET', path)).headers);
      expect(p.get('default-src'), path).toBe("'none'");
      expect(p.get('frame-ancestors'), path).toBe("'none'");
    }
  });

  it('another origin gets no CORS grant, on the call or its preflight', async () => {
    const pre = await fetch(`${t.url}/api/vms`, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-headers')).toBeNull();
    const r = await t.call('GET', '/api/vms', { headers: { origin: APP } });
    expect(r.status).toBe(200); // CORS is the browser's to enforce: the answer just carries no grant
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('with an allowlist and a framing policy for /view', () => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start({ webDir: dir, corsOrigins: [APP], frameAncestors: `'self' ${APP}` });
  });
  afterAll(() => t.close());

  it('an origin on the list gets its own origin back, with the headers a viewer needs, preflight included', async () => {
    const pre = await fetch(`${t.url}/api/webrtc/session`, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(APP);
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(pre.headers.get('vary')).toBe('Origin');
    const r = await t.call('GET', '/api/vms', { headers: { origin: APP } });
    expect(r.headers.get('access-control-allow-origin')).toBe(APP);
    expect(r.headers.get('access-control-expose-headers')).toContain('Retry-After');
  });

  it("grants an allowed origin's WHEP player what it needs: PATCH with If-Match, and Location, ETag and Link exposed", async () => {
    const pre = await fetch(`${t.url}/whep/sessions/x`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'if-match' },
    });
    expect(pre.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(pre.headers.get('access-control-allow-headers')).toContain('If-Match');
    expect(pre.headers.get('accept-patch')).toBe('application/trickle-ice-sdpfrag');
    const r = await t.call('GET', '/api/vms', { headers: { origin: APP } });
    for (const h of ['Location', 'ETag', 'Link']) expect(r.headers.get('access-control-expose-headers')).toContain(h);
  });

  it('an origin off the list still gets nothing, and the answer varies on Origin for caches', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.evil', 'http://app.example']) {
      const pre = await fetch(`${t.url}/api/vms`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'DELETE' },
      });
      expect(pre.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(pre.headers.get('access-control-allow-methods'), origin).toBeNull();
      expect(pre.headers.get('vary')).toBe('Origin');
    }
  });

  it('/view may be framed by the listed ancestors; the console still by nobody', async () => {
    const view = await t.call('GET', '/view', { token: null });
    expect(csp(view.headers).get('frame-ancestors')).toBe(`'self' ${APP}`);
    expect(view.headers.get('x-frame-options')).toBeNull();
    const console = await t.call('GET', '/', { token: null });
    expect(csp(console.headers).get('frame-ancestors')).toBe("'none'");
  });
});

describe("with VMLIVE_CORS_ORIGINS='*'", () => {
  it('any origin is granted, without credentials', async () => {
    const t = await TestController.start({ corsOrigins: ['*'] });
    try {
      const r = await t.call('GET', '/api/vms', { headers: { origin: 'https://anywhere.example' } });
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
      expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      await t.close();
    }
  });
});
