/**
 * Side-by-side: the same clock page on the same X display, measured the same
 * way through (a) vmlive WebRTC, (b) x11vnc + websockify + noVNC, (c) CDP
 * Page.startScreencast relayed over a WebSocket. Runs are interleaved (the order
 * rotates every repeat) and the table shows medians over repeats.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { parseArgs } from './lib/args.js';
import { type ChromiumProcess, firstPage, launchChromium, startXvfb, type Xvfb } from './lib/chromium.js';
import { ProcSampler, SystemCpu } from './lib/proc.js';
import { EXIT, fmt, machineLine, runMain, table, writeJson } from './lib/report.js';
import { runWindow } from './lib/run.js';
import { checkVncPrerequisites, startScreencast, startVnc } from './lib/senders.js';
import { startPageServer } from './lib/server.js';
import { median, summarize } from './lib/stats.js';
import { type LocalSystem, startLocalSystem, type Target } from './lib/system.js';
import { openCdpViewer, openNovncViewer, openWebrtcViewer, type WebrtcStats } from './lib/viewers.js';

const APPROACHES = ['vmlive', 'novnc', 'cdp'] as const;
type Approach = (typeof APPROACHES)[number];
const CASES = ['static', 'busy'] as const;
type Case = (typeof CASES)[number];

const opts = parseArgs(
  'compare',
  'Glass-to-glass latency, fps, bytes/s and sender CPU of vmlive WebRTC vs x11vnc+noVNC vs CDP screencast,\n' +
    'on one local X display with the clock page (static and busy cases), interleaved, medians over repeats.',
  {
    approaches: { type: 'list', default: [...APPROACHES], help: 'which of vmlive,novnc,cdp to run' },
    cases: { type: 'list', default: [...CASES], help: 'which of static,busy to run' },
    repeats: { type: 'number', default: 3, help: 'runs per approach and case (interleaved)' },
    duration: { type: 'number', default: 15, help: 'measured seconds per run (after the warm-up)' },
    warmup: { type: 'number', default: 2, help: 'seconds skipped after the first decoded frame' },
    codec: { type: 'string', help: 'vmlive sandbox codec: vp8 or h264 (default: the system default)' },
    fps: { type: 'number', help: 'vmlive sandbox capture fps (default: the system default)' },
    'cdp-quality': { type: 'number', default: 80, help: 'JPEG quality of the CDP screencast' },
    json: { type: 'string', help: 'write every run and the summary to this JSON file' },
    'enforce-targets': {
      type: 'boolean',
      help: "exit 1 unless vmlive meets issue 5's targets vs noVNC (latency, fps, bytes, TTFF)",
    },
  },
);

interface RunRow {
  approach: Approach;
  case: Case;
  repeat: number;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  fps: number;
  kBps: number;
  senderCpu: number;
  pageCpu: number;
  systemCpu: number;
  ttffMs: number | null;
  rejected: Record<string, number>;
  /** frames the clock page itself painted per second at the end of the window */
  pageFps: number;
  /** painted → bytes arrived at the viewer (WebRTC: rVFC receiveTime; CDP: WebSocket message) */
  receiveP50: number;
  /** CDP only: Chromium's frame timestamp → the relay got it (capture, JPEG, CDP transport) */
  relayDelayP50?: number;
  /** WebRTC only */
  jitterBufferMs?: number;
  decodedFps?: number;
  codec?: string;
  error?: string;
}

interface SummaryRow {
  case: Case;
  approach: Approach;
  runs: number;
  failed: number;
  p50: number;
  /** Lowest and highest per-run p50: runs differ by the phase between the capture tick and the page's paints. */
  p50Min: number;
  p50Max: number;
  p95: number;
  fps: number;
  kBps: number;
  senderCpu: number;
  pageCpu: number;
  systemCpu: number;
  ttffMs: number;
  pageFps: number;
  decodedFps: number;
  jitterBufferMs: number;
  receiveP50: number;
}

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

  if (approach === 'novnc') {
    const vnc = await startVnc(env.display);
    const sampler = new ProcSampler({ sender: { pids: [vnc.pids.x11vnc, vnc.pids.websockify] }, page: pageGroup });
    const viewer = await openNovncViewer(env.viewerBrowser, env.server, vnc.wsUrl);
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
  if (approaches.includes('novnc')) checkVncPrerequisites();

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
              `p50 ${fmt(row.p50)} ms, p95 ${fmt(row.p95)} ms, ${fmt(row.fps, 1)} fps, ${fmt(row.kBps)} kB/s, sender ${fmt(row.senderCpu)} % CPU, ttff ${fmt(row.ttffMs)} ms, painted→arrival p50 ${fmt(row.receiveP50)} ms${row.relayDelayP50 !== undefined ? ` (Chromium frame→relay ${fmt(row.relayDelayP50)} ms)` : ''}\n`,
            );
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            process.stderr.write(`FAILED: ${msg}\n`);
            rows.push({
              approach: a,
              case: c,
              repeat: r,
              samples: 0,
              p50: NaN,
              p95: NaN,
              p99: NaN,
              fps: NaN,
              kBps: NaN,
              senderCpu: NaN,
              pageCpu: NaN,
              systemCpu: NaN,
              ttffMs: null,
              rejected: {},
              pageFps: NaN,
              receiveP50: NaN,
              error: msg,
            });
          }
          await sleep(500);
        }
      }
    }
  } finally {
    await cleanup();
  }

  // ---- summary ----
  const summary: SummaryRow[] = [];
  for (const c of cases) {
    for (const a of approaches) {
      const rs = rows.filter((r) => r.approach === a && r.case === c && !r.error);
      const m = (f: (r: RunRow) => number | null | undefined) => median(rs.map((r) => f(r) ?? NaN));
      summary.push({
        case: c,
        approach: a,
        runs: rs.length,
        failed: rows.filter((r) => r.approach === a && r.case === c && r.error).length,
        p50: m((r) => r.p50),
        p50Min: Math.min(...rs.map((r) => r.p50 ?? Number.POSITIVE_INFINITY)),
        p50Max: Math.max(...rs.map((r) => r.p50 ?? Number.NEGATIVE_INFINITY)),
        p95: m((r) => r.p95),
        fps: m((r) => r.fps),
        kBps: m((r) => r.kBps),
        senderCpu: m((r) => r.senderCpu),
        pageCpu: m((r) => r.pageCpu),
        systemCpu: m((r) => r.systemCpu),
        ttffMs: m((r) => r.ttffMs),
        pageFps: m((r) => r.pageFps),
        decodedFps: a === 'vmlive' ? m((r) => r.decodedFps) : NaN,
        jitterBufferMs: a === 'vmlive' ? m((r) => r.jitterBufferMs) : NaN,
        receiveP50: m((r) => r.receiveP50),
      });
    }
  }
  console.log(
    `\ncompare: medians of ${opts.repeats} interleaved runs × ${opts.duration} s, 1280x720, ${new Date().toISOString()}, ${machineLine()}`,
  );
  console.log(
    table(
      [
        'case',
        'approach',
        'runs',
        'p50 ms',
        'p50 range',
        'p95 ms',
        'fps',
        'decoded fps',
        'kB/s',
        'sender CPU %',
        'page CPU %',
        'machine CPU %',
        'TTFF ms',
        'page fps',
        'jbuf ms',
        'recv p50 ms',
      ],
      summary.map((s) => [
        s.case,
        s.approach,
        `${s.runs}${s.failed ? ` (${s.failed} failed)` : ''}`,
        fmt(s.p50),
        Number.isFinite(s.p50Min) ? `${fmt(s.p50Min)}–${fmt(s.p50Max)}` : '-',
        fmt(s.p95),
        fmt(s.fps, 1),
        fmt(s.decodedFps, 1),
        fmt(s.kBps),
        fmt(s.senderCpu),
        fmt(s.pageCpu),
        fmt(s.systemCpu),
        fmt(s.ttffMs),
        fmt(s.pageFps),
        fmt(s.jitterBufferMs, 1),
        fmt(s.receiveP50),
      ]),
    ),
  );
  console.log(
    'sender CPU: vmlive = GStreamer helper; novnc = x11vnc + websockify; cdp = sandbox Chromium minus its own load without screencast.\n' +
      'CPU in % of one core (2 cores = 200 %). kB/s: vmlive from getStats bytesReceived, novnc/cdp counted on the WebSocket.\n' +
      'fps: distinct clock values the viewer showed per second; decoded fps (vmlive): frames the decoder produced (getStats).\n' +
      "p50 range: lowest–highest p50 of single runs. A run's p50 depends on the phase between the capture tick and the\n" +
      'page paints, fixed for the run, so single runs of one setting differ by 10-25 ms: compare medians of 5+ repeats.',
  );

  // Targets of issue 5, vmlive against noVNC measured in the same run.
  const verdicts: string[] = [];
  const get = (a: Approach, c: Case) => summary.find((s) => s.approach === a && s.case === c);
  for (const c of cases) {
    const v = get('vmlive', c);
    const n = get('novnc', c);
    if (!v || !n || !v.runs || !n.runs) continue;
    const ok = (cond: boolean, what: string) => verdicts.push(`${cond ? 'meets ' : 'MISSES'} ${c}: ${what}`);
    ok(v.p50 <= n.p50, `latency p50 ${fmt(v.p50)} ms vs noVNC ${fmt(n.p50)} ms`);
    if (c === 'static') ok(v.p50 < 50, `latency p50 ${fmt(v.p50)} ms < 50 ms`);
    ok(v.fps >= 29, `${fmt(v.fps, 1)} fps ≥ 29`);
    if (c === 'busy') ok(v.kBps <= 0.2 * n.kBps, `${fmt(v.kBps)} kB/s ≤ 0.2 × noVNC's ${fmt(n.kBps)}`);
    ok(v.ttffMs <= 250, `time to first frame ${fmt(v.ttffMs)} ms ≤ 250 ms`);
  }
  if (verdicts.length) console.log(`\nvmlive targets (issue 5):\n  ${verdicts.join('\n  ')}`);

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
