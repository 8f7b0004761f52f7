/**
 * Side-by-side: the same clock page on the same X display, measured the same
 * way through (a) vmlive WebRTC, (b) x11vnc + websockify + noVNC, (c) CDP
 * Page.startScreencast relayed over a WebSocket. Runs are interleaved (the order
 * rotates every repeat) and the table shows medians over repeats
 * (lib/compare/results.ts: the rows, the summary, its table and the verdicts).
 */
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { parseArgs } from './lib/args.js';
import { type ChromiumProcess, firstPage, launchChromium, startXvfb, type Xvfb } from './lib/chromium.js';
import {
  APPROACHES,
  type Approach,
  CASES,
  type Case,
  failedRun,
  printSummary,
  type RunRow,
  summarizeRuns,
  targetVerdicts,
} from './lib/compare/results.js';
import { ProcSampler, SystemCpu } from './lib/proc.js';
import { EXIT, fmt, machineLine, runMain, writeJson } from './lib/report.js';
import { runWindow } from './lib/run.js';
import {
  checkVncPrerequisites,
  startScreencast,
  startVnc,
  TUNED_NOVNC_OPTIONS,
  TUNED_X11VNC_ARGS,
} from './lib/senders.js';
import { startPageServer } from './lib/server.js';
import { summarize } from './lib/stats.js';
import { type LocalSystem, startLocalSystem, type Target } from './lib/system.js';
import { openCdpViewer, openNovncViewer, openWebrtcViewer, type WebrtcStats } from './lib/viewers.js';

const opts = parseArgs(
  'compare',
  'Glass-to-glass latency, fps, bytes/s and sender CPU of vmlive WebRTC vs x11vnc+noVNC (tuned for latency, and at\n' +
    'its defaults) vs CDP screencast,\n' +
    'on one local X display with the clock page (static and busy cases), interleaved, medians over repeats.',
  {
    approaches: {
      type: 'list',
      default: [...APPROACHES],
      help: 'which of vmlive,novnc-tuned,novnc,cdp to run (novnc-tuned: x11vnc and noVNC set for latency)',
    },
    cases: { type: 'list', default: [...CASES], help: 'which of static,busy to run' },
    repeats: { type: 'number', default: 3, help: 'runs per approach and case (interleaved)' },
    duration: { type: 'number', default: 15, help: 'measured seconds per run (after the warm-up)' },
    warmup: { type: 'number', default: 2, help: 'seconds skipped after the first decoded frame' },
    codec: { type: 'string', help: 'vmlive sandbox codec: vp8 or h264 (default: the system default)' },
    fps: { type: 'number', help: 'vmlive sandbox capture fps (default: the system default)' },
    'cdp-quality': { type: 'number', default: 80, help: 'JPEG quality of the CDP screencast' },
    'vnc-nice': {
      type: 'number',
      default: -10,
      help: 'priority of x11vnc and websockify: the helper asks for VMLIVE_NICE (-10 by default), so the peer gets the same',
    },
    json: { type: 'string', help: 'write every run and the summary to this JSON file' },
    'enforce-targets': {
      type: 'boolean',
      help: 'exit 1 unless vmlive meets the targets vs the best-configured noVNC (latency, fps, CPU, bytes, TTFF)',
    },
  },
);

interface Env {
  display: string;
  /** DevTools endpoint of the VM's browser (http:// or ws://) */
  sandboxCdpUrl: string;
  sandbox: Browser;
  vmPage: Page;
  sandboxChromiumPid: number;
  system?: LocalSystem;
  target?: Target;
  viewerBrowser: Browser;
  server: Awaited<ReturnType<typeof startPageServer>>;
}

async function measure(env: Env, approach: Approach, c: Case, repeat: number): Promise<RunRow> {
  const pageGroup = { pids: [env.sandboxChromiumPid], tree: true };
  const sys = new SystemCpu();
  const base = { approach, case: c, repeat };
  let pageFps = NaN;
  const readPageFps = async () => {
    pageFps = await env.vmPage
      .evaluate(() => (window as unknown as { __clock?: { fps: number } }).__clock?.fps ?? NaN)
      .catch(() => NaN);
  };
  const windowOpts = {
    warmupMs: opts.warmup * 1000,
    durationMs: opts.duration * 1000,
    firstFrameTimeoutMs: 20_000,
    timeoutMs: (opts.duration + opts.warmup + 40) * 1000,
  };
  const finish = (
    r: Awaited<ReturnType<typeof runWindow>>,
    bytes: number,
    cpu: { sender: number; page: number; system: number },
    ttffMs: number | null,
    extra: Partial<RunRow> = {},
  ): RunRow => {
    const lat = summarize(r.samples.map((s) => s.latency));
    const secs = r.windowMs / 1000;
    return {
      ...base,
      samples: lat.n,
      p50: lat.p50,
      p95: lat.p95,
      p99: lat.p99,
      fps: lat.n / secs,
      kBps: bytes / 1000 / secs,
      senderCpu: cpu.sender,
      pageCpu: cpu.page,
      systemCpu: cpu.system,
      ttffMs,
      rejected: r.rejected,
      pageFps,
      receiveP50: summarize(r.samples.flatMap((s) => (s.receiveLatency === undefined ? [] : [s.receiveLatency]))).p50,
      ...(r.meter.length ? { meterP50: summarize(r.meter).p50 } : {}),
      ...extra,
    };
  };

  if (approach === 'vmlive') {
    if (!env.target || !env.system) throw new Error('vmlive needs the local sandbox');
    const helper = env.system.pids().helper;
    const sampler = new ProcSampler({ sender: { pids: helper ? [helper] : [] }, page: pageGroup });
    const viewer = await openWebrtcViewer(env.viewerBrowser, env.server, env.target, {
      ...(opts.codec ? { codec: opts.codec } : {}),
    });
    let s0: WebrtcStats | null = null;
    let s1: WebrtcStats | null = null;
    let cpu = { sender: 0, page: 0, system: 0 };
    try {
      const r = await runWindow(viewer, {
        ...windowOpts,
        onWindowStart: async () => {
          s0 = await viewer.stats();
          sampler.sample();
          sys.sample();
        },
        onWindowEnd: async () => {
          await readPageFps();
          const p = sampler.sample();
          cpu = { sender: p.sender?.cpuPct ?? 0, page: p.page?.cpuPct ?? 0, system: sys.sample() };
          s1 = await viewer.stats();
        },
      });
      const a = s0 as WebrtcStats | null;
      const b = s1 as WebrtcStats | null;
      const secs = r.windowMs / 1000;
      const jbCount = a && b ? b.jitterBufferEmittedCount - a.jitterBufferEmittedCount : 0;
      return finish(r, a && b ? b.bytesReceived - a.bytesReceived : 0, cpu, r.ttffMs, {
        jitterBufferMs: a && b && jbCount > 0 ? ((b.jitterBufferDelay - a.jitterBufferDelay) / jbCount) * 1000 : NaN,
        decodedFps: a && b ? (b.framesDecoded - a.framesDecoded) / secs : NaN,
        codec: b?.codec ?? '',
      });
    } finally {
      await viewer.stop();
    }
  }

  if (approach === 'novnc' || approach === 'novnc-tuned') {
    const tuned = approach === 'novnc-tuned';
    const vnc = await startVnc(env.display, tuned ? TUNED_X11VNC_ARGS : []);
    // On a loaded machine the comparison is otherwise one of nice values: the
    // helper runs at VMLIVE_NICE, so the VNC server and its proxy do too.
    for (const pid of [vnc.pids.x11vnc, vnc.pids.websockify]) {
      try {
        setPriority(pid, opts['vnc-nice']);
      } catch (e) {
        // Not root: the helper cannot renice itself either, so both stay at 0.
        console.error(`compare: x11vnc/websockify stay at nice 0 (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    const sampler = new ProcSampler({ sender: { pids: [vnc.pids.x11vnc, vnc.pids.websockify] }, page: pageGroup });
    const viewer = await openNovncViewer(env.viewerBrowser, env.server, vnc.wsUrl, tuned ? TUNED_NOVNC_OPTIONS : {});
    let b0 = 0;
    let b1 = 0;
    let cpu = { sender: 0, page: 0, system: 0 };
    try {
      const r = await runWindow(viewer, {
        ...windowOpts,
        onWindowStart: () => {
          b0 = vnc.proxy.bytesDown;
          sampler.sample();
          sys.sample();
        },
        onWindowEnd: async () => {
          await readPageFps();
          b1 = vnc.proxy.bytesDown;
          const p = sampler.sample();
          cpu = { sender: p.sender?.cpuPct ?? 0, page: p.page?.cpuPct ?? 0, system: sys.sample() };
        },
      });
      return finish(r, b1 - b0, cpu, r.firstDecodedWall - viewer.startedWall);
    } finally {
      await viewer.stop();
      await vnc.stop();
    }
  }

  // CDP screencast: the sender is the sandbox Chromium itself, so its CPU is
  // reported as the increase over the same page without a screencast.
  const sampler = new ProcSampler({ page: pageGroup });
  sampler.sample();
  await sleep(2000);
  const baseline = sampler.sample().page?.cpuPct ?? 0;
  const viewer = await openCdpViewer(env.viewerBrowser, env.server);
  const relay = await startScreencast(env.sandboxCdpUrl, env.server.relay, { quality: opts['cdp-quality'] });
  let b0 = 0;
  let b1 = 0;
  let cpu = { sender: 0, page: 0, system: 0 };
  try {
    const r = await runWindow(viewer, {
      ...windowOpts,
      onWindowStart: () => {
        b0 = env.server.relay.bytesSent;
        sampler.sample();
        sys.sample();
      },
      onWindowEnd: async () => {
        await readPageFps();
        b1 = env.server.relay.bytesSent;
        const page = sampler.sample().page?.cpuPct ?? 0;
        cpu = { sender: page - baseline, page, system: sys.sample() };
      },
    });
    return finish(r, b1 - b0, cpu, r.firstDecodedWall - relay.startedAt, {
      relayDelayP50: summarize(relay.relayDelaysMs.slice(Math.floor(relay.relayDelaysMs.length / 5))).p50,
    });
  } finally {
    await relay.stop();
    await viewer.stop();
  }
}

async function main(): Promise<number> {
  const approaches = opts.approaches.filter((a): a is Approach => (APPROACHES as readonly string[]).includes(a));
  const cases = opts.cases.filter((c): c is Case => (CASES as readonly string[]).includes(c));
  if (approaches.length !== opts.approaches.length || cases.length !== opts.cases.length) {
    console.error(`compare: approaches must be among ${APPROACHES.join(',')} and cases among ${CASES.join(',')}`);
    return EXIT.usage;
  }
  if (approaches.includes('novnc') || approaches.includes('novnc-tuned')) checkVncPrerequisites();

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));
  const rows: RunRow[] = [];
  try {
    const server = await startPageServer();
    cleanups.push(() => server.close());
    const clockUrl = (c: Case) => server.pageUrl('clock.html', { mode: c });

    let env: Env;
    const viewer: ChromiumProcess = await launchChromium({ headless: true });
    cleanups.push(() => viewer.stop());
    if (approaches.includes('vmlive')) {
      console.error('compare: starting the local sandbox (controller, Xvfb, Chromium, agent, helper)…');
      const system = await startLocalSystem({
        startUrl: clockUrl(cases[0] ?? 'static'),
        ...(opts.codec === 'vp8' || opts.codec === 'h264' ? { codec: opts.codec } : {}),
        ...(opts.fps ? { fps: opts.fps } : {}),
      });
      cleanups.push(() => system.stop());
      server.setController(system.controllerUrl);
      const sandbox = await chromium.connectOverCDP(system.sandboxCdpUrl);
      cleanups.push(() => sandbox.close());
      env = {
        display: system.display,
        sandboxCdpUrl: system.sandboxCdpUrl,
        sandbox,
        vmPage: await firstPage(sandbox),
        sandboxChromiumPid: system.pids().sandboxChromium ?? 0,
        system,
        target: {
          controllerUrl: system.controllerUrl,
          vmId: system.vmId,
          token: await system.mintViewerToken('view', 3600),
          system,
        },
        viewerBrowser: viewer.browser,
        server,
      };
    } else {
      // No vmlive in this run: our own Xvfb + kiosk Chromium stand in for the VM.
      const xvfb: Xvfb = await startXvfb();
      cleanups.push(() => xvfb.stop());
      const vmBrowser = await launchChromium({
        headless: false,
        display: xvfb.display,
        url: clockUrl(cases[0] ?? 'static'),
      });
      cleanups.push(() => vmBrowser.stop());
      env = {
        display: xvfb.display,
        sandboxCdpUrl: vmBrowser.cdpUrl,
        sandbox: vmBrowser.browser,
        vmPage: await firstPage(vmBrowser.browser),
        sandboxChromiumPid: vmBrowser.pid,
        viewerBrowser: viewer.browser,
        server,
      };
    }
    for (const c of cases) {
      await env.vmPage.goto(clockUrl(c));
      await sleep(1500);
      for (let r = 0; r < opts.repeats; r++) {
        const order = approaches.map((_, i) => approaches[(i + r) % approaches.length] as Approach);
        for (const a of order) {
          process.stderr.write(`compare: ${c} run ${r + 1}/${opts.repeats} ${a}… `);
          try {
            const row = await measure(env, a, c, r);
            rows.push(row);
            process.stderr.write(
              `p50 ${fmt(row.p50)} ms, p95 ${fmt(row.p95)} ms, ${fmt(row.fps, 1)} fps, ${fmt(row.kBps)} kB/s, sender ${fmt(row.senderCpu)} % CPU, ttff ${fmt(row.ttffMs)} ms, painted→arrival p50 ${fmt(row.receiveP50)} ms${row.meterP50 !== undefined ? `, meter p50 ${fmt(row.meterP50)} ms` : ''}${row.relayDelayP50 !== undefined ? ` (Chromium frame→relay ${fmt(row.relayDelayP50)} ms)` : ''}\n`,
            );
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            process.stderr.write(`FAILED: ${msg}\n`);
            rows.push(failedRun(a, c, r, msg));
          }
          await sleep(500);
        }
      }
    }
  } finally {
    await cleanup();
  }

  const summary = summarizeRuns(rows, cases, approaches);
  printSummary(summary, { repeats: opts.repeats, duration: opts.duration });
  const verdicts = targetVerdicts(summary, cases);
  if (verdicts.length) console.log(`\nvmlive targets (issues 5 and 13):\n  ${verdicts.join('\n  ')}`);

  if (opts.json) {
    writeJson(opts.json, {
      date: new Date().toISOString(),
      machine: machineLine(),
      settings: { ...opts },
      summary,
      runs: rows,
    });
    console.error(`compare: wrote ${opts.json}`);
  }
  const failed = rows.filter((r) => r.error || r.samples === 0);
  if (failed.length) {
    console.error(`compare: FAIL — ${failed.length} run(s) produced no measurement`);
    return EXIT.failed;
  }
  if (opts['enforce-targets'] && verdicts.some((v) => v.startsWith('MISSES'))) {
    console.error('compare: FAIL — vmlive misses targets (--enforce-targets)');
    return EXIT.failed;
  }
  return EXIT.ok;
}

runMain('compare', main);
