/**
 * The signaling state behind one interface. The in-memory store is the
 * embedded default; a shared store (e.g. Redis) implements the same methods
 * and delivers `subscribe` wake-ups from other controller processes (pub/sub),
 * which is why long-polls wait on topics rather than on in-process promises.
 */
import type { CandidateSide, ControlState, StoredCandidate } from '@vmlive/protocol';

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

export interface SessionRecord {
  sessionId: string;
  vmId: string;
  /** Who created it: a viewer token's id (jti) or 'operator'. */
  owner: string;
  createdAt: number;
  lastActivityAt: number;
  offer: string | null;
  answer: string | null;
  /** Per-VM sequence number given when the offer was set (0 before): the VM's sessions-poll cursor. */
  offerSeq: number;
}

export interface Snapshot {
  jpeg: Buffer;
  at: number;
}

export type SessionState = 'offered' | 'active';

/** Outcome of a write that can fail for a state reason (mapped to an ApiError by the routes). */
export type WriteResult = 'ok' | 'not_found' | 'exists' | 'missing' | 'limit';

export type Unsubscribe = () => void;

/** Topics a long-poll can wait on. A publish means "re-read, something may have changed". */
export const topics = {
  /** offer, answer, candidate on either side, end. */
  session: (sessionId: string) => `s:${sessionId}`,
  /** session offered / answered / ended, control change, snapshot wanted. */
  vm: (vmId: string) => `v:${vmId}`,
  /** snapshot uploaded. */
  snapshot: (vmId: string) => `p:${vmId}`,
};

export interface Store {
  createVm(vm: { vmId: string; name: string; createdAt: number }): Promise<void>;
  getVm(vmId: string): Promise<VmRecord | undefined>;
  listVms(): Promise<VmRecord[]>;
  /** Deletes the VM and ends its sessions. */
  deleteVm(vmId: string): Promise<boolean>;
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
  expireLeases(
    aliveBefore: number,
    now: number,
    mode: 'agent' | 'paused',
  ): Promise<Array<{ vmId: string; sessionId: string }>>;

  /** Returns false when the store already holds `maxSessions` live sessions. */
  createSession(s: { sessionId: string; vmId: string; owner: string; createdAt: number }): Promise<boolean>;
  /** Reads a live session (no side effect). */
  getSession(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * The viewer side of the session showed a sign of life: resets its idle TTL
   * and, if it holds control, its lease. The VM side never calls this, so the
   * VM agent's own polls do not keep a viewer's session alive.
   */
  touchSession(sessionId: string, now: number): Promise<boolean>;
  setOffer(sessionId: string, sdp: string, now: number): Promise<WriteResult>;
  setAnswer(sessionId: string, sdp: string, now: number): Promise<WriteResult>;
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
   * `active`: answered sessions (the cursor is ignored).
   */
  listVmSessions(vmId: string, state: SessionState, sinceOfferSeq?: number): Promise<SessionRecord[]>;
  countVmSessions(vmId: string): Promise<number>;

  /** A viewer wants a snapshot until `until` (wakes the VM's sessions poll). */
  requestSnapshot(vmId: string, until: number, now: number): Promise<void>;
  /** True once per request: a snapshot is wanted and the VM was not yet told. */
  claimSnapshotRequest(vmId: string, now: number): Promise<boolean>;
  putSnapshot(vmId: string, jpeg: Buffer, at: number): Promise<boolean>;
  getSnapshot(vmId: string): Promise<Snapshot | undefined>;

  /** Ends sessions idle since before `olderThan`; returns how many. */
  expireIdle(olderThan: number, now: number): Promise<number>;
  /** Live sessions (for /metrics). */
  sessionCount(): number;

  subscribe(topic: string, listener: () => void): Unsubscribe;
  close(): Promise<void>;
}
