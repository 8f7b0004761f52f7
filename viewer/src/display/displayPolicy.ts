/**
 * Hybrid mode: whether the viewer shows live video or screenshots, as a pure
 * reducer (no timers, no DOM; the clock is passed in). The session feeds it
 * the connection's phase, "a frame of the current stream was presented",
 * the browser's network hints and one stats sample a second, and schedules
 * a wake-up at `recheckAt` when the answer may change with nothing new
 * coming in (a connection that stays down, a recovery that has lasted long
 * enough).
 *
 *   mode "live"        always live video (the status says why it is not up)
 *   mode "screenshot"  always screenshots; no live connection is opened
 *   mode "auto":
 *     screenshots(starting) ──first frame──▶ live          (at once: the snapshot only bridges the start)
 *     live ──down > lostGraceMs, or ≥ badToFallBack of the last `window` samples poor──▶ screenshots(failure)
 *     screenshots(failure) ──good samples for recoverMs──▶ live
 *
 * Hysteresis, so a marginal link does not flap: a poor sample is judged with
 * the entry thresholds while live (fps < minFps, RTT > maxRttMs, frozen for
 * ≥ minFreezeSeconds; not in the first warmupMs) but a good one with stricter
 * exit thresholds while on screenshots (fps ≥ recoverFps, RTT ≤
 * recoverRttMs, no freeze at all), a fallback needs
 * several poor samples, a return needs `recoverMs` of unbroken good ones, and
 * that wait doubles (up to maxRecoverMs) each time live fails again within
 * flapWindowMs of a return.
 */
import type { ViewerPhase, ViewerReason } from '../connection/viewerState.js';
import { describeReason } from '../connection/viewerState.js';

export type ViewerMode = 'auto' | 'live' | 'screenshot';
export const VIEWER_MODES: readonly ViewerMode[] = ['auto', 'live', 'screenshot'];

export type DisplayKind = 'live' | 'screenshots';

export type DisplayReasonCode =
  | 'live'
  /** auto: live video is not up yet; the latest screenshot meanwhile. */
  | 'starting'
  /** mode "screenshot". */
  | 'requested'
  /** The browser's data saver (`navigator.connection.saveData`). */
  | 'save-data'
  /** `navigator.connection.effectiveType` is 2g or slower. */
  | 'slow-network'
  /** The live connection is down (reconnecting, failed). */
  | 'live-failed'
  /** Live video is back after a failure; waiting until it has held for a while. */
  | 'recovering'
  | 'low-fps'
  | 'freezing'
  | 'high-rtt';

export interface DisplayState {
  kind: DisplayKind;
  reason: { code: DisplayReasonCode; detail?: string };
  /** ms since epoch when this display was chosen. */
  since: number;
}

/** What the browser says about the network (Network Information API), where it says anything. */
export interface NetworkHint {
  saveData: boolean;
  effectiveType: string | null;
}

export interface DisplayInput {
  mode: ViewerMode;
  phase: ViewerPhase;
  viewerReason: ViewerReason;
  /** A frame of the current live stream has been presented. */
  firstFrame: boolean;
  hint: NetworkHint;
}

/** One stats sample of the live stream (streamStats.ts), about once a second. */
export interface QualitySample {
  fps: number | null;
  rttMs: number | null;
  freezeCount: number;
  /** Total time frozen (W3C webrtc-stats `totalFreezesDuration`), s. */
  freezeSeconds: number;
}

export interface DisplayPolicyOptions {
  lostGraceMs: number;
  warmupMs: number;
  window: number;
  badToFallBack: number;
  minFps: number;
  recoverFps: number;
  maxRttMs: number;
  recoverRttMs: number;
  minFreezeSeconds: number;
  recoverMs: number;
  maxRecoverMs: number;
  flapWindowMs: number;
}

export const DEFAULT_DISPLAY_POLICY: Readonly<DisplayPolicyOptions> = Object.freeze({
  // A short ICE blip keeps the dimmed last frame; longer, a fresh screenshot beats a stale frame.
  lostGraceMs: 2000,
  // The first seconds of a stream stutter (key frame, jitter buffer settling): not judged.
  warmupMs: 3000,
  window: 5,
  badToFallBack: 3,
  // The VM sends a constant 30 fps (ximagesrc paces itself, static screens included).
  minFps: 5,
  recoverFps: 12,
  maxRttMs: 1000,
  recoverRttMs: 500,
  // A sample is poor when it was frozen this long; Chromium counts a freeze from ~150 ms, which a busy
  // machine produces now and then without the picture being unusable.
  minFreezeSeconds: 0.3,
  recoverMs: 4000,
  maxRecoverMs: 60_000,
  flapWindowMs: 60_000,
});

type PoorCode = 'low-fps' | 'freezing' | 'high-rtt';

export interface DisplayMemory {
  display: DisplayState;
  input: DisplayInput;
  /** Verdicts of the last samples while live (null = fine), newest last. */
  recent: Array<PoorCode | null>;
  lastSample: QualitySample | null;
  /** When the connection went down while live video was shown. */
  lostSince: number | null;
  /** Since when every sample has been good enough to return to live (screenshots only). */
  goodSince: number | null;
  /** The current wait before returning to live after a failure. */
  recoverMs: number;
  lastReturnAt: number | null;
  /** When the display may change with no new input; null = only on input. */
  recheckAt: number | null;
}

export type DisplayEvent =
  | { type: 'input'; input: DisplayInput }
  | { type: 'sample'; sample: QualitySample }
  | { type: 'tick' };

/** Reasons the user or the browser chose; leaving them needs no proof that live video holds. */
const CHOSEN: ReadonlySet<DisplayReasonCode> = new Set(['starting', 'requested', 'save-data', 'slow-network']);
const SLOW_TYPES: ReadonlySet<string> = new Set(['slow-2g', '2g']);

export function initialDisplay(input: DisplayInput, now: number, opts = DEFAULT_DISPLAY_POLICY): DisplayMemory {
  const memory: DisplayMemory = {
    display: { kind: 'screenshots', reason: { code: 'starting' }, since: now },
    input,
    recent: [],
    lastSample: null,
    lostSince: null,
    goodSince: null,
    recoverMs: opts.recoverMs,
    lastReturnAt: null,
    recheckAt: null,
  };
  return decide(memory, now, opts);
}

export function nextDisplay(
  memory: DisplayMemory,
  event: DisplayEvent,
  now: number,
  opts = DEFAULT_DISPLAY_POLICY,
): DisplayMemory {
  if (event.type === 'input') return decide({ ...memory, input: event.input }, now, opts);
  if (event.type === 'tick') return decide(memory, now, opts);
  return decide(judgeSample(memory, event.sample, now, opts), now, opts);
}

/** Whether the browser asks for screenshots in auto mode, and why. */
export function hintReason(hint: NetworkHint): DisplayState['reason'] | null {
  if (hint.saveData) return { code: 'save-data' };
  if (hint.effectiveType && SLOW_TYPES.has(hint.effectiveType)) {
    return { code: 'slow-network', detail: hint.effectiveType };
  }
  return null;
}

/** Whether a live connection is wanted at all: not in screenshot mode, nor while the browser asks to save data. */
export function wantsLive(mode: ViewerMode, hint: NetworkHint): boolean {
  return mode === 'live' || (mode === 'auto' && hintReason(hint) === null);
}

function judgeSample(m: DisplayMemory, sample: QualitySample, now: number, opts: DisplayPolicyOptions): DisplayMemory {
  const prev = m.lastSample;
  // A new peer connection starts counting from 0 again (and a drop is not a freeze).
  const froze = prev !== null && sample.freezeCount > prev.freezeCount;
  const frozenFor = prev === null ? 0 : sample.freezeSeconds - prev.freezeSeconds;
  const next = { ...m, lastSample: sample };
  if (m.input.phase !== 'connected') return { ...next, goodSince: null };
  if (m.display.kind === 'live') {
    if (now - m.display.since < opts.warmupMs) return next;
    const poor: PoorCode | null =
      sample.fps !== null && sample.fps < opts.minFps
        ? 'low-fps'
        : sample.rttMs !== null && sample.rttMs > opts.maxRttMs
          ? 'high-rtt'
          : frozenFor >= opts.minFreezeSeconds
            ? 'freezing'
            : null;
    return { ...next, recent: [...m.recent, poor].slice(-opts.window) };
  }
  const good =
    m.input.firstFrame &&
    sample.fps !== null &&
    sample.fps >= opts.recoverFps &&
    (sample.rttMs === null || sample.rttMs <= opts.recoverRttMs) &&
    !froze;
  return { ...next, goodSince: good ? (m.goodSince ?? now) : null };
}

function decide(m: DisplayMemory, now: number, opts: DisplayPolicyOptions): DisplayMemory {
  const { input } = m;
  if (input.mode === 'live') return show(m, 'live', { code: 'live' }, now, null);
  if (input.mode === 'screenshot') return show(m, 'screenshots', { code: 'requested' }, now, null);
  const hinted = hintReason(input.hint);
  if (hinted) return show(m, 'screenshots', hinted, now, null);
  const up = input.phase === 'connected';

  if (m.display.kind === 'live') {
    if (!up) {
      const lostSince = m.lostSince ?? now;
      if (now - lostSince >= opts.lostGraceMs) return fallBack(m, liveFailed(input), now, opts);
      return { ...m, lostSince, recheckAt: lostSince + opts.lostGraceMs };
    }
    const poor = mostCommon(m.recent);
    if (poor && m.recent.filter((v) => v !== null).length >= opts.badToFallBack) {
      return fallBack(m, poorReason(poor, m.lastSample), now, opts);
    }
    return { ...m, lostSince: null, recheckAt: null };
  }

  const ready = up && input.firstFrame;
  const current = m.display.reason.code;
  // Back from a choice (the start, a mode or a hint that has changed): live as soon as it shows a frame.
  if (CHOSEN.has(current) && current !== 'starting' && !ready) {
    return show(m, 'screenshots', { code: 'starting' }, now, null);
  }
  if (CHOSEN.has(current) && ready) return goLive(m, now, false);
  if (current === 'starting') {
    // An attempt failed before live video ever showed: say so, and from now on ask for proof before returning.
    if (input.phase === 'reconnecting' || input.phase === 'failed' || input.phase === 'ended') {
      return show(m, 'screenshots', liveFailed(input), now, null);
    }
    return { ...m, recheckAt: null };
  }
  // On screenshots after a failure: live again once it has been good for recoverMs.
  if (ready && m.goodSince !== null) {
    const at = m.goodSince + m.recoverMs;
    if (now >= at) return goLive(m, now, true);
    const waiting = current === 'live-failed' ? show(m, 'screenshots', { code: 'recovering' }, now, null) : m;
    return { ...waiting, recheckAt: at };
  }
  const reason = !up
    ? liveFailed(input)
    : current === 'live-failed'
      ? { code: 'recovering' as const }
      : m.display.reason;
  return show(m, 'screenshots', reason, now, null);
}

function show(
  m: DisplayMemory,
  kind: DisplayKind,
  reason: DisplayState['reason'],
  now: number,
  recheckAt: number | null,
): DisplayMemory {
  const d = m.display;
  const same = d.kind === kind && d.reason.code === reason.code && d.reason.detail === reason.detail;
  const display = same ? d : { kind, reason, since: d.kind === kind ? d.since : now };
  return { ...m, display, recheckAt };
}

/** `afterFailure`: a return that a new failure soon after would make a flap (the first live frame is not one). */
function goLive(m: DisplayMemory, now: number, afterFailure: boolean): DisplayMemory {
  return {
    ...show(m, 'live', { code: 'live' }, now, null),
    recent: [],
    lostSince: null,
    goodSince: null,
    lastReturnAt: afterFailure ? now : m.lastReturnAt,
  };
}

function fallBack(
  m: DisplayMemory,
  reason: DisplayState['reason'],
  now: number,
  opts: DisplayPolicyOptions,
): DisplayMemory {
  const flapped = m.lastReturnAt !== null && now - m.lastReturnAt < opts.flapWindowMs;
  const recoverMs = flapped ? Math.min(m.recoverMs * 2, opts.maxRecoverMs) : opts.recoverMs;
  return {
    ...show(m, 'screenshots', reason, now, null),
    recent: [],
    lostSince: null,
    goodSince: null,
    recoverMs,
  };
}

function liveFailed(input: DisplayInput): DisplayState['reason'] {
  if (input.phase === 'connected' || input.phase === 'idle') return { code: 'live-failed' };
  const what = input.phase === 'reconnecting' ? 'reconnecting' : input.phase;
  return { code: 'live-failed', detail: `${what}: ${describeReason(input.viewerReason)}` };
}

function poorReason(code: PoorCode, sample: QualitySample | null): DisplayState['reason'] {
  if (code === 'low-fps' && sample?.fps != null) return { code, detail: `${sample.fps.toFixed(0)} fps` };
  if (code === 'high-rtt' && sample?.rttMs != null) return { code, detail: `${sample.rttMs.toFixed(0)} ms round trip` };
  return { code };
}

function mostCommon(values: Array<PoorCode | null>): PoorCode | null {
  const counts = new Map<PoorCode, number>();
  let best: PoorCode | null = null;
  for (const v of values) {
    if (v === null) continue;
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (best === null || n >= (counts.get(best) ?? 0)) best = v;
  }
  return best;
}

const REASON_TEXT: Record<DisplayReasonCode, string> = {
  live: 'Live',
  starting: 'live video starting',
  requested: 'screenshot mode',
  'save-data': 'data saver is on',
  'slow-network': 'slow network',
  'live-failed': 'live video unavailable',
  recovering: 'live video is back, checking that it holds',
  'low-fps': 'live video too choppy',
  freezing: 'live video keeps freezing',
  'high-rtt': 'slow connection',
};

/** "Live" or "Screenshots: <reason>", as the viewer shows it. */
export function describeDisplay(display: DisplayState): string {
  if (display.kind === 'live') return 'Live';
  const { code, detail } = display.reason;
  return `Screenshots: ${REASON_TEXT[code]}${detail ? ` (${detail})` : ''}`;
}
