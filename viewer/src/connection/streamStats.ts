/**
 * Turns an RTCStatsReport (W3C webrtc-stats) into the numbers the overlay
 * shows. Rates are computed from the previous sample, so the caller keeps
 * the last summary and passes it back.
 */
import type { GlassToGlass } from './glassToGlass.js';

export interface StreamStats {
  /** ms (performance clock of the stats report) */
  timestamp: number;
  width: number | null;
  height: number | null;
  fps: number | null;
  bitrateKbps: number | null;
  rttMs: number | null;
  packetsLost: number;
  packetsReceived: number;
  /** % of packets lost since the previous sample */
  lossPercent: number | null;
  /** average jitter-buffer delay per emitted frame since the previous sample, ms */
  jitterBufferMs: number | null;
  /** average decode time per frame since the previous sample, ms */
  decodeMs: number | null;
  framesDecoded: number;
  framesDropped: number;
  freezeCount: number;
  freezeSeconds: number;
  codec: string | null;
  bytesReceived: number;
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  totalDecodeTime: number;
  /** VM capture → presented here over the last 10 s (glassToGlass.ts); null when not measured */
  glassToGlass: GlassToGlass | null;
}

type StatsEntry = Record<string, unknown> & { type?: unknown; id?: unknown };

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Accepts a real RTCStatsReport (a Map-like) or any iterable of stats dictionaries (tests). */
export function statsEntries(
  report: { forEach(cb: (value: unknown) => void): void } | Iterable<unknown>,
): StatsEntry[] {
  const out: StatsEntry[] = [];
  if ('forEach' in report && typeof report.forEach === 'function') {
    report.forEach((value: unknown) => {
      if (typeof value === 'object' && value !== null) out.push(value as StatsEntry);
    });
    return out;
  }
  for (const value of report as Iterable<unknown>) {
    if (typeof value === 'object' && value !== null) out.push(value as StatsEntry);
  }
  return out;
}

function selectedPair(entries: StatsEntry[]): StatsEntry | undefined {
  const transport = entries.find((e) => e.type === 'transport' && typeof e.selectedCandidatePairId === 'string');
  if (transport) {
    const pair = entries.find((e) => e.id === transport.selectedCandidatePairId);
    if (pair) return pair;
  }
  return entries.find((e) => e.type === 'candidate-pair' && e.state === 'succeeded' && e.nominated === true);
}

const delta = (now: number, prev: number | undefined): number | null =>
  prev === undefined || now < prev ? null : now - prev;

export function summarizeStats(
  report: { forEach(cb: (value: unknown) => void): void } | Iterable<unknown>,
  previous: StreamStats | null,
): StreamStats | null {
  const entries = statsEntries(report);
  const inbound = entries.find((e) => e.type === 'inbound-rtp' && (e.kind === 'video' || e.mediaType === 'video'));
  if (!inbound) return null;
  const timestamp = num(inbound.timestamp) ?? 0;
  const framesDecoded = num(inbound.framesDecoded) ?? 0;
  const bytesReceived = num(inbound.bytesReceived) ?? 0;
  const packetsLost = Math.max(0, num(inbound.packetsLost) ?? 0);
  const packetsReceived = num(inbound.packetsReceived) ?? 0;
  const jitterBufferDelay = num(inbound.jitterBufferDelay) ?? 0;
  const jitterBufferEmittedCount = num(inbound.jitterBufferEmittedCount) ?? 0;
  const totalDecodeTime = num(inbound.totalDecodeTime) ?? 0;

  const seconds = previous ? delta(timestamp, previous.timestamp) : null;
  const dt = seconds !== null && seconds > 0 ? seconds / 1000 : null;

  let fps = num(inbound.framesPerSecond);
  if (fps === null && dt !== null && previous) fps = (framesDecoded - previous.framesDecoded) / dt;

  let bitrateKbps: number | null = null;
  if (dt !== null && previous) bitrateKbps = Math.max(0, ((bytesReceived - previous.bytesReceived) * 8) / dt / 1000);

  let lossPercent: number | null = null;
  if (previous) {
    const lost = packetsLost - previous.packetsLost;
    const got = packetsReceived - previous.packetsReceived;
    if (lost >= 0 && got >= 0 && lost + got > 0) lossPercent = (100 * lost) / (lost + got);
  } else if (packetsLost + packetsReceived > 0) {
    lossPercent = (100 * packetsLost) / (packetsLost + packetsReceived);
  }

  let jitterBufferMs: number | null = null;
  const emitted = previous ? jitterBufferEmittedCount - previous.jitterBufferEmittedCount : jitterBufferEmittedCount;
  const jbDelay = previous ? jitterBufferDelay - previous.jitterBufferDelay : jitterBufferDelay;
  if (emitted > 0) jitterBufferMs = (1000 * jbDelay) / emitted;

  let decodeMs: number | null = null;
  const decoded = previous ? framesDecoded - previous.framesDecoded : framesDecoded;
  const decodeTime = previous ? totalDecodeTime - previous.totalDecodeTime : totalDecodeTime;
  if (decoded > 0) decodeMs = (1000 * decodeTime) / decoded;

  const pair = selectedPair(entries);
  const rtt = pair ? num(pair.currentRoundTripTime) : null;

  const codecEntry = entries.find((e) => e.id === inbound.codecId);
  const mime = codecEntry ? codecEntry.mimeType : undefined;

  return {
    timestamp,
    width: num(inbound.frameWidth),
    height: num(inbound.frameHeight),
    fps,
    bitrateKbps,
    rttMs: rtt === null ? null : rtt * 1000,
    packetsLost,
    packetsReceived,
    lossPercent,
    jitterBufferMs,
    decodeMs,
    framesDecoded,
    framesDropped: num(inbound.framesDropped) ?? 0,
    freezeCount: num(inbound.freezeCount) ?? 0,
    freezeSeconds: num(inbound.totalFreezesDuration) ?? 0,
    codec: typeof mime === 'string' ? mime.replace(/^video\//, '') : null,
    bytesReceived,
    jitterBufferDelay,
    jitterBufferEmittedCount,
    totalDecodeTime,
    glassToGlass: null,
  };
}
