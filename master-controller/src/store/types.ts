/**
 * The signaling state behind one interface. The in-memory store is the
 * embedded default; a shared store (e.g. Redis) implements the same methods
 * and delivers `subscribe` wake-ups from other controller processes (pub/sub),
 * which is why long-polls wait on topics rather than on in-process promises.
 * Either store is chosen by VMLIVE_STORE (config.ts, server.ts).
 */
import type {
  AuditEvent,
  CandidateSide,
  ControlMode,
  ControlState,
  HealthSample,
  IceTransportPolicy,
  NewAuditEvent,
  StoredCandidate,
  ViewerSession,
} from '@vmlive/protocol';
import type { RecordingsDoc, RecordingsUpdate } from '../recordings/doc.js';
import type { RunDoc, RunTopic, RunUpdate } from './run-doc.js';

/**
 * Control held by a viewer's session lasts while that viewer shows signs of
 * life (browser-side calls on the session, or an open browser-side long-poll).
 * `owner` is the viewer token (jti) that created the holder's session: a new
 * session of the same token may take over within the grace (a page reload).
 */
export interface Lease {
  sessionId: string;
  owner: string;
  aliveAt: number;
}

export interface ControlRecord {
  control: ControlState;
  /** null while the automation, the operator or nobody holds control. */
  lease: Lease | null;
}

export interface VmRecord {
  vmId: string;
  name: string;
  createdAt: number;
  lastSeenAt: number | null;
  stats: Record<string, unknown> | undefined;
  control: ControlState;
  lease: Lease | null;
  /** ms epoch until which a viewer asked for a snapshot (0: none wanted). */
  snapshotWantedUntil: number;
  /** The pending request was already reported to the VM's sessions poll (so it wakes it only once). */
  snapshotAnnounced: boolean;
}

/**
 * How the viewer signals: `rest`, our REST contract (the viewer polls, which keeps the session
 * alive, and may take control); `whep`, a WHEP player (http/routes/whep.ts), which makes no call
 * after its POST, is kept alive by the VM's report that its peer is connected, and never controls.
 */
export type SessionKind = 'rest' | 'whep';

export interface NewSession {
  sessionId: string;
  vmId: string;
  owner: string;
  kind: SessionKind;
  role: SessionRole;
  createdAt: number;
  iceTransportPolicy?: IceTransportPolicy;
}

export interface SessionRecord {
  sessionId: string;
  vmId: string;
  /** Who created it: a viewer token's id (jti) or 'operator'. */
  owner: string;
  kind: SessionKind;
  /** The creating token's role ('operator' for the operator's own sessions). */
  role: SessionRole;
  createdAt: number;
  lastActivityAt: number;
  offer: string | null;
  answer: string | null;
  /** Per-VM sequence number given when the offer was set (0 before): the VM's sessions-poll cursor. */
  offerSeq: number;
  /** ICE restarts so far (restartIce): 0 for the first negotiation. Stamped on the candidates stored. */
  generation: number;
  /** The session's ICE transport policy, handed to both sides (`relay`: TURN relays only). */
  iceTransportPolicy: IceTransportPolicy;
}

export type SessionRole = ViewerSession['role'];

export interface Snapshot {
  jpeg: Buffer;
  at: number;
}

/**
 * `offered`: offer, no answer (the VM's cursor applies); `active`: answered, or being answered
 * again after an ICE restart (its media may still flow); `all`: every live session (the operator's list).
 */
export type SessionState = 'offered' | 'active' | 'all';

/** The one definition of which sessions listVmSessions returns, shared by both stores. */
export function wanted(s: SessionRecord, state: SessionState, sinceOfferSeq: number): boolean {
  if (state === 'all') return true;
  if (s.offer === null) return false;
  if (state === 'active') return s.answer !== null || s.generation > 0;
  return s.answer === null && s.offerSeq > sinceOfferSeq;
}

/**
 * What an ICE restart's offer did (Store.restartIce): the new offerSeq and generation (also for
 * a retried POST of the same restart offer); `missing`: no offer yet; `exists`: the session's
 * offer is not answered yet (or this is its first offer again), so there is nothing to restart.
 */
export type RestartResult = { offerSeq: number; generation: number } | 'not_found' | 'missing' | 'exists';

/** Outcome of a write that can fail for a state reason (mapped to an ApiError by the routes). */
export type WriteResult = 'ok' | 'not_found' | 'exists' | 'missing' | 'limit';

export type Unsubscribe = () => void;

/**
 * The shared store cannot be reached (connection down, command timed out).
 * The HTTP layer answers 503 `store_unavailable`; nothing was changed, or the
 * write's outcome is unknown (writes are idempotent where a retry could repeat them).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Topics a long-poll can wait on. A publish means "re-read, something may have changed". */
export const topics = {
  /** offer, answer, candidate on either side, end. */
  session: (sessionId: string) => `s:${sessionId}`,
  /** session offered / answered / ended, control change, snapshot wanted. */
  vm: (vmId: string) => `v:${vmId}`,
  /** snapshot uploaded. */
  snapshot: (vmId: string) => `p:${vmId}`,
  /** Run control (run-doc.ts): a step, the instructions, an override changed (or the VM was deleted). */
  run: (vmId: string, which: RunTopic) => `r${which[0]}:${vmId}`,
  /** An audit event appended (or the VM was deleted). */
  audit: (vmId: string) => `a:${vmId}`,
};

/** A lease expireLeases ended; `control` when control changed with it (the holder was the lease's session). */
export interface EndedLease {
  vmId: string;
  sessionId: string;
  control: { from: ControlMode; to: ControlMode } | null;
}

/** The audit events after a cursor (protocol audit.ts), as the stores read them. */
export interface AuditRead {
  /** Every kept event with seq > since, in seq order. */
  events: AuditEvent[];
  /** The last seq given on this VM (0: none yet). */
  lastSeq: number;
}

/** One token bucket of a rate limit: `capacity` tokens, refilled at `refillPerS` (edge/rate-limit.ts). */
export interface RateBucket {
  readonly key: string;
  readonly capacity: number;
  readonly refillPerS: number;
}

/** Rate limits' state, in the store so that every controller sharing it counts the same requests. */
export interface RateState {
  /**
   * Takes one token from every bucket, or from none: 0 when taken, else the ms until every
   * bucket has one again. A bucket not seen yet is full; one left alone until full is forgotten.
   */
  takeTokens(buckets: readonly RateBucket[], now: number): Promise<number>;
  /** Holds one of at most `max` slots under `key` (concurrent long-polls) until released or `now + leaseMs`. */
  acquireSlot(key: string, id: string, max: number, leaseMs: number, now: number): Promise<boolean>;
  releaseSlot(key: string, id: string): Promise<void>;
}

export interface Store extends RateState {
  createVm(vm: { vmId: string; name: string; createdAt: number }): Promise<void>;
  getVm(vmId: string): Promise<VmRecord | undefined>;
  listVms(): Promise<VmRecord[]>;
  /** Deletes the VM and ends its sessions. */
  deleteVm(vmId: string): Promise<boolean>;
  /**
   * A sign of life of the VM's agent (heartbeat, poll, or an open sessions long-poll,
   * refreshed by presence.ts): `lastSeenAt` is what "online" is computed from, so every
   * controller sharing the store sees the same online state.
   */
  touchVm(vmId: string, at: number, stats?: Record<string, unknown>): Promise<void>;
  /**
   * Atomically replace the VM's control state and lease with `update(current)`;
   * `update` may throw to refuse (nothing changes). Returns the new state.
   */
  updateControl(vmId: string, update: (current: ControlRecord) => ControlRecord): Promise<ControlState>;
  /**
   * Ends every lease whose holder showed no sign of life since `aliveBefore`:
   * control becomes `mode` (a paused VM stays paused), holder null. Returns what ended.
   */
  expireLeases(aliveBefore: number, now: number, mode: 'agent' | 'paused'): Promise<EndedLease[]>;

  /** Returns false when the store already holds `maxSessions` live sessions. */
  /** `iceTransportPolicy` defaults to `all`. */
  createSession(s: NewSession): Promise<boolean>;
  /** Reads a live session (no side effect). */
  getSession(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * The viewer side of the session showed a sign of life: resets its idle TTL
   * and, if it holds control, its lease. The VM side never calls this, so the
   * VM agent's own polls do not keep a viewer's session alive.
   */
  touchSession(sessionId: string, now: number): Promise<boolean>;
  /** touchSession for many at once (presence.ts refreshes every open viewer long-poll each second). */
  touchSessions(sessionIds: readonly string[], now: number): Promise<void>;
  /** 'exists' when another offer is stored; the same offer again is 'ok' (a retried POST). */
  setOffer(sessionId: string, sdp: string, now: number): Promise<WriteResult>;
  /**
   * An ICE restart (RFC 8445 §9) of an answered session: the offer is replaced, the answer
   * cleared, offerSeq takes the VM's next number (its sessions poll hands the session out again),
   * generation goes up and both sides' candidates of the previous generations are dropped (a
   * restarted agent announces the same candidates again, which the retry check would otherwise
   * swallow; and the per-side limit counts one generation). Atomic, like every write here.
   */
  restartIce(sessionId: string, sdp: string, now: number): Promise<RestartResult>;
  /** 'exists' when another answer is stored; the same answer again is 'ok' (a retried POST). */
  setAnswer(sessionId: string, sdp: string, now: number): Promise<WriteResult>;
  /**
   * Appends a candidate with the next per-session seq. A candidate equal to one this
   * side already stored (a retried POST) is not stored again: its seq and timestamp are returned.
   */
  addCandidate(
    sessionId: string,
    side: CandidateSide,
    c: { candidate: string; sdpMLineIndex: number; sdpMid: string | null },
    now: number,
  ): Promise<{ seq: number; timestamp: number } | 'not_found' | 'limit'>;
  /** Candidates of `side` with seq > since, in seq order; cursor = last returned seq (or `since`). */
  getCandidates(
    sessionId: string,
    side: CandidateSide,
    since: number,
  ): Promise<{ candidates: StoredCandidate[]; cursor: number } | undefined>;
  /** Ends a session. Control it held stays leased until the lease expires (expireLeases): a reload can take it back. */
  endSession(sessionId: string, now: number): Promise<boolean>;
  /**
   * `offered`: sessions with an offer and no answer whose offerSeq > `sinceOfferSeq`, in offer order;
   * `active`: answered sessions (the cursor is ignored); `all`: every live session, in creation order.
   */
  listVmSessions(vmId: string, state: SessionState, sinceOfferSeq?: number): Promise<SessionRecord[]>;
  countVmSessions(vmId: string): Promise<number>;

  /** A viewer wants a snapshot until `until` (wakes the VM's sessions poll). */
  requestSnapshot(vmId: string, until: number, now: number): Promise<void>;
  /** True once per request: a snapshot is wanted and the VM was not yet told. */
  claimSnapshotRequest(vmId: string, now: number): Promise<boolean>;
  putSnapshot(vmId: string, jpeg: Buffer, at: number): Promise<boolean>;
  getSnapshot(vmId: string): Promise<Snapshot | undefined>;

  /** The VM's run control (an empty run before any write); undefined when there is no such VM. */
  getRun(vmId: string): Promise<RunDoc | undefined>;
  /**
   * Atomically replace the VM's run with `update(current).doc` (run/timeline.ts; it may throw to
   * refuse, and nothing changes), store or drop thumbnails as it says and wake its topics.
   * Returns its result; undefined when there is no such VM. Deleting the VM deletes its run.
   */
  updateRun<T>(vmId: string, update: (current: RunDoc) => RunUpdate<T>): Promise<T | undefined>;
  getThumbnail(vmId: string, index: number): Promise<Buffer | undefined>;
  /**
   * Appends a heartbeat's health sample to the VM's ring, dropping the oldest beyond `keep`
   * (memory per VM stays bounded). Nothing happens for an unknown VM.
   */
  addHealth(vmId: string, sample: HealthSample, keep: number): Promise<void>;
  /** The VM's last `last` samples (default all), oldest first; [] for an unknown VM. */
  getHealth(vmId: string, last?: number): Promise<HealthSample[]>;

  /**
   * Appends audit events with the VM's next seqs (one after another, atomically against every
   * other writer), dropping the oldest beyond `keep`, and wakes the VM's audit topic.
   * Returns them numbered; undefined (nothing stored) for an unknown VM. Deleting the VM deletes its trail.
   */
  appendAudit(vmId: string, events: readonly NewAuditEvent[], keep: number): Promise<AuditEvent[] | undefined>;
  /** The kept events with seq > since; undefined for an unknown VM. */
  getAudit(vmId: string, since: number): Promise<AuditRead | undefined>;

  /** The VM's recordings' metadata (an empty document before any); undefined for an unknown VM. */
  getRecordings(vmId: string): Promise<RecordingsDoc | undefined>;
  /**
   * Atomically replace the VM's recordings with `update(current).doc` (recordings/doc.ts; a CAS
   * in a shared store, so `update` may run more than once) and, when it says `wake`, wake the
   * VM's topic (its agent's sessions poll carries the recording order). Returns the update that
   * was applied (its `dropKeys` are for the caller to delete from storage); undefined for an
   * unknown VM. Deleting the VM deletes its document.
   */
  updateRecordings<T>(
    vmId: string,
    update: (current: RecordingsDoc) => RecordingsUpdate<T>,
  ): Promise<RecordingsUpdate<T> | undefined>;

  /** Ends sessions idle since before `olderThan`; returns how many. */
  expireIdle(olderThan: number, now: number): Promise<number>;
  /** Live sessions (for /metrics). */
  sessionCount(): Promise<number>;

  /**
   * Calls `listener` after every publish on `topic`, from any process sharing the store.
   * Resolves once the subscription is active (for a shared store: acknowledged by the server),
   * so a read made after it cannot miss a write published after that read.
   */
  subscribe(topic: string, listener: () => void): Promise<Unsubscribe>;
  /** False while a shared store is unreachable (/healthz says so). */
  readonly reachable: boolean;
  /**
   * ms epoch since which the store is reachable without interruption (0: never was).
   * Lease expiry waits a grace after an outage, since no sign of life could be recorded during it.
   */
  readonly reachableSince: number;
  close(): Promise<void>;
}
