/**
 * Keeping control across a reconnect. Control belongs to a signaling
 * session; when the viewer reconnects it gets a new session and the
 * controller hands control back to the agent as the old one ends. If this
 * viewer held control and nobody else has taken it since, take it again
 * with the new session, so a network blip does not silently drop takeover.
 */
import type { ControlState } from '@vmlive/protocol';

export interface RetakeInput {
  /** The user took control and has not released it. */
  wantControl: boolean;
  control: ControlState | null;
  /** The current session, once connected. */
  sessionId: string | null;
  live: boolean;
  /** Sessions this viewer has used (earlier ones included). */
  mySessions: ReadonlySet<string>;
}

export type RetakeDecision = 'take' | 'forget' | 'wait';

export function decideRetake({ wantControl, control, sessionId, live, mySessions }: RetakeInput): RetakeDecision {
  if (!wantControl || !control) return 'wait';
  if (control.mode === 'user' && control.holder !== null && !mySessions.has(control.holder)) {
    return 'forget'; // someone else has control now: do not fight over it
  }
  if (!live || !sessionId) return 'wait';
  if (control.mode === 'agent' && control.holder === null) return 'take';
  return 'wait'; // still ours, paused by the operator, or the old session not yet ended
}
