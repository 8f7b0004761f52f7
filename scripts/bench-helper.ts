/**
 * Benchmark of the GStreamer WebRTC helper alone (no controller): Xvfb + a headful Chromium
 * showing a moving page with a painted clock + the helper, then 1 and N headless viewers.
 *
 *   npx tsx scripts/bench-helper.ts --help
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { HELPER_SETTINGS, parseEnv } from '@vmlive/protocol';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { HelperProcess } from '../vm-browser-agent/src/helper/helper-process.js';
import {
  clockDecoderScript,
  clockPage,
  VIEWPORT_OFFSET_SCRIPT,
} from '../vm-browser-agent/src/helper/testing/clock-page.js';
import { launchChromium, Viewer, type ViewerStats } from '../vm-browser-agent/src/helper/testing/viewer.js';
import { startXvfb } from '../vm-browser-agent/src/sandbox/xvfb.js';

const HELP = `bench-helper: CPU/RSS per viewer count, delivered fps, createOffer -> first decoded frame,
and glass-to-glass latency (clock painted in the VM page, decoded from received frames).

  --quick            short windows (whole run < 40 s)
  --codec vp8|h264   default vp8
  --viewers N        the "many viewers" point, default 5
  --seconds S        measurement window per point, default 15 (quick: 5)
  --first-frame N    createOffer -> first frame repeats, default 7 (quick: 3)
  --page motion|static   VM page content, default motion
  --env K=V          helper setting by its env name (repeatable), e.g. --env VMLIVE_FPS=60
                     (see protocol/src/helper.ts HELPER_SETTINGS or gstreamer-webrtc-helper.py --help)
  --xvfb-nice N      renice the X server (capture waits on it; default: leave it at 0)
  --no-mdns          viewers send real host candidates (default: Chromium's mDNS names, as real viewers do)
  --json             also print one JSON line with every figure
`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean' },
    quick: { type: 'boolean' },
    codec: { type: 'string', default: 'vp8' },
    viewers: { type: 'string', default: '5' },
    seconds: { type: 'string' },
    'first-frame': { type: 'string' },
    page: { type: 'string', default: 'motion' },
    env: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean' },
    'no-mdns': { type: 'boolean' },
    'xvfb-nice': { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const codec = values.codec === 'h264' ? 'h264' : 'vp8';
const many = Number(values.viewers);
const seconds = Number(values.seconds ?? (values.quick ? 5 : 15));
const firstFrameRuns = Number(values['first-frame'] ?? (values.quick ? 3 : 7));
const extraEnv = Object.fromEntries((values.env ?? []).map((kv) => kv.split('=', 2) as [string, string]));
const logger = pino({ level: process.env.VMLIVE_BENCH_LOG ?? 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const median = (xs: number[]) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

/** utime+stime of a process in seconds, and its RSS in bytes, from /proc. */
function procUsage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpu: ticks / 100, rss: rssKb * 1024 };
}

async function measure(helper: HelperProcess, viewers: Viewer[], windowS: number) {
  const pid = helper.pid as number;
  const before = await Promise.all(viewers.map((v) => v.stats()));
  const u0 = procUsage(pid);
  const t0 = Date.now();
  await sleep(windowS * 1000);
  const u1 = procUsage(pid);
  const dt = (Date.now() - t0) / 1000;
  const after = await Promise.all(viewers.map((v) => v.stats()));
  const fps = after.map((a, i) => (a.framesDecoded - (before[i]?.framesDecoded ?? 0)) / dt);
  // per-frame averages over the window: time in the viewer's jitter buffer and in its decoder
  const perFrameMs = (total: (s: ViewerStats) => number, count: (s: ViewerStats) => number) =>
    median(
      after.map((a, i) => {
        const b = before[i] as ViewerStats;
        const n = count(a) - count(b);
        return n > 0 ? ((total(a) - total(b)) / n) * 1000 : Number.NaN;
      }),
    );
  const hs = await helper.getStats(null);
  return {
    cpuPercent: (100 * (u1.cpu - u0.cpu)) / dt,
    rssMB: u1.rss / 1048576,
    fps: median(fps),
    encoderFps: hs.encoder.fps,
    kbps: hs.encoder.bitrateKbps,
    jitterBufferMs: perFrameMs(
      (s) => s.jitterBufferDelay,
      (s) => s.jitterBufferEmittedCount,
    ),
    decodeMs: perFrameMs(
      (s) => s.totalDecodeTime,
      (s) => s.framesDecoded,
    ),
  };
}

async function latencySamples(viewer: Viewer): Promise<{ samples: number[]; bad: number }> {
  return viewer.page.evaluate(() => (window as unknown as { vmLatency: { samples: number[]; bad: number } }).vmLatency);
}

async function main() {
  const started = Date.now();
  const xvfb = await startXvfb({ width: 1280, height: 720 });
  if (values['xvfb-nice'] !== undefined && xvfb.pid) os.setPriority(xvfb.pid, Number(values['xvfb-nice']));
  const cleanups: Array<() => Promise<unknown>> = [() => xvfb.stop()];
  let vmBrowser: Browser | undefined;
  let viewerBrowser: Browser | undefined;
  try {
    vmBrowser = await launchChromium({
      headless: false,
      env: { ...process.env, DISPLAY: xvfb.display },
      args: ['--window-position=0,0', '--window-size=1280,720', '--kiosk'],
    });
    cleanups.push(() => (vmBrowser as Browser).close());
    const page = await vmBrowser.newPage({ viewport: null });
    await page.setContent(clockPage(values.page !== 'static'));
    const offset = (await page.evaluate(VIEWPORT_OFFSET_SCRIPT)) as { x: number; y: number };

    // The helper's settings table parses the overrides, as the agent parses its environment.
    const settings = parseEnv(HELPER_SETTINGS, { VMLIVE_CODEC: codec, ...extraEnv, DISPLAY: xvfb.display });
    const helper = new HelperProcess({ settings, logger });
    cleanups.push(() => helper.stop());
    await helper.start();
    viewerBrowser = await launchChromium({
      mdns: !values['no-mdns'],
      args: ['--disable-renderer-backgrounding', '--disable-background-timer-throttling'],
    });
    cleanups.push(() => (viewerBrowser as Browser).close());

    // createOffer -> first decoded frame, from an idle helper (no other viewer: capture starts cold-warm)
    const firstFrames: number[] = [];
    for (let i = 0; i < firstFrameRuns; i++) {
      const v = await Viewer.connect(viewerBrowser, helper, `ff${i}`);
      const s = await v.waitFor((st) => st.firstFrameMs !== null, 10_000);
      firstFrames.push(s.firstFrameMs as number);
      await v.close();
      await sleep(700);
    }

    // 1 viewer, with the glass-to-glass clock decoder
    const v1 = await Viewer.connect(viewerBrowser, helper, 'v0');
    await v1.waitFor((s) => s.framesDecoded > 10, 10_000);
    await v1.page.evaluate(clockDecoderScript(offset.x, offset.y));
    const one = await measure(helper, [v1], seconds);
    const lat = await latencySamples(v1);

    // N viewers
    const rest: Viewer[] = [];
    for (let i = 1; i < many; i++) rest.push(await Viewer.connect(viewerBrowser, helper, `v${i}`));
    await Promise.all(rest.map((v) => v.waitFor((s) => s.framesDecoded > 10, 15_000)));
    await sleep(1000);
    const all = await measure(helper, [v1, ...rest], seconds);
    const perExtra = (all.cpuPercent - one.cpuPercent) / Math.max(1, many - 1);

    const result = {
      codec,
      page: values.page,
      firstFrameMs: { median: median(firstFrames), runs: firstFrames.map(Math.round) },
      one: {
        ...one,
        glassToGlassMs: {
          p50: median(lat.samples),
          p95: pct(lat.samples, 95),
          n: lat.samples.length,
          undecodable: lat.bad,
        },
      },
      many: { viewers: many, ...all },
      perExtraViewerCpuPercent: perExtra,
      elapsedS: (Date.now() - started) / 1000,
    };
    const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
    process.stdout.write(
      [
        `helper bench: ${codec}, 1280x720, ${values.page} page, ${seconds}s windows (${result.elapsedS.toFixed(0)} s total)`,
        `  createOffer -> first decoded frame: median ${f(result.firstFrameMs.median, 0)} ms  (runs ${firstFrames.map((x) => x.toFixed(0)).join(', ')})`,
        `  1 viewer : helper cpu ${f(one.cpuPercent)} % of a core, rss ${f(one.rssMB)} MB, delivered ${f(one.fps)} fps (encoder ${f(one.encoderFps)}), ${f(one.kbps, 0)} kbit/s`,
        `             viewer jitter buffer ${f(one.jitterBufferMs)} ms/frame, decode ${f(one.decodeMs)} ms/frame`,
        `             glass-to-glass p50 ${f(result.one.glassToGlassMs.p50, 0)} ms, p95 ${f(result.one.glassToGlassMs.p95, 0)} ms (${lat.samples.length} frames, ${lat.bad} undecodable)`,
        `  ${many} viewers: helper cpu ${f(all.cpuPercent)} % of a core, rss ${f(all.rssMB)} MB, delivered ${f(all.fps)} fps median per viewer`,
        `  each extra viewer: ${f(perExtra)} % of a core`,
        '',
      ].join('\n'),
    );
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    for (const v of [v1, ...rest]) await v.close(false);
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  }
}

main().catch((err) => {
  process.stderr.write(`bench-helper failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
