/**
 * The `Vmlive` CDP domain, answered by the gateway itself (never forwarded to
 * Chromium, never held), so an automation can see who has control:
 *
 *   Vmlive.getControl → {mode, holder, since}
 *   Vmlive.enable     → {mode, holder, since}; then the event
 *                       Vmlive.controlChanged {mode, holder, since} at every change,
 *                       on the session that enabled it (sessionId kept)
 *   Vmlive.disable    → {}; no more events for that session
 *
 * One instance per automation connection; sessions are keyed by sessionId
 * (the root session has none).
 */
import type { ControlState } from '@vmlive/protocol';
import { CDP_ERROR, type Command, errorFrame, eventFrame, resultFrame } from './cdp-message.js';

export const VMLIVE_EVENT = 'Vmlive.controlChanged';
/** Flattened sessions a connection can enable the domain on; bounds memory against a misbehaving client. */
const MAX_ENABLED_SESSIONS = 1024;
const ROOT = '';

export class VmliveDomain {
  private readonly enabled = new Set<string>();

  /** The reply frame for a `Vmlive.*` command. */
  handle(cmd: Command, state: ControlState): string {
    const { id, sessionId } = cmd;
    const view = { mode: state.mode, holder: state.holder, since: state.since };
    switch (cmd.method) {
      case 'Vmlive.getControl':
        return resultFrame(id, sessionId, view);
      case 'Vmlive.enable':
        if (this.enabled.size >= MAX_ENABLED_SESSIONS && !this.enabled.has(sessionId ?? ROOT)) {
          return errorFrame(id, sessionId, CDP_ERROR.serverError, `vmlive: at most ${MAX_ENABLED_SESSIONS} sessions`);
        }
        this.enabled.add(sessionId ?? ROOT);
        return resultFrame(id, sessionId, view);
      case 'Vmlive.disable':
        this.enabled.delete(sessionId ?? ROOT);
        return resultFrame(id, sessionId, {});
      default:
        return errorFrame(id, sessionId, CDP_ERROR.methodNotFound, `'${cmd.method}' wasn't found`);
    }
  }

  /** The event frames to send for a change: one per session that enabled the domain. */
  changed(state: ControlState): string[] {
    const params = { mode: state.mode, holder: state.holder, since: state.since };
    return [...this.enabled].map((s) => eventFrame(VMLIVE_EVENT, params, s === ROOT ? undefined : s));
  }
}
