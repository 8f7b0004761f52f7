/**
 * The sandbox VM's browser: a headful Chromium on the Xvfb display, in a
 * kiosk window of fixed size, with a remote debugging port so automation
 * (Playwright/CDP) can drive it the way an agent drives a real VM's browser.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, vmBrowserFlags } from './chromium-flags.js';
import { withoutPriorityRaise } from './priorities.js';
import { SandboxStartError, stopChild } from './xvfb.js';

// helper/testing/viewer.ts imports these from here.

export interface SandboxBrowser {
  pid: number;
  /** e.g. http://127.0.0.1:9222 — for playwright `connectOverCDP` */
  cdpUrl: string;
  stop(): Promise<void>;
}

export async function startSandboxBrowser(opts: {
  display: string;
  width: number;
  height: number;
  url: string;
  timeoutMs?: number;
}): Promise<SandboxBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'vmlive-sandbox-chromium-'));
  // As the image's unprivileged browser: no priority above the VM agent's (priorities.ts).
  const [command, args] = withoutPriorityRaise(CHROMIUM, [
    ...vmBrowserFlags(opts),
    `--user-data-dir=${profile}`,
    '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1',
    '--password-store=basic',
    opts.url,
  ]);
  const child = spawn(command, args, {
    env: { ...process.env, DISPLAY: opts.display },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const stop = async () => {
    await stopChild(child);
    await rm(profile, { recursive: true, force: true });
  };
  // Chromium writes the chosen port to DevToolsActivePort in the profile.
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      await rm(profile, { recursive: true, force: true });
      throw new SandboxStartError('chromium', `exited with ${child.exitCode}: ${stderr.slice(-800)}`);
    }
    const text = await readFile(join(profile, 'DevToolsActivePort'), 'utf8').catch(() => '');
    const port = Number(text.split('\n')[0]);
    if (port > 0) return { pid: child.pid ?? -1, cdpUrl: `http://127.0.0.1:${port}`, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new SandboxStartError(
    'chromium',
    `no DevTools port within timeout (is the chromium package installed?) ${stderr.slice(-800)}`,
  );
}
