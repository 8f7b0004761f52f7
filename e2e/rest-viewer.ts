/**
 * Drives the minimal REST viewer (scripts/pages/rest-viewer.ts, the same page
 * the measurement scripts use) in a headless Chromium page, so tests see the
 * agent and helper exactly as any third-party viewer would, without the React
 * viewer in the way.
 *
 * The page's bundle is loaded into a document of the controller's own origin
 * (its /healthz), so the viewer's REST calls go straight to the controller,
 * same-origin, with no CORS preflight and no proxy in between.
 */
import type { InputFeedback, InputMessage } from '@vmlive/protocol';
import type { Browser, Page } from 'playwright-core';
import { requireRestViewerBundle } from '../scripts/lib/viewers.js';
import type { FrameLog, WebrtcStats } from '../scripts/pages/page-api.js';

export type { FrameLog, WebrtcStats } from '../scripts/pages/page-api.js';

export interface RestViewer {
  page: Page;
  sessionId: string;
  stats(): Promise<WebrtcStats>;
  /** Resolves once `framesDecoded` reaches n; rejects after timeoutMs with the last stats. */
  waitFrames(n: number, timeoutMs?: number): Promise<WebrtcStats>;
  /** Frames the page presented and every gap between them over FREEZE_GAP_MS, since start. */
  frameLog(): Promise<FrameLog>;
  sendInput(msg: InputMessage): Promise<void>;
  /** Messages the helper sent back on the input channel. */
  feedback(): Promise<InputFeedback[]>;
  /** True once the controller said the session is gone (it ended). */
  sessionEnded(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openRestViewer(
  browser: Browser,
  opts: { controllerUrl: string; vmId: string; token: string },
): Promise<RestViewer> {
  const bundle = requireRestViewerBundle();
  // The controller's answers carry `Content-Security-Policy: default-src 'none'`, which rightly refuses
  // a script injected into them; this harness page is the test's own, so it bypasses the CSP.
  const page = await browser.newPage({ bypassCSP: true });
  await page.goto(`${opts.controllerUrl}/healthz`);
  await page.addScriptTag({ path: bundle });
  const sessionId = await page.evaluate((c) => window.restViewer.start(c), { vmId: opts.vmId, token: opts.token });
  const stats = async () => {
    const s = await page.evaluate(() => window.restViewer.stats());
    if (!s) throw new Error('the REST viewer has no peer connection');
    return s;
  };
  return {
    page,
    sessionId,
    stats,
    async waitFrames(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let last = await stats();
      while (last.framesDecoded < n) {
        if (Date.now() > deadline)
          throw new Error(`only ${last.framesDecoded} frames decoded: ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, 100));
        last = await stats();
      }
      return last;
    },
    frameLog: () => page.evaluate(() => window.restViewer.frameLog()),
    sendInput: (msg) => page.evaluate((m) => window.restViewer.send(m), msg),
    feedback: () => page.evaluate(() => window.restViewer.feedback()),
    sessionEnded: () => page.evaluate(() => window.restViewer.sessionEnded()),
    async close() {
      await page.evaluate(() => window.restViewer.stop()).catch(() => undefined);
      await page.close().catch(() => undefined);
    },
  };
}
