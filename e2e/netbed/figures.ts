/**
 * What a viewer went through over one window, from two readings of its REST
 * viewer page (getStats and the presented-frame log) taken at the window's
 * edges. Shared by e2e/networks.e2e.test.ts and scripts/networks.ts.
 */
import { FREEZE_GAP_MS, type FrameLog, type WebrtcStats } from '../../scripts/pages/page-api.js';

export interface Reading {
  stats: WebrtcStats;
  log: FrameLog;
}

export interface WindowFigures {
  seconds: number;
  /** frames the decoder produced per second (getStats framesDecoded) */
  decodedFps: number;
  /** frames the page presented per second (requestVideoFrameCallback) */
  shownFps: number;
  /** gaps over FREEZE_GAP_MS between presented frames, including one still open at the end */
  freezes: number;
  frozenMs: number;
  longestGapMs: number;
  packetsLost: number;
  nacksSent: number;
  retransmissionsReceived: number;
  plisSent: number;
  kbps: number;
  rttMs: number | null;
}

export function windowFigures(a: Reading, b: Reading): WindowFigures {
  // Rates over the stats reports' own timestamps; freezes over the page's clock.
  const seconds = Math.max(1e-3, (b.stats.timestamp - a.stats.timestamp) / 1000);
  const gaps = b.log.freezes.filter((f) => f.at > a.log.now).map((f) => f.ms);
  const open = b.log.lastAt === null ? b.log.now - a.log.now : b.log.now - b.log.lastAt;
  if (open > FREEZE_GAP_MS) gaps.push(open);
  const d = (k: keyof WebrtcStats) => Number(b.stats[k]) - Number(a.stats[k]);
  return {
    seconds,
    decodedFps: d('framesDecoded') / seconds,
    shownFps: (b.log.frames - a.log.frames) / Math.max(1e-3, (b.log.now - a.log.now) / 1000),
    freezes: gaps.length,
    frozenMs: gaps.reduce((x, y) => x + y, 0),
    longestGapMs: Math.max(0, ...gaps),
    packetsLost: d('packetsLost'),
    nacksSent: d('nackCount'),
    retransmissionsReceived: d('retransmittedPacketsReceived'),
    plisSent: d('pliCount'),
    kbps: (d('bytesReceived') * 8) / 1000 / seconds,
    rttMs: b.stats.rttMs,
  };
}

/**
 * Milliseconds from `since` (the page's clock, e.g. the end of a blackout)
 * until video is back for good: the first presented frame after `since`
 * followed by `steadyMs` without a freeze. null while that has not happened.
 * Frames between two freezes came at most FREEZE_GAP_MS apart, so each freeze
 * (`at` = the frame that ended it, `at - ms` = the one before) bounds a run.
 */
export function recoveryMs(log: FrameLog, since: number, steadyMs = 500): number | null {
  const freezes = log.freezes.filter((f) => f.at > since).sort((x, y) => x.at - y.at);
  let back = since; // no freeze spans `since`: frames never stopped for longer than a gap
  for (const f of freezes) {
    const start = f.at - f.ms;
    if (start - back >= steadyMs) break;
    back = f.at;
  }
  if (log.lastAt === null || log.lastAt < back) return null;
  // Frozen again now: back only if it had already run steadily before this gap opened.
  const steadyUntil = log.now - log.lastAt > FREEZE_GAP_MS ? log.lastAt : log.now;
  return steadyUntil - back >= steadyMs ? back - since : null;
}
