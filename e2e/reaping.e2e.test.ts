/**
 * Issue 11: viewers that vanish without a word are reaped in the VM. A viewer
 * browser is SIGKILLed with its whole process tree (no DELETE, no pagehide, no
 * goodbye on the wire); the helper notices the silence (`peer-lost` after
 * VMLIVE_PEER_SILENCE_MS, 5 s), the agent removes the peer and ends its session,
 * so the VM counts no viewer and a holder's control lease runs out at once.
 * A healthy viewer on a busy machine never is. Real controller, sandbox VM
 * (Xvfb, Chromium, agent, GStreamer helper) and headless Chromium viewers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiClient, routes, type VmSummary } from '@vmlive/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ProcSampler } from '../scripts/lib/proc.js';
import { clockPage } from '../vm-browser-agent/src/helper/testing/clock-page.js';
import { openRestViewer, type RestViewer } from './rest-viewer.js';
import {
  type KillableBrowser,
  type LocalSystem,
  launchKillableViewerBrowser,
  launchViewerBrowser,
  running,
  startSystem,
} from './system.js';

let sys: LocalSystem;
/** The healthy viewers' browser, never killed. */
let browser: Browser;
const killables: KillableBrowser[] = [];
const burners: ChildProcess[] = [];
let pageDir: string;

beforeAll(async () => {
  // A moving VM page, so that each viewer costs the helper what a real one does (hundreds of kB/s
  // to packetize, encrypt and send; a still page costs next to nothing per viewer), at 640x360
  // H.264 so that the encoder and the VM's page leave the 2 cores room for eleven viewers.
  // A heartbeat a second, so the helper's peers in GET /api/vms (stats.peerStats) are at most 1 s old.
  pageDir = mkdtempSync(join(tmpdir(), 'vmlive-reaping-'));
  const page = join(pageDir, 'motion.html');
  writeFileSync(page, clockPage(true));
  sys = await startSystem({
    codec: 'h264',
    width: 640,
    height: 360,
    startUrl: pathToFileURL(page).href,
    agentEnv: { VMLIVE_HEARTBEAT_MS: '1000' },
  });
  browser = await launchViewerBrowser();
});

afterAll(async () => {
  stopBurners();
  for (const k of killables) await k.close();
  await browser?.close();
  await sys?.stop();
  rmSync(pageDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function vm(): Promise<VmSummary> {
  const api = new ApiClient({ baseUrl: sys.controllerUrl, token: sys.operatorToken });
  const me = (await api.call(routes.listVms, {})).vms.find((v) => v.vmId === sys.vmId);
  if (!me) throw new Error('the sandbox VM is not listed');
  return me;
}

/** The helper's peers in the VM's last heartbeat. */
function helperPeers(v: VmSummary): string[] {
  const peers = v.stats?.peerStats;
  return typeof peers === 'object' && peers !== null ? Object.keys(peers) : [];
}

const AgentLine = z.object({
  time: z.number(),
  msg: z.string(),
  sessionId: z.string().optional(),
  reason: z.string().optional(),
  cause: z.string().optional(),
  silentMs: z.number().optional(),
});
type AgentLine = z.infer<typeof AgentLine>;

/** The agent's pino lines (its log file also holds the helper's stderr, re-logged as JSON). */
function agentLog(): AgentLine[] {
  const out: AgentLine[] = [];
  for (const text of readFileSync(join(sys.logDir, 'agent.log'), 'utf8').split('\n')) {
    if (!text.startsWith('{')) continue;
    const line = AgentLine.safeParse(JSON.parse(text));
    if (line.success) out.push(line.data);
  }
  return out;
}

const removal = (log: AgentLine[], sessionId: string) =>
  log.find((l) => l.msg === 'peer removed' && l.sessionId === sessionId);

async function openViewer(on: Browser, role: 'view' | 'control' = 'view'): Promise<RestViewer & { token: string }> {
  const token = await sys.mintViewerToken(role);
  const v = await openRestViewer(on, { controllerUrl: sys.controllerUrl, vmId: sys.vmId, token });
  return Object.assign(v, { token });
}

function take(v: RestViewer & { token: string }) {
  return new ApiClient({ baseUrl: sys.controllerUrl, token: v.token }).call(routes.postControl, {
    params: { vmId: sys.vmId },
    body: { action: 'take', sessionId: v.sessionId },
  });
}

/**
 * Polls GET /api/vms and the agent log every 100 ms until every condition has
 * held once (throws after `timeoutMs`); returns when each first held, in ms
 * after `since`.
 */
async function firstHeld<K extends string>(
  since: number,
  timeoutMs: number,
  conditions: Record<K, (v: VmSummary, log: AgentLine[]) => boolean>,
): Promise<Partial<Record<K, number>>> {
  const at: Partial<Record<K, number>> = {};
  for (;;) {
    const [v, log] = [await vm(), agentLog()];
    const missing: K[] = [];
    for (const k in conditions) {
      if (at[k] === undefined && conditions[k](v, log)) at[k] = Date.now() - since;
      if (at[k] === undefined) missing.push(k);
    }
    if (missing.length === 0) return at;
    if (Date.now() - since > timeoutMs) throw new Error(`after ${timeoutMs} ms still not: ${missing.join(', ')}`);
    await sleep(100);
  }
}

/** The helper's CPU (% of one core) over `ms`, from /proc. */
async function helperCpu(ms = 3000): Promise<number> {
  const pid = sys.pids().helper;
  if (pid === undefined) throw new Error('no helper process');
  const sampler = new ProcSampler({ helper: { pids: [pid] } });
  sampler.sample();
  await sleep(ms);
  return Math.round(sampler.sample().helper?.cpuPct ?? Number.NaN);
}

/** Processes that each keep one core busy, as other work on the VM host would. */
function startBurners(n: number): void {
  for (let i = 0; i < n; i++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}

function stopBurners(): void {
  for (const b of burners.splice(0)) b.kill('SIGKILL');
}

describe('viewers that vanish without a word', () => {
  it('a killed control viewer is reaped within 10 s: peer removed, session ended, lease released', async () => {
    const k = await launchKillableViewerBrowser();
    killables.push(k);
    const doomed = await openViewer(k.browser, 'control');
    await doomed.waitFrames(30, 15_000);
    expect(await take(doomed)).toMatchObject({ mode: 'user', holder: doomed.sessionId });
    await expect.poll(async () => helperPeers(await vm()), { timeout: 5000 }).toContain(doomed.sessionId);

    const killedAt = Date.now();
    const tree = k.kill();
    const t = await firstHeld(killedAt, 10_000, {
      peerRemoved: (_v, log) => removal(log, doomed.sessionId) !== undefined,
      helperPeerGone: (v) => !helperPeers(v).includes(doomed.sessionId),
      sessionEnded: (v) => v.viewers === 0,
      leaseReleased: (v) => v.control.mode === 'agent' && v.control.holder === null,
    });
    const log = agentLog();
    const removed = removal(log, doomed.sessionId);
    const gone = log.find((l) => l.msg === 'viewer gone' && l.sessionId === doomed.sessionId);
    console.log(
      `killed control viewer: kill → peer removed ${(removed?.time ?? Number.NaN) - killedAt} ms (seen ${t.peerRemoved} ms), ` +
        `→ session ended ${t.sessionEnded} ms, → lease released ${t.leaseReleased} ms, ` +
        `→ gone from the helper's stats ${t.helperPeerGone} ms (reported after ${gone?.silentMs} ms of silence)`,
    );
    expect(running(tree)).toEqual([]);
    expect(removed?.reason).toBe('viewer-gone');
    expect(gone?.cause).toBe('silent');
    expect((removed?.time ?? Number.POSITIVE_INFINITY) - killedAt).toBeLessThanOrEqual(10_000);

    // Nothing is left holding control: the next viewer takes it at once.
    const next = await openViewer(browser, 'control');
    try {
      expect(await take(next)).toMatchObject({ mode: 'user', holder: next.sessionId });
      await next.waitFrames(10, 15_000);
    } finally {
      await next.close();
    }
  });

  it('ten viewers killed at once are reaped within 15 s and gone from the helper’s peers', async () => {
    const healthy = await openViewer(browser);
    try {
      await healthy.waitFrames(30, 15_000);
      const oneViewerCpu = await helperCpu();

      const k = await launchKillableViewerBrowser();
      killables.push(k);
      const ten = await Promise.all(Array.from({ length: 10 }, () => openViewer(k.browser)));
      await Promise.all(ten.map((v) => v.waitFrames(10, 30_000)));
      const ids = ten.map((v) => v.sessionId);
      await expect
        .poll(async () => helperPeers(await vm()).sort(), { timeout: 5000 })
        .toEqual([healthy.sessionId, ...ids].sort());
      const elevenViewersCpu = await helperCpu();

      const killedAt = Date.now();
      const tree = k.kill();
      const t = await firstHeld(killedAt, 15_000, {
        allRemoved: (_v, log) => ids.every((id) => removal(log, id) !== undefined),
        sessionsEnded: (v) => v.viewers === 1,
        helperPeersGone: (v) => helperPeers(v).join() === healthy.sessionId,
      });
      const log = agentLog();
      const removedAfter = ids.map((id) => (removal(log, id)?.time ?? Number.NaN) - killedAt).sort((a, b) => a - b);
      const afterCpu = await helperCpu();
      console.log(
        `ten killed viewers: kill → peers removed ${removedAfter[0]}–${removedAfter.at(-1)} ms, ` +
          `→ sessions ended ${t.sessionsEnded} ms, → gone from the helper's stats ${t.helperPeersGone} ms; ` +
          `helper CPU (% of a core, 3 s): 1 viewer ${oneViewerCpu}, 11 viewers ${elevenViewersCpu}, after the kill ${afterCpu}`,
      );
      expect(running(tree)).toEqual([]);
      for (const id of ids) expect(removal(log, id)?.reason).toBe('viewer-gone');
      expect(removedAfter.at(-1)).toBeLessThanOrEqual(15_000);
      // The dead viewers cost the helper nothing any more: their peers are gone from its own stats
      // (helperPeersGone above), so it sends them no video. The CPU figures are printed, not
      // asserted: a 3 s sample on a shared 2-core machine once read 6 % for eleven viewers and
      // 15 % for one, and a benchmark, not a test, is the place for such numbers.

      // No false positive: the healthy viewer was never removed and still decodes.
      expect(removal(log, healthy.sessionId)).toBeUndefined();
      const before = (await healthy.stats()).framesDecoded;
      const now = await healthy.waitFrames(before + 30, 10_000);
      expect(now.connectionState).toBe('connected');
    } finally {
      await healthy.close();
    }
  });

  it('a healthy viewer sitting 15 s (three silence windows) on a busy machine is never reaped', async () => {
    const v = await openViewer(browser);
    try {
      await v.waitFrames(30, 15_000);
      const start = (await v.stats()).framesDecoded;
      startBurners(2); // both cores busy, on top of whatever else runs here
      try {
        for (let s = 0; s < 15; s++) {
          await sleep(1000);
          expect(removal(agentLog(), v.sessionId)).toBeUndefined();
        }
      } finally {
        stopBurners();
      }
      const end = await v.waitFrames(start + 30, 10_000);
      expect(end.connectionState).toBe('connected');
      const me = await vm();
      expect(me.viewers).toBe(1);
      expect(helperPeers(me)).toEqual([v.sessionId]);
      expect(agentLog().filter((l) => l.msg === 'viewer gone' && l.sessionId === v.sessionId)).toEqual([]);
      console.log(`healthy viewer under 2 busy loops: 15 s, decoded ${end.framesDecoded - start} frames, not reaped`);
    } finally {
      await v.close();
    }
  });
});
