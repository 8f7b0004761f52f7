/**
 * The hold, end to end: Playwright (playwright-core, unmodified) driving
 * Debian's Chromium through the gateway while the test flips the control mode
 * as the controller would when a person takes control. The page is read
 * through Chromium's own port, never through the gateway (a read through the
 * gateway would be held too).
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fixture, sleep, startFixture } from './testing/gateway-fixture.js';
import { RawCdp } from './testing/raw-cdp.js';

const Clicks = z.number().int();
const ControlEvent = z.object({ mode: z.string(), holder: z.string().nullable(), since: z.number() });

describe('CDP gateway: the automation is held while a person has control', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(() => fx.stop());

  async function open(url: string, tag: string): Promise<{ browser: Browser; page: Page; direct: RawCdp }> {
    fx.setMode('agent');
    const browser = await chromium.connectOverCDP(url);
    const context = browser.contexts()[0];
    if (!context) throw new Error('no default context');
    const page = await context.newPage();
    await page.goto(`${fx.pageUrl}?${tag}`);
    return { browser, page, direct: await fx.directPage(tag) };
  }

  it('stops landing clicks within 300 ms of mode user, waits without errors, then lands every held call in order', async () => {
    const { gw, url } = await fx.gateway();
    const { browser, page, direct } = await open(url, 'hold');
    const clicks = async () => Clicks.parse(await direct.evaluate('window.clicks.length'));

    let stop = false;
    let landed = 0;
    const errors: unknown[] = [];
    const loop = (async () => {
      while (!stop) {
        try {
          await page.click('#b');
          landed++;
        } catch (err) {
          errors.push(err);
          return;
        }
        await sleep(200);
      }
    })();

    for (let i = 0; i < 100 && (await clicks()) < 3; i++) await sleep(100);
    expect(await clicks(), 'clicks land in mode agent').toBeGreaterThanOrEqual(3);

    fx.setMode('user', 'session-42');
    const flippedAt = Date.now();
    // Calls made while held: they must reach the page later, in this order.
    const evaluations = [0, 1, 2, 3, 4].map((i) => page.evaluate(`window.log.push(${i})`));
    await sleep(300 - (Date.now() - flippedAt));
    const atHold = await clicks();
    const landedAtHold = landed;
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      expect(await clicks(), `a click landed ${Date.now() - flippedAt} ms after mode user`).toBe(atHold);
    }
    expect(landed, 'no click call completes while held').toBeLessThanOrEqual(landedAtHold + 1);
    expect(errors).toEqual([]);
    expect(gw.stats.heldNow).toBeGreaterThanOrEqual(1);

    fx.setMode('agent');
    await Promise.all(evaluations);
    await sleep(600);
    stop = true;
    await loop;
    expect(errors).toEqual([]);
    expect(await direct.evaluate('window.log')).toEqual([0, 1, 2, 3, 4]);
    // None lost, none doubled: every click call that resolved is exactly one click in the page.
    expect(await clicks()).toBe(landed);
    expect(gw.stats.releasedTotal).toBeGreaterThanOrEqual(1);
    expect(gw.stats.heldNow).toBe(0);
    await browser.close();
  });

  it('in reject mode answers a changing command at once with a CDP error naming the mode and the holder', async () => {
    const { gw, url } = await fx.gateway({ whileHeld: 'reject' });
    const { browser, page } = await open(url, 'reject');
    const cdp = await page.context().newCDPSession(page);
    // Playwright sets up a helper script in each page context on its first evaluate and keeps that
    // promise: rejected once, the context's evaluates fail until a navigation (README: reject mode).
    expect(await page.evaluate('1 + 1')).toBe(2);
    fx.setMode('user', 'session-9');
    const t0 = Date.now();
    const err = await cdp.send('Runtime.evaluate', { expression: '1 + 1' }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/vmlive: a person has control \(mode user, holder session-9\)/);
    // Playwright's page.evaluate rewrites any protocol error into "Execution context was destroyed".
    await expect(page.evaluate('1 + 1')).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(gw.stats.rejectedTotal).toBeGreaterThanOrEqual(2);
    // A read passes in reject mode; so does everything once control is back.
    await expect(cdp.send('DOM.getDocument')).resolves.toHaveProperty('root');
    fx.setMode('agent');
    expect(await page.evaluate('1 + 1')).toBe(2);
    await browser.close();
  });

  it('answers a command held longer than holdMaxMs with a CDP error naming the mode, and lets later ones through', async () => {
    const { gw, wsBase } = await fx.gateway({ holdMaxMs: 700 });
    fx.setMode('agent');
    const version = await (await fetch(`${wsBase.replace('ws', 'http')}/json/version`)).json();
    const raw = await RawCdp.connect(
      z.object({ webSocketDebuggerUrl: z.string() }).parse(version).webSocketDebuggerUrl,
    );
    fx.setMode('paused', 'operator');
    const t0 = Date.now();
    const held = raw.call('Target.createTarget', { url: 'about:blank' });
    const read = raw.call('Browser.getVersion');
    const r = await held;
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(650);
    expect(waited).toBeLessThan(3_000);
    expect(r.error?.code).toBe(-32000);
    expect(r.error?.message).toMatch(
      /vmlive: held 0\.\d s while a person has control \(mode paused, holder operator\)/,
    );
    // The read queued behind it goes once the command before it is answered.
    expect((await read).result).toHaveProperty('product');
    expect(gw.stats.timedOutTotal).toBe(1);
    raw.close();
    fx.setMode('agent');
  });

  it('tells the automation the mode: Vmlive.getControl, Vmlive.enable and Vmlive.controlChanged through Playwright', async () => {
    const { url } = await fx.gateway();
    fx.setMode('agent');
    const browser = await chromium.connectOverCDP(url);
    const cdp = await browser.newBrowserCDPSession();
    // @ts-expect-error Vmlive is the gateway's own domain, not in Playwright's protocol types
    const first = ControlEvent.parse(await cdp.send('Vmlive.enable'));
    expect(first).toEqual(fx.control.get());
    const events: z.infer<typeof ControlEvent>[] = [];
    // @ts-expect-error as above
    cdp.on('Vmlive.controlChanged', (e: unknown) => events.push(ControlEvent.parse(e)));
    fx.setMode('user', 'session-5');
    // Never held: answered while a person has control.
    // @ts-expect-error as above
    expect(ControlEvent.parse(await cdp.send('Vmlive.getControl'))).toMatchObject({
      mode: 'user',
      holder: 'session-5',
    });
    fx.setMode('agent');
    for (let i = 0; i < 50 && events.length < 2; i++) await sleep(20);
    expect(events.map((e) => [e.mode, e.holder])).toEqual([
      ['user', 'session-5'],
      ['agent', null],
    ]);
    expect(events[1]?.since).toBe(fx.control.get().since);
    await browser.close();
  });

  it('holds /json/new until control returns, and does not freeze a cross-site iframe the person loads meanwhile', async () => {
    const { url } = await fx.gateway();
    const { browser, direct: personPage } = await open(url, 'iframes');
    fx.setMode('user');
    let created = false;
    const newTab = fetch(`${url}/json/new?about:blank`, { method: 'PUT' }).then((r) => {
      created = true;
      return r.status;
    });
    // The person's page loads a cross-site iframe (localhost vs 127.0.0.1: its own renderer). Playwright's
    // auto-attach pauses it until Runtime.runIfWaitingForDebugger, which must pass while the rest of what
    // Playwright sends for the new frame is held; held too, the iframe would stay blank until control returns.
    const other = fx.pageUrl.replace('127.0.0.1', 'localhost');
    await personPage.evaluate(
      `{ const f = document.createElement('iframe'); f.src = '${other}?person-iframe'; document.body.append(f); }`,
    );
    const browserDirect = await RawCdp.connect(fx.chromium.browserWsUrl);
    const Targets = z.object({ targetInfos: z.array(z.looseObject({ targetId: z.string(), url: z.string() })) });
    let ran: unknown;
    for (let i = 0; i < 60 && ran !== 'object'; i++) {
      const { targetInfos } = Targets.parse(await browserDirect.send('Target.getTargets'));
      const frame = targetInfos.find((t) => t.url.includes('person-iframe'));
      if (frame) ran = await browserDirect.evaluate('typeof window.clicks', await browserDirect.attach(frame.targetId));
      if (ran !== 'object') await sleep(50);
    }
    expect(ran, "the iframe's script ran while Playwright was held").toBe('object');
    expect(fx.control.get().mode).toBe('user');
    expect(created).toBe(false);
    fx.setMode('agent');
    expect(await newTab).toBe(200);
    browserDirect.close();
    await browser.close();
  });
});
