/**
 * The security headers as a real browser enforces them, against the real
 * controller serving the built web pages and a sandbox VM: the console and the
 * viewer run under their strict CSP without a single violation (and the viewer
 * decodes video), a page on another origin cannot frame the console, /view is
 * framable only by the origin VMLIVE_FRAME_ANCESTORS names, and only an origin
 * on VMLIVE_CORS_ORIGINS may call the API from its page.
 *
 * One local HTTP server plays the other site; it is reachable as two origins,
 * http://127.0.0.1:P (allowed) and http://localhost:P (not), since an origin
 * is scheme + host + port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';
import { framesDecoded, waitLive } from './viewer-page.js';

let sys: LocalSystem;
let browser: Browser;
let site: Server;
let allowed: string;
let other: string;

/** `/frame?src=URL`: a page framing URL. `/`: an empty page (to fetch from). */
function startSite(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const src = url.searchParams.get('src') ?? '';
    const body =
      url.pathname === '/frame'
        ? `<!doctype html><title>framer</title><iframe id="f" src="${src.replace(/"/g, '&quot;')}" width="800" height="600"></iframe>`
        : '<!doctype html><title>other site</title>';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  site = await startSite();
  const port = (site.address() as AddressInfo).port;
  allowed = `http://127.0.0.1:${port}`;
  other = `http://localhost:${port}`;
  [sys, browser] = await Promise.all([
    startSystem({ controllerEnv: { VMLIVE_CORS_ORIGINS: allowed, VMLIVE_FRAME_ANCESTORS: allowed } }),
    launchViewerBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
  site?.close();
});

/** CSP violations the page reports (the browser's own event, plus its console line). */
async function watchCsp(page: Page): Promise<string[]> {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  await page.exposeFunction('__cspViolation', (what: string) => seen.push(what));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __cspViolation(s: string): void }).__cspViolation(
        `${e.violatedDirective} ${e.blockedURI}`,
      );
    });
  });
  return seen;
}

/** The framed document's URL once the frame settled: Chromium puts a refused frame on its error page. */
async function framedUrl(page: Page): Promise<string> {
  await page.waitForLoadState('load');
  const frame = page.frames().find((f) => f !== page.mainFrame());
  if (!frame) throw new Error('no child frame');
  await frame.waitForLoadState('load').catch(() => undefined);
  return frame.url();
}

describe('the pages under their CSP', () => {
  it('the viewer page decodes video with no CSP violation', async () => {
    const page = await browser.newPage();
    const violations = await watchCsp(page);
    await page.goto(await sys.viewerUrl('view'));
    await waitLive(page, sys);
    expect(await framesDecoded(page)).toBeGreaterThan(20);
    expect(violations).toEqual([]);
    await page.close();
  });

  it('the console renders its VM list with no CSP violation', async () => {
    const page = await browser.newPage();
    const violations = await watchCsp(page);
    await page.goto(`${sys.controllerUrl}/`);
    await expect
      .poll(() => page.evaluate(() => document.querySelector('#root')?.childElementCount ?? 0))
      .toBeGreaterThan(0);
    expect(violations).toEqual([]);
    await page.close();
  });
});

describe('framing', () => {
  it('a page on another origin cannot frame the console, not even the allowed one', async () => {
    for (const origin of [other, allowed]) {
      const page = await browser.newPage();
      await page.goto(`${origin}/frame?src=${encodeURIComponent(`${sys.controllerUrl}/`)}`);
      expect(await framedUrl(page), origin).toMatch(/^chrome-error:/);
      await page.close();
    }
  });

  it('/view is framed by the origin VMLIVE_FRAME_ANCESTORS names, and refused to any other', async () => {
    const view = await sys.viewerUrl('view');
    const ok = await browser.newPage();
    await ok.goto(`${allowed}/frame?src=${encodeURIComponent(view)}`);
    expect(await framedUrl(ok)).toMatch(/\/view\?/);
    await ok.close();
    const refused = await browser.newPage();
    await refused.goto(`${other}/frame?src=${encodeURIComponent(view)}`);
    expect(await framedUrl(refused)).toMatch(/^chrome-error:/);
    await refused.close();
  });
});

describe('CORS', () => {
  /** A credentialed API call (it needs a preflight: Authorization) from a page on `origin`. */
  async function callFrom(origin: string): Promise<string> {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const token = new URLSearchParams(new URL(await sys.viewerUrl('view')).hash.slice(1)).get('token') ?? '';
    const out = await page.evaluate(
      async ({ url, token }) => {
        try {
          const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
          return `status ${r.status}`;
        } catch (err) {
          return `blocked: ${String(err)}`;
        }
      },
      { url: `${sys.controllerUrl}/api/vms/${sys.vmId}/control`, token },
    );
    await page.close();
    return out;
  }

  it('an origin on the allowlist may call the API from its page; one off the list is blocked', async () => {
    expect(await callFrom(allowed)).toBe('status 200');
    expect(await callFrom(other)).toMatch(/^blocked: TypeError/);
  });
});
