/**
 * The thin-link cases of scripts/networks.ts (issue 12 b–d): two viewers of one
 * sandbox, each in its own namespace (e2e/netbed), one link left clean and the
 * other capped, stepped down or cut, on one timeline per case. Sampled every
 * 250 ms: both viewers' getStats and clock-page latency, the shaped link's tbf
 * drop counter (drops = the sender is above the cap), and the helper's layer
 * when its stats say. Figures per case, not pass/fail.
 */

import { recoveryMs } from '../../e2e/netbed/figures.js';
import type { ViewerLink } from '../../e2e/netbed/netbed.js';
import { FREEZE_GAP_MS, type FrameLog, type WebrtcStats } from '../pages/page-api.js';
import { median } from './stats.js';
import type { WebrtcViewer } from './viewers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICK_MS = 250;

export type ThinCaseName = 'cap' | 'step' | 'blackout';
export const THIN_CASES: readonly ThinCaseName[] = ['cap', 'step', 'blackout'];

export interface ThinOptions {
  capKbit: number;
  stepFromKbit: number;
  stepToKbit: number;
  blackoutMs: number;
  /** how long the cap / the lower step is held */
  holdS: number;
  /** observed after the trouble ends */
  afterS: number;
  /** calm before the trouble: the clean viewer's baseline */
  beforeS: number;
}

export interface ThinFigures {
  case: ThinCaseName;
  label: string;
  /** the shaped viewer's longest gap between presented frames from the trouble's start to the case's end */
  longestStallMs: number;
  /**
   * every freeze (> 200 ms) of the shaped viewer from the trouble's start: when it ended, ms after the
   * trouble began (the cap, the step's first rate, the blackout), and how long it lasted; with the
   * helper's link-adapt log lines this tells which stall a switch or a probe cost (--json)
   */
  stalls: { endMs: number; ms: number }[];
  /** cap/step: from the cap until the link's last drop while capped; null = still dropping at the end */
  settleMs: number | null;
  /** cap/step: what the shaped viewer received over the last 5 s of the cap, kbit/s */
  cappedKbps: number | null;
  /** the shaped viewer's frame height over the last 5 s of the cap (the layer it was on) */
  cappedHeight: number | null;
  /** cap/step: from lifting the cap until full height at the clean viewer's frame rate for 1 s */
  fullQualityMs: number | null;
  /** blackout: from its end until frames flow steadily again */
  videoBackMs: number | null;
  sameSession: boolean;
  /**
   * what the shaped viewer's inbound-rtp counted from the trouble's start to the case's end
   * (NACKs and PLIs it sent, RTX packets and keyframes it got), and when, in ms after the trouble
   * ended (tick resolution), it next sent a PLI and next decoded a keyframe (null: not in the case)
   */
  shapedRtcp: {
    nacks: number;
    plis: number;
    rtxPackets: number;
    keyframes: number;
    pliAfterEndMs: number | null;
    keyframeAfterEndMs: number | null;
  };
  cleanFpsBefore: number;
  cleanFpsDuring: number;
  cleanLatencyBefore: number;
  cleanLatencyDuring: number;
}

interface Tick {
  wall: number;
  clean: WebrtcStats;
  shaped: WebrtcStats;
  rateDropped: number;
}

/** Both viewers sampled on one clock while `script` drives the link; latencies kept by wall time. */
class Recorder {
  ticks: Tick[] = [];
  cleanLatency: { at: number; ms: number }[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly clean: WebrtcViewer,
    private readonly shaped: WebrtcViewer,
    private readonly link: ViewerLink,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const [cs, ss, counters, drained] = await Promise.all([
          this.clean.stats(),
          this.shaped.stats(),
          this.link.counters(),
          this.clean.drain(),
          this.shaped.drain(), // keeps the page's sample buffer from growing
        ]);
        if (cs && ss) this.ticks.push({ wall: Date.now(), clean: cs, shaped: ss, rateDropped: counters.rateDropped });
        for (const s of drained.samples) this.cleanLatency.push({ at: s.at, ms: s.latency });
        await sleep(TICK_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  between(from: number, to: number): Tick[] {
    return this.ticks.filter((t) => t.wall >= from && t.wall <= to);
  }
}

function fpsOf(ticks: Tick[], who: 'clean' | 'shaped'): number {
  const a = ticks[0];
  const b = ticks[ticks.length - 1];
  if (!a || !b || a === b) return Number.NaN;
  return ((b[who].framesDecoded - a[who].framesDecoded) * 1000) / Math.max(1, b[who].timestamp - a[who].timestamp);
}

function kbpsOf(ticks: Tick[]): number | null {
  const a = ticks[0];
  const b = ticks[ticks.length - 1];
  if (!a || !b || a === b) return null;
  return ((b.shaped.bytesReceived - a.shaped.bytesReceived) * 8) / Math.max(1, b.shaped.timestamp - a.shaped.timestamp);
}

/** The first tick from `from` at which the shaped viewer's counter `k` went up, ms after `from`. */
function firstRise(rec: Recorder, from: number, k: 'pliCount' | 'keyFramesDecoded'): number | null {
  const ticks = rec.ticks;
  for (let i = 1; i < ticks.length; i++) {
    const t = ticks[i] as Tick;
    if (t.wall >= from && t.shaped[k] > (ticks[i - 1] as Tick).shaped[k]) return t.wall - from;
  }
  return null;
}

function shapedRtcp(rec: Recorder, troubleStart: number, troubleEnd: number): ThinFigures['shapedRtcp'] {
  const a = rec.between(troubleStart, Number.POSITIVE_INFINITY)[0]?.shaped;
  const b = rec.ticks[rec.ticks.length - 1]?.shaped;
  const d = (k: 'nackCount' | 'pliCount' | 'retransmittedPacketsReceived' | 'keyFramesDecoded') =>
    a && b ? b[k] - a[k] : 0;
  return {
    nacks: d('nackCount'),
    plis: d('pliCount'),
    rtxPackets: d('retransmittedPacketsReceived'),
    keyframes: d('keyFramesDecoded'),
    pliAfterEndMs: firstRise(rec, troubleEnd, 'pliCount'),
    keyframeAfterEndMs: firstRise(rec, troubleEnd, 'keyFramesDecoded'),
  };
}

/** The longest gap in `log` that ends after `since` (page clock), counting one still open. */
function longestGap(log: FrameLog, since: number): number {
  const gaps = log.freezes.filter((f) => f.at > since).map((f) => f.ms);
  const open = log.lastAt === null ? 0 : log.now - log.lastAt;
  if (open > FREEZE_GAP_MS) gaps.push(open);
  return Math.max(0, ...gaps);
}

/** Wall ms from `from` until the last tick at which tbf dropped, before `to`; null when it dropped in the last second. */
function settle(rec: Recorder, from: number, to: number): number | null {
  const ticks = rec.between(from, to);
  let last = from;
  for (let i = 1; i < ticks.length; i++) {
    const t = ticks[i] as Tick;
    if (t.rateDropped > (ticks[i - 1] as Tick).rateDropped) last = t.wall;
  }
  return to - last < 1000 ? null : last - from;
}

/** From `from` until the shaped viewer shows full height at ≥ 70 % of the clean one's rate for 1 s. */
function fullQuality(rec: Recorder, from: number, fullHeight: number): number | null {
  const ticks = rec.between(from, Number.POSITIVE_INFINITY);
  const span = Math.round(1000 / TICK_MS);
  for (let i = 0; i + span < ticks.length; i++) {
    const run = ticks.slice(i, i + span + 1);
    const ok =
      run.every((t) => t.shaped.frameHeight === fullHeight) && fpsOf(run, 'shaped') >= 0.7 * fpsOf(run, 'clean');
    if (ok) return (run[0] as Tick).wall - from;
  }
  return null;
}

export async function runThinCase(
  name: ThinCaseName,
  o: ThinOptions,
  viewers: { clean: WebrtcViewer; shaped: WebrtcViewer },
  link: ViewerLink,
): Promise<ThinFigures> {
  const rec = new Recorder(viewers.clean, viewers.shaped, link);
  const sessionLog0 = await viewers.shaped.frameLog();
  rec.start();
  try {
    const t0 = Date.now();
    await sleep(o.beforeS * 1000);
    const troublePerf = (await viewers.shaped.frameLog()).now;
    const troubleStart = Date.now();
    let capStart = troubleStart;
    if (name === 'cap') {
      await link.shape({ rateKbit: o.capKbit });
    } else if (name === 'step') {
      await link.shape({ rateKbit: o.stepFromKbit });
      await sleep(o.holdS * 500);
      await link.shape({ rateKbit: o.stepToKbit });
      capStart = Date.now();
    } else {
      await link.blackout(true);
    }
    await sleep(name === 'blackout' ? o.blackoutMs : o.holdS * 1000);
    const troubleEnd = Date.now();
    const lifted = name !== 'blackout' ? settle(rec, capStart, troubleEnd) : null;
    const capped = rec.between(troubleEnd - 5000, troubleEnd);
    if (name === 'blackout') await link.blackout(false);
    else await link.shape({});
    const endPerf = (await viewers.shaped.frameLog()).now;
    const liftWall = Date.now();
    await sleep(o.afterS * 1000);
    const log = await viewers.shaped.frameLog();
    const before = rec.between(t0 + 1000, troubleStart);
    const during = rec.between(troubleStart, liftWall + 3000);
    const fullHeight = median(before.map((t) => t.clean.frameHeight));
    const lat = (from: number, to: number) =>
      median(rec.cleanLatency.filter((s) => s.at >= from && s.at <= to).map((s) => s.ms));
    const last = rec.ticks[rec.ticks.length - 1];
    return {
      case: name,
      label:
        name === 'cap'
          ? `${o.capKbit} kbit/s for ${o.holdS} s, lifted`
          : name === 'step'
            ? `${o.stepFromKbit} → ${o.stepToKbit} kbit/s for ${o.holdS} s, lifted`
            : `${o.blackoutMs} ms blackout`,
      longestStallMs: longestGap(log, troublePerf),
      stalls: log.freezes
        .filter((f) => f.at > troublePerf)
        .map((f) => ({ endMs: Math.round(f.at - troublePerf), ms: Math.round(f.ms) })),
      settleMs: lifted,
      cappedKbps: name === 'blackout' ? null : kbpsOf(capped),
      cappedHeight: name === 'blackout' ? null : median(capped.map((t) => t.shaped.frameHeight)),
      fullQualityMs: name === 'blackout' ? null : fullQuality(rec, liftWall, fullHeight),
      videoBackMs: name === 'blackout' ? recoveryMs(log, endPerf) : null,
      sameSession: last?.shaped.connectionState === 'connected' && log.frames > sessionLog0.frames,
      shapedRtcp: shapedRtcp(rec, troubleStart, liftWall),
      cleanFpsBefore: fpsOf(before, 'clean'),
      cleanFpsDuring: fpsOf(during, 'clean'),
      cleanLatencyBefore: lat(t0 + 1000, troubleStart),
      cleanLatencyDuring: lat(troubleStart, liftWall + 3000),
    };
  } finally {
    await rec.stop();
    await link.shape({});
  }
}
