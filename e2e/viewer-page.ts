/**
 * Driving the BUILT viewer page (web/dist, served by the controller) and
 * checking what reaches the sandbox VM's page, for the browser e2e tests.
 * The viewer is observed through its documented `window.__vmlive` hooks and
 * its DOM; the sandbox page through its CDP port, as an automation would.
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
// Brings the documented `window.__vmlive` type (a global augmentation) into the page.evaluate callbacks.
import type {} from '../viewer/src/debug/debugHooks.js';
import type { LocalSystem } from './system.js';

export async function openViewer(
  browser: Browser,
  sys: LocalSystem,
  role: 'view' | 'control',
  setup?: (page: Page) => Promise<unknown>,
): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (err) => console.log('viewer pageerror:', err.message));
  await setup?.(page);
  await page.goto(await sys.viewerUrl(role));
  return page;
}

export const phase = (page: Page) => page.evaluate(() => window.__vmlive?.state?.phase ?? null);
export const framesDecoded = (page: Page) => page.evaluate(() => window.__vmlive?.stats?.framesDecoded ?? 0);
export const phaseHistory = (page: Page) => page.evaluate(() => (window.__vmlive?.history ?? []).map((h) => h.phase));

export async function waitLive(page: Page, sys: LocalSystem, timeout = 20_000): Promise<void> {
  try {
    await expect.poll(() => phase(page), { timeout }).toBe('connected');
    const start = await framesDecoded(page);
    await expect.poll(() => framesDecoded(page), { timeout: 10_000 }).toBeGreaterThan(start + 20);
  } catch (err) {
    // Say what the viewer went through, not just that it did not get there.
    const debug = await page.evaluate(() => ({ history: window.__vmlive?.history, stats: window.__vmlive?.stats }));
    console.log('viewer debug:', JSON.stringify(debug), 'system logs:', sys.logDir);
    throw err;
  }
}

export async function withSandboxPage<T>(sys: LocalSystem, fn: (page: Page) => Promise<T>): Promise<T> {
  const cdp = await chromium.connectOverCDP(sys.sandboxCdpUrl);
  try {
    const page = cdp.contexts()[0]?.pages()[0];
    if (!page) throw new Error('sandbox browser has no page');
    return await fn(page);
  } finally {
    await cdp.close();
  }
}

export const sandboxText = (sys: LocalSystem, selector: string) =>
  withSandboxPage(sys, (p) => p.evaluate((sel) => document.querySelector(sel)?.textContent ?? '', selector));

/** Where a sandbox element's centre appears in the viewer page, through the letterboxed video. */
export async function viewerPointFor(
  sys: LocalSystem,
  viewer: Page,
  selector: string,
): Promise<{ x: number; y: number }> {
  const norm = await withSandboxPage(sys, (p) =>
    p.evaluate((sel) => {
      const r = document.querySelector(sel)?.getBoundingClientRect();
      if (!r) throw new Error(`no ${sel}`);
      return { x: (r.left + r.width / 2) / window.innerWidth, y: (r.top + r.height / 2) / window.innerHeight };
    }, selector),
  );
  return viewer.evaluate(({ x, y }) => {
    const video = document.querySelector('video');
    if (!video) throw new Error('no video');
    const r = video.getBoundingClientRect();
    const scale = Math.min(r.width / video.videoWidth, r.height / video.videoHeight);
    const w = video.videoWidth * scale;
    const h = video.videoHeight * scale;
    return { x: r.left + (r.width - w) / 2 + x * w, y: r.top + (r.height - h) / 2 + y * h };
  }, norm);
}
