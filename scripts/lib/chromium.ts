/**
 * Chromium and Xvfb processes for the measurements.
 *
 * We spawn /usr/bin/chromium ourselves (remote debugging on an ephemeral port)
 * and attach playwright-core over CDP, instead of chromium.launch(): that way
 * the command line is exactly ours, with none of Playwright's switches, and
 * its one --disable-features switch is the role's own (chromium-flags.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM, viewerFlags, vmBrowserFlags } from '../../vm-browser-agent/src/sandbox/chromium-flags.js';
import { startXvfb as startSandboxXvfb, type XvfbHandle } from '../../vm-browser-agent/src/sandbox/xvfb.js';
import { PrerequisiteError } from './report.js';

export { CHROMIUM };

const SCRIPT_FLAGS = [
  '--no-default-browser-check',
  '--disable-extensions',
  '--disable-dev-shm-usage',
  // A viewer tab must never be throttled for being "hidden" in headless mode.
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
];

export interface ChromiumProcess {
  pid: number;
  /** ws:// URL of the browser's DevTools endpoint */
  cdpUrl: string;
  browser: Browser;
  stop(): Promise<void>;
}

export function requireBinary(path: string, pkg: string): void {
  if (!existsSync(path)) throw new PrerequisiteError(`${path} not found (apt-get install ${pkg})`);
}

async function waitForExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

/** Starts Chromium: headless (viewer) or headful kiosk on an X display (the VM's screen). */
export async function launchChromium(opts: {
  headless: boolean;
  display?: string;
  url?: string;
  width?: number;
  height?: number;
  extraArgs?: string[];
}): Promise<ChromiumProcess> {
  requireBinary(CHROMIUM, 'chromium');
  const dataDir = mkdtempSync(join(tmpdir(), 'vmlive-chromium-'));
  const w = opts.width ?? 1280;
  const h = opts.height ?? 720;
  const args = [
    ...(opts.headless
      ? [...viewerFlags(), '--headless', `--window-size=${w},${h}`, '--mute-audio']
      : vmBrowserFlags({ width: w, height: h })),
    ...SCRIPT_FLAGS,
    `--user-data-dir=${dataDir}`,
    '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1',
    ...(opts.extraArgs ?? []),
    opts.url ?? 'about:blank',
  ];
  const env = { ...process.env };
  if (opts.display) env.DISPLAY = opts.display;
  // Its own process group, so stop() ends the renderers, GPU and utility processes with it.
  const child = spawn(CHROMIUM, args, { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      // the group is already gone
    }
  };
  const cdpUrl = await new Promise<string>((res, rej) => {
    let buf = '';
    const t = setTimeout(() => rej(new Error(`chromium did not start in 20 s: ${buf.slice(-500)}`)), 20_000);
    child.stderr?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
      if (m?.[1]) {
        clearTimeout(t);
        res(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`chromium exited (${code}): ${buf.slice(-500)}`));
    });
  });
  // Keep draining stderr so Chromium never blocks on a full pipe.
  child.stderr?.resume();
  const browser = await chromium.connectOverCDP(cdpUrl);
  return {
    pid: child.pid ?? 0,
    cdpUrl,
    browser,
    stop: async () => {
      await browser.close().catch(() => {});
      signalGroup('SIGTERM');
      await waitForExit(child, 3000);
      if (child.exitCode === null && child.signalCode === null) {
        signalGroup('SIGKILL');
        await waitForExit(child, 2000);
      }
      signalGroup('SIGKILL'); // any helper process that outlived the browser
      // Chromium's helper processes can still be flushing the profile for a moment after the
      // browser process is gone (ENOTEMPTY on a plain rm), so retry for a short while.
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export type Xvfb = XvfbHandle;

/** Xvfb on a free display number, with a clear error when the xvfb package is missing. */
export async function startXvfb(width = 1280, height = 720): Promise<Xvfb> {
  requireBinary('/usr/bin/Xvfb', 'xvfb');
  return startSandboxXvfb({ width, height });
}

/** The playwright Page showing the VM's (sandbox) browser content. */
export async function firstPage(browser: Browser) {
  for (let i = 0; i < 50; i++) {
    const page = browser.contexts().flatMap((c) => c.pages())[0];
    if (page) return page;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no page in the sandbox browser');
}
