/**
 * Issue 11's takeover, end to end: the BUILT viewer page and operator console
 * (served by the real controller) in headless Chromium, against the real
 * controller + sandbox VM (agent, GStreamer helper, XTEST into the sandbox's
 * Chromium). What reaches the sandbox page is recorded by listeners this test
 * adds to it over CDP (the demo page itself is not changed); what the helper
 * told each viewer is read from its `window.__vmlive.feedback`; the control
 * state is followed with the operator token on the control long-poll.
 * Needs `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, ApiError, type ControlState, routes } from '@vmlive/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../viewer/src/api/controlClient.js';
import { shortSessionId } from '../web/src/operator/controlSummary.js';
import {
  type LocalSystem,
  launchKillableViewerBrowser,
  launchViewerBrowser,
  REPO_ROOT,
  startSystem,
} from './system.js';
import { openViewer, sandboxText, viewerPointFor, waitLive, withSandboxPage } from './viewer-page.js';

interface SeenInput {
  type: string;
  key?: string;
  button?: number;
}

declare global {
  interface Window {
    /** Added by this test to the sandbox page: the keyboard and mouse events it saw. */
    __seenInput?: SeenInput[];
  }
}

let sys: LocalSystem;
let browser: Browser;
let operator: ApiClient;

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'web/dist/index.html'))) throw new Error('web/dist is missing: run `npm run build`');
  sys = await startSystem();
  browser = await launchViewerBrowser();
  operator = new ApiClient({ baseUrl: sys.controllerUrl, token: sys.operatorToken });
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

const vm = () => ({ vmId: sys.vmId });
const control = () => operator.call(routes.getControl, { params: vm(), query: { since: 0, wait: 0 } });
const operatorAct = (action: 'take' | 'release') =>
  operator.call(routes.postControl, { params: vm(), body: { action } });

/** Every control state from now on, as the control long-poll reports it (operator token). */
function followControl(): { states: Array<ControlState & { seenAt: number }>; stop(): void } {
  const abort = new AbortController();
  const states: Array<ControlState & { seenAt: number }> = [];
  const client = new ControlClient(operator, { vmId: sys.vmId, waitSeconds: 25, retryDelayMs: 200 });
  void client.watch((s) => states.push({ ...s, seenAt: Date.now() }), abort.signal);
  return { states, stop: () => abort.abort() };
}

/** Starts (or clears) the record of keyboard and mouse events on the sandbox page. */
const recordSandboxInput = () =>
  withSandboxPage(sys, (p) =>
    p.evaluate(() => {
      if (window.__seenInput) {
        window.__seenInput.length = 0;
        return;
      }
      const seen: SeenInput[] = [];
      window.__seenInput = seen;
      for (const type of ['keydown', 'keyup', 'mousedown', 'mouseup']) {
        window.addEventListener(
          type,
          (e) => {
            if (e instanceof KeyboardEvent) seen.push({ type, key: e.key });
            else if (e instanceof MouseEvent) seen.push({ type, button: e.button });
          },
          true,
        );
      }
    }),
  );
const seenInput = () =>
  withSandboxPage(sys, (p) =>
    p.evaluate(() => (window.__seenInput ?? []).map((e) => `${e.type}:${e.key ?? e.button}`)),
  );

const feedback = (page: Page) => page.evaluate(() => window.__vmlive?.feedback ?? []);
const rejected = async (page: Page) => (await feedback(page)).filter((f) => f.t === 'rejected');
const takeoverPhase = (page: Page) => page.evaluate(() => window.__vmlive?.takeover ?? null);
const sessionOf = (page: Page) => page.evaluate(() => window.__vmlive?.sessionId ?? null);
const clicks = async () => Number(await sandboxText(sys, '#count'));

async function controlViewer(on: Browser = browser): Promise<Page> {
  const page = await openViewer(on, sys, 'control');
  await waitLive(page, sys, 30_000);
  return page;
}

async function takeControl(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Take control' }).click();
  await expect.poll(() => page.getByText('You are in control').count(), { timeout: 10_000 }).toBe(1);
}

/** One click on the sandbox's button through the video; it must count exactly once. */
async function clickOnceLands(page: Page): Promise<void> {
  const before = await clicks();
  const button = await viewerPointFor(sys, page, '#btn');
  await page.mouse.click(button.x, button.y);
  await expect.poll(clicks, { timeout: 5000 }).toBe(before + 1);
}

/** Presses and holds Shift and the left button over the sandbox's clock (no button there), until the page sees both. */
async function holdShiftAndButton(page: Page): Promise<void> {
  await recordSandboxInput();
  const spot = await viewerPointFor(sys, page, '#clock');
  await page.mouse.move(spot.x, spot.y);
  await page.mouse.down();
  await page.keyboard.down('Shift');
  await expect.poll(seenInput, { timeout: 5000 }).toEqual(expect.arrayContaining(['mousedown:0', 'keydown:Shift']));
  expect((await seenInput()).filter((e) => e.startsWith('mouseup') || e.startsWith('keyup'))).toEqual([]);
}

const expectReleasedOnSandbox = () =>
  expect.poll(seenInput, { timeout: 15_000 }).toEqual(expect.arrayContaining(['keyup:Shift', 'mouseup:0']));

async function releaseAndClose(...pages: Page[]): Promise<void> {
  for (const page of pages) {
    if (page.isClosed()) continue;
    const release = page.getByRole('button', { name: 'Return control' });
    if ((await release.count()) > 0) await release.click();
    await page.close();
  }
  await expect.poll(async () => (await control()).mode, { timeout: 10_000 }).toBe('agent');
}

const audit = (since: number) => operator.call(routes.getAudit, { params: vm(), query: { since } });

describe('taking control through the viewer page', () => {
  it('the first click after "Take control" lands, and no input is ever rejected; the audit trail has the take, the input counts and the release', async () => {
    const page = await controlViewer();
    const cursor = (await audit(0)).cursor;
    let sessionId: string | null = null;
    try {
      // Clicked at once, without waiting for "You are in control": held until the VM's grant, then sent.
      const before = await clicks();
      const button = await viewerPointFor(sys, page, '#btn');
      await page.getByRole('button', { name: 'Take control' }).click();
      await page.mouse.click(button.x, button.y);
      await expect.poll(clicks, { timeout: 10_000 }).toBe(before + 1);
      await expect.poll(() => page.getByText('You are in control').count(), { timeout: 10_000 }).toBe(1);
      expect(await takeoverPhase(page)).toBe('in-control');
      await clickOnceLands(page);

      const said = await feedback(page);
      expect(said.filter((f) => f.t === 'rejected')).toEqual([]);
      expect(said.map((f) => (f.t === 'control' ? f.granted : f.t))).toEqual([false, true]); // at open, on the take

      // The helper counted what it injected from this holder; the next heartbeat (≤ 5 s) reports it.
      sessionId = await sessionOf(page);
      const inputOf = async () =>
        (await audit(cursor)).events.flatMap((e) =>
          e.type === 'input' && e.detail.sessionId === sessionId ? [e.detail] : [],
        );
      // Two clicks: a down and an up each, after the moves; summed over the heartbeats' windows.
      const pointer = async () => (await inputOf()).reduce((n, d) => n + d.pointer, 0);
      await expect.poll(pointer, { timeout: 8000 }).toBeGreaterThanOrEqual(4);
      expect((await inputOf()).every((d) => d.key === 0 && d.wheel === 0)).toBe(true);
    } finally {
      await releaseAndClose(page);
    }
    const trail = (await audit(cursor)).events.flatMap((e) => (e.type === 'control' ? [[e.actor, e.detail]] : []));
    expect(trail).toEqual([
      [
        expect.objectContaining({ role: 'viewer', sessionId }),
        expect.objectContaining({ cause: 'take', to: 'user', toHolder: sessionId }),
      ],
      [
        expect.objectContaining({ role: 'viewer', sessionId }),
        expect.objectContaining({ cause: 'release', to: 'agent', fromHolder: sessionId }),
      ],
    ]);
  });
});

describe('keys and buttons held down are released at every change of holder', () => {
  it('when the holder releases control', async () => {
    const a = await controlViewer();
    const b = await controlViewer();
    try {
      await takeControl(a);
      await holdShiftAndButton(a);
      // Clicked without the mouse (which is held down): focus stays on the stage, nothing is sent by A.
      await a.getByRole('button', { name: 'Return control' }).dispatchEvent('click');
      await expectReleasedOnSandbox();
      await takeControl(b);
      await clickOnceLands(b);
      expect(await rejected(a)).toEqual([]);
      expect(await rejected(b)).toEqual([]);
    } finally {
      await releaseAndClose(a, b);
    }
  });

  it('when the operator takes over', async () => {
    const a = await controlViewer();
    const b = await controlViewer();
    try {
      await takeControl(a);
      await holdShiftAndButton(a);
      await operatorAct('take');
      await expectReleasedOnSandbox();
      await expect.poll(() => a.getByText('The operator is in control').count(), { timeout: 10_000 }).toBe(1);
      await operatorAct('release');
      await takeControl(b);
      await clickOnceLands(b);
      expect(await rejected(a)).toEqual([]); // A stopped sending when it lost control
      expect(await rejected(b)).toEqual([]);
    } finally {
      await releaseAndClose(a, b);
    }
  });

  it("when the holder's browser is killed and its lease ends", async () => {
    const killable = await launchKillableViewerBrowser();
    const a = await controlViewer(killable.browser);
    const b = await controlViewer();
    const follow = followControl();
    try {
      await takeControl(a);
      const holder = await sessionOf(a);
      await holdShiftAndButton(a);
      await killable.kill(); // no pagehide, no DELETE: the controller only sees its signs of life stop
      const killedAt = Date.now();
      await expectReleasedOnSandbox();
      await expect.poll(async () => (await control()).mode, { timeout: 20_000 }).toBe('agent');
      const ended = follow.states.find((s) => s.mode === 'agent' && s.seenAt >= killedAt);
      console.log(`lease of the killed holder ended ${ended ? ended.seenAt - killedAt : '?'} ms after the kill`);
      expect(follow.states.map((s) => s.holder)).toContain(holder);
      await takeControl(b);
      await clickOnceLands(b);
      expect(await rejected(b)).toEqual([]);
    } finally {
      follow.stop();
      await releaseAndClose(b);
    }
  });
});

describe('a reload keeps control', () => {
  it('takes control back with the new session without passing through the automation; a closed tab ends its session at once', async () => {
    const page = await controlViewer();
    await takeControl(page);
    const first = await sessionOf(page);
    const follow = followControl();
    try {
      await expect.poll(() => follow.states.length).toBe(1);
      const reloadedAt = Date.now();
      await page.reload();
      const inControlOnNewSession = async () =>
        (await takeoverPhase(page)) === 'in-control' && (await sessionOf(page)) !== first;
      await expect.poll(inControlOnNewSession, { timeout: 20_000 }).toBe(true);
      const second = await sessionOf(page);
      console.log(`after the reload, in control again within ${Date.now() - reloadedAt} ms`);
      await expect.poll(() => follow.states.at(-1)?.holder, { timeout: 5000 }).toBe(second);
      // Only ever the user's control, handed from the old session to the new one.
      expect(follow.states.map((s) => [s.mode, s.holder])).toEqual([
        ['user', first],
        ['user', second],
      ]);
      expect(await page.getByText('You are in control').count()).toBe(1);
      await clickOnceLands(page);
      expect(await rejected(page)).toEqual([]);

      // Closing the tab DELETEs its session at once (pagehide, keepalive); control follows after the grace.
      if (!second) throw new Error('no session after the reload');
      const sessionGone = () =>
        operator.call(routes.getAnswer, { params: { id: second }, query: { wait: 0 } }).then(
          () => false,
          (err: unknown) => err instanceof ApiError && err.is('session_not_found'),
        );
      expect(await sessionGone()).toBe(false);
      await page.close();
      const closedAt = Date.now();
      await expect.poll(sessionGone, { timeout: 2000, interval: 50 }).toBe(true);
      console.log(`closed tab: session gone within ${Date.now() - closedAt} ms`);
      await expect.poll(() => follow.states.at(-1)?.mode, { timeout: 15_000 }).toBe('agent');
    } finally {
      follow.stop();
      if (!page.isClosed()) await releaseAndClose(page);
    }
  });
});

describe('the operator console', () => {
  it('shows who holds control and since when, ends it, and takes over', async () => {
    const viewer = await controlViewer();
    const consolePage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await takeControl(viewer);
      const session = await sessionOf(viewer);
      if (!session) throw new Error('viewer has no session');
      await consolePage.goto(`${sys.controllerUrl}/`);
      await consolePage.getByLabel('Operator token').fill(sys.operatorToken);
      await consolePage.getByRole('button', { name: 'Sign in' }).click();
      const row = consolePage.getByRole('row').filter({ hasText: sys.vmId });
      const cell = row.getByRole('cell').filter({ has: consolePage.locator('.control-holder') });
      await expect
        .poll(() => cell.textContent(), { timeout: 10_000 })
        .toMatch(new RegExp(`^Viewer ${shortSessionId(session)} since (just now|\\d+ s ago)$`));

      await row.getByRole('button', { name: 'End control' }).click();
      // The viewer says so (its notice shows for 5 s) and does not grab control back.
      await expect
        .poll(() => viewer.locator('.vm-notice').textContent(), { timeout: 5000 })
        .toBe('Your control ended; the automation is in control again.');
      expect(await viewer.getByText('The automation is in control', { exact: true }).count()).toBe(1);
      await expect.poll(() => row.getByText('Automation', { exact: true }).count(), { timeout: 5000 }).toBe(1);
      await viewer.waitForTimeout(1500);
      expect((await control()).mode).toBe('agent'); // the viewer does not grab it back

      await row.getByRole('button', { name: 'Take over' }).click();
      await expect.poll(() => row.getByText('Operator', { exact: true }).count(), { timeout: 5000 }).toBe(1);
      await expect.poll(() => viewer.getByText('The operator is in control').count(), { timeout: 10_000 }).toBe(1);
      expect(await row.getByRole('button', { name: 'Take over' }).count()).toBe(0);
      await row.getByRole('button', { name: 'End control' }).click();
      await expect.poll(() => row.getByText('Automation', { exact: true }).count(), { timeout: 5000 }).toBe(1);
    } finally {
      await consolePage.close();
      await releaseAndClose(viewer);
    }
  });
});
