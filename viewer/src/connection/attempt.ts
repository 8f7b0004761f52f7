/**
 * One try at a live connection: a signaling session plus one
 * RTCPeerConnection. The browser is the offerer (recvonly video + the ordered
 * `input` data channel, max-bundle); the VM's GStreamer webrtcbin answers.
 * Each attempt has its own AbortController, and after `close()` it reports
 * nothing more, so a stale attempt can never touch the current one. What it
 * reports goes to its owner (viewerConnection.ts), which decides what a loss
 * or an error means.
 */
import {
  ApiError,
  type IceTransportPolicy,
  INPUT_CHANNEL_LABEL,
  InputFeedback,
  type StoredCandidate,
} from '@vmlive/protocol';
import type { BrowserCandidate, SignalingClient } from '../api/signalingClient.js';
import { AnswerTimeout } from './classifyError.js';
import { FrameWatchdog, type FrameWatchdogOptions } from './frameWatchdog.js';
import { GlassToGlassMeter, negotiateCaptureTime, type PresentedFrame } from './glassToGlass.js';
import { RelayReach } from './relayReach.js';
import { type StreamStats, summarizeStats } from './streamStats.js';
import type { ViewerReason } from './viewerState.js';

export type PeerConnectionConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;

/** `started`: the restart offer is on its way, because of `cause`; `done`: frames flow again on the same session. */
export interface IceRestartEvent {
  phase: 'started' | 'done';
  cause: ViewerReason['code'];
  /** 1 for the attempt's first restart. */
  restart: number;
}

/** What may end a connected attempt that an ICE restart can repair: its path went away. */
const RESTARTABLE = new Set<ViewerReason['code']>(['ice-disconnected', 'ice-failed', 'frames-stopped']);

export interface AttemptOptions {
  vmId: string;
  /** Asked of the controller for each session; the session's answer is what the peer connection uses. */
  iceTransportPolicy?: IceTransportPolicy;
  signaling: SignalingClient;
  PC: PeerConnectionConstructor;
  /** Give up when the answer has not arrived after this long. */
  answerTimeoutMs: number;
  /** Give up when ICE has not connected this long after the answer. */
  iceTimeoutMs: number;
  /** How long `disconnected` may last before ICE is restarted, or without iceRestart the attempt lost (ICE may recover by itself). */
  disconnectGraceMs: number;
  /**
   * Restart ICE on the same session when a connected attempt loses its path (ICE `disconnected`
   * past the grace, `failed`, or frames stopping) before giving it up for a new session.
   */
  iceRestart: boolean;
  /** A restart that has not brought frames back after this long gives the attempt up (a full reconnect). */
  iceRestartTimeoutMs: number;
  statsIntervalMs: number;
  watchdog?: FrameWatchdogOptions;
  now: () => number;
}

/** What an attempt tells its owner; never called after `close()`. */
export interface AttemptEvents {
  session(sessionId: string | null): void;
  stream(stream: MediaStream | null): void;
  channel(channel: RTCDataChannel | null): void;
  stats(stats: StreamStats): void;
  feedback(feedback: InputFeedback): void;
  /** ICE and DTLS are up (once per attempt). */
  connected(): void;
  /** An ICE restart on this attempt's session began (with what made it), or brought frames back. */
  iceRestart(event: IceRestartEvent): void;
  /** A recoverable loss (ICE failed, frames stopped, VM offline…). */
  lost(reason: ViewerReason): void;
  /** Signaling or WebRTC threw; the owner classifies it. */
  failed(err: unknown): void;
}

export class Attempt {
  private readonly abort = new AbortController();
  private _sessionId: string | null = null;
  private _stream: MediaStream | null = null;
  private pc: RTCPeerConnection | null = null;
  /** Glass-to-glass of presented frames (set when the VM was asked for capture times). */
  private meter: GlassToGlassMeter | null = null;
  private _channel: RTCDataChannel | null = null;
  private remoteDescriptionSet = false;
  /** VM candidates that arrived before the answer was applied (they must not be dropped). */
  private readonly pendingRemote: StoredCandidate[] = [];
  /** Local candidates are posted in order, only after the offer. */
  private localChain: Promise<void>;
  private releaseLocal: () => void = () => {};
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private disconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly watchdog: FrameWatchdog;
  private _lastStats: StreamStats | null = null;
  private connected = false;
  private relay = new RelayReach([]);
  /** The ICE restart in progress: why, the frames decoded when it began, whether its answer is applied. */
  private restarting: { cause: ViewerReason; frames: number; answered: boolean } | null = null;
  private restarts = 0;
  /** The session's candidate generation this peer connection is on (0 until the first restart). */
  private generation = 0;
  /** Stops the current long-poll of the VM's candidates (an ICE restart starts a new one). */
  private candidatePoll: AbortController | null = null;

  constructor(
    private readonly opts: AttemptOptions,
    private readonly events: AttemptEvents,
  ) {
    this.localChain = new Promise<void>((resolve) => {
      this.releaseLocal = resolve;
    });
    this.watchdog = new FrameWatchdog(opts.watchdog);
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  get sessionId(): string | null {
    return this._sessionId;
  }

  get stream(): MediaStream | null {
    return this._stream;
  }

  get channel(): RTCDataChannel | null {
    return this._channel;
  }

  get lastStats(): StreamStats | null {
    return this._lastStats;
  }

  /** The raw RTCStatsReport of this attempt's peer connection. */
  async getRawStats(): Promise<RTCStatsReport | null> {
    return this.pc ? this.pc.getStats() : null;
  }

  start(): void {
    void this.run().catch((err: unknown) => this.owner?.failed(err));
  }

  /** Ends the attempt: aborts its requests, closes the peer and deletes its session. */
  close(): void {
    if (this.closed) return;
    this.abort.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.statsTimer = null;
    const channel = this._channel;
    if (channel) {
      channel.onopen = channel.onclose = channel.onmessage = null;
      try {
        channel.close();
      } catch {
        // already closed
      }
      this.events.channel(null);
    }
    const pc = this.pc;
    if (pc) {
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = pc.onicecandidateerror = null;
      pc.close();
    }
    if (this._stream) {
      this._stream = null;
      this.events.stream(null);
    }
    if (this._sessionId) {
      void this.opts.signaling.deleteSession(this._sessionId).catch(() => {});
      this.events.session(null);
    }
  }

  /** The owner, while this attempt is open; a closed attempt tells nobody anything. */
  private get owner(): AttemptEvents | null {
    return this.closed ? null : this.events;
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    const { signaling } = this.opts;
    const session = await signaling.createSession(this.opts.vmId, signal, this.opts.iceTransportPolicy);
    if (signal.aborted) {
      void signaling.deleteSession(session.sessionId).catch(() => {});
      return;
    }
    this._sessionId = session.sessionId;
    this.owner?.session(session.sessionId);
    if (!session.vmOnline) {
      // No agent is polling: no answer will come. Say so now and retry with backoff
      // rather than spending the answer timeout on a silent "connecting".
      this.owner?.lost({ code: 'vm-offline' });
      return;
    }

    this.relay = new RelayReach(session.iceServers);
    const pc = new this.opts.PC({
      iceServers: session.iceServers,
      iceTransportPolicy: session.iceTransportPolicy,
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    this.pc = pc;
    this.wirePeerConnection(pc);
    const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
    if (transceiver && negotiateCaptureTime(transceiver)) this.meter = new GlassToGlassMeter(performance.timeOrigin);
    const channel = pc.createDataChannel(INPUT_CHANNEL_LABEL, { ordered: true });
    this._channel = channel;
    this.wireChannel(channel);

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (signal.aborted) return;
    const sdp = pc.localDescription?.sdp ?? offer.sdp;
    if (!sdp) throw new Error('createOffer produced no SDP');
    await signaling.postOffer(session.sessionId, sdp, signal);
    this.releaseLocal();

    this.pollCandidates(session.sessionId);

    const answer = await this.withAnswerTimeout(signaling.waitForAnswer(session.sessionId, signal));
    if (signal.aborted) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    this.remoteDescriptionSet = true;
    for (const c of this.pendingRemote.splice(0)) await this.addRemoteCandidate(pc, c);
    if (!this.connected) {
      this.setTimer(this.opts.iceTimeoutMs, () => {
        if (!this.connected) this.owner?.lost(this.relay.lossReason('ice-timeout'));
      });
    }
  }

  /** (Re)starts the long-poll of the VM's candidates, from the start of the current generation. */
  private pollCandidates(sessionId: string): void {
    this.candidatePoll?.abort();
    const poll = new AbortController();
    this.candidatePoll = poll;
    const attempt = this.abort.signal;
    attempt.addEventListener('abort', () => poll.abort(), { once: true });
    void this.opts.signaling
      .pollVmCandidates(sessionId, (c) => this.onRemoteCandidate(c), poll.signal)
      .catch((err: unknown) => {
        if (!poll.signal.aborted) this.candidatePollFailed(err);
      });
  }

  /**
   * The VM ends a session whose ICE failed on its side, often before the
   * viewer's own ICE gives up: when that happens before media ever flowed and
   * the viewer could not allocate on any TURN server, that is the reason to say.
   */
  private candidatePollFailed(err: unknown): void {
    const verdict = this.relay.lossReason('session-ended');
    if (
      !this.connected &&
      err instanceof ApiError &&
      err.is('session_not_found') &&
      verdict.code === 'turn-unreachable'
    )
      this.owner?.lost(verdict);
    else this.owner?.failed(err);
  }

  private withAnswerTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.setTimer(this.opts.answerTimeoutMs, () => reject(new AnswerTimeout()));
      promise.then(
        (value) => {
          this.clearTimer(timer);
          resolve(value);
        },
        (err: unknown) => {
          this.clearTimer(timer);
          reject(err);
        },
      );
    });
  }

  /** A timer that dies with the attempt. */
  private setTimer(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clearTimer(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private wirePeerConnection(pc: RTCPeerConnection): void {
    pc.onicecandidate = (event) => {
      // A null candidate means gathering finished: send end-of-candidates (RFC 8838 §8.2).
      const c = event.candidate;
      if (c && !c.candidate) return; // Chromium's own empty end-of-candidates event; the null one follows
      if (c) this.relay.gathered(c.candidate);
      const body: BrowserCandidate = c
        ? { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0, sdpMid: c.sdpMid ?? null }
        : { candidate: '', sdpMLineIndex: 0, sdpMid: null };
      this.localChain = this.localChain.then(async () => {
        const id = this._sessionId;
        if (!id || this.closed) return;
        try {
          await this.opts.signaling.postCandidate(id, body, this.abort.signal);
        } catch {
          // A lost candidate only narrows ICE; a dead session is reported by the candidate poll.
        }
      });
    };
    pc.onicecandidateerror = (event) => this.relay.error(event.url, event.errorCode);
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
      this.owner?.stream(stream);
    };
    pc.onconnectionstatechange = () => {
      switch (pc.connectionState) {
        case 'connected':
          this.clearDisconnectTimer();
          if (!this.connected) {
            this.connected = true;
            this.watchdog.reset(this.opts.now());
            this.owner?.connected();
          }
          break;
        case 'disconnected':
          // A restart in progress is judged by its own timeout.
          if (this.restarting) break;
          // ICE may come back on its own (W3C webrtc-pc §4.3.3: "disconnected" is transient).
          this.disconnectTimer ??= this.setTimer(this.opts.disconnectGraceMs, () => {
            this.disconnectTimer = undefined;
            if (pc.connectionState !== 'connected') this.recover(this.relay.lossReason('ice-disconnected'));
          });
          break;
        case 'failed':
          if (!this.restarting) this.recover(this.relay.lossReason('ice-failed'));
          break;
        default:
          break;
      }
    };
    this.statsTimer = setInterval(() => void this.sampleStats(pc), this.opts.statsIntervalMs);
  }

  private clearDisconnectTimer(): void {
    if (this.disconnectTimer === undefined) return;
    this.clearTimer(this.disconnectTimer);
    this.disconnectTimer = undefined;
  }

  private wireChannel(channel: RTCDataChannel): void {
    channel.onopen = () => this.owner?.channel(channel);
    channel.onclose = () => this.owner?.channel(null);
    channel.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        return;
      }
      // Validated where it enters, with the one schema the helper's messages follow.
      const feedback = InputFeedback.safeParse(parsed);
      if (feedback.success) this.owner?.feedback(feedback.data);
    };
  }

  /** The video element presented a frame of this attempt's stream (requestVideoFrameCallback). */
  framePresented(frame: PresentedFrame): void {
    const receiver = this.meter && this.pc?.getReceivers?.()[0];
    if (receiver) this.meter?.frame(frame, receiver.getSynchronizationSources());
  }

  private async sampleStats(pc: RTCPeerConnection): Promise<void> {
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    if (this.closed) return;
    const summary = summarizeStats(report, this._lastStats);
    const stats = summary && { ...summary, glassToGlass: this.meter?.summary(performance.now()) ?? null };
    if (stats) {
      this._lastStats = stats;
      this.owner?.stats(stats);
    }
    if (this.connected) {
      const frames = stats?.framesDecoded ?? 0;
      const restarting = this.restarting;
      if (restarting) {
        // Done once the restart's answer is applied and frames move again over a connected path.
        if (restarting.answered && pc.connectionState === 'connected' && frames > restarting.frames) {
          this.restarting = null;
          this.watchdog.reset(this.opts.now());
          this.owner?.iceRestart({ phase: 'done', cause: restarting.cause.code, restart: this.restarts });
        }
        return;
      }
      const verdict = this.watchdog.sample(frames, this.opts.now());
      if (verdict !== 'ok') this.recover({ code: verdict });
    }
  }

  /**
   * A connected attempt lost its path: restart ICE on the same session (RFC 8445 §9; W3C
   * webrtc-pc §4.4.1.6 createOffer with iceRestart) rather than open a new one, so the VM keeps
   * its peer, the session keeps its id and control, and only ICE is negotiated again. Whatever
   * a restart cannot repair, or a restart that brings no frames back within iceRestartTimeoutMs,
   * is a loss as before: the owner reconnects on a new session.
   */
  private recover(cause: ViewerReason): void {
    const pc = this.pc;
    const sessionId = this._sessionId;
    if (!this.opts.iceRestart || !this.connected || !pc || !sessionId || !RESTARTABLE.has(cause.code)) {
      this.owner?.lost(cause);
      return;
    }
    if (this.restarting) return;
    this.clearDisconnectTimer();
    this.restarts += 1;
    this.restarting = { cause, frames: this._lastStats?.framesDecoded ?? 0, answered: false };
    const giveUp = () => {
      if (!this.restarting) return;
      this.restarting = null;
      this.owner?.lost(cause);
    };
    this.setTimer(this.opts.iceRestartTimeoutMs, giveUp);
    this.owner?.iceRestart({ phase: 'started', cause: cause.code, restart: this.restarts });
    void this.restartIce(pc, sessionId).catch(giveUp);
  }

  private async restartIce(pc: RTCPeerConnection, sessionId: string): Promise<void> {
    const { signal } = this.abort;
    const { signaling } = this.opts;
    // The new generation's local candidates wait for the restart offer: storing it drops the
    // session's earlier candidates, and these must come after it.
    let posted: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      posted = resolve;
    });
    this.localChain = this.localChain.then(() => gate);
    this.remoteDescriptionSet = false;
    try {
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      if (signal.aborted) return;
      const sdp = pc.localDescription?.sdp ?? offer.sdp;
      if (!sdp) throw new Error('createOffer produced no SDP');
      const { generation } = await signaling.postIceRestart(sessionId, sdp, signal);
      this.generation = generation;
      // A new long-poll for the VM's new candidates: the one in flight may ride a TCP connection
      // of the path that went away (a changed network takes the viewer's connections with it:
      // measured in e2e/nat.e2e.test.ts, where its reply never arrived). The restart dropped
      // the earlier candidates, so from the start is this generation's.
      this.pollCandidates(sessionId);
    } finally {
      posted();
    }
    const answer = await signaling.waitForAnswer(sessionId, signal);
    if (signal.aborted || !this.restarting) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    this.remoteDescriptionSet = true;
    for (const c of this.pendingRemote.splice(0)) {
      if ((c.generation ?? 0) >= this.generation) await this.addRemoteCandidate(pc, c);
    }
    if (this.restarting) this.restarting.answered = true;
  }

  private onRemoteCandidate(candidate: StoredCandidate): void {
    if (this.closed || !this.pc) return;
    // A candidate of an ICE generation this peer connection has left is stale (its ufrag is gone).
    if ((candidate.generation ?? 0) < this.generation) return;
    if (!this.remoteDescriptionSet) {
      this.pendingRemote.push(candidate);
      return;
    }
    void this.addRemoteCandidate(this.pc, candidate);
  }

  private async addRemoteCandidate(pc: RTCPeerConnection, c: StoredCandidate): Promise<void> {
    try {
      // An empty candidate string is end-of-candidates (W3C webrtc-pc §4.4.1.5 addIceCandidate).
      await pc.addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid });
    } catch {
      // One bad candidate must not end the attempt; ICE uses the others.
    }
  }
}
