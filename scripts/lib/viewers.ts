/**
 * Node-side handles on the measurement viewer pages (scripts/pages), all
 * opened in one headless Chromium: the REST viewer (rest-viewer.html, built by
 * `npm run build`) for vmlive, and the noVNC and CDP pages. Each page keeps its
 * samples until drained (page-api.ts is their window API).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Drained, FrameLog, MeasureOptions, WebrtcStats } from '../pages/page-api.js';
import { PrerequisiteError } from './report.js';
import { PAGES_DIR, type PageServer } from './server.js';
import type { Target } from './system.js';

export type { Drained, FrameLog, Sample, WebrtcStats } from '../pages/page-api.js';

/** The REST viewer's browser bundle; e2e/rest-viewer.ts loads it too. */
export const REST_VIEWER_BUNDLE = join(PAGES_DIR, 'dist/rest-viewer.js');

export function requireRestViewerBundle(): string {
  if (!existsSync(REST_VIEWER_BUNDLE)) {
    throw new PrerequisiteError(`${REST_VIEWER_BUNDLE} is missing: run \`npm run build\` first`);
  }
  return REST_VIEWER_BUNDLE;
}

export interface ViewerHandle {
  page: Page;
  /** wall-clock ms just before the viewer's start() ran */
  startedWall: number;
  drain(): Promise<Drained>;
  stop(): Promise<void>;
}

export interface WebrtcViewer extends ViewerHandle {
  stats(): Promise<WebrtcStats | null>;
  frameLog(): Promise<FrameLog>;
}

export type ViewerOptions = MeasureOptions;

async function openPage(
  browser: Browser,
  server: PageServer,
  name: string,
  ready: () => boolean,
  origin = server.origin,
): Promise<Page> {
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 720 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.pageUrl(name).replace(server.origin, origin));
  await page.waitForFunction(ready, undefined, { timeout: 10_000 });
  if (errors.length) throw new Error(`${name}: ${errors.join('; ')}`);
  return page;
}

export async function openWebrtcViewer(
  browser: Browser,
  server: PageServer,
  target: Target,
  /** pageOrigin: where this browser reaches the page server, when not on its loopback (e2e/netbed's forwarders) */
  opts: ViewerOptions & { codec?: string; pageOrigin?: string } = {},
): Promise<WebrtcViewer> {
  requireRestViewerBundle();
  const { codec, pageOrigin, ...measure } = opts;
  const page = await openPage(browser, server, 'rest-viewer.html', () => window.restViewer !== undefined, pageOrigin);
  const cfg = { token: target.token, vmId: target.vmId, measure, ...(codec ? { codec } : {}) };
  const startedWall = Date.now();
  // Not awaited: start() resolves only after the answer; errors surface in drain().
  const started = page.evaluate((c) => window.restViewer.start(c), cfg);
  let startError: unknown;
  started.catch((e: unknown) => {
    startError = e;
  });
  return {
    page,
    startedWall,
    drain: async () => {
      if (startError) throw startError;
      return page.evaluate(() => window.restViewer.drain());
    },
    stats: () => page.evaluate(() => window.restViewer.stats()),
    frameLog: () => page.evaluate(() => window.restViewer.frameLog()),
    stop: async () => {
      await page.evaluate(() => window.restViewer.stop()).catch(() => {});
      await page.close().catch(() => {});
    },
  };
}

export async function openNovncViewer(
  browser: Browser,
  server: PageServer,
  wsUrl: string,
  opts: ViewerOptions = {},
): Promise<ViewerHandle> {
  return openWebSocketViewer(browser, server, 'viewer-novnc.html', wsUrl, opts);
}

export async function openCdpViewer(
  browser: Browser,
  server: PageServer,
  opts: ViewerOptions = {},
): Promise<ViewerHandle> {
  return openWebSocketViewer(browser, server, 'viewer-cdp.html', `${server.origin.replace('http', 'ws')}/relay`, opts);
}

/** The noVNC and CDP pages share one shape: `viewer.start({url, ...opts})` against a WebSocket, then drain. */
async function openWebSocketViewer(
  browser: Browser,
  server: PageServer,
  pageName: string,
  url: string,
  opts: ViewerOptions,
): Promise<ViewerHandle> {
  const page = await openPage(browser, server, pageName, () => window.viewer !== undefined);
  const startedWall = Date.now();
  await page.evaluate((c) => window.viewer.start(c), { url, ...opts });
  return {
    page,
    startedWall,
    drain: () => page.evaluate(() => window.viewer.drain()),
    stop: async () => {
      await page.evaluate(() => window.viewer.stop()).catch(() => {});
      await page.close().catch(() => {});
    },
  };
}
