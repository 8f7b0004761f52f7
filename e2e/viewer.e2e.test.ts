/**
 * Issue 4's acceptance: the BUILT viewer page (web/dist, served by the real
 * controller) in headless Chromium against the real controller + sandbox VM.
 * Everything is observed the way a script would: the page's DOM, the
 * documented `window.__vmlive` hooks, the video element's pixels, and the
 * sandbox page through its CDP port. Needs `npm run build` first.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, launchViewerBrowser, REPO_ROOT, startSystem } from './system.js';
import * as viewerPage from './viewer-page.js';
import { phase, phaseHistory } from './viewer-page.js';

let sys: LocalSystem;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'web/dist/index.html'))) throw new Error('web/dist is missing: run `npm run build`');
  sys = await startSystem();
  browser = await launchViewerBrowser();
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

const openViewer = (role: 'view' | 'control', setup?: (page: Page) => Promise<unknown>) =>
  viewerPage.openViewer(browser, sys, role, setup);
const waitLive = (page: Page, timeout?: number) => viewerPage.waitLive(page, sys, timeout);
const sandboxText = (selector: string) => viewerPage.sandboxText(sys, selector);
const viewerPointFor = (viewer: Page, selector: string) => viewerPage.viewerPointFor(sys, viewer, selector);

/** Mean and spread of the video element's current pixels (drawn into a canvas in the page). */
function videoPixels(page: Page) {
  return page.evaluate(() => {
    const video = document.querySelector('video');
    if (!video?.videoWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = 160;
    canvas.height = 90;
    const ctx = canvas.getContext('2d');
    if (!ctx) return null;
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    let sumSq = 0;
    const n = data.length / 4;
    for (let i = 0; i < data.length; i += 4) {
      const y = 0.299 * (data[i] ?? 0) + 0.587 * (data[i + 1] ?? 0) + 0.114 * (data[i + 2] ?? 0);
      sum += y;
      sumSq += y * y;
    }
    const mean = sum / n;
    return { width: video.videoWidth, height: video.videoHeight, mean, stddev: Math.sqrt(sumSq / n - mean * mean) };
  });
}

describe('the built viewer page against a live sandbox VM', () => {
  it('reaches "connected" and shows decoded, non-blank 1280x720 video', async () => {
    const page = await openViewer('view');
    try {
      await waitLive(page);
      const stats = await page.evaluate(() => window.__vmlive?.getStats());
      expect(stats).toMatchObject({ width: 1280, height: 720 });
      expect(await page.getByRole('status').first().textContent()).toContain('Live');
      const pixels = await videoPixels(page);
      expect(pixels).not.toBeNull();
      // The sandbox page is a light page with text and a moving ball: bright and not uniform.
      expect(pixels?.mean).toBeGreaterThan(60);
      expect(pixels?.stddev).toBeGreaterThan(5);
      // No Take control button for a view token.
      expect(await page.getByRole('button', { name: 'Take control' }).count()).toBe(0);

      await page.getByRole('button', { name: 'Stats' }).click();
      await expect.poll(() => page.getByText('Frame rate').count()).toBe(1);
      await page.waitForTimeout(1500); // let the overlay show rates, not dashes
      // The live latency meter: the VM's abs-capture-time on every frame, read per presented frame.
      const meter = (await page.evaluate(() => window.__vmlive?.getStats()))?.glassToGlass;
      expect(meter?.samples).toBeGreaterThan(10);
      expect(meter?.p50Ms).toBeGreaterThan(0);
      expect(meter?.p50Ms).toBeLessThan(500);
      await expect.poll(() => page.getByText(/ms \(p50 \/ p95\)/).count()).toBe(1);
      // VMLIVE_UPDATE_SCREENSHOT=1 refreshes the README's docs/viewer.png; otherwise it goes with the run's logs.
      const shot = process.env.VMLIVE_UPDATE_SCREENSHOT ? join(REPO_ROOT, 'docs') : sys.logDir;
      mkdirSync(shot, { recursive: true });
      await page.screenshot({ path: join(shot, 'viewer.png') });
    } finally {
      await page.close();
    }
  });

  it('a control viewer clicks and types into the sandbox page through the video', async () => {
    const page = await openViewer('control');
    try {
      await waitLive(page);
      await page.getByRole('button', { name: 'Take control' }).click();
      // "You are in control" only once the VM confirmed it (the helper's grant): one click is enough.
      await expect.poll(() => page.getByText('You are in control').count(), { timeout: 10_000 }).toBe(1);
      expect(await page.getByRole('button', { name: 'Return control' }).count()).toBe(1);

      const before = Number(await sandboxText('#count'));
      const button = await viewerPointFor(page, '#btn');
      await page.mouse.click(button.x, button.y);
      await expect.poll(async () => Number(await sandboxText('#count')), { timeout: 5000 }).toBe(before + 1);

      const field = await viewerPointFor(page, '#text');
      await page.mouse.click(field.x, field.y);
      await page.keyboard.type('Hello vm');
      await expect.poll(() => sandboxText('#echo'), { timeout: 5000 }).toBe('Hello vm');

      await page.getByRole('button', { name: 'Return control' }).click();
      await expect.poll(() => page.getByText('The automation is in control').count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it('after the helper is killed, shows "reconnecting" and returns to live video by itself', async () => {
    const page = await openViewer('view');
    try {
      await waitLive(page);
      await sys.killHelper();
      await expect.poll(() => phase(page), { timeout: 15_000 }).toBe('reconnecting');
      // Hybrid mode: "Reconnecting — …" over the last frame, then screenshots once it lasts (2 s).
      const status = await page.getByRole('status').first().textContent();
      expect(status).toMatch(/^(Reconnecting — |Screenshots: live video unavailable \(reconnecting: )/);
      await sys.waitHelperUp(30_000);
      await waitLive(page, 45_000);
      const history = await phaseHistory(page);
      expect(history.slice(history.indexOf('reconnecting'))).toContain('connected');
      const pixels = await videoPixels(page);
      expect(pixels?.mean).toBeGreaterThan(60);
    } finally {
      await page.close();
    }
  });

  it('a control viewer gets control back by itself after its connection is rebuilt', async () => {
    const page = await openViewer('control');
    try {
      await waitLive(page);
      await page.getByRole('button', { name: 'Take control' }).click();
      await expect.poll(() => page.getByText('You are in control').count()).toBe(1);
      const firstSession = await page.evaluate(() => window.__vmlive?.sessionId);
      await sys.killHelper();
      await expect.poll(() => phase(page), { timeout: 15_000 }).toBe('reconnecting');
      await sys.waitHelperUp(30_000);
      await waitLive(page, 45_000);
      await expect.poll(() => page.getByText('You are in control').count(), { timeout: 10_000 }).toBe(1);
      const control = await page.evaluate(() => window.__vmlive?.control);
      const session = await page.evaluate(() => window.__vmlive?.sessionId);
      expect(session).not.toBe(firstSession);
      expect(control).toMatchObject({ mode: 'user', holder: session });
      await page.getByRole('button', { name: 'Return control' }).click();
      await expect.poll(() => page.getByText('The automation is in control').count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it('the operator console lists the VM, pauses and resumes its agent, and mints a working control link', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await page.goto(`${sys.controllerUrl}/`);
      await page.getByLabel('Operator token').fill(sys.operatorToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const row = page.getByRole('row').filter({ hasText: sys.vmId });
      await expect.poll(() => row.getByText('Online').count(), { timeout: 10_000 }).toBe(1);

      await row.getByRole('button', { name: 'Pause agent' }).click();
      await expect.poll(() => row.getByText('Paused', { exact: true }).count(), { timeout: 5000 }).toBe(1);
      await row.getByRole('button', { name: 'Resume agent' }).click();
      await expect.poll(() => row.getByText('Automation', { exact: true }).count(), { timeout: 5000 }).toBe(1);

      await row.getByLabel('Role').selectOption('control');
      await row.getByRole('button', { name: 'Create link' }).click();
      const linkBox = row.getByRole('textbox', { name: /Viewer link/ });
      await expect.poll(() => linkBox.count()).toBe(1);
      const link = await linkBox.inputValue();
      expect(link.startsWith(`${sys.controllerUrl}/view?vm=${encodeURIComponent(sys.vmId)}#token=`)).toBe(true);

      const viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      try {
        await viewer.goto(link);
        await waitLive(viewer);
        expect(await viewer.getByRole('button', { name: 'Take control' }).count()).toBe(1);
      } finally {
        await viewer.close();
      }
    } finally {
      await page.close();
    }
  });

  it('with WebRTC unable to connect, says so and shows screenshots', async () => {
    const page = await openViewer('view', (p) =>
      // No ICE servers and relay-only: no candidate can ever be gathered, as behind a UDP-blocking firewall.
      p.addInitScript(() => {
        const Original = window.RTCPeerConnection;
        window.RTCPeerConnection = class extends Original {
          constructor(config?: RTCConfiguration) {
            super({ ...config, iceServers: [], iceTransportPolicy: 'relay' });
          }
        };
      }),
    );
    try {
      await expect.poll(() => page.evaluate(() => window.__vmlive?.fallback), { timeout: 15_000 }).toBe(true);
      expect(await phase(page)).not.toBe('connected');
      const img = page.getByRole('img', { name: /^Latest screenshot of VM / });
      await expect
        .poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth).catch(() => 0), { timeout: 15_000 })
        .toBeGreaterThan(0);
      await expect
        .poll(() => page.getByRole('status').first().textContent(), { timeout: 30_000 })
        .toMatch(/^Screenshots: live video unavailable \(/);
      expect(await page.getByRole('button', { name: 'Retry live' }).count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  // Runs after the fallback test on purpose: a viewer whose ICE never connected has just left the VM.
  it('a viewer that could not connect does not stop live video for the next viewer', async () => {
    const page = await openViewer('view');
    try {
      await waitLive(page, 30_000);
    } finally {
      await page.close();
    }
  });
});
