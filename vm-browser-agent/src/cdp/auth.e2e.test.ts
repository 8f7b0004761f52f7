/**
 * Automation tokens with real clients: Playwright sends the token as a header,
 * Puppeteer's browserURL carries it as the /token/<jwt> path prefix (it cannot
 * send headers on the /json/version fetch in older versions, and many MCP
 * servers take one URL only). The keys come from a JWKS served on loopback, as
 * the controller serves them.
 */
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JwksAutomationAuth } from './automation-auth.js';
import { type Fixture, startFixture, testLog } from './testing/gateway-fixture.js';
import { JwksServer } from './testing/jwks-server.js';
import { RawCdp } from './testing/raw-cdp.js';

const VM = 'vm-auth-1';
const Version = z.looseObject({ webSocketDebuggerUrl: z.string() });

describe('CDP gateway with automation tokens', () => {
  let fx: Fixture;
  let jwks: JwksServer;
  let url: string;
  beforeAll(async () => {
    fx = await startFixture();
    jwks = await JwksServer.start();
    const auth = new JwksAutomationAuth({ controllerUrl: jwks.url, vmId: VM, log: testLog });
    ({ url } = await fx.gateway({ auth }));
  });
  afterAll(async () => {
    await fx.stop();
    await jwks.stop();
  });

  it('lets Playwright connect with the token in an Authorization header', async () => {
    const token = await jwks.mint(VM);
    const browser = await chromium.connectOverCDP(url, { headers: { Authorization: `Bearer ${token}` } });
    const page = await browser.contexts()[0]?.newPage();
    if (!page) throw new Error('no page');
    await page.goto(`${fx.pageUrl}?auth-header`);
    await page.click('#b');
    expect(await page.evaluate('window.clicks.length')).toBe(1);
    await page.close();
    await browser.close();
    await expect(chromium.connectOverCDP(url, { timeout: 5_000 })).rejects.toThrow(/401/);
  });

  it('lets Puppeteer connect with the token as a path prefix, kept in the WebSocket URL it is handed', async () => {
    const token = await jwks.mint(VM);
    const v = Version.parse(await (await fetch(`${url}/token/${token}/json/version`)).json());
    expect(v.webSocketDebuggerUrl).toMatch(new RegExp(`^ws://${new URL(url).host}/token/${token}/devtools/browser/`));
    const browser = await puppeteer.connect({ browserURL: `${url}/token/${token}`, defaultViewport: null });
    const page = await browser.newPage();
    await page.goto(`${fx.pageUrl}?auth-prefix`);
    expect(await page.evaluate('1 + 2')).toBe(3);
    await page.close();
    await browser.disconnect();
  });

  it('refuses the WebSocket upgrade without a token (401) or with a token for another VM (403)', async () => {
    const token = await jwks.mint(VM);
    const ws = Version.parse(await (await fetch(`${url}/token/${token}/json/version`)).json()).webSocketDebuggerUrl;
    const bare = ws.replace(`/token/${token}`, '');
    await expect(RawCdp.connect(bare)).rejects.toMatchObject({ status: 401 });
    const other = await jwks.mint('vm-someone-else');
    const refused = await RawCdp.connect(bare, { authorization: `Bearer ${other}` }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 403 });
    expect(JSON.parse(z.object({ body: z.string() }).parse(refused).body)).toMatchObject({
      error: { code: 'forbidden', message: expect.stringMatching(/another VM/) },
    });
  });

  it('closes a connection with 1008 when its token expires', async () => {
    const token = await jwks.mint(VM, { ttlS: 2 });
    const ws = Version.parse(await (await fetch(`${url}/token/${token}/json/version`)).json()).webSocketDebuggerUrl;
    const raw = await RawCdp.connect(ws);
    expect(await raw.send('Browser.getVersion')).toHaveProperty('product');
    const closed = await raw.closed;
    expect(closed).toEqual({ code: 1008, reason: 'vmlive: the automation token expired' });
  });
});
