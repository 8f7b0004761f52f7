/**
 * compare's results: one row per run, the per-case, per-approach summary
 * (medians over the repeats), its table, and the verdicts on issue 5's targets
 * (vmlive against noVNC measured in the same run).
 */
import { fmt, machineLine, table } from '../report.js';
import { median } from '../stats.js';

/** `novnc-tuned`: x11vnc and noVNC configured for latency (senders.ts TUNED_*), the reference to beat; `novnc`: their defaults. */
export const APPROACHES = ['vmlive', 'novnc-tuned', 'novnc', 'cdp'] as const;
export type Approach = (typeof APPROACHES)[number];
export const CASES = ['static', 'busy'] as const;
export type Case = (typeof CASES)[number];

export interface RunRow {
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
  /** vmlive only: the viewer's own latency meter (abs-capture-time → presented), p50 over the window */
  meterP50?: number;
  /** CDP only: Chromium's frame timestamp → the relay got it (capture, JPEG, CDP transport) */
  relayDelayP50?: number;
  /** WebRTC only */
  jitterBufferMs?: number;
  decodedFps?: number;
  codec?: string;
  error?: string;
}

export interface SummaryRow {
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
  meterP50: number;
}

/** The row of a run that produced no measurement. */
export function failedRun(approach: Approach, c: Case, repeat: number, msg: string): RunRow {
  return {
    approach,
    case: c,
    repeat,
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
  };
}

/** Medians over the successful runs of each case and approach, in the order given. */
export function summarizeRuns(
  rows: readonly RunRow[],
  cases: readonly Case[],
  approaches: readonly Approach[],
): SummaryRow[] {
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
        meterP50: a === 'vmlive' ? m((r) => r.meterP50) : NaN,
      });
    }
  }
  return summary;
}

export function printSummary(summary: readonly SummaryRow[], run: { repeats: number; duration: number }): void {
  console.log(
    `\ncompare: medians of ${run.repeats} interleaved runs × ${run.duration} s, 1280x720, ${new Date().toISOString()}, ${machineLine()}`,
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
        'meter p50 ms',
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
        fmt(s.meterP50),
      ]),
    ),
  );
  console.log(
    'sender CPU: vmlive = GStreamer helper; novnc = x11vnc + websockify; cdp = sandbox Chromium minus its own load without screencast.\n' +
      'novnc-tuned: x11vnc -defer 0 -wait 5 -nonap -nowait_bog -noncache -nocursor, noVNC quality 6 / compression 2; novnc: both at their defaults.\n' +
      'CPU in % of one core (2 cores = 200 %). kB/s: vmlive from getStats bytesReceived, novnc/cdp counted on the WebSocket.\n' +
      'fps: distinct clock values the viewer showed per second; decoded fps (vmlive): frames the decoder produced (getStats).\n' +
      "meter p50 (vmlive): the viewer's own glass-to-glass meter (the VM's abs-capture-time → frame presented), any page;\n" +
      '  p50 ms is the clock page read back from the pixels (painted → shown), the meter is checked against it.\n' +
      "p50 range: lowest–highest p50 of single runs. A run's p50 depends on the phase between the capture tick and the\n" +
      'page paints, fixed for the run, so single runs of one setting differ by 10-25 ms: compare medians of 5+ repeats.',
  );
}

/**
 * The targets (issues 5 and 13), vmlive against the best-configured noVNC of the same run (the
 * tuned one when it ran, else the default one): one "meets"/"MISSES" line each.
 */
export function targetVerdicts(summary: readonly SummaryRow[], cases: readonly Case[]): string[] {
  const verdicts: string[] = [];
  const get = (a: Approach, c: Case) => summary.find((s) => s.approach === a && s.case === c && s.runs > 0);
  for (const c of cases) {
    const v = get('vmlive', c);
    const n = get('novnc-tuned', c) ?? get('novnc', c);
    if (!v || !n) continue;
    const peer = n.approach;
    const ok = (cond: boolean, what: string) => verdicts.push(`${cond ? 'meets ' : 'MISSES'} ${c}: ${what}`);
    ok(v.p50 < n.p50, `latency p50 ${fmt(v.p50)} ms < ${peer} ${fmt(n.p50)} ms`);
    if (c === 'static') {
      ok(v.fps >= 0.95 * n.fps, `${fmt(v.fps, 1)} fps ≥ 0.95 × ${peer}'s ${fmt(n.fps, 1)}`);
      ok(v.senderCpu <= n.senderCpu, `sender CPU ${fmt(v.senderCpu)} % ≤ ${peer}'s ${fmt(n.senderCpu)} %`);
    }
    if (c === 'busy') {
      ok(v.p50 <= 50, `latency p50 ${fmt(v.p50)} ms ≤ 50 ms`);
      ok(v.kBps <= 0.2 * n.kBps, `${fmt(v.kBps)} kB/s ≤ 0.2 × ${peer}'s ${fmt(n.kBps)}`);
    }
    ok(v.fps >= 29, `${fmt(v.fps, 1)} fps ≥ 29`);
    ok(v.ttffMs <= 250, `time to first frame ${fmt(v.ttffMs)} ms ≤ 250 ms`);
  }
  return verdicts;
}
