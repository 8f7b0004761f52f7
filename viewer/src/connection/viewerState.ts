/**
 * The viewer's visible state as a pure state machine. Every phase carries a
 * reason so the page always says why it is not showing live video — the
 * viewer never sits on a frozen frame without saying so.
 *
 *   idle ──start──▶ connecting ──connected──▶ connected
 *                     │  ▲                      │
 *              lost   ▼  │ retry          lost  ▼
 *                   reconnecting ◀──────────────┘
 *   fatal (any) ──▶ failed ──retry──▶ connecting
 *   close (any) ──▶ ended
 */

export type ViewerPhase = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'ended';

/** Why the viewer is in its phase. Stable codes for scripts; `describeReason` gives the words. */
export type ViewerReasonCode =
  | 'starting'
  | 'media-flowing'
  | 'vm-offline'
  | 'no-answer'
  | 'token-expired'
  | 'forbidden'
  | 'vm-not-found'
  | 'ice-failed'
  | 'ice-disconnected'
  | 'ice-timeout'
  | 'turn-unreachable'
  | 'frames-stopped'
  | 'no-frames'
  | 'session-ended'
  | 'signaling-error'
  | 'gave-up'
  | 'retry'
  | 'closed';

export interface ViewerReason {
  code: ViewerReasonCode;
  /** Extra words for humans and logs (an error message, an attempt count); never a token. */
  detail?: string;
}

export interface ViewerState {
  phase: ViewerPhase;
  reason: ViewerReason;
  /** Consecutive failed attempts since the last time media flowed. */
  attempt: number;
  /** ms since epoch when this phase was entered. */
  since: number;
}

export type ViewerEvent =
  | { type: 'start' }
  | { type: 'connected' }
  /** A recoverable loss: ICE failed, frames stopped, session 404, network error. */
  | { type: 'lost'; reason: ViewerReason }
  /** An error retrying cannot fix: bad or expired token, forbidden, unknown VM, retries exhausted. */
  | { type: 'fatal'; reason: ViewerReason }
  /** The user (or the page) asked to try again now. */
  | { type: 'retry' }
  | { type: 'close'; reason?: ViewerReason };

const REASON_TEXT: Record<ViewerReasonCode, string> = {
  starting: 'Starting',
  'media-flowing': 'Live',
  'vm-offline': 'VM offline',
  'no-answer': 'VM not answering (offline?)',
  'token-expired': 'Token expired or invalid',
  forbidden: 'Not allowed',
  'vm-not-found': 'VM not found',
  'ice-failed': 'ICE failed',
  'ice-disconnected': 'Connection lost',
  'ice-timeout': 'ICE did not connect in time',
  'turn-unreachable': 'No route: TURN server unreachable',
  'frames-stopped': 'Video frames stopped',
  'no-frames': 'No video frames received',
  'session-ended': 'Session ended',
  'signaling-error': 'Controller unreachable',
  'gave-up': 'Gave up reconnecting',
  retry: 'Retrying',
  closed: 'Viewer closed',
};

export function describeReason(reason: ViewerReason): string {
  const text = REASON_TEXT[reason.code];
  return reason.detail ? `${text} (${reason.detail})` : text;
}

export function initialViewerState(now: number): ViewerState {
  return { phase: 'idle', reason: { code: 'starting' }, attempt: 0, since: now };
}

/** Returns the next state, or the same object when the event does not apply. */
export function transition(state: ViewerState, event: ViewerEvent, now: number): ViewerState {
  if (state.phase === 'ended') return state;
  switch (event.type) {
    case 'start':
      if (state.phase !== 'idle') return state;
      return { phase: 'connecting', reason: { code: 'starting' }, attempt: 0, since: now };
    case 'connected':
      if (state.phase !== 'connecting' && state.phase !== 'reconnecting') return state;
      return { phase: 'connected', reason: { code: 'media-flowing' }, attempt: 0, since: now };
    case 'lost':
      if (state.phase === 'idle' || state.phase === 'failed') return state;
      return { phase: 'reconnecting', reason: event.reason, attempt: state.attempt + 1, since: now };
    case 'fatal':
      return { phase: 'failed', reason: event.reason, attempt: state.attempt, since: now };
    case 'retry':
      if (state.phase === 'connected' || state.phase === 'idle') return state;
      return { phase: 'connecting', reason: { code: 'retry' }, attempt: 0, since: now };
    case 'close':
      return { phase: 'ended', reason: event.reason ?? { code: 'closed' }, attempt: state.attempt, since: now };
  }
}
