/**
 * The gateway in front of Debian's Chromium, in mode `agent`: unmodified
 * Playwright and Puppeteer drive the browser through it, the DevTools HTTP
 * endpoints point back at it, flattened sessions pass, and bad input or a
 * vanished browser closes connections cleanly without harming the VM agent.
 */
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fixture, sleep, startFixture } from './testing/gateway-fixture.js';
import { pageTargets, RawCdp } from './testing/raw-cdp.js';

const Version = z.looseObject({ webSocketDebuggerUrl: z.string(), Browser: z.string() });

describe('CDP gateway in front of Chromium', () => {
  let fx: Fixture;
  let url: string;
  let wsBrowser: string;
  beforeAll(async () => {
    fx = await startFixture();
    ({ url } = await fx.gateway({ maxMessageBytes: 1024 * 1024 }));
    wsBrowser = Version.parse(await (await fetch(`${url}/json/version`)).json()).webSocketDebuggerUrl;
  });
  afterAll(() => fx.stop());

  it('serves the DevTools HTTP endpoints with WebSocket URLs pointing at itself, as the client addressed it', async () => {
    const host = new URL(url).host;
    expect(wsBrowser).toMatch(new RegExp(`^ws://${host}/devtools/browser/`));
    const viaLocalhost = Version.parse(
      await (await fetch(`${url.replace('127.0.0.1', 'localhost')}/json/version/`)).json(),
    );
    expect(viaLocalhost.webSocketDebuggerUrl).toMatch(/^ws:\/\/localhost:\d+\/devtools\/browser\//);
    const created = z
      .looseObject({ id: z.string(), webSocketDebuggerUrl: z.string(), devtoolsFrontendUrl: z.string() })
      .parse(await (await fetch(`${url}/json/new?${fx.pageUrl}?http-new`, { method: 'PUT' })).json());
    expect(created.webSocketDebuggerUrl).toBe(`ws://${host}/devtools/page/${created.id}`);
    expect(created.devtoolsFrontendUrl).toContain(`ws=${host}/devtools/page/${created.id}`);
    for (const t of await pageTargets(url)) expect(t.webSocketDebuggerUrl.startsWith(`ws://${host}/`)).toBe(true);
    expect((await fetch(`${url}/json`)).status).toBe(200);
    const protocol = z.object({ domains: z.array(z.object({ domain: z.string() })) });
    expect(protocol.parse(await (await fetch(`${url}/json/protocol`)).json()).domains.length).toBeGreaterThan(10);
    expect((await fetch(`${url}/json/activate/${created.id}`)).status).toBe(200);
    // Chromium's own rule, passed through: a tab is opened with PUT only.
    expect((await fetch(`${url}/json/new?about:blank`)).status).toBe(405);
    expect((await fetch(`${url}/json/close/${created.id}`)).status).toBe(200);
    expect((await fetch(`${url}/json/close/nope`)).status).toBe(404);
  });

  it('lets unmodified Playwright connectOverCDP drive the browser: new page, goto, click, evaluate', async () => {
    const browser = await chromium.connectOverCDP(url);
    const page = await browser.contexts()[0]?.newPage();
    if (!page) throw new Error('no page');
    await page.goto(`${fx.pageUrl}?playwright`);
    await page.click('#b');
    await page.click('#b');
    expect(await page.textContent('#n')).toBe('2');
    expect(await page.evaluate('window.clicks.length')).toBe(2);
    await page.close();
    await browser.close();
  });

  it('lets unmodified Puppeteer connect({browserURL}) drive the browser, and read the Vmlive domain', async () => {
    const browser = await puppeteer.connect({ browserURL: url, defaultViewport: null });
    const page = await browser.newPage();
    await page.goto(`${fx.pageUrl}?puppeteer`);
    await page.click('#b');
    expect(await page.$eval('#n', (e) => e.textContent)).toBe('1');
    const session = await browser.target().createCDPSession();
    // @ts-expect-error Vmlive is the gateway's own domain, not in Puppeteer's protocol types
    const control = await session.send('Vmlive.enable');
    expect(control).toEqual(fx.control.get());
    const changed = new Promise((resolve) => session.on('Vmlive.controlChanged', resolve));
    fx.setMode('paused', 'operator');
    expect(await changed).toMatchObject({ mode: 'paused', holder: 'operator' });
    fx.setMode('agent');
    await page.close();
    await browser.disconnect();
  });

  it('passes flattened sessions: attach, commands and events carry the sessionId', async () => {
    const raw = await RawCdp.connect(wsBrowser);
    const page = (await pageTargets(fx.chromium.httpUrl))[0];
    if (!page) throw new Error('no page target');
    await raw.send('Target.setDiscoverTargets', { discover: true });
    const sessionId = await raw.attach(page.id);
    const before = raw.events.length;
    await raw.send('Runtime.enable', {}, sessionId);
    const created = await raw.waitForEvent('Runtime.executionContextCreated', 5000, before);
    expect(created.sessionId).toBe(sessionId);
    const r = await raw.call('Runtime.evaluate', { expression: '6 * 7', returnByValue: true }, sessionId);
    expect(r).toMatchObject({ sessionId, result: { result: { value: 42 } } });
    // Unknown methods go to Chromium, which answers -32601.
    const unknown = await raw.call('Nope.nothing', {}, sessionId);
    expect(unknown.error?.code).toBe(-32601);
    raw.close();
  });

  it('answers a command with an id but no method with -32600 and keeps the connection', async () => {
    const raw = await RawCdp.connect(wsBrowser);
    raw.sendRaw('{"id":77,"params":{}}');
    for (let i = 0; i < 100 && !raw.unmatched.length; i++) await sleep(10);
    expect(raw.unmatched[0]).toMatchObject({
      id: 77,
      error: { code: -32600, message: expect.stringMatching(/method/) },
    });
    expect(raw.ws.readyState).toBe(raw.ws.OPEN);
    expect(await raw.send('Browser.getVersion')).toHaveProperty('product');
    raw.close();
  });

  it.each([
    ['not JSON', 'not json at all', 1007],
    ['not an object', '[1,2,3]', 1007],
    ['no integer id', '{"method":"Browser.getVersion"}', 1007],
  ])('closes a connection that sends a frame that is %s with 1007 and a reason', async (_name, frame, code) => {
    const raw = await RawCdp.connect(wsBrowser);
    raw.sendRaw(frame);
    const closed = await raw.closed;
    expect(closed.code).toBe(code);
    expect(closed.reason).toMatch(/vmlive: malformed CDP message/);
  });

  it('closes on a binary frame (1003) and on a frame over maxMessageBytes (1009), and keeps serving', async () => {
    const bin = await RawCdp.connect(wsBrowser);
    bin.sendRaw(Buffer.from('{"id":1,"method":"Browser.getVersion"}'), true);
    expect((await bin.closed).code).toBe(1003);
    const big = await RawCdp.connect(wsBrowser);
    big.sendRaw(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'x'.repeat(1024 * 1024) } }));
    expect((await big.closed).code).toBe(1009);
    const ok = await RawCdp.connect(wsBrowser);
    expect(await ok.send('Browser.getVersion')).toHaveProperty('product');
    ok.close();
  });

  it('closes the upstream when the automation leaves, and the automation with 1011 when Chromium closes the target', async () => {
    const created = z
      .object({ id: z.string() })
      .parse(await (await fetch(`${fx.chromium.httpUrl}/json/new?about:blank`, { method: 'PUT' })).json());
    const direct = await RawCdp.connect(fx.chromium.browserWsUrl);
    const Info = z.object({ targetInfo: z.object({ attached: z.boolean() }) });
    const attached = async () =>
      Info.parse(await direct.send('Target.getTargetInfo', { targetId: created.id })).targetInfo.attached;
    const leaving = await RawCdp.connect(`${url.replace('http', 'ws')}/devtools/page/${created.id}`);
    expect(await leaving.evaluate('1 + 1')).toBe(2);
    expect(await attached()).toBe(true);
    leaving.close();
    for (let i = 0; i < 100 && (await attached()); i++) await sleep(20);
    expect(await attached(), 'the gateway closed its upstream connection').toBe(false);
    direct.close();

    const raw = await RawCdp.connect(`${url.replace('http', 'ws')}/devtools/page/${created.id}`);
    expect(await raw.evaluate('1 + 1')).toBe(2);
    await fetch(`${fx.chromium.httpUrl}/json/close/${created.id}`);
    const closed = await raw.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toMatch(/the browser closed the DevTools connection/);
    // Unknown target: Chromium refuses the upgrade; the gateway answers 404.
    await expect(RawCdp.connect(`${url.replace('http', 'ws')}/devtools/page/${created.id}`)).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('CDP gateway when Chromium goes away', () => {
  it('closes open connections with 1011 and answers new ones with 502', async () => {
    const fx = await startFixture();
    try {
      const { gw, url } = await fx.gateway();
      const v = Version.parse(await (await fetch(`${url}/json/version`)).json());
      const raw = await RawCdp.connect(v.webSocketDebuggerUrl);
      expect(gw.stats.connections).toBe(1);
      await fx.chromium.stop();
      expect((await raw.closed).code).toBe(1011);
      expect(gw.stats.connections).toBe(0);
      const res = await fetch(`${url}/json/version`);
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ error: { code: 'browser_unavailable' } });
      await expect(RawCdp.connect(v.webSocketDebuggerUrl)).rejects.toMatchObject({ status: 502 });
    } finally {
      await fx.stop();
    }
  });

  it('stops promptly, closing open automation connections with 1001', async () => {
    const fx = await startFixture();
    try {
      const { gw, url } = await fx.gateway();
      const v = Version.parse(await (await fetch(`${url}/json/version`)).json());
      const raw = await RawCdp.connect(v.webSocketDebuggerUrl);
      const t0 = Date.now();
      await gw.stop();
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect((await raw.closed).code).toBe(1001);
    } finally {
      await fx.stop();
    }
  });
});
