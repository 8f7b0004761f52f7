/**
 * A headless Debian Chromium for the gateway's tests and benchmark: the
 * project's base flags, a fresh profile, DevTools on an ephemeral loopback
 * port read from DevToolsActivePort (as sandbox-browser.ts does).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, CHROMIUM_BASE_FLAGS } from '../../sandbox/chromium-flags.js';
import { stopChild } from '../../sandbox/xvfb.js';

export interface HeadlessChromium {
  /** http://127.0.0.1:<port>: Chromium's own DevTools HTTP base */
  httpUrl: string;
  /** ws://127.0.0.1:<port>/devtools/browser/<id> */
  browserWsUrl: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startHeadlessChromium(url = 'about:blank'): Promise<HeadlessChromium> {
  const profile = await mkdtemp(join(tmpdir(), 'vmlive-cdp-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      ...CHROMIUM_BASE_FLAGS,
      '--headless',
      `--user-data-dir=${profile}`,
      '--remote-debugging-port=0',
      '--remote-debugging-address=127.0.0.1',
      '--window-size=800,600',
      '--mute-audio',
      // The tests time clicks: a background tab must not be throttled.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      url,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const stop = async () => {
    await stopChild(child);
    await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      throw new Error(`chromium exited with ${child.exitCode}: ${stderr.slice(-800)}`);
    }
    const text = await readFile(join(profile, 'DevToolsActivePort'), 'utf8').catch(() => '');
    const [portLine, pathLine] = text.split('\n');
    const port = Number(portLine);
    if (port > 0 && pathLine) {
      return {
        httpUrl: `http://127.0.0.1:${port}`,
        browserWsUrl: `ws://127.0.0.1:${port}${pathLine.trim()}`,
        pid: child.pid ?? -1,
        stop,
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`chromium: no DevTools port within 20 s ${stderr.slice(-800)}`);
}
