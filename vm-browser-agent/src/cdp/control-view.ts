/**
 * The VM's control state as the CDP gateway sees it: who drives the browser
 * now (the automation in mode `agent`, a person in `user`, nobody in `paused`).
 * The VM agent learns it from the controller (VmSessionsResponse.control) and
 * feeds a ControlCell; the gateway only reads and subscribes.
 */
import type { ControlState } from '@vmlive/protocol';

export interface ControlView {
  get(): ControlState;
  /** Called after every change; returns the unsubscribe function. */
  subscribe(listener: (state: ControlState) => void): () => void;
}

/** A ControlView holding the latest state; stale updates (older `since`) are ignored. */
export class ControlCell implements ControlView {
  private state: ControlState;
  private readonly listeners = new Set<(state: ControlState) => void>();

  constructor(initial: ControlState = { mode: 'agent', holder: null, since: 0 }) {
    this.state = Object.freeze({ ...initial });
  }

  get(): ControlState {
    return this.state;
  }

  /** Returns true when the state changed (and listeners were called). */
  set(next: ControlState): boolean {
    const cur = this.state;
    if (next.since < cur.since) return false;
    if (next.mode === cur.mode && next.holder === cur.holder && next.since === cur.since) return false;
    this.state = Object.freeze({ ...next });
    for (const l of [...this.listeners]) l(this.state);
    return true;
  }

  subscribe(listener: (state: ControlState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
