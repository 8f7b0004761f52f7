/**
 * Issue 11's acceptance: a real Playwright automation drives the sandbox VM's
 * browser through the VM agent's CDP gateway, and a person takes control over
 * the REST contract and a real WebRTC viewer. While the person drives, the
 * automation's page-changing commands are held (or, with
 * VMLIVE_CDP_WHILE_HELD=reject, refused with an error naming the mode); when
 * the person hands back, the held commands land in order and the automation
 * carries on, nothing lost or doubled.
 */
import { ApiClient, type ControlState, routes } from '@vmlive/protocol';
import { type Browser, chromium, type Page } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRestViewer, type RestViewer } from './rest-viewer.js';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the sandbox page through the browser's own DevTools (behind the gateway), so reads are never held. */
async function observe(sys: LocalSystem) {
  const direct = await chromium.connectOverCDP(sys.sandboxCdpUrl);
  const page = direct.contexts()[0]?.pages()[0];
  if (!page) throw new Error('sandbox browser has no page');
  return {
    count: async () => Number(await page.evaluate(() => document.querySelector('#count')?.textContent ?? 'NaN')),
    echo: () => page.evaluate(() => document.querySelector('#echo')?.textContent ?? ''),
    centre: (selector: string) =>
      page.evaluate((sel) => {
        const r = document.querySelector(sel)?.getBoundingClientRect();
        if (!r) throw new Error(`no ${sel}`);
        return { x: (r.left + r.width / 2) / window.innerWidth, y: (r.top + r.height / 2) / window.innerHeight };
      }, selector),
    close: () => direct.close(),
  };
}

/** A person with a control token: a real WebRTC viewer that takes control and clicks and types over the data channel. */
async function person(sys: LocalSystem, browser: Browser) {
  const token = await sys.mintViewerToken('control');
  const viewer: RestViewer = await openRestViewer(browser, { controllerUrl: sys.controllerUrl, vmId: sys.vmId, token });
  await viewer.waitFrames(10);
  const api = new ApiClient({ baseUrl: sys.controllerUrl, token });
  const act = (action: 'take' | 'release'): Promise<ControlState> =>
    api.call(routes.postControl, {
      params: { vmId: sys.vmId },
      body: { action, sessionId: viewer.sessionId },
    });
  const granted = async () => {
    await expect
      .poll(() => viewer.feedback(), { timeout: 5000, interval: 20 })
      .toContainEqual({ t: 'control', granted: true });
  };
  const click = async (at: { x: number; y: number }) => {
    await viewer.sendInput({ t: 'pointer', action: 'move', ...at });
    await viewer.sendInput({ t: 'pointer', action: 'down', button: 0, ...at });
    await viewer.sendInput({ t: 'pointer', action: 'up', button: 0, ...at });
  };
  return { viewer, act, granted, click, type: (text: string) => viewer.sendInput({ t: 'text', text }) };
}

describe('handoff with VMLIVE_CDP_WHILE_HELD=hold (default)', () => {
  let sys: LocalSystem;
  let viewers: Browser;
  beforeAll(async () => {
    sys = await startSystem();
    viewers = await launchViewerBrowser();
  });
  afterAll(async () => {
    await viewers?.close();
    await sys?.stop();
  });

  it("holds a Playwright automation's clicks while a person drives and lands them in order afterwards", async () => {
    const seen = await observe(sys);
    const automation = await chromium.connectOverCDP(sys.cdpUrl);
    try {
      const page: Page | undefined = automation.contexts()[0]?.pages()[0];
      if (!page) throw new Error('no page through the gateway');
      const start = await seen.count();

      // The automation clicks the counter every 200 ms and records when each click returned.
      let stop = false;
      const done: number[] = [];
      const errors: unknown[] = [];
      const loop = (async () => {
        while (!stop) {
          try {
            await page.click('#btn', { timeout: 60_000 });
            done.push(Date.now());
          } catch (err) {
            errors.push(err);
            return;
          }
          await sleep(200);
        }
      })();
      await expect.poll(() => done.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);

      const p = await person(sys, viewers);
      const takenAt = Date.now();
      expect(await p.act('take')).toMatchObject({ mode: 'user', holder: p.viewer.sessionId });
      await p.granted();
      // Within 300 ms the automation's clicks stop landing.
      await sleep(Math.max(0, takenAt + 300 - Date.now()));
      const heldFrom = await seen.count();
      const doneAtHold = done.length;
      await sleep(1500);
      expect(await seen.count()).toBe(heldFrom);
      expect(done.length).toBeLessThanOrEqual(doneAtHold + 1);

      // Only the person's clicks and typing move the page now.
      const btn = await seen.centre('#btn');
      await p.click(btn);
      await p.click(btn);
      await expect.poll(() => seen.count(), { timeout: 5000 }).toBe(heldFrom + 2);
      await p.click(await seen.centre('#text'));
      await p.type('typed by a person');
      await expect.poll(() => seen.echo(), { timeout: 5000 }).toBe('typed by a person');
      await sleep(1000);
      expect(await seen.count()).toBe(heldFrom + 2);
      expect(errors).toEqual([]);

      // Hand back: the held click lands, the loop carries on.
      const releasedAt = Date.now();
      expect(await p.act('release')).toMatchObject({ mode: 'agent', holder: null });
      await expect.poll(() => done.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(doneAtHold + 5);
      const firstAfter = done.find((t) => t > releasedAt);
      console.log(
        `handoff: ${doneAtHold} automation clicks before the take; the first held click returned ${firstAfter ? firstAfter - releasedAt : '?'} ms after release`,
      );
      stop = true;
      await loop;
      expect(errors).toEqual([]);
      // Nothing lost, nothing doubled: every automation click that returned landed once, plus the person's two.
      await expect.poll(() => seen.count(), { timeout: 5000 }).toBe(start + done.length + 2);
      await p.viewer.close();
    } finally {
      await automation.close();
      await seen.close();
    }
  });

  it('tells the automation the mode on the Vmlive CDP domain', async () => {
    const automation = await chromium.connectOverCDP(sys.cdpUrl);
    try {
      const cdp = await automation.newBrowserCDPSession();
      const changes: ControlState[] = [];
      // biome-ignore lint/suspicious/noExplicitAny: Vmlive is the gateway's own CDP domain, unknown to Playwright's types
      const send = cdp.send.bind(cdp) as (method: string, params?: object) => Promise<any>;
      // biome-ignore lint/suspicious/noExplicitAny: same
      (cdp as any).on('Vmlive.controlChanged', (s: ControlState) => changes.push(s));
      expect(await send('Vmlive.enable')).toMatchObject({ mode: 'agent' });
      const p = await person(sys, viewers);
      const times: number[] = [];
      // biome-ignore lint/suspicious/noExplicitAny: same
      (cdp as any).on('Vmlive.controlChanged', () => times.push(Date.now()));
      const takeAt = Date.now();
      await p.act('take');
      await expect.poll(() => changes.at(-1)?.mode, { timeout: 5000 }).toBe('user');
      expect(changes.at(-1)?.holder).toBe(p.viewer.sessionId);
      const releaseAt = Date.now();
      await p.act('release');
      await expect.poll(() => changes.at(-1)?.mode, { timeout: 5000 }).toBe('agent');
      console.log(
        `mode reached the automation: take ${(times[0] ?? 0) - takeAt} ms, release ${(times[1] ?? 0) - releaseAt} ms after the POST was sent`,
      );
      await p.viewer.close();
    } finally {
      await automation.close();
    }
  });
});

describe('handoff with VMLIVE_CDP_WHILE_HELD=reject', () => {
  let sys: LocalSystem;
  let viewers: Browser;
  beforeAll(async () => {
    sys = await startSystem({ agentEnv: { VMLIVE_CDP_WHILE_HELD: 'reject' } });
    viewers = await launchViewerBrowser();
  });
  afterAll(async () => {
    await viewers?.close();
    await sys?.stop();
  });

  it('refuses a Puppeteer automation’s click at once with an error naming the mode, and lets it act again after', async () => {
    const seen = await observe(sys);
    const automation = await puppeteer.connect({ browserURL: sys.cdpUrl, defaultViewport: null });
    try {
      const [page] = await automation.pages();
      if (!page) throw new Error('no page through the gateway');
      const start = await seen.count();
      await page.click('#btn');
      await expect.poll(() => seen.count(), { timeout: 5000 }).toBe(start + 1);

      const p = await person(sys, viewers);
      await p.act('take');
      await p.granted();
      const t0 = Date.now();
      const err = await page.click('#btn').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).toMatch(/mode user/);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await seen.count()).toBe(start + 1);

      await p.act('release');
      // As the refusal says: wait until the gateway sees the automation's turn, then act. The
      // gateway hears of the release from the VM agent's control long-poll a moment after the
      // POST returned; a click in between is refused, as it should be.
      const cdp = await page.createCDPSession();
      await expect
        // biome-ignore lint/suspicious/noExplicitAny: Vmlive is the gateway's own CDP domain, unknown to Puppeteer's types
        .poll(async () => ((await (cdp as any).send('Vmlive.getControl')) as ControlState).mode, { timeout: 5000 })
        .toBe('agent');
      await cdp.detach();
      await page.click('#btn');
      await expect.poll(() => seen.count(), { timeout: 5000 }).toBe(start + 2);
      await p.viewer.close();
    } finally {
      await automation.disconnect();
      await seen.close();
    }
  });
});
