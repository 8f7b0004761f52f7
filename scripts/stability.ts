/**
 * Stability soak: one vmlive WebRTC viewer for N minutes, recording every
 * second fps, freezes, packet loss, RTT, bitrate, jitter-buffer delay,
 * glass-to-glass latency and the CPU/RSS of the helper, agent and controller.
 * Pass: connected the whole time, no freeze over 1 s, fps ≥ 28 in 99 % of
 * seconds, no RSS growth trend after the first 10 minutes (slope < 0.1 MB/min:
 * a leak of a few KB per second shows as 0.2–0.6 MB/min, warm-up of caches and
 * pools does not last past 10 minutes). Writes CSV, JSON and an SVG chart; with
 * --heap-snapshots, V8 heap snapshots of the controller and the VM agent and
 * the object groups that grew between the first and the last. On the local sandbox each
 * row also carries where the two Node processes' memory sits (their V8 heap in use and
 * committed, and resident memory outside the heap: lib/node-memory.ts), reported beside
 * the RSS trend, not judged.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from './lib/args.js';
import { diffHeapSummaries, heapSnapshotNodeOptions, summarizeHeapSnapshot, takeHeapSnapshot } from './lib/heap.js';
import { type NodeMemory, NodeMemoryReader } from './lib/node-memory.js';
import { type GroupSample, ProcSampler } from './lib/proc.js';
import { EXIT, fmt, machineLine, PrerequisiteError, runMain, table, writeCsv, writeJson } from './lib/report.js';
import { NoFrameError, runWindow } from './lib/run.js';
import { median, percentile, slope } from './lib/stats.js';
import { lineChart } from './lib/svg.js';
import { openSession, TARGET_OPTIONS } from './lib/target.js';
import { openWebrtcViewer, type WebrtcStats } from './lib/viewers.js';

const opts = parseArgs(
  'stability',
  'Stability soak of one vmlive viewer: per-second fps, freezes, loss, RTT, bitrate, jitter buffer, latency,\n' +
    'and CPU/RSS of helper, agent and controller. Default: the local sandbox; or --controller/--vm/--token.\n' +
    'Exit 0 when every criterion holds, 1 otherwise, 3 on a missing prerequisite.',
  {
    ...TARGET_OPTIONS,
    minutes: { type: 'number', default: 10, help: 'soak duration in minutes (fractions allowed)' },
    pids: {
      type: 'list',
      help: 'processes to sample on a deployment on this machine, e.g. helper=123,agent=456,controller=789',
    },
    'min-fps': { type: 'number', default: 28, help: 'per-second fps floor' },
    'fps-quantile': { type: 'number', default: 99, help: '% of seconds that must reach --min-fps' },
    'max-freeze-ms': { type: 'number', default: 1000, help: 'longest allowed gap between two new frames, ms' },
    'max-rss-slope': {
      type: 'number',
      default: 0.1,
      help: 'RSS growth trend allowed per process, MB/min (least squares over the seconds after --trend-after-minutes)',
    },
    'trend-after-minutes': {
      type: 'number',
      default: 10,
      help: 'fit the RSS trend after this warm-up (runs shorter than twice this: after the first 20 %)',
    },
    'min-trend-seconds': {
      type: 'number',
      default: 300,
      help: 'shorter runs report the RSS trend but do not judge it',
    },
    'heap-snapshots': {
      type: 'list',
      help: 'local sandbox only: minutes at which to snapshot the controller and VM agent heaps, e.g. 5,30',
    },
    out: { type: 'string', help: 'directory for stability.csv/.json/.svg (default: a new folder under /tmp)' },
  },
);

type Proc = 'helper' | 'agent' | 'controller';
const PROCS: Proc[] = ['helper', 'agent', 'controller'];
const NODE_PROCS = ['agent', 'controller'] as const;
/** Node memory is read every this many seconds (the agent reports it with its 5 s heartbeat). */
const NODE_MEMORY_EVERY_S = 10;

interface Row {
  t: number;
  state: string;
  fps: number;
  newFrames: number;
  maxGapMs: number;
  freezeCount: number;
  freezeSeconds: number;
  packetsLost: number;
  rttMs: number | null;
  kbps: number;
  jitterBufferMs: number | null;
  latencyP50: number | null;
  latencyMax: number | null;
  [k: string]: string | number | null;
}

function parsePids(list: readonly string[] | undefined): Partial<Record<Proc, number>> {
  const out: Partial<Record<Proc, number>> = {};
  for (const item of list ?? []) {
    const [k, v] = item.split('=');
    if ((PROCS as string[]).includes(k ?? '') && Number.isInteger(Number(v))) out[k as Proc] = Number(v);
    else throw new Error(`--pids: bad entry ${item} (want helper=PID, agent=PID, controller=PID)`);
  }
  return out;
}

async function main(): Promise<number> {
  const fixedPids = parsePids(opts.pids);
  const outDir = opts.out ?? join(tmpdir(), `vmlive-stability-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const snapshotAt = parseSnapshotMinutes(opts['heap-snapshots']);
  const heapDir = join(outDir, 'heap');
  if (snapshotAt.length) {
    if (opts.controller) throw new PrerequisiteError('--heap-snapshots needs the local sandbox (no --controller)');
    mkdirSync(heapDir, { recursive: true });
  }
  const nodeEnv = snapshotAt.length ? { NODE_OPTIONS: heapSnapshotNodeOptions(heapDir) } : undefined;
  const session = await openSession('stability', opts, nodeEnv ? { controller: nodeEnv, agent: nodeEnv } : {});
  const snapshots: Record<'controller' | 'agent', string[]> = { controller: [], agent: [] };
  let pendingSnapshots = [...snapshotAt];
  let snapshotting = false;
  const maybeSnapshot = (elapsedMin: number) => {
    if (snapshotting || !pendingSnapshots.length || elapsedMin < (pendingSnapshots[0] ?? Infinity)) return;
    pendingSnapshots = pendingSnapshots.slice(1);
    snapshotting = true;
    const p = session.system?.pids() ?? {};
    void (async () => {
      for (const k of ['controller', 'agent'] as const) {
        const pid = p[k];
        if (!pid) continue;
        try {
          snapshots[k].push(await takeHeapSnapshot(heapDir, pid));
          console.error(`stability: ${k} heap snapshot at ${fmt(elapsedMin, 1)} min`);
        } catch (e) {
          console.error(`stability: ${k} heap snapshot failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      snapshotting = false;
    })();
  };
  const rows: Row[] = [];
  const durationMs = opts.minutes * 60_000;
  const sys = session.system;
  const nodeMemory = sys ? new NodeMemoryReader(sys.controllerUrl, sys.operatorToken, sys.vmId) : undefined;
  const lastNodeMemory: Partial<Record<(typeof NODE_PROCS)[number], NodeMemory>> = {};
  const readNodeMemory = () => {
    if (!nodeMemory) return;
    // A failed read leaves the last value: the next one comes 10 s later.
    for (const k of NODE_PROCS) {
      void nodeMemory[k]()
        .then((m) => {
          if (m) lastNodeMemory[k] = m;
        })
        .catch(() => {});
    }
  };
  try {
    const pidsNow = (): Partial<Record<Proc, number>> => ({ ...(session.system?.pids() ?? {}), ...fixedPids });
    // The helper may be restarted by the agent: resolve pids afresh every second.
    let sampler = new ProcSampler({});
    let samplerKey = '';
    const sampleProcs = (): Record<string, GroupSample> => {
      const p = pidsNow();
      const key = PROCS.map((k) => p[k] ?? 0).join(',');
      if (key !== samplerKey) {
        sampler = new ProcSampler(
          Object.fromEntries(PROCS.filter((k) => p[k]).map((k) => [k, { pids: [p[k] as number] }])),
        );
        sampler.sample();
        samplerKey = key;
      }
      return sampler.sample();
    };

    const viewer = await openWebrtcViewer(session.viewerBrowser, session.server, session.target, {
      clockOffsetMs: session.clockOffsetMs,
      viewportW: opts['screen-width'],
      ...(opts.codec ? { codec: opts.codec } : {}),
    });
    let prev: WebrtcStats | null = null;
    let prevAt = 0;
    let t0 = 0;
    let ttffMs: number | null = null;
    console.error(`stability: soaking ${opts.minutes} min against ${session.describe}; writing to ${outDir}`);
    try {
      const r = await runWindow(viewer, {
        warmupMs: 2000,
        durationMs,
        firstFrameTimeoutMs: 30_000,
        timeoutMs: durationMs + 60_000,
        tickMs: 1000,
        onWindowStart: async () => {
          prev = await viewer.stats();
          prevAt = performance.now();
          t0 = prevAt;
          sampleProcs();
        },
        onTick: async (d, inWindow) => {
          if (d.ttffMs != null) ttffMs = d.ttffMs;
          if (!inWindow) return;
          const s = await viewer.stats();
          const now = performance.now();
          const p = prev as WebrtcStats | null;
          // Rates over the interval between the two stats reports themselves: the
          // round trip to the page varies on a loaded machine, the reports' clock does not.
          const dt = s && p && s.timestamp > p.timestamp ? (s.timestamp - p.timestamp) / 1000 : (now - prevAt) / 1000;
          const procs = sampleProcs();
          const lats = d.samples.map((x) => x.latency);
          const jbCount = s && p ? s.jitterBufferEmittedCount - p.jitterBufferEmittedCount : 0;
          const row: Row = {
            t: Math.round((now - t0) / 100) / 10,
            state: s?.connectionState ?? 'none',
            fps: s && p ? (s.framesDecoded - p.framesDecoded) / dt : 0,
            newFrames: d.samples.length,
            maxGapMs: Math.round(d.maxGapMs),
            freezeCount: s?.freezeCount ?? 0,
            freezeSeconds: s?.totalFreezesDuration ?? 0,
            packetsLost: s?.packetsLost ?? 0,
            rttMs: s?.rttMs ?? null,
            kbps: s && p ? ((s.bytesReceived - p.bytesReceived) * 8) / 1000 / dt : 0,
            jitterBufferMs:
              s && p && jbCount > 0 ? ((s.jitterBufferDelay - p.jitterBufferDelay) / jbCount) * 1000 : null,
            latencyP50: lats.length ? median(lats) : null,
            latencyMax: lats.length ? Math.max(...lats) : null,
          };
          for (const k of PROCS) {
            row[`${k}Cpu`] = procs[k]?.alive ? Math.round(procs[k].cpuPct * 10) / 10 : null;
            row[`${k}RssMb`] = procs[k]?.alive ? Math.round(procs[k].rssMb * 10) / 10 : null;
          }
          for (const k of NODE_PROCS) {
            const m = lastNodeMemory[k];
            row[`${k}HeapUsedMb`] = m ? Math.round(m.heapUsedMb * 10) / 10 : null;
            row[`${k}HeapTotalMb`] = m ? Math.round(m.heapTotalMb * 10) / 10 : null;
            row[`${k}OutsideHeapMb`] = m ? Math.round((m.rssMb - m.heapTotalMb) * 10) / 10 : null;
          }
          if (rows.length % NODE_MEMORY_EVERY_S === 0) readNodeMemory();
          rows.push(row);
          maybeSnapshot(row.t / 60);
          prev = s;
          prevAt = now;
          if (rows.length % 30 === 0) {
            console.error(
              `stability: ${row.t} s, ${fmt(row.fps, 1)} fps, latency ${fmt(row.latencyP50)} ms, ${fmt(row.kbps)} kbit/s, ${row.state}`,
            );
          }
        },
      });
      if (r.timedOut) console.error('stability: run hit its time bound');
    } catch (e) {
      if (e instanceof NoFrameError) {
        console.error(`stability: FAIL — ${e.message}`);
        return EXIT.failed;
      }
      throw e;
    } finally {
      await viewer.stop();
    }

    // ---- criteria ----
    const seconds = rows.length;
    const runSeconds = rows.at(-1)?.t ?? 0;
    const notConnected = rows.filter((r) => r.state !== 'connected').length;
    const longestGap = Math.max(0, ...rows.map((r) => r.maxGapMs));
    const fpsOk = rows.filter((r) => r.fps >= opts['min-fps']).length;
    const fpsShare = seconds ? (fpsOk / seconds) * 100 : 0;
    const warmupS = opts['trend-after-minutes'] * 60;
    const tail =
      runSeconds >= 2 * warmupS ? rows.filter((r) => r.t >= warmupS) : rows.slice(Math.floor(rows.length * 0.2));
    const trendOf = (column: string) => {
      const pts = tail.filter((r) => typeof r[column] === 'number');
      const v = pts.map((r) => r[column] as number);
      return {
        slopeMbPerMin: slope(
          pts.map((r) => r.t / 60),
          v,
        ),
        first: v[0] ?? NaN,
        last: v.at(-1) ?? NaN,
      };
    };
    const trends = PROCS.map((k) => ({ proc: k, ...trendOf(`${k}RssMb`) }));
    // Where a Node process's growth sits: its heap in use, pages V8 keeps, or native memory.
    const nodeTrends = NODE_PROCS.flatMap((k) =>
      (['HeapUsed', 'HeapTotal', 'OutsideHeap'] as const).map((part) => ({
        proc: k,
        part,
        ...trendOf(`${k}${part}Mb`),
      })),
    );
    const nodeTrendLabel = {
      HeapUsed: 'V8 heap in use',
      HeapTotal: 'V8 heap committed',
      OutsideHeap: 'RSS outside the heap',
    };
    // A heap snapshot leaves its own buffers in the process's RSS: a run that
    // takes snapshots is for finding what grows, not for judging the trend.
    const judgeTrend = runSeconds >= opts['min-trend-seconds'] && snapshotAt.length === 0;
    const notJudged = snapshotAt.length ? ', not judged: heap snapshots taken' : ', not judged: run too short';
    const failures: string[] = [];
    if (seconds === 0) failures.push('no seconds recorded');
    if (notConnected) failures.push(`not connected in ${notConnected} of ${seconds} s`);
    if (longestGap > opts['max-freeze-ms']) failures.push(`freeze of ${longestGap} ms > ${opts['max-freeze-ms']} ms`);
    if (fpsShare < opts['fps-quantile'])
      failures.push(`fps ≥ ${opts['min-fps']} in ${fmt(fpsShare, 1)} % of seconds < ${opts['fps-quantile']} %`);
    if (judgeTrend) {
      for (const t of trends) {
        if (t.slopeMbPerMin > opts['max-rss-slope'])
          failures.push(`${t.proc} RSS grows ${fmt(t.slopeMbPerMin, 2)} MB/min > ${opts['max-rss-slope']}`);
      }
    }

    const col = (k: string) => rows.map((r) => r[k]).filter((v): v is number => typeof v === 'number');
    const summaryRows: (string | number)[][] = [
      ['duration s', fmt(runSeconds)],
      ['time to first frame ms', fmt(ttffMs)],
      ['connected seconds', `${seconds - notConnected} / ${seconds}`],
      [`seconds with fps ≥ ${opts['min-fps']}`, `${fmt(fpsShare, 1)} %`],
      ['fps p5 / median', `${fmt(percentile(col('fps'), 5), 1)} / ${fmt(median(col('fps')), 1)}`],
      ['longest gap between frames ms', longestGap],
      ['Chromium freezes (count, s)', `${rows.at(-1)?.freezeCount ?? 0}, ${fmt(rows.at(-1)?.freezeSeconds ?? 0, 2)}`],
      ['packets lost', rows.at(-1)?.packetsLost ?? 0],
      ['RTT ms median', fmt(median(col('rttMs')), 1)],
      ['bitrate kbit/s median', fmt(median(col('kbps')))],
      ['jitter buffer ms median', fmt(median(col('jitterBufferMs')), 1)],
      ['latency p50 ms (median of seconds)', fmt(median(col('latencyP50')))],
      ['latency max ms', fmt(Math.max(...col('latencyMax')))],
      ...PROCS.flatMap((k) => [
        [`${k} CPU % median`, fmt(median(col(`${k}Cpu`)), 1)],
        [
          `${k} RSS MB first → last (trend MB/min)`,
          `${fmt(trends.find((t) => t.proc === k)?.first, 1)} → ${fmt(trends.find((t) => t.proc === k)?.last, 1)} (${fmt(trends.find((t) => t.proc === k)?.slopeMbPerMin, 2)}${judgeTrend ? '' : notJudged})`,
        ],
        ...nodeTrends
          .filter((t) => t.proc === k && Number.isFinite(t.first))
          .map((t) => [
            `${k} ${nodeTrendLabel[t.part]} MB first → last (trend MB/min)`,
            `${fmt(t.first, 1)} → ${fmt(t.last, 1)} (${fmt(t.slopeMbPerMin, 2)}, not judged)`,
          ]),
      ]),
    ];
    console.log(`\nstability: ${session.describe}, ${new Date().toISOString()}, ${machineLine()}`);
    console.log(table(['metric', 'value'], summaryRows));

    writeCsv(join(outDir, 'stability.csv'), rows);
    writeJson(join(outDir, 'stability.json'), {
      date: new Date().toISOString(),
      machine: machineLine(),
      target: session.describe,
      settings: { ...opts, token: opts.token ? '(redacted)' : undefined },
      pass: failures.length === 0,
      failures,
      ttffMs,
      trends,
      nodeTrends,
      seconds: rows,
    });
    writeFileSync(
      join(outDir, 'stability.svg'),
      lineChart(`vmlive stability — ${session.describe}`, [
        {
          title: 'frames per second',
          unit: 'fps',
          threshold: opts['min-fps'],
          series: [{ label: 'decoded fps', colour: '#1f77b4', points: rows.map((r) => [r.t, r.fps]) }],
        },
        {
          title: 'glass-to-glass latency',
          unit: 'ms',
          series: [
            { label: 'p50 per second', colour: '#2ca02c', points: rows.map((r) => [r.t, r.latencyP50 ?? NaN]) },
            { label: 'max per second', colour: '#d62728', points: rows.map((r) => [r.t, r.latencyMax ?? NaN]) },
          ],
        },
      ]),
    );
    const heapDiffs = await reportHeapGrowth(snapshots);
    writeJson(join(outDir, 'heap-growth.json'), heapDiffs);
    console.log(`\nstability: wrote ${outDir}/stability.{csv,json,svg}`);
    if (failures.length) {
      console.log(`stability: FAIL — ${failures.join('; ')}`);
      return EXIT.failed;
    }
    console.log('stability: PASS');
    return EXIT.ok;
  } finally {
    await session.close();
  }
}

function parseSnapshotMinutes(list: readonly string[] | undefined): number[] {
  const out = (list ?? []).map((v) => Number(v));
  if (out.some((m) => !Number.isFinite(m) || m < 0))
    throw new PrerequisiteError(`--heap-snapshots: want minutes, e.g. 5,30 (got ${(list ?? []).join(',')})`);
  return out.sort((a, b) => a - b);
}

/** Prints, per process, the object groups whose self size grew most from the first to the last snapshot. */
async function reportHeapGrowth(snapshots: Record<string, string[]>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [proc, files] of Object.entries(snapshots)) {
    const first = files[0];
    const last = files.at(-1);
    if (!first || !last || first === last) continue;
    const d = diffHeapSummaries(summarizeHeapSnapshot(first), summarizeHeapSnapshot(last));
    out[proc] = { first, last, ...d };
    console.log(
      `\nstability: ${proc} heap ${fmt(d.totalBefore / 1e6, 2)} → ${fmt(d.totalAfter / 1e6, 2)} MB between its first and last snapshot; grew most:`,
    );
    console.log(
      table(
        ['group', 'objects Δ', 'kB Δ', 'kB after'],
        d.top.map((g) => [g.key.slice(0, 60), g.countDelta, fmt(g.bytesDelta / 1000, 1), fmt(g.bytesAfter / 1000, 1)]),
      ),
    );
  }
  return out;
}

runMain('stability', main);
