/**
 * The VM agent: long-polls the controller for viewer sessions with offers,
 * feeds each to the GStreamer helper as a peer, relays answers and trickle ICE
 * both ways, forwards the control holder, heartbeats with stats, and serves
 * snapshot requests. It survives controller outages (backoff) and helper
 * deaths (the supervisor restarts it; the lost peers' sessions are ended so
 * their viewers reconnect).
 */
import {
  ApiError,
  type ControlState,
  type HealthReport,
  type HelperErrorCode,
  type HelperEvent,
  type IceServer,
  type OfferedSession,
} from '@vmlive/protocol';
import type { Logger } from 'pino';
import type { ControllerClient } from './controller/controller-client.js';
import { HealthTracker } from './health.js';
import type { HelperSupervisor } from './helper-supervisor.js';
import { describe, type PeerEndReason, PeerLink } from './peer-link.js';
import { DEFAULT_SPOOL_DIR, RecordingAgent } from './recording/recording-agent.js';
import { Backoff, sleep } from './util/backoff.js';

/** A peer the helper never answered is given up (and its session ended) after this. */
const UNANSWERED_MS = 15_000;

/**
 * What a helper `error` event with a peerId means for that peer: `end` removes it
 * and ends its session (the viewer reconnects at once instead of waiting out
 * UNANSWERED_MS), `log` leaves it alone. One row per code: adding a code to the
 * protocol without deciding here does not compile.
 */
export const HELPER_ERROR_EFFECT: Record<HelperErrorCode, 'end' | 'log'> = {
  'negotiation-failed': 'end',
  'pipeline-error': 'end',
  'invalid-command': 'log',
  'command-failed': 'log',
  'candidate-rejected': 'log',
  'input-failed': 'log',
  'bad-config': 'log',
  'missing-dependency': 'log',
  'startup-failed': 'log',
  'recording-failed': 'log', // no peer: the recording agent (recording/) logs it, the stream goes on
};

/**
 * Whether removing a peer for this reason also ends its session at the
 * controller (DELETE), so the viewer count drops at once and a holder's control
 * lease runs out its grace instead of the session's idle TTL: yes whenever the
 * VM ended it and the controller does not know yet. One row per reason: adding
 * a reason without deciding here does not compile.
 */
export const ENDS_SESSION: Record<PeerEndReason, boolean> = {
  'connection-failed': true,
  'answer-rejected': true,
  'helper-died': true,
  'viewer-gone': true,
  'session-ended': false, // the controller ended it
  shutdown: false, // stop() ends them itself, all at once
};

export interface WebRtcServerOptions {
  client: ControllerClient;
  supervisor: HelperSupervisor;
  log: Logger;
  iceServers: IceServer[];
  heartbeatMs: number;
  longPollSeconds: number;
  /** Told every control change the VM agent learns (e.g. the CDP gateway's ControlCell). */
  onControl?: (control: ControlState) => void;
  /** Extra fields for the heartbeat's stats (e.g. the CDP gateway's counters). */
  extraStats?: () => Record<string, unknown>;
  /** Where finished recording segments wait for their upload (recording/recording-agent.ts); default DEFAULT_SPOOL_DIR. */
  recordingSpoolDir?: string;
}

export class WebRtcServer {
  private readonly peers = new Map<string, PeerLink>();
  private readonly abort = new AbortController();
  private control: ControlState = { mode: 'agent', holder: null, since: 0 };
  private snapshotInFlight = false;
  private readonly health = new HealthTracker();
  private loops: Promise<void>[] = [];
  private controllerReachable = true;
  private readonly recordings: RecordingAgent;

  constructor(private readonly opts: WebRtcServerOptions) {
    const { supervisor } = opts;
    this.recordings = new RecordingAgent({
      client: opts.client,
      supervisor,
      spoolDir: opts.recordingSpoolDir ?? DEFAULT_SPOOL_DIR,
      log: opts.log,
      signal: this.abort.signal,
    });
    supervisor.on('event', (e) => this.onHelperEvent(e));
    supervisor.on('down', () => this.onHelperDown());
    supervisor.on('up', () => this.pushControlHolder());
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /**
   * Starts the loops, then waits for the first helper. The VM is online (heartbeats, polls,
   * control for the CDP gateway) while a slow helper starts; offers wait for it at the controller.
   */
  async start(): Promise<void> {
    // Leftovers of an earlier run are queued before anything records.
    await this.recordings.start();
    this.loops = [this.sessionsLoop(), this.heartbeatLoop(), this.reconcileLoop()];
    await this.opts.supervisor.start();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    const ids = [...this.peers.keys()];
    for (const id of ids) this.removePeer(id, 'shutdown');
    // Ending the sessions tells the viewers at once instead of at their ICE timeout.
    await Promise.allSettled(ids.map((id) => this.opts.client.deleteSession(id, AbortSignal.timeout(2000))));
    await this.opts.supervisor.stop();
    await Promise.allSettled([...this.loops, this.recordings.stop()]);
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * The main long-poll. `since` is the cursor of offered sessions, so each offer
   * is handed out once; `controlSince` makes a control change answer the poll
   * even if it happened between two polls.
   */
  private async sessionsLoop(): Promise<void> {
    const backoff = new Backoff(250, 10_000);
    let cursor = 0;
    while (!this.signal.aborted) {
      try {
        const res = await this.opts.client.listSessions(
          {
            state: 'offered',
            since: cursor,
            controlSince: this.control.since,
            recording: this.recordings.recordingId,
            waitSeconds: this.opts.longPollSeconds,
          },
          this.signal,
        );
        this.markReachable(true);
        backoff.reset();
        this.applyControl(res.control);
        this.recordings.apply(res.recording);
        if (res.snapshotWanted) {
          this.health.noteSnapshotRequest();
          void this.uploadSnapshot();
        }
        let handedOver = true;
        for (const s of res.sessions) {
          const link = this.peers.get(s.sessionId);
          if (link) this.restartPeer(link, s);
          else if (!this.addPeer(s)) handedOver = false;
        }
        if (handedOver) {
          cursor = res.cursor;
        } else {
          // The helper is restarting: keep the cursor so these offers come back, and wait for it.
          await this.helperUp(2000);
        }
      } catch (err) {
        if (this.signal.aborted) return;
        this.markReachable(false, err);
        await sleep(backoff.next(), this.signal);
      }
    }
  }

  private helperUp(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.opts.supervisor.off('up', done);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.opts.supervisor.once('up', done);
      this.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.signal.aborted) {
      const [stats, health] = await this.collectStats();
      try {
        // Peers that are connected and not removed: their ICE consent is alive (the helper reports
        // a silent one as peer-lost, which removes it), which is what keeps a WHEP session.
        const connected = [...this.peers].filter(([, link]) => link.connectedAt !== undefined).map(([id]) => id);
        await this.opts.client.heartbeat(stats, health, connected, this.signal);
        this.markReachable(true);
      } catch (err) {
        if (this.signal.aborted) return;
        this.markReachable(false, err);
      }
      await sleep(this.opts.heartbeatMs, this.signal);
    }
  }

  /**
   * Safety net beside the per-session candidate polls: a peer whose answer was
   * posted but whose session is no longer active at the controller is removed.
   */
  private async reconcileLoop(): Promise<void> {
    while (!this.signal.aborted) {
      await sleep(5000, this.signal);
      if (this.signal.aborted) return;
      try {
        const res = await this.opts.client.listSessions({ state: 'active', waitSeconds: 0 }, this.signal);
        const active = new Set(res.sessions.map((s) => s.sessionId));
        const now = Date.now();
        for (const [id, peer] of this.peers) {
          if (peer.answered && !active.has(id) && now - peer.createdAt > 5000) {
            this.removePeer(id, 'session-ended');
          } else if (!peer.answered && now - peer.createdAt > UNANSWERED_MS) {
            this.removePeer(id, 'connection-failed');
          }
        }
      } catch {
        // the other loops report reachability
      }
    }
  }

  private markReachable(ok: boolean, err?: unknown): void {
    if (ok && !this.controllerReachable) this.opts.log.info('controller reachable again');
    if (!ok && this.controllerReachable) {
      const code = err instanceof ApiError ? err.code : undefined;
      this.opts.log.warn({ err: describe(err), code }, 'controller unreachable; backing off');
    }
    this.controllerReachable = ok;
  }

  /** Hands one offer to the helper; false when the helper is not ready (the offer stays at the controller). */
  private addPeer(s: OfferedSession): boolean {
    const log = this.opts.log.child({ sessionId: s.sessionId });
    // The agent's own servers (e.g. a STUN server inside the VM network) plus what the controller
    // minted for this session (TURN credentials the viewer's side holds too).
    const iceServers = [...this.opts.iceServers, ...(s.iceServers ?? [])];
    const iceTransportPolicy = s.iceTransportPolicy ?? 'all';
    const link = new PeerLink(s.sessionId, iceServers, {
      client: this.opts.client,
      log,
      longPollSeconds: this.opts.longPollSeconds,
      onRemoteCandidate: (candidate, sdpMLineIndex) =>
        this.opts.supervisor.send({ type: 'remote-candidate', peerId: s.sessionId, candidate, sdpMLineIndex }),
      onGone: (reason) => this.removePeer(s.sessionId, reason),
    });
    const sent =
      this.opts.supervisor.send({ type: 'add-peer', peerId: s.sessionId, iceServers, iceTransportPolicy }) &&
      this.opts.supervisor.send({
        type: 'remote-description',
        peerId: s.sessionId,
        sdpType: 'offer',
        sdp: s.offer.sdp,
      });
    if (!sent) {
      // Helper restarting: leave the offer at the controller; the next poll retries it.
      log.info('helper not ready; offer left for the next poll');
      return false;
    }
    this.peers.set(s.sessionId, link);
    log.info({ peers: this.peers.size }, 'peer added');
    link.startCandidatePolling();
    return true;
  }

  /**
   * A session this VM already serves, offered again: the viewer restarted ICE (its generation
   * went up; RFC 8445 §9). The helper restarts the peer's ICE and answers again through the
   * same link; media and DTLS go on. An offer of a generation the peer already has is a repeat.
   */
  private restartPeer(link: PeerLink, s: OfferedSession): void {
    const generation = s.generation ?? 0;
    if (generation <= link.generation) return;
    const log = this.opts.log.child({ sessionId: s.sessionId });
    if (!this.opts.supervisor.send({ type: 'restart-ice', peerId: s.sessionId, sdpType: 'offer', sdp: s.offer.sdp })) {
      // The helper is down, and took the peer with it (onHelperDown removes it).
      log.info('helper not ready; ICE restart dropped');
      return;
    }
    link.restarted(generation);
    log.info({ generation }, 'ICE restart handed to the helper');
  }

  private removePeer(sessionId: string, reason: PeerEndReason): void {
    const link = this.peers.get(sessionId);
    if (!link) return;
    this.peers.delete(sessionId);
    link.close();
    if (reason !== 'helper-died') this.opts.supervisor.send({ type: 'remove-peer', peerId: sessionId, reason });
    if (ENDS_SESSION[reason]) {
      void this.opts.client.deleteSession(sessionId, AbortSignal.timeout(5000)).catch(() => undefined);
    }
    this.opts.log.info({ sessionId, reason, peers: this.peers.size }, 'peer removed');
  }

  private onHelperEvent(e: HelperEvent): void {
    switch (e.type) {
      case 'local-description': {
        this.peers.get(e.peerId)?.sendAnswer(e.sdp);
        return;
      }
      case 'local-candidate': {
        this.peers.get(e.peerId)?.sendCandidate(e.candidate, e.sdpMLineIndex);
        return;
      }
      case 'peer-state': {
        const link = this.peers.get(e.peerId);
        if (!link) return;
        this.opts.log.debug({ sessionId: e.peerId, ice: e.ice, dtls: e.dtls, connection: e.connection }, 'peer state');
        if (e.connection === 'connected' && link.connectedAt === undefined) {
          link.connectedAt = Date.now();
          this.opts.log.info({ sessionId: e.peerId, setupMs: link.connectedAt - link.createdAt }, 'peer connected');
        }
        if (e.connection === 'failed' || e.connection === 'closed' || e.ice === 'failed') {
          this.removePeer(e.peerId, 'connection-failed');
        }
        return;
      }
      case 'peer-lost': {
        if (!this.peers.has(e.peerId)) return;
        // The viewer vanished (tab closed, browser killed, network gone) or closed its connection.
        this.opts.log.info({ sessionId: e.peerId, cause: e.reason, silentMs: e.silentMs }, 'viewer gone');
        this.removePeer(e.peerId, 'viewer-gone');
        return;
      }
      case 'input-rejected': {
        this.opts.log.info({ sessionId: e.peerId, reason: e.reason }, 'input rejected');
        return;
      }
      case 'error': {
        const effect = HELPER_ERROR_EFFECT[e.code];
        this.health.noteError(e.code, e.message);
        this.opts.log.warn(
          { sessionId: e.peerId ?? undefined, code: e.code, detail: e.message, effect },
          'helper error',
        );
        if (e.peerId && effect === 'end' && this.peers.has(e.peerId)) this.removePeer(e.peerId, 'connection-failed');
        return;
      }
      default:
        return;
    }
  }

  private onHelperDown(): void {
    this.health.noteError('helper-died', 'the helper exited; the supervisor restarts it');
    for (const id of [...this.peers.keys()]) this.removePeer(id, 'helper-died');
  }

  private applyControl(control: ControlState): void {
    if (
      control.since === this.control.since &&
      control.holder === this.control.holder &&
      control.mode === this.control.mode
    ) {
      return;
    }
    this.control = control;
    this.opts.log.info({ mode: control.mode, holder: control.holder }, 'control changed');
    this.pushControlHolder();
    this.opts.onControl?.(control);
  }

  private pushControlHolder(): void {
    const holder = this.control.mode === 'user' ? this.control.holder : null;
    this.opts.supervisor.send({ type: 'set-control-holder', peerId: holder });
  }

  /** The heartbeat's free-form stats (kept for existing readers of GET /api/vms) and its typed health report. */
  private async collectStats(): Promise<[Record<string, unknown>, HealthReport]> {
    const restarts = this.opts.supervisor.restartCount;
    const base = {
      ...this.opts.extraStats?.(),
      peers: this.peers.size,
      helperRestarts: restarts,
      helperPid: this.opts.supervisor.helper?.pid ?? null,
    };
    const helper = this.opts.supervisor.helper;
    if (!helper) return [{ ...base, helper: 'down' }, this.health.report('down', null, restarts, this.peers)];
    try {
      const s = await helper.getStats(null, 2000);
      return [
        { ...base, helper: 'up', encoder: s.encoder, process: s.process, peerStats: s.peers },
        this.health.report('up', s, restarts, this.peers),
      ];
    } catch (err) {
      return [
        { ...base, helper: 'unresponsive', error: describe(err) },
        this.health.report('unresponsive', null, restarts, this.peers),
      ];
    }
  }

  private async uploadSnapshot(): Promise<void> {
    const helper = this.opts.supervisor.helper;
    if (!helper || this.snapshotInFlight) return;
    this.snapshotInFlight = true;
    try {
      const jpeg = await helper.snapshot(70, 3000);
      await this.opts.client.putSnapshot(jpeg, this.signal);
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'snapshot failed');
    } finally {
      this.snapshotInFlight = false;
    }
  }
}
