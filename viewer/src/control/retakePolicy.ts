/**
 * Keeping control across a reconnect or a page reload. Control belongs to a
 * signaling session, and a new connection (or a reloaded page) has a new
 * one. The controller keeps the old session's control as a lease for
 * `VMLIVE_HOLDER_GRACE_S` and lets a new session of the same viewer token
 * take it over directly (docs/api.md, "The control lease"). So when the
 * session that held control (`heldWith`, remembered per tab) is no longer
 * ours, take control again with the new one as soon as it is live — unless
 * someone else holds it now.
 *
 * If control leaves `heldWith` while that session is still our live one, it
 * was taken from us (the operator ended it or took over, the lease ran out):
 * forget the wish rather than grab it back.
 */
import type { ControlState } from '@vmlive/protocol';

export interface RetakeInput {
  /** The session that held control for the user, or null when the user does not want control. */
  heldWith: string | null;
  control: ControlState | null;
  /** The current session, or null between connections. */
  sessionId: string | null;
  live: boolean;
}

export type RetakeDecision = 'take' | 'forget' | 'wait';

export function decideRetake({ heldWith, control, sessionId, live }: RetakeInput): RetakeDecision {
  if (heldWith === null || !control) return 'wait';
  const ours = control.holder === heldWith;
  if (sessionId === heldWith) return ours ? 'wait' : 'forget';
  // The session that held control is gone (a reconnect, a reload).
  if (control.holder !== null && !ours) return 'forget'; // someone else has it now: do not fight over it
  if (control.mode === 'paused') return 'wait'; // a take would resume the VM; that is the operator's call
  if (!live || sessionId === null) return 'wait';
  return 'take'; // back to the automation, or still our old session's lease
}
