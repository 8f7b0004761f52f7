/**
 * One viewer's connection to one VM: REST signaling plus the
 * RTCPeerConnection lifecycle, with reconnects. The browser is the offerer
 * (recvonly video + the `input` data channel, max-bundle); the VM's
 * GStreamer webrtcbin answers. Each try is an `Attempt` with its own
 * AbortController, so a stale attempt can never touch the current one.
 *
 * Inject `RTCPeerConnection`, `fetch` and the reconnect policy for tests.
 */
import { INPUT_CHANNEL_LABEL, type InputFeedback, type StoredCandidate } from '@vmlive/protocol';
import { ApiError, type FetchLike, NetworkError } from '../api/http.js';
import { InvalidResponseError } from '../api/responses.js';
import { type BrowserCandidate, SignalingClient } from '../api/signalingClient.js';
import { isTokenExpired } from '../api/tokenClaims.js';
import { FrameWatchdog, type FrameWatchdogOptions } from './frameWatchdog.js';
import { exponentialBackoff, type ReconnectPolicy } from './reconnectPolicy.js';
import { type StreamStats, summarizeStats } from './streamStats.js';
import {
  describeReason,
  initialViewerState,
  transition,
  type ViewerEvent,
  type ViewerReason,
  type ViewerState,
} from './viewerState.js';

export type PeerConnectionConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;

export interface ViewerConnectionOptions {
  baseUrl: string;
  vmId: string;
  token: string;
  fetch?: FetchLike;
  RTCPeerConnection?: PeerConnectionConstructor;
  policy?: ReconnectPolicy;
  /** Give up on an attempt whose answer has not arrived after this long. */
  answerTimeoutMs?: number;
  /** Give up on an attempt whose ICE has not connected this long after the answer. */
  iceTimeoutMs?: number;
  /** How long `disconnected` may last before we reconnect (ICE may recover by itself). */
  disconnectGraceMs?: number;
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
}

type Listener<T> = (value: T) => void;

class AnswerTimeout extends Error {
  override readonly name = 'AnswerTimeout';
}

interface Attempt {
  readonly abort: AbortController;
  sessionId: string | null;
  pc: RTCPeerConnection | null;
  channel: RTCDataChannel | null;
  remoteDescriptionSet: boolean;
  /** VM candidates that arrived before the answer was applied (they must not be dropped). */
  pendingRemote: StoredCandidate[];
  /** Local candidates are posted in order, only after the offer. */
  localChain: Promise<void>;
  releaseLocal: () => void;
  timers: Set<ReturnType<typeof setTimeout>>;
  statsTimer: ReturnType<typeof setInterval> | null;
  lastStats: StreamStats | null;
  connected: boolean;
  disconnectTimer?: ReturnType<typeof setTimeout>;
}

function isFeedback(value: unknown): value is InputFeedback {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { t?: unknown; granted?: unknown };
  return (v.t === 'control' && typeof v.granted === 'boolean') || v.t === 'rejected';
}

export class ViewerConnection {
  readonly vmId: string;
  private readonly signaling: SignalingClient;
  private readonly token: string;
  private readonly PC: PeerConnectionConstructor;
  private readonly policy: ReconnectPolicy;
  private readonly answerTimeoutMs: number;
  private readonly iceTimeoutMs: number;
  private readonly disconnectGraceMs: number;
  private readonly statsIntervalMs: number;
  private readonly watchdog: FrameWatchdog;
  private readonly now: () => number;
  private readonly listeners: { [K in keyof ViewerConnectionEvents]: Set<Listener<ViewerConnectionEvents[K]>> } = {
    state: new Set(),
    stream: new Set(),
    channel: new Set(),
    stats: new Set(),
    feedback: new Set(),
    session: new Set(),
  };
  private current: Attempt | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private everConnected = false;
  private _state: ViewerState;
  private _stream: MediaStream | null = null;

  constructor(options: ViewerConnectionOptions) {
    this.vmId = options.vmId;
    this.token = options.token;
    this.signaling = new SignalingClient({
      baseUrl: options.baseUrl,
      token: options.token,
      fetch: options.fetch,
      waitSeconds: options.waitSeconds,
    });
    const PC = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (!PC) throw new Error('RTCPeerConnection is not available in this environment');
    this.PC = PC;
    this.policy = options.policy ?? exponentialBackoff();
    this.answerTimeoutMs = options.answerTimeoutMs ?? 15_000;
    this.iceTimeoutMs = options.iceTimeoutMs ?? 15_000;
    this.disconnectGraceMs = options.disconnectGraceMs ?? 3_000;
    this.statsIntervalMs = options.statsIntervalMs ?? 1_000;
    this.watchdog = new FrameWatchdog(options.watchdog);
    this.now = options.now ?? Date.now;
    this._state = initialViewerState(this.now());
  }

  get state(): ViewerState {
    return this._state;
  }

  get sessionId(): string | null {
    return this.current?.sessionId ?? null;
  }

  get stream(): MediaStream | null {
    return this._stream;
  }

  get channel(): RTCDataChannel | null {
    return this.current?.channel ?? null;
  }

  get lastStats(): StreamStats | null {
    return this.current?.lastStats ?? null;
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
    if (this.current) this.teardown(this.current);
    this.dispatch({ type: 'retry' });
    this.beginAttempt();
  }

  close(): void {
    if (this._state.phase === 'ended') return;
    this.clearRetryTimer();
    if (this.current) this.teardown(this.current);
    this.dispatch({ type: 'close' });
  }

  /** The raw RTCStatsReport of the current peer connection (for debug hooks). */
  async getRawStats(): Promise<RTCStatsReport | null> {
    const pc = this.current?.pc;
    return pc ? pc.getStats() : null;
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private beginAttempt(): void {
    if (isTokenExpired(this.token, this.now())) {
      this.dispatch({ type: 'fatal', reason: { code: 'token-expired' } });
      return;
    }
    let releaseLocal = () => {};
    const gate = new Promise<void>((resolve) => {
      releaseLocal = resolve;
    });
    const attempt: Attempt = {
      abort: new AbortController(),
      sessionId: null,
      pc: null,
      channel: null,
      remoteDescriptionSet: false,
      pendingRemote: [],
      localChain: gate,
      releaseLocal,
      timers: new Set(),
      statsTimer: null,
      lastStats: null,
      connected: false,
    };
    this.current = attempt;
    void this.runAttempt(attempt).catch((err: unknown) => this.fail(attempt, err));
  }

  private async runAttempt(attempt: Attempt): Promise<void> {
    const { signal } = attempt.abort;
    let session: Awaited<ReturnType<SignalingClient['createSession']>>;
    try {
      session = await this.signaling.createSession(this.vmId, signal);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // The VM id is unknown: before we ever connected it was never there; after, it was deleted.
        const reason: ViewerReason = { code: 'vm-not-found' };
        this.dispatch(this.everConnected ? { type: 'close', reason } : { type: 'fatal', reason });
        this.teardown(attempt);
        return;
      }
      throw err;
    }
    if (signal.aborted) {
      void this.signaling.deleteSession(session.sessionId).catch(() => {});
      return;
    }
    attempt.sessionId = session.sessionId;
    this.emit('session', session.sessionId);
    if (session.vmOnline === false) {
      // No agent is polling: no answer will come. Say so now and retry with backoff
      // rather than spending the answer timeout on a silent "connecting".
      this.lose(attempt, { code: 'vm-offline' });
      return;
    }

    const pc = new this.PC({ iceServers: session.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    attempt.pc = pc;
    this.wirePeerConnection(attempt, pc);
    pc.addTransceiver('video', { direction: 'recvonly' });
    const channel = pc.createDataChannel(INPUT_CHANNEL_LABEL, { ordered: true });
    attempt.channel = channel;
    this.wireChannel(attempt, channel);

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (signal.aborted) return;
    const sdp = pc.localDescription?.sdp ?? offer.sdp;
    if (!sdp) throw new Error('createOffer produced no SDP');
    await this.signaling.postOffer(session.sessionId, sdp, signal);
    attempt.releaseLocal();

    void this.signaling
      .pollVmCandidates(session.sessionId, (c) => this.onRemoteCandidate(attempt, c), signal)
      .catch((err: unknown) => this.fail(attempt, err));

    const answer = await this.withTimeout(attempt, this.signaling.waitForAnswer(session.sessionId, signal));
    if (signal.aborted) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    attempt.remoteDescriptionSet = true;
    const queued = attempt.pendingRemote.splice(0);
    for (const c of queued) await this.addRemoteCandidate(pc, c);
    if (!attempt.connected) {
      this.setAttemptTimer(attempt, this.iceTimeoutMs, () => {
        if (!attempt.connected) this.lose(attempt, { code: 'ice-timeout' });
      });
    }
  }

  private withTimeout<T>(attempt: Attempt, promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.setAttemptTimer(attempt, this.answerTimeoutMs, () => reject(new AnswerTimeout()));
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  private setAttemptTimer(attempt: Attempt, ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      attempt.timers.delete(timer);
      if (this.current === attempt) fn();
    }, ms);
    attempt.timers.add(timer);
    return timer;
  }

  private wirePeerConnection(attempt: Attempt, pc: RTCPeerConnection): void {
    pc.onicecandidate = (event) => {
      // A null candidate means gathering finished: send end-of-candidates (RFC 8838 §8.2).
      const c = event.candidate;
      const body: BrowserCandidate = c
        ? { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0, sdpMid: c.sdpMid ?? null }
        : { candidate: '', sdpMLineIndex: 0, sdpMid: null };
      if (c && !c.candidate) return; // Chromium's own empty end-of-candidates event; the null one follows
      attempt.localChain = attempt.localChain.then(async () => {
        const id = attempt.sessionId;
        if (!id || attempt.abort.signal.aborted) return;
        try {
          await this.signaling.postCandidate(id, body, attempt.abort.signal);
        } catch {
          // A lost candidate only narrows ICE; a dead session is reported by the candidate poll.
        }
      });
    };
    pc.ontrack = (event) => {
      // Ask for the smallest jitter buffer where supported; the VM also sends the
      // playout-delay header extension (min=max=0), which is what really caps it.
      const receiver: { playoutDelayHint?: number; jitterBufferTarget?: number | null } = event.receiver;
      try {
        if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
        if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
      } catch {
        // Not supported: the extension still applies.
      }
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      this._stream = stream;
      this.emit('stream', stream);
    };
    pc.onconnectionstatechange = () => {
      if (this.current !== attempt) return;
      switch (pc.connectionState) {
        case 'connected':
          this.clearDisconnectTimer(attempt);
          if (!attempt.connected) {
            attempt.connected = true;
            this.everConnected = true;
            this.watchdog.reset(this.now());
            this.dispatch({ type: 'connected' });
          }
          break;
        case 'disconnected':
          // ICE may come back on its own (W3C webrtc-pc §4.3.3: "disconnected" is transient).
          if (!attempt.disconnectTimer) {
            attempt.disconnectTimer = this.setAttemptTimer(attempt, this.disconnectGraceMs, () => {
              attempt.disconnectTimer = undefined;
              if (pc.connectionState !== 'connected') this.lose(attempt, { code: 'ice-disconnected' });
            });
          }
          break;
        case 'failed':
          this.lose(attempt, { code: 'ice-failed' });
          break;
        default:
          break;
      }
    };
    attempt.statsTimer = setInterval(() => void this.sampleStats(attempt, pc), this.statsIntervalMs);
  }

  private clearDisconnectTimer(attempt: Attempt): void {
    if (attempt.disconnectTimer) {
      clearTimeout(attempt.disconnectTimer);
      attempt.timers.delete(attempt.disconnectTimer);
      attempt.disconnectTimer = undefined;
    }
  }

  private wireChannel(attempt: Attempt, channel: RTCDataChannel): void {
    channel.onopen = () => {
      if (this.current === attempt) this.emit('channel', channel);
    };
    channel.onclose = () => {
      if (this.current === attempt) this.emit('channel', null);
    };
    channel.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        return;
      }
      if (isFeedback(parsed)) this.emit('feedback', parsed);
    };
  }

  private async sampleStats(attempt: Attempt, pc: RTCPeerConnection): Promise<void> {
    if (this.current !== attempt) return;
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    if (this.current !== attempt) return;
    const stats = summarizeStats(report, attempt.lastStats);
    if (stats) {
      attempt.lastStats = stats;
      this.emit('stats', stats);
    }
    if (this._state.phase === 'connected' && attempt.connected) {
      const verdict = this.watchdog.sample(stats?.framesDecoded ?? 0, this.now());
      if (verdict !== 'ok') this.lose(attempt, { code: verdict });
    }
  }

  private onRemoteCandidate(attempt: Attempt, candidate: StoredCandidate): void {
    if (this.current !== attempt || !attempt.pc) return;
    if (!attempt.remoteDescriptionSet) {
      attempt.pendingRemote.push(candidate);
      return;
    }
    void this.addRemoteCandidate(attempt.pc, candidate);
  }

  private async addRemoteCandidate(pc: RTCPeerConnection, c: StoredCandidate): Promise<void> {
    try {
      // An empty candidate string is end-of-candidates (W3C webrtc-pc §4.4.1.5 addIceCandidate).
      await pc.addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid });
    } catch {
      // One bad candidate must not end the attempt; ICE uses the others.
    }
  }

  /** Maps an error from an attempt to a recoverable loss or a fatal state. */
  private fail(attempt: Attempt, err: unknown): void {
    if (this.current !== attempt || attempt.abort.signal.aborted) return;
    const classified = classifyError(err);
    if (classified.fatal) {
      this.teardown(attempt);
      this.dispatch({ type: 'fatal', reason: classified.reason });
      return;
    }
    this.lose(attempt, classified.reason);
  }

  private lose(attempt: Attempt, reason: ViewerReason): void {
    if (this.current !== attempt) return;
    this.teardown(attempt);
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

  private teardown(attempt: Attempt): void {
    if (this.current === attempt) this.current = null;
    attempt.abort.abort();
    for (const timer of attempt.timers) clearTimeout(timer);
    attempt.timers.clear();
    if (attempt.statsTimer !== null) clearInterval(attempt.statsTimer);
    attempt.statsTimer = null;
    if (attempt.channel) {
      attempt.channel.onopen = attempt.channel.onclose = attempt.channel.onmessage = null;
      try {
        attempt.channel.close();
      } catch {
        // already closed
      }
      this.emit('channel', null);
    }
    if (attempt.pc) {
      const pc = attempt.pc;
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
    if (this._stream) {
      this._stream = null;
      this.emit('stream', null);
    }
    if (attempt.sessionId) {
      void this.signaling.deleteSession(attempt.sessionId).catch(() => {});
      this.emit('session', null);
    }
  }
}

export function classifyError(err: unknown): { fatal: boolean; reason: ViewerReason } {
  if (err instanceof AnswerTimeout) return { fatal: false, reason: { code: 'no-answer' } };
  if (err instanceof ApiError) {
    const detail = err.message;
    if (err.status === 401) return { fatal: true, reason: { code: 'token-expired', detail } };
    if (err.status === 403) return { fatal: true, reason: { code: 'forbidden', detail } };
    if (err.status === 404) return { fatal: false, reason: { code: 'session-ended' } };
    if (/offline/i.test(err.code)) return { fatal: false, reason: { code: 'vm-offline' } };
    return { fatal: false, reason: { code: 'signaling-error', detail } };
  }
  if (err instanceof NetworkError || err instanceof InvalidResponseError) {
    return { fatal: false, reason: { code: 'signaling-error', detail: err.message } };
  }
  return {
    fatal: false,
    reason: { code: 'signaling-error', detail: err instanceof Error ? err.message : String(err) },
  };
}
