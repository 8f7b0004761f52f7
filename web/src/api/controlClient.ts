/**
 * Who drives the VM: long-polls GET /api/vms/:vmId/control (with `since` =
 * the last state's `since`, so the controller answers as soon as it changes)
 * and posts take/release/pause/resume.
 */
import type { ControlAction, ControlState } from '@vmlive/protocol';
import { ApiError, type FetchLike, HttpClient, isAbortError } from './http.js';
import { ControlStateSchema, parseResponse } from './responses.js';

export interface ControlClientOptions {
  baseUrl: string;
  token: string;
  vmId: string;
  fetch?: FetchLike;
  waitSeconds?: number;
  retryDelayMs?: number;
}

export class ControlClient {
  private readonly http: HttpClient;
  private readonly path: string;
  private readonly waitSeconds: number;
  private readonly retryDelayMs: number;

  constructor(options: ControlClientOptions) {
    this.http = new HttpClient(options);
    this.path = `/api/vms/${encodeURIComponent(options.vmId)}/control`;
    this.waitSeconds = options.waitSeconds ?? 25;
    this.retryDelayMs = options.retryDelayMs ?? 2000;
  }

  async get(since: number, wait: number, signal?: AbortSignal): Promise<ControlState> {
    const body = await this.http.json<unknown>(`${this.path}?since=${since}&wait=${wait}`, { signal });
    return parseResponse(ControlStateSchema, body, 'control state');
  }

  async act(action: ControlAction, sessionId: string): Promise<ControlState> {
    const body = await this.http.json<unknown>(this.path, { method: 'POST', body: { action, sessionId } });
    return parseResponse(ControlStateSchema, body, 'control state');
  }

  /**
   * Calls `onState` with the current state and every change until `signal`
   * aborts. Stops for good on 401/403/404 (reported through `onError`);
   * retries transient failures.
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
        else if (Date.now() - askedAt < 500) await new Promise((resolve) => setTimeout(resolve, 1000));
      } catch (err) {
        if (signal.aborted || isAbortError(err)) return;
        onError?.(err);
        if (err instanceof ApiError && [401, 403, 404].includes(err.status)) return;
        await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs));
      }
    }
  }
}

export type HolderKind = 'agent' | 'you' | 'operator' | 'other-viewer' | 'paused';

export function describeHolder(state: ControlState, mySessionId: string | null): { kind: HolderKind; text: string } {
  if (state.mode === 'paused') return { kind: 'paused', text: 'Agent paused by the operator' };
  if (state.mode === 'agent') return { kind: 'agent', text: 'The agent is in control' };
  if (state.holder !== null && state.holder === mySessionId) return { kind: 'you', text: 'You are in control' };
  if (state.holder === 'operator') return { kind: 'operator', text: 'The operator is in control' };
  return { kind: 'other-viewer', text: 'Another viewer is in control' };
}
