/**
 * The network test bed: viewers in their own network namespaces, each behind
 * a link (link.ts) that can lose, delay, cap or cut what the VM sends it,
 * while the controller and the sandbox VM stay in the root namespace. Used by
 * e2e/networks.e2e.test.ts and scripts/networks.ts. Needs root.
 *
 * Always cleaned up: `close()`, an `exit` hook (synchronous) and SIGINT/SIGTERM
 * take everything down; each link is owned through a file naming the owner's
 * pid in /run/vmlive-netbed, and links whose owner died (kill -9, a crashed
 * run) are removed by the next bed that opens.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CHROMIUM } from '../../vm-browser-agent/src/sandbox/chromium-flags.js';
import { launchBrowserInNamespace } from './browser.js';
import { IP, NetbedError, NFT, TC } from './exec.js';
import { type Forwarder, forwardTcp } from './forward.js';
import { Link, type LinkCounters, linkNames, type Shape, teardownLinkSync } from './link.js';

export { NetbedError } from './exec.js';
export type { LinkCounters, Shape } from './link.js';

const OWNERS = '/run/vmlive-netbed';
const MAX_LINKS = 60;

export interface ViewerLink {
  readonly name: string;
  /** the root namespace's end of the link: what the viewer reaches the host at */
  readonly hostAddress: string;
  readonly viewerAddress: string;
  readonly namespace: string;
  /** A URL the viewer can open for `url` on 127.0.0.1 (a TCP forwarder on hostAddress). */
  forward(url: string): Promise<string>;
  /** Headless Chromium (Playwright, over a pipe) running inside the viewer's namespace. */
  launchBrowser(extraArgs?: string[]): Promise<Browser>;
  shape(s: Shape): Promise<void>;
  blackout(on: boolean): Promise<void>;
  counters(): Promise<LinkCounters>;
}

export interface Netbed {
  link(name: string): ViewerLink;
  close(): Promise<void>;
}

/** Why the bed cannot run here, or null. */
export function netbedUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the network test bed needs root (network namespaces, nftables, tc)';
  for (const bin of [IP, NFT, TC, '/usr/bin/python3', CHROMIUM]) if (!existsSync(bin)) return `${bin} is missing`;
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lowest free link index, reclaiming those whose owner is gone. */
function claimIndex(): number {
  mkdirSync(OWNERS, { recursive: true });
  for (let i = 1; i <= MAX_LINKS; i++) {
    const file = join(OWNERS, `${i}.pid`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeFileSync(fd, `${process.pid}\n`);
        closeSync(fd);
        // Leftovers of a run that died between removing its owner file and its links.
        teardownLinkSync(linkNames(i));
        return i;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) break;
      teardownLinkSync(linkNames(i));
      rmSync(file, { force: true });
    }
  }
  throw new NetbedError(`all ${MAX_LINKS} test-bed links are in use`);
}

const open = new Set<() => void>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const closeNow of [...open]) closeNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const closeNow of [...open]) closeNow();
      // Nobody else handles it: die of it as if we had not listened.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

export async function openNetbed(names: readonly string[]): Promise<Netbed> {
  const why = netbedUnavailable();
  if (why) throw new NetbedError(why);
  hookExit();
  const links = new Map<string, { link: Link; owner: string }>();
  const forwarders: Forwarder[] = [];
  const browsers: Browser[] = [];
  const cleanups: Array<() => void> = [];
  let closed = false;
  const closeSyncAll = () => {
    if (closed) return;
    closed = true;
    open.delete(closeSyncAll);
    for (const { link, owner } of links.values()) {
      for (const err of link.close()) console.error(`netbed: ${err}`);
      rmSync(owner, { force: true });
    }
    for (const cleanup of cleanups) cleanup();
  };
  open.add(closeSyncAll);
  try {
    for (const name of names) {
      const index = claimIndex();
      const owner = join(OWNERS, `${index}.pid`);
      try {
        links.set(name, { link: await Link.create(index), owner });
      } catch (e) {
        rmSync(owner, { force: true });
        throw e;
      }
    }
  } catch (e) {
    closeSyncAll();
    throw e;
  }

  const viewerLink = (name: string, link: Link): ViewerLink => ({
    name,
    hostAddress: link.names.hostAddress,
    viewerAddress: link.names.viewerAddress,
    namespace: link.names.viewerNs,
    async forward(url) {
      const f = await forwardTcp(link.names.hostAddress, url);
      forwarders.push(f);
      return f.url;
    },
    async launchBrowser(extraArgs = []) {
      const { browser, cleanup } = await launchBrowserInNamespace(link.names.viewerNs, extraArgs);
      cleanups.push(cleanup);
      browsers.push(browser);
      return browser;
    },
    shape: (s) => link.shape(s),
    blackout: (on) => link.blackout(on),
    counters: () => link.counters(),
  });
  const views = new Map([...links].map(([name, { link }]) => [name, viewerLink(name, link)]));
  return {
    link(name) {
      const v = views.get(name);
      if (!v) throw new NetbedError(`no link named ${name}`);
      return v;
    },
    async close() {
      for (const b of browsers) await b.close().catch(() => undefined);
      for (const f of forwarders) await f.close();
      closeSyncAll();
    },
  };
}
