/**
 * Headless Chromium (Playwright, over a pipe) running inside a network
 * namespace: a wrapper script `ip netns exec`s the real binary, and Playwright
 * drives it over the inherited pipes (fd 3/4), which `ip netns exec` passes on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM, viewerFlags } from '../../vm-browser-agent/src/sandbox/chromium-flags.js';
import { IP } from './exec.js';

/** The browser and the directory of its wrapper, removed by `cleanup` (after the browser closed). */
export async function launchBrowserInNamespace(
  ns: string,
  extraArgs: string[] = [],
): Promise<{ browser: Browser; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-netbed-'));
  const wrapper = join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${IP} netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  try {
    const browser = await chromium.launch({
      executablePath: wrapper,
      headless: true,
      args: [...viewerFlags({ launchedByPlaywright: true }), ...extraArgs],
    });
    return { browser, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
