/**
 * In-memory Store: the embedded default. Everything is synchronous underneath,
 * so each method is atomic with respect to other requests (no lost or
 * duplicated candidates under concurrent writers).
 *
 * Memory stays bounded: sessions live in one Map kept in last-activity order
 * (a touch re-inserts the key), so expiring idle sessions walks only the
 * expired prefix; live sessions are capped by `maxSessions`; candidates are
 * capped per side; each VM keeps at most one snapshot.
 */
import {
  type AuditEvent,
  type CandidateSide,
  type ControlState,
  type HealthSample,
  LIMITS,
  type NewAuditEvent,
  type StoredCandidate,
} from '@vmlive/protocol';
import { emptyRecordings, type RecordingsDoc, type RecordingsUpdate } from '../recordings/doc.js';
import { CandidateList } from './candidate-list.js';
import { MemoryNotifier } from './notifier.js';
import { MemoryRates } from './rate-memory.js';
import { emptyRun, type RunDoc, type RunUpdate } from './run-doc.js';
import {
  type AuditRead,
  type ControlRecord,
  type EndedLease,
  type NewSession,
  type RateBucket,
  type RestartResult,
  type SessionRecord,
  type SessionState,
  type Snapshot,
  type Store,
  topics,
  type Unsubscribe,
  type VmRecord,
  type WriteResult,
  wanted,
} from './types.js';

interface MemSession extends SessionRecord {
  seq: number;
  // Allocated on first candidate so an idle session stays small.
  vmCandidates: CandidateList | null;
  browserCandidates: CandidateList | null;
}

export interface MemoryStoreOptions {
  maxSessions: number;
  candidatesPerSide?: number;
  /** Bound on rate-limit buckets + slot keys held (default RATE_MAX_KEYS). */
  maxRateKeys?: number;
}

export class MemoryStore implements Store {
  private readonly vms = new Map<string, VmRecord>();
  private readonly sessions = new Map<string, MemSession>();
  private readonly vmSessions = new Map<string, Set<string>>();
  /** Last offerSeq handed out per VM. */
  private readonly vmOfferSeq = new Map<string, number>();
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly runs = new Map<string, RunDoc>();
  private readonly recordings = new Map<string, RecordingsDoc>();
  /** Per VM: step index → thumbnail JPEG. */
  private readonly thumbnails = new Map<string, Map<number, Buffer>>();
  /** Per VM, its health ring (oldest first, at most `keep` from addHealth). */
  private readonly health = new Map<string, HealthSample[]>();
  /** Per VM, its audit trail (oldest first, at most `keep` from appendAudit) and the last seq given. */
  private readonly audit = new Map<string, { lastSeq: number; events: AuditEvent[] }>();
  private readonly notifier = new MemoryNotifier();
  private readonly maxSessions: number;
  private readonly candidatesPerSide: number;
  /** Rate-limit buckets and long-poll slots (bounded; rate-memory.ts). */
  readonly rates: MemoryRates;

  constructor(opts: MemoryStoreOptions) {
    this.maxSessions = opts.maxSessions;
    this.candidatesPerSide = opts.candidatesPerSide ?? LIMITS.candidatesPerSide;
    this.rates = new MemoryRates(opts.maxRateKeys);
  }

  takeTokens(buckets: readonly RateBucket[], now: number): Promise<number> {
    return this.rates.takeTokens(buckets, now);
  }

  acquireSlot(key: string, id: string, max: number, leaseMs: number, now: number): Promise<boolean> {
    return this.rates.acquireSlot(key, id, max, leaseMs, now);
  }

  releaseSlot(key: string, id: string): Promise<void> {
    return this.rates.releaseSlot(key, id);
  }

  async createVm(vm: { vmId: string; name: string; createdAt: number }): Promise<void> {
    this.vms.set(vm.vmId, {
      ...vm,
      lastSeenAt: null,
      stats: undefined,
      control: { mode: 'agent', holder: null, since: vm.createdAt },
      lease: null,
      snapshotWantedUntil: 0,
      snapshotAnnounced: false,
    });
    this.vmSessions.set(vm.vmId, new Set());
  }

  async getVm(vmId: string): Promise<VmRecord | undefined> {
    return this.vms.get(vmId);
  }

  async listVms(): Promise<VmRecord[]> {
    return [...this.vms.values()];
  }

  async deleteVm(vmId: string): Promise<boolean> {
    if (!this.vms.has(vmId)) return false;
    for (const sessionId of this.vmSessions.get(vmId) ?? []) this.dropSession(sessionId);
    this.vms.delete(vmId);
    this.vmSessions.delete(vmId);
    this.vmOfferSeq.delete(vmId);
    this.snapshots.delete(vmId);
    this.runs.delete(vmId);
    this.recordings.delete(vmId);
    this.thumbnails.delete(vmId);
    this.health.delete(vmId);
    this.audit.delete(vmId);
    this.notifier.publish(topics.vm(vmId));
    this.notifier.publish(topics.audit(vmId));
    this.notifier.publish(topics.snapshot(vmId));
    for (const t of ['steps', 'instructions', 'overrides'] as const) this.notifier.publish(topics.run(vmId, t));
    return true;
  }

  async touchVm(vmId: string, at: number, stats?: Record<string, unknown>): Promise<void> {
    const vm = this.vms.get(vmId);
    if (!vm) return;
    vm.lastSeenAt = at;
    if (stats !== undefined) vm.stats = stats;
  }

  async updateControl(vmId: string, update: (current: ControlRecord) => ControlRecord): Promise<ControlState> {
    const vm = this.vms.get(vmId);
    if (!vm) throw new Error(`updateControl: no VM ${vmId}`);
    const next = update({ control: vm.control, lease: vm.lease });
    vm.lease = next.lease;
    if (next.control !== vm.control) {
      vm.control = next.control;
      this.notifier.publish(topics.vm(vmId));
    }
    return vm.control;
  }

  async expireLeases(aliveBefore: number, now: number, mode: 'agent' | 'paused'): Promise<EndedLease[]> {
    const out: EndedLease[] = [];
    for (const vm of this.vms.values()) {
      const lease = vm.lease;
      if (!lease || lease.aliveAt >= aliveBefore) continue;
      vm.lease = null;
      let control: EndedLease['control'] = null;
      if (vm.control.holder === lease.sessionId) {
        const from = vm.control.mode;
        vm.control = {
          mode: vm.control.mode === 'paused' ? 'paused' : mode,
          holder: null,
          since: Math.max(now, vm.control.since + 1),
        };
        control = { from, to: vm.control.mode };
        this.notifier.publish(topics.vm(vm.vmId));
      }
      out.push({ vmId: vm.vmId, sessionId: lease.sessionId, control });
    }
    return out;
  }

  async createSession(s: NewSession): Promise<boolean> {
    const vm = this.vms.get(s.vmId);
    if (!vm) return false;
    if (this.sessions.size >= this.maxSessions) return false;
    this.sessions.set(s.sessionId, {
      sessionId: s.sessionId,
      vmId: vm.vmId,
      owner: s.owner,
      kind: s.kind,
      role: s.role,
      createdAt: s.createdAt,
      lastActivityAt: s.createdAt,
      offer: null,
      answer: null,
      offerSeq: 0,
      generation: 0,
      iceTransportPolicy: s.iceTransportPolicy ?? 'all',
      seq: 0,
      vmCandidates: null,
      browserCandidates: null,
    });
    this.vmSessions.get(vm.vmId)?.add(s.sessionId);
    return true;
  }

  /** Mark activity and move the session to the young end of the idle order. */
  private touch(s: MemSession, now: number): void {
    s.lastActivityAt = now;
    this.sessions.delete(s.sessionId);
    this.sessions.set(s.sessionId, s);
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    return this.sessions.get(sessionId);
  }

  async touchSession(sessionId: string, now: number): Promise<boolean> {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    this.touch(s, now);
    const lease = this.vms.get(s.vmId)?.lease;
    if (lease && lease.sessionId === sessionId) lease.aliveAt = now;
    return true;
  }

  async touchSessions(sessionIds: readonly string[], now: number): Promise<void> {
    for (const id of sessionIds) await this.touchSession(id, now);
  }

  async setOffer(sessionId: string, sdp: string, _now: number): Promise<WriteResult> {
    const s = this.sessions.get(sessionId);
    if (!s) return 'not_found';
    if (s.offer !== null) return s.offer === sdp ? 'ok' : 'exists';
    s.offer = sdp;
    const seq = (this.vmOfferSeq.get(s.vmId) ?? 0) + 1;
    this.vmOfferSeq.set(s.vmId, seq);
    s.offerSeq = seq;
    this.notifier.publish(topics.session(sessionId));
    this.notifier.publish(topics.vm(s.vmId));
    return 'ok';
  }

  async restartIce(sessionId: string, sdp: string, _now: number): Promise<RestartResult> {
    const s = this.sessions.get(sessionId);
    if (!s) return 'not_found';
    if (s.offer === null) return 'missing';
    if (s.offer === sdp) return s.generation > 0 ? { offerSeq: s.offerSeq, generation: s.generation } : 'exists';
    if (s.answer === null) return 'exists';
    const seq = (this.vmOfferSeq.get(s.vmId) ?? 0) + 1;
    this.vmOfferSeq.set(s.vmId, seq);
    s.offer = sdp;
    s.answer = null;
    s.offerSeq = seq;
    s.generation += 1;
    s.vmCandidates = null;
    s.browserCandidates = null;
    this.notifier.publish(topics.session(sessionId));
    this.notifier.publish(topics.vm(s.vmId));
    return { offerSeq: seq, generation: s.generation };
  }

  async setAnswer(sessionId: string, sdp: string, _now: number): Promise<WriteResult> {
    const s = this.sessions.get(sessionId);
    if (!s) return 'not_found';
    if (s.offer === null) return 'missing';
    if (s.answer !== null) return s.answer === sdp ? 'ok' : 'exists';
    s.answer = sdp;
    this.notifier.publish(topics.session(sessionId));
    this.notifier.publish(topics.vm(s.vmId));
    return 'ok';
  }

  async addCandidate(
    sessionId: string,
    side: CandidateSide,
    c: { candidate: string; sdpMLineIndex: number; sdpMid: string | null },
    now: number,
  ): Promise<{ seq: number; timestamp: number } | 'not_found' | 'limit'> {
    const s = this.sessions.get(sessionId);
    if (!s) return 'not_found';
    let list = side === 'vm' ? s.vmCandidates : s.browserCandidates;
    if (list) {
      // A retried POST (its reply was lost) must not store the candidate twice.
      const stored = list.find(c);
      if (stored) return { seq: stored.seq, timestamp: stored.timestamp };
      if (list.length >= this.candidatesPerSide) return 'limit';
    }
    if (!list) {
      list = new CandidateList();
      if (side === 'vm') s.vmCandidates = list;
      else s.browserCandidates = list;
    }
    s.seq += 1;
    list.push({
      candidate: c.candidate,
      sdpMLineIndex: c.sdpMLineIndex,
      sdpMid: c.sdpMid,
      seq: s.seq,
      timestamp: now,
      generation: s.generation,
    });
    this.notifier.publish(topics.session(sessionId));
    return { seq: s.seq, timestamp: now };
  }

  async getCandidates(
    sessionId: string,
    side: CandidateSide,
    since: number,
  ): Promise<{ candidates: StoredCandidate[]; cursor: number } | undefined> {
    const s = this.sessions.get(sessionId);
    if (!s) return undefined;
    const candidates = (side === 'vm' ? s.vmCandidates : s.browserCandidates)?.after(since) ?? [];
    const last = candidates[candidates.length - 1];
    return { candidates, cursor: last ? last.seq : since };
  }

  async endSession(sessionId: string, _now: number): Promise<boolean> {
    return this.dropSession(sessionId);
  }

  private dropSession(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    this.sessions.delete(sessionId);
    this.vmSessions.get(s.vmId)?.delete(sessionId);
    const vm = this.vms.get(s.vmId);
    // A holder's lease outlives its session by the grace (a reload takes control back; expireLeases
    // ends it otherwise). Without a lease, control goes back to the automation at once, unless
    // the VM was paused, which stays paused until someone resumes it deliberately.
    if (vm && vm.control.holder === sessionId && vm.lease?.sessionId !== sessionId) {
      const mode = vm.control.mode === 'paused' ? 'paused' : 'agent';
      vm.control = { mode, holder: null, since: Math.max(Date.now(), vm.control.since + 1) };
    }
    this.notifier.publish(topics.session(sessionId));
    this.notifier.publish(topics.vm(s.vmId));
    return true;
  }

  async listVmSessions(vmId: string, state: SessionState, sinceOfferSeq = 0): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const id of this.vmSessions.get(vmId) ?? []) {
      const s = this.sessions.get(id);
      if (s && wanted(s, state, sinceOfferSeq)) out.push(s);
    }
    // The VM's Set is in creation order, which is what `all` wants.
    if (state === 'offered') out.sort((a, b) => a.offerSeq - b.offerSeq);
    return out;
  }

  async countVmSessions(vmId: string): Promise<number> {
    return this.vmSessions.get(vmId)?.size ?? 0;
  }

  async requestSnapshot(vmId: string, until: number, now: number): Promise<void> {
    const vm = this.vms.get(vmId);
    if (!vm) return;
    const wasWanted = vm.snapshotWantedUntil > now;
    vm.snapshotWantedUntil = Math.max(vm.snapshotWantedUntil, until);
    if (!wasWanted) {
      vm.snapshotAnnounced = false;
      this.notifier.publish(topics.vm(vmId));
    }
  }

  async claimSnapshotRequest(vmId: string, now: number): Promise<boolean> {
    const vm = this.vms.get(vmId);
    if (!vm || vm.snapshotAnnounced || vm.snapshotWantedUntil <= now) return false;
    vm.snapshotAnnounced = true;
    return true;
  }

  async putSnapshot(vmId: string, jpeg: Buffer, at: number): Promise<boolean> {
    const vm = this.vms.get(vmId);
    if (!vm) return false;
    this.snapshots.set(vmId, { jpeg, at });
    vm.snapshotWantedUntil = 0;
    this.notifier.publish(topics.snapshot(vmId));
    return true;
  }

  async getSnapshot(vmId: string): Promise<Snapshot | undefined> {
    return this.snapshots.get(vmId);
  }

  async getRecordings(vmId: string): Promise<RecordingsDoc | undefined> {
    if (!this.vms.has(vmId)) return undefined;
    return this.recordings.get(vmId) ?? emptyRecordings();
  }

  async updateRecordings<T>(
    vmId: string,
    update: (current: RecordingsDoc) => RecordingsUpdate<T>,
  ): Promise<RecordingsUpdate<T> | undefined> {
    if (!this.vms.has(vmId)) return undefined;
    const u = update(this.recordings.get(vmId) ?? emptyRecordings());
    this.recordings.set(vmId, u.doc);
    if (u.wake) this.notifier.publish(topics.vm(vmId));
    return u;
  }

  async getRun(vmId: string): Promise<RunDoc | undefined> {
    if (!this.vms.has(vmId)) return undefined;
    return this.runs.get(vmId) ?? emptyRun();
  }

  async updateRun<T>(vmId: string, update: (current: RunDoc) => RunUpdate<T>): Promise<T | undefined> {
    if (!this.vms.has(vmId)) return undefined;
    const current = this.runs.get(vmId) ?? emptyRun();
    const u = update(current);
    if (u.doc === current) return u.result;
    this.runs.set(vmId, u.doc);
    const thumbs = this.thumbnails.get(vmId) ?? new Map<number, Buffer>();
    if (u.dropThumbnails === 'all') thumbs.clear();
    else for (const i of u.dropThumbnails ?? []) thumbs.delete(i);
    if (u.thumbnail) thumbs.set(u.thumbnail.index, u.thumbnail.jpeg);
    this.thumbnails.set(vmId, thumbs);
    for (const t of u.wake) this.notifier.publish(topics.run(vmId, t));
    return u.result;
  }

  async getThumbnail(vmId: string, index: number): Promise<Buffer | undefined> {
    return this.thumbnails.get(vmId)?.get(index);
  }

  async addHealth(vmId: string, sample: HealthSample, keep: number): Promise<void> {
    if (!this.vms.has(vmId)) return;
    const ring = this.health.get(vmId) ?? [];
    if (ring.length === 0) this.health.set(vmId, ring);
    ring.push(sample);
    // keep is small (VMLIVE_HEALTH_RING ≤ 1000), so splice's O(keep) shift is cheaper than a circular buffer's bookkeeping.
    if (ring.length > keep) ring.splice(0, ring.length - keep);
  }

  async getHealth(vmId: string, last?: number): Promise<HealthSample[]> {
    const ring = this.health.get(vmId) ?? [];
    return last === undefined ? [...ring] : ring.slice(-last);
  }

  async appendAudit(vmId: string, events: readonly NewAuditEvent[], keep: number): Promise<AuditEvent[] | undefined> {
    if (!this.vms.has(vmId)) return undefined;
    let trail = this.audit.get(vmId);
    if (!trail) {
      trail = { lastSeq: 0, events: [] };
      this.audit.set(vmId, trail);
    }
    const out: AuditEvent[] = [];
    for (const e of events) {
      trail.lastSeq += 1;
      const numbered = { ...e, seq: trail.lastSeq } as AuditEvent;
      trail.events.push(numbered);
      out.push(numbered);
    }
    // keep ≤ VMLIVE_AUDIT_MAX_EVENTS (at most 10,000): splice's shift stays cheap at event pace.
    if (trail.events.length > keep) trail.events.splice(0, trail.events.length - keep);
    if (out.length > 0) this.notifier.publish(topics.audit(vmId));
    return out;
  }

  async getAudit(vmId: string, since: number): Promise<AuditRead | undefined> {
    if (!this.vms.has(vmId)) return undefined;
    const trail = this.audit.get(vmId);
    if (!trail) return { events: [], lastSeq: 0 };
    // seq is increasing along the list: walk back to the first one after `since`.
    let i = trail.events.length;
    while (i > 0 && (trail.events[i - 1] as AuditEvent).seq > since) i--;
    return { events: trail.events.slice(i), lastSeq: trail.lastSeq };
  }

  async expireIdle(olderThan: number, _now: number): Promise<number> {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.lastActivityAt >= olderThan) break; // Map order = activity order
      this.dropSession(s.sessionId);
      n++;
    }
    return n;
  }

  async sessionCount(): Promise<number> {
    return this.sessions.size;
  }

  async subscribe(topic: string, listener: () => void): Promise<Unsubscribe> {
    return this.notifier.subscribe(topic, listener);
  }

  readonly reachable = true;
  readonly reachableSince = Date.now();

  /** Topics with waiters (tests check nothing leaks). */
  get subscribedTopics(): number {
    return this.notifier.size;
  }

  async close(): Promise<void> {
    this.sessions.clear();
    this.vmSessions.clear();
    this.vmOfferSeq.clear();
    this.vms.clear();
    this.snapshots.clear();
    this.runs.clear();
    this.recordings.clear();
    this.thumbnails.clear();
    this.health.clear();
    this.audit.clear();
  }
}
