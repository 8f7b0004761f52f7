/**
 * Damage-driven vs timer capture (VMLIVE_CAPTURE), glass to glass, against a tuned x11vnc + noVNC:
 * one Xvfb + kiosk Chromium showing the clock page (scripts/pages/clock.html), a fresh helper per
 * run wired straight to a headless viewer (no controller, no agent), runs interleaved (the order
 * rotates every repeat), medians over repeats. With --stages, each capture/codec also runs the
 * helper's pad-probe breakdown (vm-browser-agent/helper/tools/stage_latency.py).
 *
 *   npx tsx scripts/bench-capture.ts --help
 */
import { spawnSync } from 'node:child_process';
import { loadavg, setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HELPER_SETTINGS, parseEnv } from '@vmlive/protocol';
import pino from 'pino';
import { HelperProcess } from '../vm-browser-agent/src/helper/helper-process.js';
import { Viewer } from '../vm-browser-agent/src/helper/testing/viewer.js';
import { parseArgs } from './lib/args.js';
import { firstPage, launchChromium, startXvfb } from './lib/chromium.js';
import { ProcSampler } from './lib/proc.js';
import { EXIT, fmt, machineLine, runMain, table, writeJson } from './lib/report.js';
import { runWindow } from './lib/run.js';
import { checkVncPrerequisites, startVnc } from './lib/senders.js';
import { type PageServer, startPageServer } from './lib/server.js';
import { median, summarize } from './lib/stats.js';
import { REPO_ROOT } from './lib/system.js';
import { openNovncViewer, type ViewerHandle } from './lib/viewers.js';
import type { Collector } from './pages/measure.js';

declare global {
  interface Window {
    /** set by this script in helper-viewer.html */
    __bench?: { collector: Collector };
  }
}

const CAPTURES = ['timer', 'damage'] as const;
type Capture = (typeof CAPTURES)[number];
const CASES = ['static', 'busy'] as const;
type Case = (typeof CASES)[number];

const opts = parseArgs(
  'bench-capture',
  'Glass-to-glass latency, fps, bytes/s and sender CPU of the helper with VMLIVE_CAPTURE=timer and =damage,\n' +
    'both codecs, against a tuned x11vnc + noVNC, on one X display with the clock page; interleaved runs.',
  {
    captures: { type: 'list', default: [...CAPTURES], help: 'helper captures to run' },
    codecs: { type: 'list', default: ['vp8', 'h264'], help: 'helper codecs to run' },
    cases: { type: 'list', default: [...CASES], help: 'clock page modes: static, busy' },
    novnc: { type: 'boolean', default: true, help: 'also run x11vnc + noVNC (--novnc=false to skip)' },
    'x11vnc-args': { type: 'string', default: '-defer 0 -wait 5 -nonap', help: "x11vnc's tuning" },
    'vnc-nice': {
      type: 'number',
      default: -10,
      help: 'priority of x11vnc and websockify (the helper asks for VMLIVE_NICE, -10 by default)',
    },
    stages: {
      type: 'boolean',
      help: 'also run the pad-probe breakdown (tools/stage_latency.py) per capture and codec',
    },
    repeats: { type: 'number', default: 3, help: 'runs per approach and case (interleaved)' },
    duration: { type: 'number', default: 10, help: 'measured seconds per run' },
    warmup: { type: 'number', default: 2, help: 'seconds skipped after the first decoded frame' },
    json: { type: 'string', help: 'write every run and the summary to this JSON file' },
  },
);

const logger = pino({ level: process.env.VMLIVE_BENCH_LOG ?? 'warn' });

interface Row {
  case: Case;
  approach: string;
  repeat: number;
  p50: number;
  p95: number;
  fps: number;
  decodedFps: number;
  kBps: number;
  senderCpu: number;
  recvP50: number;
  load1: number;
  stages?: Record<string, { p50: number; p95: number }>;
  error?: string;
}

interface Env {
  display: string;
  server: PageServer;
  viewerBrowser: Awaited<ReturnType<typeof launchChromium>>['browser'];
}

/**
 * In helper-viewer.html: decode the clock from every frame with the other viewers' Collector
 * (measure.js). A string, not a function: tsx would wrap named inner functions in a `__name`
 * helper that does not exist in the page.
 */
const COLLECT_SCRIPT = `(async () => {
  const video = document.querySelector('video');
  if (!video) throw new Error('no video element');
  const { Collector } = await import('./measure.js');
  const collector = new Collector();
  window.__bench = { collector };
  const onFrame = (_now, meta) => {
    collector.observe(video, video.videoWidth, { receiveTime: meta.receiveTime });
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
})()`;

const windowOpts = () => ({
  warmupMs: opts.warmup * 1000,
  durationMs: opts.duration * 1000,
  firstFrameTimeoutMs: 20_000,
  timeoutMs: (opts.duration + opts.warmup + 40) * 1000,
});

async function measureHelper(env: Env, c: Case, capture: Capture, codec: string, repeat: number): Promise<Row> {
  const settings = parseEnv(HELPER_SETTINGS, { DISPLAY: env.display, VMLIVE_CODEC: codec, VMLIVE_CAPTURE: capture });
  const helper = new HelperProcess({ settings, logger });
  await helper.start();
  try {
    const viewer = await Viewer.connect(env.viewerBrowser, helper, 'bench', env.server.pageUrl('helper-viewer.html'));
    try {
      await viewer.waitFor((s) => s.framesDecoded > 0, 20_000);
      await viewer.page.evaluate(COLLECT_SCRIPT);
      const handle: ViewerHandle = {
        page: viewer.page,
        startedWall: Date.now(),
        drain: () =>
          viewer.page.evaluate(() => {
            const b = window.__bench;
            if (!b) throw new Error('collector gone');
            return { ...b.collector.drain(), errors: [] };
          }),
        stop: async () => {},
      };
      const sampler = new ProcSampler({ sender: { pids: [helper.pid ?? 0] } });
      let bytes0 = 0;
      let frames0 = 0;
      let end = { bytes: 0, frames: 0, cpu: 0 };
      const bytesSent = async () => (await helper.getStats(null)).peers.bench?.bytesSent ?? 0;
      const r = await runWindow(handle, {
        ...windowOpts(),
        onWindowStart: async () => {
          sampler.sample();
          bytes0 = await bytesSent();
          frames0 = (await viewer.stats()).framesDecoded;
        },
        onWindowEnd: async () => {
          const cpu = sampler.sample().sender?.cpuPct ?? 0;
          end = { bytes: await bytesSent(), frames: (await viewer.stats()).framesDecoded, cpu };
        },
      });
      const secs = r.windowMs / 1000;
      const lat = summarize(r.samples.map((s) => s.latency));
      return {
        case: c,
        approach: `${capture} ${codec}`,
        repeat,
        p50: lat.p50,
        p95: lat.p95,
        fps: lat.n / secs,
        decodedFps: (end.frames - frames0) / secs,
        kBps: (end.bytes - bytes0) / 1000 / secs,
        senderCpu: end.cpu,
        recvP50: summarize(r.samples.flatMap((s) => (s.receiveLatency === undefined ? [] : [s.receiveLatency]))).p50,
        load1: loadavg()[0] ?? Number.NaN,
      };
    } finally {
      await viewer.close();
    }
  } finally {
    await helper.stop();
  }
}

async function measureNovnc(env: Env, c: Case, repeat: number): Promise<Row> {
  const vnc = await startVnc(env.display, opts['x11vnc-args'].split(/\s+/).filter(Boolean));
  try {
    // The same priority as the helper: on a loaded machine the comparison is otherwise one of nice values.
    for (const pid of [vnc.pids.x11vnc, vnc.pids.websockify]) setPriority(pid, opts['vnc-nice']);
    const viewer = await openNovncViewer(env.viewerBrowser, env.server, vnc.wsUrl);
    try {
      const sampler = new ProcSampler({ sender: { pids: [vnc.pids.x11vnc, vnc.pids.websockify] } });
      let b0 = 0;
      let end = { bytes: 0, cpu: 0 };
      const r = await runWindow(viewer, {
        ...windowOpts(),
        onWindowStart: () => {
          sampler.sample();
          b0 = vnc.proxy.bytesDown;
        },
        onWindowEnd: () => {
          end = { bytes: vnc.proxy.bytesDown, cpu: sampler.sample().sender?.cpuPct ?? 0 };
        },
      });
      const secs = r.windowMs / 1000;
      const lat = summarize(r.samples.map((s) => s.latency));
      return {
        case: c,
        approach: 'novnc (tuned)',
        repeat,
        p50: lat.p50,
        p95: lat.p95,
        fps: lat.n / secs,
        decodedFps: Number.NaN,
        kBps: (end.bytes - b0) / 1000 / secs,
        senderCpu: end.cpu,
        recvP50: Number.NaN,
        load1: loadavg()[0] ?? Number.NaN,
      };
    } finally {
      await viewer.stop();
    }
  } finally {
    await vnc.stop();
  }
}

/** The helper's own pipeline with pad probes on the same display (tools/stage_latency.py). */
function measureStages(env: Env, c: Case, capture: Capture, codec: string, repeat: number): Row {
  const run = spawnSync(
    '/usr/bin/python3',
    [
      `${REPO_ROOT}/vm-browser-agent/helper/tools/stage_latency.py`,
      `--settings=${JSON.stringify({ display: env.display, codec, capture })}`,
      `--seconds=${opts.duration}`,
      `--warmup=${opts.warmup}`,
      '--json',
    ],
    { encoding: 'utf8', timeout: (opts.duration + opts.warmup + 30) * 1000 },
  );
  if (run.status !== 0) throw new Error(`stage_latency.py exited ${run.status}: ${run.stderr.slice(-500)}`);
  const out: { fps: number; cpuPercent: number; stages: Record<string, { p50: number; p95: number }> } = JSON.parse(
    run.stdout.trim().split('\n').at(-1) ?? '{}',
  );
  const total = out.stages['paint -> payloaded'];
  return {
    case: c,
    approach: `stages ${capture} ${codec}`,
    repeat,
    p50: total?.p50 ?? Number.NaN,
    p95: total?.p95 ?? Number.NaN,
    fps: out.fps,
    decodedFps: Number.NaN,
    kBps: Number.NaN,
    senderCpu: out.cpuPercent,
    recvP50: Number.NaN,
    load1: loadavg()[0] ?? Number.NaN,
    stages: out.stages,
  };
}

async function main(): Promise<number> {
  const captures = opts.captures.filter((x): x is Capture => (CAPTURES as readonly string[]).includes(x));
  const cases = opts.cases.filter((x): x is Case => (CASES as readonly string[]).includes(x));
  if (captures.length !== opts.captures.length || cases.length !== opts.cases.length) {
    console.error(`bench-capture: captures are among ${CAPTURES.join(',')}, cases among ${CASES.join(',')}`);
    return EXIT.usage;
  }
  if (opts.novnc) checkVncPrerequisites();
  type Run = { name: string; go: (env: Env, c: Case, r: number) => Promise<Row> };
  const runs: Run[] = [];
  for (const codec of opts.codecs) {
    for (const capture of captures) {
      runs.push({ name: `${capture} ${codec}`, go: (env, c, r) => measureHelper(env, c, capture, codec, r) });
      if (opts.stages) {
        runs.push({
          name: `stages ${capture} ${codec}`,
          go: async (env, c, r) => measureStages(env, c, capture, codec, r),
        });
      }
    }
  }
  if (opts.novnc) runs.push({ name: 'novnc (tuned)', go: measureNovnc });

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const rows: Row[] = [];
  try {
    const server = await startPageServer();
    cleanups.push(() => server.close());
    const xvfb = await startXvfb();
    cleanups.push(() => xvfb.stop());
    const clockUrl = (c: Case) => server.pageUrl('clock.html', { mode: c });
    const vm = await launchChromium({ headless: false, display: xvfb.display, url: clockUrl(cases[0] ?? 'static') });
    cleanups.push(() => vm.stop());
    const vmPage = await firstPage(vm.browser);
    const viewer = await launchChromium({ headless: true });
    cleanups.push(() => viewer.stop());
    const env: Env = { display: xvfb.display, server, viewerBrowser: viewer.browser };
    for (const c of cases) {
      await vmPage.goto(clockUrl(c));
      await sleep(1500);
      for (let r = 0; r < opts.repeats; r++) {
        for (let i = 0; i < runs.length; i++) {
          const run = runs[(i + r) % runs.length] as Run;
          process.stderr.write(`bench-capture: ${c} run ${r + 1}/${opts.repeats} ${run.name}… `);
          try {
            const row = await run.go(env, c, r);
            rows.push(row);
            process.stderr.write(
              `p50 ${fmt(row.p50)} ms, p95 ${fmt(row.p95)} ms, ${fmt(row.fps, 1)} fps, ${fmt(row.kBps)} kB/s, ` +
                `sender ${fmt(row.senderCpu)} % CPU, load ${fmt(row.load1, 1)}\n`,
            );
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            process.stderr.write(`FAILED: ${msg}\n`);
            rows.push({
              case: c,
              approach: run.name,
              repeat: r,
              p50: NaN,
              p95: NaN,
              fps: NaN,
              decodedFps: NaN,
              kBps: NaN,
              senderCpu: NaN,
              recvP50: NaN,
              load1: loadavg()[0] ?? NaN,
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

  const summary = cases.flatMap((c) =>
    runs.map((run) => {
      const rs = rows.filter((x) => x.case === c && x.approach === run.name && !x.error);
      const m = (f: (x: Row) => number) => median(rs.map(f));
      const loads = rs.map((x) => x.load1);
      const stageNames = [...new Set(rs.flatMap((x) => Object.keys(x.stages ?? {})))];
      return {
        case: c,
        approach: run.name,
        runs: rs.length,
        p50: m((x) => x.p50),
        p50Range: rs.length
          ? `${fmt(Math.min(...rs.map((x) => x.p50)))}–${fmt(Math.max(...rs.map((x) => x.p50)))}`
          : '-',
        p95: m((x) => x.p95),
        fps: m((x) => x.fps),
        decodedFps: m((x) => x.decodedFps),
        kBps: m((x) => x.kBps),
        senderCpu: m((x) => x.senderCpu),
        recvP50: m((x) => x.recvP50),
        load: loads.length ? `${fmt(Math.min(...loads), 1)}–${fmt(Math.max(...loads), 1)}` : '-',
        stages: Object.fromEntries(
          stageNames.map((n) => [
            n,
            { p50: m((x) => x.stages?.[n]?.p50 ?? NaN), p95: m((x) => x.stages?.[n]?.p95 ?? NaN) },
          ]),
        ),
      };
    }),
  );
  console.log(
    `\nbench-capture: medians of ${opts.repeats} interleaved runs × ${opts.duration} s, 1280x720, ${new Date().toISOString()}, ${machineLine()}`,
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
        'recv p50 ms',
        'load 1 min',
      ],
      summary.map((s) => [
        s.case,
        s.approach,
        s.runs,
        fmt(s.p50),
        s.p50Range,
        fmt(s.p95),
        fmt(s.fps, 1),
        fmt(s.decodedFps, 1),
        fmt(s.kBps),
        fmt(s.senderCpu),
        fmt(s.recvP50),
        s.load,
      ]),
    ),
  );
  const withStages = summary.filter((s) => Object.keys(s.stages).length);
  if (withStages.length) {
    const names = [...new Set(withStages.flatMap((s) => Object.keys(s.stages)))];
    console.log('\nhelper stages (tools/stage_latency.py), ms p50 (p95), medians over runs:');
    console.log(
      table(
        ['case', 'approach', ...names],
        withStages.map((s) => [
          s.case,
          s.approach,
          ...names.map((n) => (s.stages[n] ? `${fmt(s.stages[n].p50, 1)} (${fmt(s.stages[n].p95, 0)})` : '')),
        ]),
      ),
    );
  }
  console.log(
    'p50/p95: painted -> shown in the viewer; fps: distinct clock values shown per second; recv p50: painted -> bytes\n' +
      'arrived (rVFC receiveTime). Sender CPU in % of one core: the helper; noVNC = x11vnc + websockify.\n' +
      'Stages rows: p50 = painted -> payloaded inside the helper, fps = frames out of capture, CPU = that process.',
  );
  if (opts.json) writeJson(opts.json, { date: new Date().toISOString(), machine: machineLine(), opts, summary, rows });
  return rows.some((x) => x.error) ? EXIT.failed : EXIT.ok;
}

runMain('bench-capture', main);
