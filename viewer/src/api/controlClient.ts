/**
 * Who drives the VM: long-polls GET /api/vms/:vmId/control (with `since` =
 * the last state's `since`, so the controller answers as soon as it changes)
 * and posts take/release, over the protocol's ApiClient.
 */
import {
  type ApiClient,
  ApiError,
  type ControlAction,
  type ControlState,
  isAbortError,
  routes,
} from '@vmlive/protocol';
import { sleep } from './signalingClient.js';

export interface ControlClientOptions {
  vmId: string;
  waitSeconds?: number;
  retryDelayMs?: number;
}

/** A watch cannot recover from these: the token is refused or the VM is gone. */
const FINAL_CODES = ['unauthorized', 'token_expired', 'forbidden', 'vm_not_found'] as const;

export class ControlClient {
  private readonly vm: { vmId: string };
  private readonly waitSeconds: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly api: ApiClient,
    options: ControlClientOptions,
  ) {
    this.vm = { vmId: options.vmId };
    this.waitSeconds = options.waitSeconds ?? 25;
    this.retryDelayMs = options.retryDelayMs ?? 2000;
  }

  get(since: number, wait: number, signal?: AbortSignal): Promise<ControlState> {
    return this.api.call(routes.getControl, { params: this.vm, query: { since, wait }, signal });
  }

  /** A control viewer acts through its own session (the controller checks it is this token's). */
  act(action: ControlAction, sessionId: string): Promise<ControlState> {
    return this.api.call(routes.postControl, { params: this.vm, body: { action, sessionId } });
  }

  /**
   * Calls `onState` with the current state and every change until `signal`
   * aborts. Stops for good when the token is refused or the VM is gone
   * (reported through `onError`); retries other failures.
   */
  async watch(
    onState: (state: ControlState) => void,
    signal: AbortSignal,
    onError?: (err: unknown) => void,
  ): Promise<void> {
    let since = 0;
    let first = true;
    while (!signal.aborted) {
      try {
        const askedAt = Date.now();
        const state = await this.get(since, first ? 0 : this.waitSeconds, signal);
        if (signal.aborted) return;
        const changed = first || state.since !== since;
        first = false;
        since = state.since;
        if (changed) onState(state);
        // Never spin: if the controller answered at once with nothing new, wait before asking again.
        else if (Date.now() - askedAt < 500) await sleep(1000, signal);
      } catch (err) {
        if (signal.aborted || isAbortError(err)) return;
        onError?.(err);
        if (err instanceof ApiError && err.is(...FINAL_CODES)) return;
        // Rejects only when `signal` aborts, which ends the loop.
        await sleep(this.retryDelayMs, signal).catch(() => {});
      }
    }
  }
}

export type HolderKind = 'agent' | 'you' | 'operator' | 'other-viewer' | 'paused';

export function describeHolder(state: ControlState, mySessionId: string | null): { kind: HolderKind; text: string } {
  if (state.mode === 'paused') return { kind: 'paused', text: 'The automation is paused by the operator' };
  if (state.mode === 'agent') return { kind: 'agent', text: 'The automation is in control' };
  if (state.holder !== null && state.holder === mySessionId) return { kind: 'you', text: 'You are in control' };
  if (state.holder === 'operator') return { kind: 'operator', text: 'The operator is in control' };
  return { kind: 'other-viewer', text: 'Another viewer is in control' };
}
