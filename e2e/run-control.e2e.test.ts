/**
 * Issue 14's acceptance: a real Playwright automation using @vmlive/automation
 * drives the sandbox VM's browser through the CDP gateway in a 10-step task,
 * reporting each step; a person on the built /view page (headless Chromium,
 * control token) sees each step in the panel, the running step's box over the
 * video at the element's place, takes control and pauses (the next step
 * waits), queues an override `type` (run and acked after the hand-back, the
 * field holds the text), edits the instructions (the automation gets the new
 * version), resumes and hands back; the run finishes with every step and its
 * thumbnail on the timeline. One controller, one VM, one viewer for the file.
 */
import { connect, ReportingPage } from '@vmlive/automation';
import { ApiClient, type Instructions, routes, type StepBody } from '@vmlive/protocol';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';
import { openViewer, viewerPointFor, waitLive, withSandboxPage } from './viewer-page.js';

declare global {
  interface Window {
    /** Step index → Date.now() when the panel first showed it (watchTimeline). */
    __stepsSeen?: Record<string, number>;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sys: LocalSystem;
let browser: Browser;
let automationBrowser: Browser;

beforeAll(async () => {
  [sys, browser] = await Promise.all([startSystem(), launchViewerBrowser()]);
});
afterAll(async () => {
  await automationBrowser?.close();
  await browser?.close();
  await sys?.stop();
});

/** When each step index first appeared in the panel (Date.now() in the viewer page: the same machine clock). */
async function watchTimeline(viewer: Page): Promise<() => Promise<Record<string, number>>> {
  await viewer.evaluate(() => {
    const seen: Record<string, number> = {};
    window.__stepsSeen = seen;
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('li.vm-step[data-index]')) {
        const i = li.getAttribute('data-index') ?? '';
        seen[i] ??= Date.now();
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  return () => viewer.evaluate(() => window.__stepsSeen ?? {});
}

describe('run control: steps, pause, override, instructions', () => {
  it('a 10-step automation is followed, paused, overridden and re-instructed from /view', async () => {
    const viewer = await openViewer(browser, sys, 'control');
    await waitLive(viewer, sys);
    const seenAt = await watchTimeline(viewer);

    const operator = new ApiClient({ baseUrl: sys.controllerUrl, token: sys.operatorToken });
    const { token } = await operator.call(routes.createAutomationToken, {
      params: { vmId: sys.vmId },
      body: { ttlSeconds: 600 },
    });
    const run = await connect({ controllerUrl: sys.controllerUrl, vmId: sys.vmId, token });
    const reportedAt = new Map<number, number>();
    const report = run.reportStep.bind(run);
    run.reportStep = (s: StepBody) => {
      if (s.status === 'started' && !reportedAt.has(s.index)) reportedAt.set(s.index, Date.now());
      return report(s);
    };
    const instructions: Instructions[] = [];
    run.onInstructions((i) => instructions.push(i));

    automationBrowser = await chromium.connectOverCDP(sys.cdpUrl);
    const page = automationBrowser.contexts()[0]?.pages()[0];
    if (!page) throw new Error('no page through the gateway');
    const rp = new ReportingPage(page, run);

    // Steps 0-2: clicks; step 3: a slow click whose box the person sees before it lands.
    for (let i = 0; i < 3; i++) await rp.click('#btn');
    const btn = page.locator('#btn');
    const slow = rp.step('click', { target: '#btn (slow)', locator: btn }, async () => {
      await sleep(2500);
      await btn.click();
    });
    const box = viewer.getByTestId('step-box');
    await expect.poll(() => box.getAttribute('data-index'), { timeout: 5000 }).toBe('3');
    const drawn = await box.boundingBox();
    const centre = await viewerPointFor(sys, viewer, '#btn');
    if (!drawn) throw new Error('no box drawn');
    expect(Math.abs(drawn.x + drawn.width / 2 - centre.x)).toBeLessThanOrEqual(10);
    expect(Math.abs(drawn.y + drawn.height / 2 - centre.y)).toBeLessThanOrEqual(10);
    await slow;
    // Step 4 focuses the field the override types into.
    await rp.fill('#text', 'auto');

    // The person takes control and pauses: the automation's next step waits.
    await viewer.getByRole('button', { name: 'Take control' }).click();
    await expect.poll(() => run.control.mode, { timeout: 5000 }).toBe('user');
    await viewer.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => run.control.mode, { timeout: 5000 }).toBe('paused');
    let step5Done = false;
    const step5 = rp.click('#btn').then(() => {
      step5Done = true;
    });
    await viewer.getByRole('combobox', { name: 'Action', exact: true }).selectOption('type');
    await viewer.getByRole('textbox', { name: 'Value', exact: true }).fill(' from person');
    await viewer.getByRole('button', { name: 'Queue override' }).click();
    await expect
      .poll(() => viewer.locator('[data-testid=overrides] li[data-status=queued]').count(), { timeout: 5000 })
      .toBe(1);
    await viewer.getByRole('textbox', { name: 'Instructions', exact: true }).fill('Click until ten, then stop');
    await viewer.getByRole('button', { name: 'Send instructions' }).click();
    await expect.poll(() => instructions.at(-1)?.text, { timeout: 5000 }).toBe('Click until ten, then stop');
    await sleep(1000);
    expect(step5Done).toBe(false);
    expect(reportedAt.has(5)).toBe(false);

    await viewer.getByRole('button', { name: 'Resume' }).click();
    await viewer.getByRole('button', { name: 'Return control' }).click();
    await step5;
    // The override ran before step 5, was acked, and the field holds its text.
    await expect
      .poll(() => viewer.locator('[data-testid=overrides] li[data-status=done]').count(), { timeout: 5000 })
      .toBe(1);
    const value = await withSandboxPage(sys, (p) => p.inputValue('#text'));
    expect(value).toBe('auto from person');

    for (let i = 6; i < 10; i++) await rp.click('#btn');
    run.close();

    // The timeline holds all ten steps, done, each with its thumbnail.
    await expect.poll(() => viewer.locator('li.vm-step[data-status=done]').count(), { timeout: 5000 }).toBe(10);
    await expect.poll(() => viewer.locator('li.vm-step img.vm-step__thumb').count(), { timeout: 5000 }).toBe(10);
    expect(await viewer.getByRole('slider', { name: 'Step', exact: true }).isVisible()).toBe(true);

    const seen = await seenAt();
    const latencies = [...reportedAt].map(([i, at]) => (seen[String(i)] ?? Number.POSITIVE_INFINITY) - at);
    console.log(`step started → panel (ms): ${latencies.join(' ')}`);
    for (const ms of latencies) expect(ms).toBeLessThan(1000);
  });
});
