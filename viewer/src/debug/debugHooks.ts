/**
 * `window.__vmlive`: read-only debug hooks for e2e tests, scripts and people
 * with DevTools open. Documented in web/README.md. One viewer per page: the
 * most recently mounted viewer owns the hooks. Tokens are never exposed.
 */
import type { ControlState, InputFeedback } from '@vmlive/protocol';
import type { IceRestartEvent } from '../connection/attempt.js';
import type { StreamStats } from '../connection/streamStats.js';
import { statsEntries } from '../connection/streamStats.js';
import type { ViewerConnection } from '../connection/viewerConnection.js';
import { describeReason, type ViewerState } from '../connection/viewerState.js';
import type { TakeoverPhase } from '../control/takeover.js';
import type { DisplayState, ViewerMode } from '../display/displayPolicy.js';

export interface VmliveDebugTransition {
  phase: ViewerState['phase'];
  reason: string;
  code: ViewerState['reason']['code'];
  at: number;
}

export interface VmliveDebug {
  version: 1;
  vmId: string | null;
  /** Current phase and reason; `null` before a viewer mounts. */
  state: ViewerState | null;
  /** Every transition since the viewer mounted (oldest first, capped at 200). */
  history: VmliveDebugTransition[];
  sessionId: string | null;
  /** ICE restarts since the viewer mounted (oldest first, capped at 200): each `started`, and `done` once frames flowed again on the same session. */
  iceRestarts: Array<IceRestartEvent & { sessionId: string | null; at: number }>;
  control: ControlState | null;
  /** Where this viewer's takeover stands: idle, requesting, confirming (waiting for the VM's grant), in-control, paused. */
  takeover: TakeoverPhase;
  /** Every message the helper sent on the input channel since the viewer mounted (oldest first, capped at 200). */
  feedback: Array<InputFeedback & { at: number }>;
  /** The hybrid mode asked for: auto, live or screenshot. */
  mode: ViewerMode;
  /** What is shown: live video or screenshots, and why. */
  display: DisplayState | null;
  /** True while screenshots are shown instead of live video (`display.kind === 'screenshots'`). */
  fallback: boolean;
  /** When the first screenshot and the first live frame were painted (performance.now() ms, from navigation start). */
  timings: { snapshotPaintedAt: number | null; firstFramePaintedAt: number | null };
  /** Latest summarized stats (updated every second while a peer connection exists). */
  stats: StreamStats | null;
  /** A fresh summary from RTCPeerConnection.getStats(), or null without a peer connection. */
  getStats(): Promise<StreamStats | null>;
  /** The raw W3C stats dictionaries of the current peer connection. */
  getRawStats(): Promise<Record<string, unknown>[]>;
  /** Same as the "Retry live" button. */
  retry(): void;
}

declare global {
  interface Window {
    __vmlive?: VmliveDebug;
  }
}

export function installDebugHooks(connection: ViewerConnection): {
  update(patch: Partial<Pick<VmliveDebug, 'control' | 'fallback' | 'takeover' | 'mode' | 'display' | 'timings'>>): void;
  dispose(): void;
} {
  if (typeof window === 'undefined') return { update() {}, dispose() {} };
  const hooks: VmliveDebug = {
    version: 1,
    vmId: connection.vmId,
    state: connection.state,
    history: [],
    sessionId: connection.sessionId,
    iceRestarts: [],
    control: null,
    takeover: 'idle',
    feedback: [],
    mode: 'auto',
    display: null,
    fallback: false,
    timings: { snapshotPaintedAt: null, firstFramePaintedAt: null },
    stats: null,
    async getStats() {
      return connection.lastStats;
    },
    async getRawStats() {
      const report = await connection.getRawStats();
      return report ? statsEntries(report) : [];
    },
    retry() {
      connection.retryNow();
    },
  };
  const record = (state: ViewerState) => {
    hooks.state = state;
    hooks.history.push({
      phase: state.phase,
      code: state.reason.code,
      reason: describeReason(state.reason),
      at: state.since,
    });
    if (hooks.history.length > 200) hooks.history.shift();
  };
  record(connection.state);
  const offs = [
    connection.on('state', record),
    connection.on('session', (id) => {
      hooks.sessionId = id;
    }),
    connection.on('iceRestart', (event) => {
      hooks.iceRestarts.push({ ...event, sessionId: connection.sessionId, at: Date.now() });
      if (hooks.iceRestarts.length > 200) hooks.iceRestarts.shift();
    }),
    connection.on('stats', (stats) => {
      hooks.stats = stats;
    }),
    connection.on('feedback', (feedback) => {
      hooks.feedback.push({ ...feedback, at: Date.now() });
      if (hooks.feedback.length > 200) hooks.feedback.shift();
    }),
  ];
  window.__vmlive = hooks;
  return {
    update(patch) {
      Object.assign(hooks, patch);
    },
    dispose() {
      for (const off of offs) off();
      if (window.__vmlive === hooks) window.__vmlive = undefined;
    },
  };
}
