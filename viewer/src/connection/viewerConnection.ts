/**
 * One viewer's connection to one VM, with reconnects: the state machine
 * (viewerState.ts) driven by a sequence of attempts (attempt.ts: signaling and
 * the RTCPeerConnection of one try). A lost attempt is torn down and a new one
 * starts after the reconnect policy's delay; errors are classified by
 * classifyError.ts into retry, fail or end.
 *
 * Inject `RTCPeerConnection`, `fetch` and the reconnect policy for tests.
 */
import { ApiClient, type FetchLike, type IceTransportPolicy, type InputFeedback } from '@vmlive/protocol';
import { SignalingClient } from '../api/signalingClient.js';
import { isTokenExpired } from '../api/tokenClaims.js';
import { Attempt, type AttemptOptions, type IceRestartEvent, type PeerConnectionConstructor } from './attempt.js';
import { classifyError } from './classifyError.js';
import type { FrameWatchdogOptions } from './frameWatchdog.js';
import type { PresentedFrame } from './glassToGlass.js';
import { exponentialBackoff, type ReconnectPolicy } from './reconnectPolicy.js';
import type { StreamStats } from './streamStats.js';
import {
  describeReason,
  initialViewerState,
  transition,
  type ViewerEvent,
  type ViewerReason,
  type ViewerState,
} from './viewerState.js';

export interface ViewerConnectionOptions {
  baseUrl: string;
  vmId: string;
  token: string;
  /** `relay`: ask for relay-only sessions (TURN only on both sides; needs a TURN server at the controller). */
  iceTransportPolicy?: IceTransportPolicy;
  fetch?: FetchLike;
  RTCPeerConnection?: PeerConnectionConstructor;
  policy?: ReconnectPolicy;
  /** Give up on an attempt whose answer has not arrived after this long. */
  answerTimeoutMs?: number;
  /** Give up on an attempt whose ICE has not connected this long after the answer. */
  iceTimeoutMs?: number;
  /**
   * How long `disconnected` may last before ICE is restarted (or, with iceRestart off, we
   * reconnect); ICE may recover by itself. Default 2 s: Chromium reports `disconnected` after
   * 2.5 s without a packet, and the VM gives a silent viewer up 5 s after it restarted (VMLIVE_PEER_SILENCE_MS).
   */
  disconnectGraceMs?: number;
  /** Restart ICE on the same session when the path goes away, before a full reconnect (default true). */
  iceRestart?: boolean;
  /** A restart that has not brought frames back after this long falls back to a full reconnect (default 5 s). */
  iceRestartTimeoutMs?: number;
  statsIntervalMs?: number;
  watchdog?: FrameWatchdogOptions;
  /** Long-poll seconds asked of the controller. */
  waitSeconds?: number;
  now?: () => number;
}

export interface ViewerConnectionEvents {
  state: ViewerState;
  stream: MediaStream | null;
  channel: RTCDataChannel | null;
  stats: StreamStats;
  feedback: InputFeedback;
  session: string | null;
  /** An ICE restart on the current session started or brought frames back. */
  iceRestart: IceRestartEvent;
}

type Listener<T> = (value: T) => void;

export class ViewerConnection {
  readonly vmId: string;
  private readonly token: string;
  private readonly attemptOptions: AttemptOptions;
  private readonly policy: ReconnectPolicy;
  private readonly now: () => number;
  private readonly listeners: { [K in keyof ViewerConnectionEvents]: Set<Listener<ViewerConnectionEvents[K]>> } = {
    state: new Set(),
    stream: new Set(),
    channel: new Set(),
    stats: new Set(),
    feedback: new Set(),
    session: new Set(),
    iceRestart: new Set(),
  };
  private current: Attempt | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private everConnected = false;
  private _state: ViewerState;

  constructor(options: ViewerConnectionOptions) {
    this.vmId = options.vmId;
    this.token = options.token;
    const PC = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (!PC) throw new Error('RTCPeerConnection is not available in this environment');
    this.now = options.now ?? Date.now;
    const api = new ApiClient({ baseUrl: options.baseUrl, token: options.token, fetch: options.fetch });
    this.attemptOptions = {
      vmId: options.vmId,
      iceTransportPolicy: options.iceTransportPolicy,
      signaling: new SignalingClient(api, { waitSeconds: options.waitSeconds }),
      PC,
      answerTimeoutMs: options.answerTimeoutMs ?? 15_000,
      iceTimeoutMs: options.iceTimeoutMs ?? 15_000,
      disconnectGraceMs: options.disconnectGraceMs ?? 2_000,
      iceRestart: options.iceRestart ?? true,
      iceRestartTimeoutMs: options.iceRestartTimeoutMs ?? 5_000,
      statsIntervalMs: options.statsIntervalMs ?? 1_000,
      watchdog: options.watchdog,
      now: this.now,
    };
    this.policy = options.policy ?? exponentialBackoff();
    this._state = initialViewerState(this.now());
  }

  get state(): ViewerState {
    return this._state;
  }

  get sessionId(): string | null {
    return this.current?.sessionId ?? null;
  }

  get stream(): MediaStream | null {
    return this.current?.stream ?? null;
  }

  get channel(): RTCDataChannel | null {
    return this.current?.channel ?? null;
  }

  get lastStats(): StreamStats | null {
    return this.current?.lastStats ?? null;
  }

  /** The video element presented a frame of the current stream (feeds the glass-to-glass meter). */
  framePresented(frame: PresentedFrame): void {
    this.current?.framePresented(frame);
  }

  on<K extends keyof ViewerConnectionEvents>(event: K, listener: Listener<ViewerConnectionEvents[K]>): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  private emit<K extends keyof ViewerConnectionEvents>(event: K, value: ViewerConnectionEvents[K]): void {
    for (const listener of this.listeners[event]) listener(value);
  }

  private dispatch(event: ViewerEvent): void {
    const next = transition(this._state, event, this.now());
    if (next === this._state) return;
    this._state = next;
    this.emit('state', next);
  }

  start(): void {
    if (this._state.phase !== 'idle') return;
    this.dispatch({ type: 'start' });
    this.beginAttempt();
  }

  /** Drops whatever is in progress and tries again at once (the "Retry live" button). */
  retryNow(): void {
    if (this._state.phase === 'ended' || this._state.phase === 'connected') return;
    this.clearRetryTimer();
    this.endCurrent();
    this.dispatch({ type: 'retry' });
    this.beginAttempt();
  }

  close(): void {
    if (this._state.phase === 'ended') return;
    this.clearRetryTimer();
    this.endCurrent();
    this.dispatch({ type: 'close' });
  }

  /** The raw RTCStatsReport of the current peer connection (for debug hooks). */
  async getRawStats(): Promise<RTCStatsReport | null> {
    return this.current ? this.current.getRawStats() : null;
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private endCurrent(): void {
    const attempt = this.current;
    this.current = null;
    attempt?.close();
  }

  private beginAttempt(): void {
    if (isTokenExpired(this.token, this.now())) {
      this.dispatch({ type: 'fatal', reason: { code: 'token-expired' } });
      return;
    }
    const attempt: Attempt = new Attempt(this.attemptOptions, {
      session: (id) => this.emit('session', id),
      stream: (stream) => this.emit('stream', stream),
      channel: (channel) => this.emit('channel', channel),
      stats: (stats) => this.emit('stats', stats),
      feedback: (feedback) => this.emit('feedback', feedback),
      connected: () => {
        this.everConnected = true;
        this.dispatch({ type: 'connected' });
      },
      iceRestart: (event) => this.emit('iceRestart', event),
      lost: (reason) => this.lose(reason),
      failed: (err) => this.fail(err),
    });
    this.current = attempt;
    attempt.start();
  }

  /** Maps an error from the current attempt to a retry, a fatal state or the end. */
  private fail(err: unknown): void {
    const verdict = classifyError(err, { everConnected: this.everConnected });
    if (verdict.action === 'retry') {
      this.lose(verdict.reason);
      return;
    }
    this.endCurrent();
    this.dispatch(
      verdict.action === 'fail' ? { type: 'fatal', reason: verdict.reason } : { type: 'close', reason: verdict.reason },
    );
  }

  private lose(reason: ViewerReason): void {
    this.endCurrent();
    const delay = this.policy.delayMs(this._state.attempt + 1);
    if (delay === null) {
      this.dispatch({ type: 'fatal', reason: { code: 'gave-up', detail: describeReason(reason) } });
      return;
    }
    this.dispatch({ type: 'lost', reason });
    this.clearRetryTimer();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this._state.phase === 'reconnecting') this.beginAttempt();
    }, delay);
  }
}
