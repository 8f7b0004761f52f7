/**
 * Node-side handles on the three measurement viewer pages (scripts/pages/viewer-*.html),
 * all opened in one headless Chromium. Each page exposes `window.viewer` with
 * start/drain/stop (and stats for WebRTC); samples stay in the page until drained.
 */
import type { Browser, Page } from 'playwright-core';
import type { PageServer } from './server.js';
import type { Target } from './system.js';

export interface Sample {
  /** viewer wall clock when the value first appeared, ms */
  at: number;
  painted: number;
  latency: number;
  /** WebRTC and CDP: arrival of the picture's bytes at the viewer − painted (WebRTC: rVFC receiveTime) */
  receiveLatency?: number;
}

export interface Drained {
  samples: Sample[];
  observed: number;
  decoded: number;
  distinct: number;
  rejected: Record<string, number>;
  firstDecodedAt: number | null;
  firstDecodedWall: number | null;
  maxGapMs: number;
  errors: string[];
  ttffMs?: number | null;
  answerMs?: number | null;
}

export interface WebrtcStats {
  timestamp: number;
  connectionState: string;
  iceConnectionState: string;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  framesDropped: number;
  framesPerSecond: number;
  frameWidth: number;
  frameHeight: number;
  freezeCount: number;
  totalFreezesDuration: number;
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  totalDecodeTime: number;
  nackCount: number;
  pliCount: number;
  codec: string;
  decoderImplementation: string;
  rttMs: number | null;
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
}

export interface ViewerOptions {
  clockOffsetMs?: number;
  viewportW?: number;
}

async function openPage(browser: Browser, server: PageServer, name: string): Promise<Page> {
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 720 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.pageUrl(name));
  await page.waitForFunction(() => (window as unknown as { viewer?: unknown }).viewer !== undefined, undefined, {
    timeout: 10_000,
  });
  if (errors.length) throw new Error(`${name}: ${errors.join('; ')}`);
  return page;
}

const drainIn = (page: Page) =>
  page.evaluate(() => (window as unknown as { viewer: { drain(): Drained } }).viewer.drain()) as Promise<Drained>;

export async function openWebrtcViewer(
  browser: Browser,
  server: PageServer,
  target: Target,
  opts: ViewerOptions & { codec?: string } = {},
): Promise<WebrtcViewer> {
  const page = await openPage(browser, server, 'viewer-webrtc.html');
  const cfg = { token: target.token, vmId: target.vmId, ...opts };
  const startedWall = Date.now();
  // Not awaited: start() resolves only after the answer; errors surface in drain().
  const started = page.evaluate(
    (c) => (window as unknown as { viewer: { start(c: unknown): Promise<void> } }).viewer.start(c),
    cfg,
  );
  let startError: unknown;
  started.catch((e: unknown) => {
    startError = e;
  });
  return {
    page,
    startedWall,
    drain: async () => {
      if (startError) throw startError;
      return drainIn(page);
    },
    stats: () =>
      page.evaluate(() =>
        (window as unknown as { viewer: { stats(): Promise<WebrtcStats | null> } }).viewer.stats(),
      ) as Promise<WebrtcStats | null>,
    stop: async () => {
      await page
        .evaluate(
          (t) => (window as unknown as { viewer: { stop(t: string): Promise<void> } }).viewer.stop(t),
          target.token,
        )
        .catch(() => {});
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
  const page = await openPage(browser, server, pageName);
  const startedWall = Date.now();
  await page.evaluate((c) => (window as unknown as { viewer: { start(c: unknown): Promise<void> } }).viewer.start(c), {
    url,
    ...opts,
  });
  return {
    page,
    startedWall,
    drain: () => drainIn(page),
    stop: async () => {
      await page.evaluate(() => (window as unknown as { viewer: { stop(): void } }).viewer.stop()).catch(() => {});
      await page.close().catch(() => {});
    },
  };
}
