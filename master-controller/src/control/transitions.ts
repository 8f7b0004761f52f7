/**
 * The control state machine, as one pure function: who may take, release,
 * pause and resume, and what the lease becomes. The route (http/routes/control.ts)
 * resolves the caller and the session; the store applies the result atomically.
 *
 *   agent --take--> user(holder) --release--> agent
 *     |               |   ^
 *     pause         pause resume
 *     v               v   |
 *   paused(null)    paused(holder)
 *
 * A viewer's control is a lease that lasts while its session shows signs of
 * life (store.touchSession); a new session of the same viewer token may take
 * it over (a page reload), any other viewer gets control_held until it ends.
 */
import type { ControlAction, ControlState } from '@vmlive/protocol';
import { ApiError } from '../errors.js';
import type { ControlRecord } from '../store/types.js';

/** `holder` while the operator itself holds control (it has no session of its own). */
export const OPERATOR_HOLDER = 'operator';

export type ControlActor =
  /** A control viewer acting through one of its own sessions. */
  | { kind: 'viewer'; sessionId: string; owner: string }
  /** The operator; `session` when it hands control to a viewer's session. */
  | { kind: 'operator'; session?: { sessionId: string; owner: string } }
  | { kind: 'vm' };

export function applyControl(
  cur: ControlRecord,
  action: ControlAction,
  actor: ControlActor,
  now: number,
): ControlRecord {
  const { control, lease } = cur;
  const since = Math.max(now, control.since + 1);
  const next = (state: Omit<ControlState, 'since'>, nextLease: ControlRecord['lease']): ControlRecord => ({
    control: { ...state, since },
    lease: nextLease,
  });

  if (actor.kind === 'viewer' && action !== 'take' && control.holder !== actor.sessionId) {
    throw new ApiError('not_holder', 'this session does not hold control', 'sessionId');
  }
  if (actor.kind === 'vm' && action === 'take') {
    throw new ApiError('forbidden', 'the VM cannot take control from itself');
  }

  switch (action) {
    case 'take': {
      if (actor.kind === 'viewer') {
        if (control.holder === actor.sessionId && control.mode === 'user') return cur;
        const sameViewer = lease !== null && lease.owner === actor.owner;
        if (control.holder !== null && control.holder !== actor.sessionId && !sameViewer) {
          throw new ApiError('control_held', 'another session holds control');
        }
        return next(
          { mode: 'user', holder: actor.sessionId },
          { sessionId: actor.sessionId, owner: actor.owner, aliveAt: now },
        );
      }
      // The operator outranks viewers: its take replaces any holder.
      const target = actor.kind === 'operator' ? actor.session : undefined;
      const holder = target?.sessionId ?? OPERATOR_HOLDER;
      if (control.mode === 'user' && control.holder === holder) return cur;
      return next(
        { mode: 'user', holder },
        target ? { sessionId: target.sessionId, owner: target.owner, aliveAt: now } : null,
      );
    }
    case 'release':
      if (control.mode === 'agent' && control.holder === null) return cur;
      return next({ mode: 'agent', holder: null }, null);
    case 'pause':
      if (control.mode === 'paused') return cur;
      return next({ mode: 'paused', holder: control.holder }, lease);
    case 'resume':
      if (control.mode !== 'paused') return cur;
      return next({ mode: control.holder === null ? 'agent' : 'user', holder: control.holder }, lease);
  }
}
