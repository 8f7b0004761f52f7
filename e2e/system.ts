/**
 * Test harness: a whole vmlive system (real controller, sandbox VM with Xvfb,
 * headful Chromium, the agent and its GStreamer helper) on free ports, plus a
 * headless Chromium for viewers. Requires `npm run build` (the processes run
 * from dist/, as in production).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM, viewerFlags } from '../vm-browser-agent/src/sandbox/chromium-flags.js';
import {
  type LocalSystem,
  type LocalSystemOptions,
  startLocalSystem,
} from '../vm-browser-agent/src/sandbox/local-system.js';

export type { LocalSystem } from '../vm-browser-agent/src/sandbox/local-system.js';
export { DEMO_PAGE_URL, REPO_ROOT } from '../vm-browser-agent/src/sandbox/local-system.js';

export async function startSystem(opts: Omit<LocalSystemOptions, 'port' | 'logDir'> = {}): Promise<LocalSystem> {
  const logDir = mkdtempSync(join(tmpdir(), 'vmlive-e2e-logs-'));
  return startLocalSystem({ ...opts, port: 0, logDir, logLevel: opts.logLevel ?? 'debug' });
}

/** Headless Chromium for viewers; Playwright gives it a fresh temporary profile. */
export async function launchViewerBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...viewerFlags({ launchedByPlaywright: true }), ...extraArgs],
  });
}

/**
 * A viewer Chromium that a test can kill outright (SIGKILL to its process group): no `pagehide`,
 * no DELETE, its connections just stop, as when the browser crashes or the machine loses power.
 */
export async function launchKillableViewerBrowser(): Promise<{ browser: Browser; kill(): Promise<void> }> {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: viewerFlags({ launchedByPlaywright: true }),
  });
  const browser = await chromium.connect(server.wsEndpoint());
  return { browser, kill: () => server.kill() };
}
