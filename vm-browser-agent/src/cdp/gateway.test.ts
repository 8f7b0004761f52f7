/**
 * The gateway's refusals, which never reach a browser: auth, Host and Origin
 * checks, unknown paths, a browser that is not there. Real HTTP and WebSocket
 * on loopback; the browser is a closed port (Chromium itself: gateway.e2e.test.ts).
 */
import { get } from 'node:http';
import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JwksAutomationAuth } from './automation-auth.js';
import { ControlCell } from './control-view.js';
import { CdpGateway, CdpGatewayConfigError } from './gateway.js';
import { JwksServer } from './testing/jwks-server.js';

const log = pino({ level: 'silent' });
const VM = 'vm-1';

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise((r) => s.close(r));
  return port;
}

/** The status and JSON body of a refused WebSocket upgrade. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => reject(new Error('upgrade accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', () => {});
  });
}

const base = (upstreamPort: number) => ({
  upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
  host: '127.0.0.1',
  port: 0,
  control: new ControlCell(),
  whileHeld: 'hold' as const,
  holdMaxMs: 5_000,
  maxMessageBytes: 1024 * 1024,
  log,
});

describe('CDP gateway: refusals', () => {
  let jwks: JwksServer;
  let open: CdpGateway;
  let openUrl: string;
  let authed: CdpGateway;
  let authedUrl: string;
  beforeAll(async () => {
    jwks = await JwksServer.start();
    const port = await deadPort();
    open = new CdpGateway(base(port));
    openUrl = (await open.start()).url;
    authed = new CdpGateway({
      ...base(port),
      auth: new JwksAutomationAuth({ controllerUrl: jwks.url, vmId: VM, log }),
    });
    authedUrl = (await authed.start()).url;
  });
  afterAll(async () => {
    await open.stop();
    await authed.stop();
    await jwks.stop();
  });

  it('will not listen beyond loopback without automation auth', () => {
    expect(() => new CdpGateway({ ...base(1), host: '0.0.0.0' })).toThrow(CdpGatewayConfigError);
    expect(() => new CdpGateway({ ...base(1), host: '10.0.0.2' })).toThrow(/AutomationAuth/);
  });

  it('answers 502 with a JSON body when the browser is not there, for HTTP and WebSocket alike', async () => {
    const res = await fetch(`${openUrl}/json/version`);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: 'browser_unavailable' } });
    const up = await upgradeStatus(`${openUrl.replace('http', 'ws')}/devtools/browser/x`);
    expect(up.status).toBe(502);
    expect(JSON.parse(up.body)).toMatchObject({ error: { code: 'browser_unavailable' } });
  });

  it('answers 404 for paths Chromium does not serve', async () => {
    for (const p of ['/', '/json/nope', '/devtools/page/x', '/token/abc/json']) {
      const res = await fetch(`${openUrl}${p}`);
      expect(res.status, p).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await upgradeStatus(`${openUrl.replace('http', 'ws')}/json/version`)).status).toBe(404);
  });

  it('refuses a DNS-rebinding Host and a WebSocket from a web page (Origin) with 403', async () => {
    const port = new URL(openUrl).port;
    const res = await new Promise<number>((resolve) => {
      const req = get(
        { host: '127.0.0.1', port, path: '/json/version', headers: { host: `attacker.example:${port}` } },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', () => resolve(0));
    });
    expect(res).toBe(403);
    const ws = `${openUrl.replace('http', 'ws')}/devtools/browser/x`;
    expect((await upgradeStatus(ws, { origin: 'http://evil.example' })).status).toBe(403);
  });

  it('without a token: 401 naming the problem; a token for another VM: 403; expired: 401 token_expired', async () => {
    const cases: [Record<string, string>, string, number, string][] = [
      [{}, '', 401, 'unauthorized'],
      [{ authorization: 'Bearer nonsense' }, '', 401, 'unauthorized'],
      [{ authorization: `Bearer ${await jwks.mint('vm-2')}` }, '', 403, 'forbidden'],
      [{}, `/token/${await jwks.mint('vm-2')}`, 403, 'forbidden'],
      [{ authorization: `Bearer ${await jwks.mint(VM, { ttlS: -30 })}` }, '', 401, 'token_expired'],
    ];
    for (const [headers, prefix, status, code] of cases) {
      const res = await fetch(`${authedUrl}${prefix}/json/version`, { headers });
      expect(res.status, code).toBe(status);
      const body = await res.json();
      expect(body).toMatchObject({ error: { code } });
      expect(body.error.message.length).toBeGreaterThan(10);
      const up = await upgradeStatus(`${authedUrl.replace('http', 'ws')}${prefix}/devtools/browser/x`, headers);
      expect(up.status, `upgrade ${code}`).toBe(status);
    }
  });

  it('with a valid token goes on to the browser (here: absent, so 502), by header or by path prefix', async () => {
    const t = await jwks.mint(VM);
    expect((await fetch(`${authedUrl}/json/version`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(502);
    expect((await fetch(`${authedUrl}/token/${t}/json/version`)).status).toBe(502);
    expect((await upgradeStatus(`${authedUrl.replace('http', 'ws')}/token/${t}/devtools/browser/x`)).status).toBe(502);
  });

  it('serves the control state at /vmlive/control', async () => {
    const res = await fetch(`${openUrl}/vmlive/control`);
    expect(await res.json()).toEqual({ mode: 'agent', holder: null, since: 0 });
  });
});
