/**
 * Test harness: a whole vmlive system (real controller, sandbox VM with Xvfb,
 * headful Chromium, the agent and its GStreamer helper) on free ports, plus a
 * headless Chromium for viewers. Requires `npm run build` (the processes run
 * from dist/, as in production).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { descendants } from '../scripts/lib/proc.js';
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

/** A viewer browser the test can kill the way a crash or `kill -9` would. */
export interface KillableBrowser {
  browser: Browser;
  /** The browser process, leader of its own process group. */
  pid: number;
  /** SIGKILLs the whole process tree at once (no pagehide, no DELETE, no goodbye); returns the pids it had. */
  kill(): number[];
  close(): Promise<void>;
}

/**
 * A headless viewer Chromium in a process of its own. Playwright starts it as
 * the leader of a new process group, and its renderer, GPU and utility
 * processes stay in that group, so one `kill(-pid)` takes them all at once.
 */
export async function launchKillableViewerBrowser(): Promise<KillableBrowser> {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: viewerFlags({ launchedByPlaywright: true }),
  });
  const pid = server.process().pid;
  if (pid === undefined) throw new Error('the viewer browser has no pid');
  const browser = await chromium.connect(server.wsEndpoint());
  return {
    browser,
    pid,
    kill() {
      const tree = [pid, ...descendants(pid)];
      process.kill(-pid, 'SIGKILL');
      return tree;
    },
    async close() {
      await browser.close().catch(() => undefined);
      await server.kill().catch(() => undefined);
    },
  };
}

/** The pids of `pids` that still run (a zombie waiting to be reaped does not). */
export function running(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  });
}
