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
import {
  type LocalSystem,
  type LocalSystemOptions,
  startLocalSystem,
} from '../vm-browser-agent/src/sandbox/local-system.js';
import { CHROMIUM, CHROMIUM_BASE_FLAGS } from '../vm-browser-agent/src/sandbox/sandbox-browser.js';

export type { LocalSystem } from '../vm-browser-agent/src/sandbox/local-system.js';
export { DEMO_PAGE_URL, REPO_ROOT } from '../vm-browser-agent/src/sandbox/local-system.js';

export async function startSystem(opts: Omit<LocalSystemOptions, 'port' | 'logDir'> = {}): Promise<LocalSystem> {
  const logDir = mkdtempSync(join(tmpdir(), 'vmlive-e2e-logs-'));
  return startLocalSystem({ ...opts, port: 0, logDir, logLevel: opts.logLevel ?? 'debug' });
}

/**
 * Chromium honours only the last --disable-features switch, and ours comes
 * after Playwright's, so it repeats Playwright's list (playwright-core 1.65)
 * and adds WebRtcHideLocalIpsWithMdns: off, Chromium sends real host
 * candidates that libnice can pair directly instead of mDNS names.
 */
const DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'WebRtcHideLocalIpsWithMdns',
];

/** Headless Chromium for viewers; Playwright gives it a fresh temporary profile. */
export async function launchViewerBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...CHROMIUM_BASE_FLAGS,
      `--disable-features=${DISABLED_FEATURES.join(',')}`,
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}
