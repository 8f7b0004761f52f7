/**
 * Who holds a VM's control and since when, in the operator console's words.
 */
import type { ControlState } from '@vmlive/protocol';

/** `holder` while the operator itself holds control (the controller's OPERATOR_HOLDER). */
const OPERATOR = 'operator';

/** Enough of a session id to tell viewers apart in a table (ids are random). */
export const shortSessionId = (sessionId: string) => sessionId.slice(0, 8);

function holderName(holder: string): string {
  return holder === OPERATOR ? 'the operator' : `viewer ${shortSessionId(holder)}`;
}

export function controlHolderText({ mode, holder }: ControlState): string {
  if (mode === 'agent') return 'Automation';
  if (mode === 'paused') return holder === null ? 'Paused' : `Paused (held by ${holderName(holder)})`;
  if (holder === null) return 'Automation'; // not a state the controller makes; say the safe thing
  return holder === OPERATOR ? 'Operator' : `Viewer ${shortSessionId(holder)}`;
}

/** "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago" (a clock behind the controller's counts as now). */
export function relativeTime(sinceMs: number, nowMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - sinceMs) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** What the operator may do about control right now. */
export function controlActions({ mode, holder }: ControlState): { endControl: boolean; takeOver: boolean } {
  return {
    endControl: mode === 'user',
    takeOver: !(mode === 'user' && holder === OPERATOR),
  };
}
