/**
 * Redis Store: the state shared by every controller process pointed at one
 * Redis (VMLIVE_STORE=redis://host:port/db). A controller can be killed and
 * restarted, or several can serve at once, without losing a session, a
 * candidate or a control lease.
 *
 * Key layout (P = VMLIVE_STORE_PREFIX, default `vmlive:`):
 *   P vms                   set of VM ids
 *   P v:<vmId>              hash: name, created, seen (last sign of life), stats,
 *                           mode/holder/since (control), lsid/lowner (lease), cv (control version),
 *                           snapUntil/snapAnn (snapshot request), oseq (last offer seq)
 *   P v:<vmId>:s            set of its session ids
 *   P v:<vmId>:h            list: its health ring, HealthSample JSON, oldest first (LTRIM to VMLIVE_HEALTH_RING)
 *   P v:<vmId>:a            list: its audit trail, "seq|event JSON", oldest first (LTRIM to VMLIVE_AUDIT_MAX_EVENTS;
 *                           seqs from the hash's aseq)
 *   P snap:<vmId>           hash: at, jpeg (one per VM, ≤ 2 MiB)
 *   P s:<id>                hash: vm, owner, kind (rest|whep), role, created, active, offer, answer, oseq, seq, policy
 *   P s:<id>:vm|:browser    list of that side's candidates, "seq|timestamp|[candidate,mline,mid]"
 *   P r:<vmId>              hash: v (version), doc (run control JSON, run-doc.ts; redis-run.ts)
 *   P r:<vmId>:th           hash: step index → thumbnail JPEG
 *   P rec:<vmId>            hash: v (version), doc (its recordings' metadata JSON, recordings/doc.ts; the files
 *                           are in RecordingStorage)
 *   P idle                  sorted set: session id by last viewer activity (the idle order)
 *   P leases                sorted set: VM id by its control lease's last sign of life
 * Pub/sub channels are P + topic (types.ts `topics`).
 *
 * Expiry walks only what expired (ZRANGE BYSCORE on `idle` / `leases`), in
 * bounded batches, so memory stays bounded without any process doing O(all)
 * work; every controller runs the sweeps and each session or lease is ended
 * by exactly one of them (the scripts are atomic).
 *
 * Control is compare-and-set: updateControl reads the state with its version,
 * applies the pure transition function (control/transitions.ts), and writes
 * back only if the version is unchanged (redis-scripts.ts casControl), else
 * re-reads and re-applies. The decision stays in one tested TypeScript
 * function; the script is a few generic lines. Two controllers can never both
 * grant control: the second CAS sees the first one's version and re-applies,
 * which then refuses (control_held).
 */
import {
  AuditEvent,
  type CandidateSide,
  ControlMode,
  type ControlState,
  HealthSample,
  type IceTransportPolicy,
  LIMITS,
  type NewAuditEvent,
  type StoredCandidate,
} from '@vmlive/protocol';
import type { Logger } from 'pino';
import { emptyRecordings, RecordingsDoc, type RecordingsUpdate } from '../recordings/doc.js';
import { RedisConnections } from './redis-connection.js';
import { CAS_ATTEMPTS, compareAndSet, SerialWrites, versionedDoc } from './redis-doc.js';
import { RedisRuns } from './redis-run.js';
import { RedisTopics } from './redis-topics.js';
import type { RunDoc, RunUpdate } from './run-doc.js';
import type {
  AuditRead,
  ControlRecord,
  EndedLease,
  Lease,
  NewSession,
  RateBucket,
  RestartResult,
  SessionKind,
  SessionRecord,
  SessionRole,
  SessionState,
  Snapshot,
  Store,
  Unsubscribe,
  VmRecord,
  WriteResult,
} from './types.js';
import { wanted } from './types.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  maxSessions: number;
  log: Logger;
  candidatesPerSide?: number;
  commandTimeoutMs?: number;
}

/** How many sessions or leases one sweep script ends at most (bounded script time). */
const SWEEP_BATCH = 500;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A session written before `kind` existed has none: it was a REST session. */
const sessionKind = (v: unknown): SessionKind => (v === 'whep' ? 'whep' : 'rest');
/** Sessions created before roles were stored read as `view` (the least they could have been). */
const role = (v: unknown): SessionRole => (v === 'control' || v === 'operator' ? v : 'view');

/** A flat [k1, v1, k2, v2, ...] reply as a map. */
function fields(flat: unknown): Map<string, string> {
  const a = list(flat);
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < a.length; i += 2) m.set(str(a[i]), str(a[i + 1]));
  return m;
}

function parseStats(raw: string | undefined): Record<string, unknown> | undefined {
  if (!raw) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A session written before the field existed has none: `all`, as it was then. */
function policyFrom(v: string | undefined): IceTransportPolicy {
  return v === 'relay' ? 'relay' : 'all';
}

function vmFrom(vmId: string, h: Map<string, string>, aliveAt: string): VmRecord {
  const holder = h.get('holder') ?? '';
  const mode = h.get('mode');
  const lsid = h.get('lsid') ?? '';
  const seen = h.get('seen') ?? '';
  return {
    vmId,
    name: h.get('name') ?? vmId,
    createdAt: num(h.get('created')),
    lastSeenAt: seen === '' ? null : num(seen),
    stats: parseStats(h.get('stats')),
    control: {
      mode: mode === 'user' || mode === 'paused' ? mode : 'agent',
      holder: holder === '' ? null : holder,
      since: num(h.get('since')),
    },
    lease: lsid === '' ? null : { sessionId: lsid, owner: h.get('lowner') ?? '', aliveAt: num(aliveAt) },
    snapshotWantedUntil: num(h.get('snapUntil')),
    snapshotAnnounced: h.get('snapAnn') === '1',
  };
}

/** "seq|timestamp|[candidate, sdpMLineIndex, sdpMid]" → StoredCandidate. */
function candidateFrom(entry: string): StoredCandidate | undefined {
  const a = entry.indexOf('|');
  const b = entry.indexOf('|', a + 1);
  if (a < 0 || b < 0) return undefined;
  const body: unknown = JSON.parse(entry.slice(b + 1));
  if (!Array.isArray(body)) return undefined;
  const [candidate, sdpMLineIndex, sdpMid] = body;
  return {
    candidate: str(candidate),
    sdpMLineIndex: num(sdpMLineIndex),
    sdpMid: typeof sdpMid === 'string' ? sdpMid : null,
    seq: Number(entry.slice(0, a)),
    timestamp: Number(entry.slice(a + 1, b)),
  };
}

export class RedisStore implements Store {
  private readonly conn: RedisConnections;
  private readonly topics: RedisTopics;
  private readonly p: string;
  private readonly maxSessions: number;
  private readonly candidatesPerSide: number;
  private readonly runs: RedisRuns;
  /** This process's writes to one VM's recordings, one after another (as RedisRuns does). */
  private readonly recordingWrites = new SerialWrites();

  constructor(opts: RedisStoreOptions) {
    this.p = opts.prefix;
    this.maxSessions = opts.maxSessions;
    this.candidatesPerSide = opts.candidatesPerSide ?? LIMITS.candidatesPerSide;
    this.conn = new RedisConnections({ url: opts.url, commandTimeoutMs: opts.commandTimeoutMs ?? 5000, log: opts.log });
    this.topics = new RedisTopics(this.conn.sub, this.p, opts.log);
    this.conn.onRecovered = () => void this.topics.restore();
    this.runs = new RedisRuns(
      this.p,
      (name, ...args) => this.run(name, ...args),
      (key, field) => this.conn.call((r) => r.hgetBuffer(key, field)),
    );
  }

  /** Waits for the first connection (up to `timeoutMs`); false = starting degraded, answering 503 until Redis is up. */
  connect(timeoutMs: number): Promise<boolean> {
    return this.conn.waitReady(timeoutMs);
  }

  get reachable(): boolean {
    return this.conn.reachable;
  }

  get reachableSince(): number {
    return this.conn.reachableSince;
  }

  private run(name: Parameters<RedisConnections['script']>[0], ...args: Array<string | number | Buffer>) {
    return this.conn.script(name, [this.p, ...args]);
  }

  async takeTokens(buckets: readonly RateBucket[], now: number): Promise<number> {
    return num(await this.run('takeTokens', now, ...buckets.flatMap((b) => [b.key, b.capacity, b.refillPerS])));
  }

  async acquireSlot(key: string, id: string, max: number, leaseMs: number, now: number): Promise<boolean> {
    return num(await this.run('acquireSlot', key, id, max, leaseMs, now)) === 1;
  }

  async releaseSlot(key: string, id: string): Promise<void> {
    await this.run('releaseSlot', key, id);
  }

  async createVm(vm: { vmId: string; name: string; createdAt: number }): Promise<void> {
    await this.run('createVm', vm.vmId, vm.name, vm.createdAt);
  }

  async getVm(vmId: string): Promise<VmRecord | undefined> {
    const r = list(await this.run('getVm', vmId));
    if (r.length < 2) return undefined;
    return vmFrom(vmId, fields(r[0]), str(r[1]));
  }

  async listVms(): Promise<VmRecord[]> {
    const ids = await this.conn.call((r) => r.smembers(`${this.p}vms`));
    const out: VmRecord[] = [];
    for (const id of ids) {
      const vm = await this.getVm(id);
      if (vm) out.push(vm);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  async deleteVm(vmId: string): Promise<boolean> {
    return num(await this.run('deleteVm', vmId, Date.now())) === 1;
  }

  async touchVm(vmId: string, at: number, stats?: Record<string, unknown>): Promise<void> {
    await this.run('touchVm', vmId, at, stats === undefined ? '' : JSON.stringify(stats));
  }

  async updateControl(vmId: string, update: (current: ControlRecord) => ControlRecord): Promise<ControlState> {
    // Lost races: never seen in practice (control changes at human pace).
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const r = list(await this.run('getVm', vmId));
      if (r.length < 2) throw new Error(`updateControl: no VM ${vmId}`);
      const h = fields(r[0]);
      const cur = vmFrom(vmId, h, str(r[1]));
      const currentRecord: ControlRecord = { control: cur.control, lease: cur.lease };
      const next = update(currentRecord);
      if (next === currentRecord || (next.control === cur.control && next.lease === cur.lease)) return cur.control;
      const c = next.control;
      const changed = c.mode !== cur.control.mode || c.holder !== cur.control.holder || c.since !== cur.control.since;
      const lease: Lease | null = next.lease;
      const written = num(
        await this.run(
          'casControl',
          vmId,
          h.get('cv') ?? '0',
          c.mode,
          c.holder ?? '',
          c.since,
          lease?.sessionId ?? '',
          lease?.owner ?? '',
          lease?.aliveAt ?? 0,
          changed ? '1' : '0',
        ),
      );
      if (written === 1) return c;
      if (written === -1) throw new Error(`updateControl: no VM ${vmId}`);
    }
    throw new Error(`updateControl: lost ${CAS_ATTEMPTS} races on VM ${vmId}`);
  }

  async expireLeases(aliveBefore: number, now: number, mode: 'agent' | 'paused'): Promise<EndedLease[]> {
    const out: EndedLease[] = [];
    for (;;) {
      const flat = list(await this.run('expireLeases', aliveBefore, now, mode, SWEEP_BATCH));
      for (let i = 0; i + 3 < flat.length; i += 4) {
        const from = ControlMode.safeParse(str(flat[i + 2]));
        const to = ControlMode.safeParse(str(flat[i + 3]));
        out.push({
          vmId: str(flat[i]),
          sessionId: str(flat[i + 1]),
          control: from.success && to.success ? { from: from.data, to: to.data } : null,
        });
      }
      if (flat.length < 4 * SWEEP_BATCH) return out;
    }
  }

  async createSession(s: NewSession): Promise<boolean> {
    const r = num(
      await this.run(
        'createSession',
        s.sessionId,
        s.vmId,
        s.owner,
        s.createdAt,
        this.maxSessions,
        s.iceTransportPolicy ?? 'all',
        s.kind,
        s.role,
      ),
    );
    return r === 1;
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const h = await this.conn.call((r) => r.hgetall(`${this.p}s:${sessionId}`));
    if (!h.vm) return undefined;
    return {
      sessionId,
      vmId: h.vm,
      owner: h.owner ?? '',
      kind: sessionKind(h.kind),
      role: role(h.role),
      createdAt: num(h.created),
      lastActivityAt: num(h.active),
      offer: h.offer ?? null,
      answer: h.answer ?? null,
      offerSeq: num(h.oseq),
      generation: num(h.gen ?? '0'),
      iceTransportPolicy: policyFrom(h.policy),
    };
  }

  async touchSession(sessionId: string, now: number): Promise<boolean> {
    return num(await this.run('touchSessions', now, sessionId)) === 1;
  }

  async touchSessions(sessionIds: readonly string[], now: number): Promise<void> {
    for (let i = 0; i < sessionIds.length; i += SWEEP_BATCH) {
      await this.run('touchSessions', now, ...sessionIds.slice(i, i + SWEEP_BATCH));
    }
  }

  async setOffer(sessionId: string, sdp: string, _now: number): Promise<WriteResult> {
    return writeResult(await this.run('setOffer', sessionId, sdp));
  }

  async restartIce(sessionId: string, sdp: string, _now: number): Promise<RestartResult> {
    const r = await this.run('restartIce', sessionId, sdp);
    if (r === 'not_found' || r === 'missing' || r === 'exists') return r;
    const [offerSeq, generation] = list(r);
    return { offerSeq: num(offerSeq), generation: num(generation) };
  }

  async setAnswer(sessionId: string, sdp: string, _now: number): Promise<WriteResult> {
    return writeResult(await this.run('setAnswer', sessionId, sdp));
  }

  async addCandidate(
    sessionId: string,
    side: CandidateSide,
    c: { candidate: string; sdpMLineIndex: number; sdpMid: string | null },
    now: number,
  ): Promise<{ seq: number; timestamp: number } | 'not_found' | 'limit'> {
    const body = JSON.stringify([c.candidate, c.sdpMLineIndex, c.sdpMid]);
    const r = await this.run('addCandidate', sessionId, side, body, now, this.candidatesPerSide);
    if (r === 'not_found' || r === 'limit') return r;
    const [seq, timestamp] = list(r);
    return { seq: num(seq), timestamp: num(timestamp) };
  }

  async getCandidates(
    sessionId: string,
    side: CandidateSide,
    since: number,
  ): Promise<{ candidates: StoredCandidate[]; cursor: number } | undefined> {
    const r = await this.run('getCandidates', sessionId, side, since);
    if (!Array.isArray(r)) return undefined;
    const [gen, entries] = list(r);
    const generation = num(gen);
    const candidates: StoredCandidate[] = [];
    for (const e of list(entries)) {
      const c = candidateFrom(str(e));
      if (c) candidates.push({ ...c, generation });
    }
    const last = candidates[candidates.length - 1];
    return { candidates, cursor: last ? last.seq : since };
  }

  async endSession(sessionId: string, now: number): Promise<boolean> {
    return num(await this.run('endSession', sessionId, now)) === 1;
  }

  async listVmSessions(vmId: string, state: SessionState, sinceOfferSeq = 0): Promise<SessionRecord[]> {
    const flat = list(await this.run('listVmSessions', vmId));
    const out: SessionRecord[] = [];
    for (let i = 0; i + 10 < flat.length; i += 11) {
      const offer = str(flat[i + 4]);
      const answer = str(flat[i + 5]);
      const s: SessionRecord = {
        sessionId: str(flat[i]),
        vmId,
        owner: str(flat[i + 1]),
        kind: sessionKind(str(flat[i + 8])),
        role: role(flat[i + 9]),
        createdAt: num(flat[i + 2]),
        lastActivityAt: num(flat[i + 3]),
        offer: offer === '' ? null : offer,
        answer: answer === '' ? null : answer,
        offerSeq: num(flat[i + 6]),
        generation: num(flat[i + 10]),
        iceTransportPolicy: policyFrom(str(flat[i + 7])),
      };
      if (wanted(s, state, sinceOfferSeq)) out.push(s);
    }
    // Offer order for `offered`; creation order for `all`; a stable order for `active` (its poll compares the list between reads).
    if (state === 'offered') return out.sort((a, b) => a.offerSeq - b.offerSeq);
    if (state === 'all') return out.sort((a, b) => a.createdAt - b.createdAt || (a.sessionId < b.sessionId ? -1 : 1));
    return out.sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
  }

  async countVmSessions(vmId: string): Promise<number> {
    return this.conn.call((r) => r.scard(`${this.p}v:${vmId}:s`));
  }

  async requestSnapshot(vmId: string, until: number, now: number): Promise<void> {
    await this.run('requestSnapshot', vmId, until, now);
  }

  async claimSnapshotRequest(vmId: string, now: number): Promise<boolean> {
    return num(await this.run('claimSnapshotRequest', vmId, now)) === 1;
  }

  async putSnapshot(vmId: string, jpeg: Buffer, at: number): Promise<boolean> {
    return num(await this.run('putSnapshot', vmId, at, jpeg)) === 1;
  }

  async getSnapshot(vmId: string): Promise<Snapshot | undefined> {
    const [at, jpeg] = await this.conn.call((r) => r.hmgetBuffer(`${this.p}snap:${vmId}`, 'at', 'jpeg'));
    if (!at || !jpeg) return undefined;
    return { jpeg, at: Number(at.toString()) };
  }

  getRun(vmId: string): Promise<RunDoc | undefined> {
    return this.runs.get(vmId);
  }

  updateRun<T>(vmId: string, update: (current: RunDoc) => RunUpdate<T>): Promise<T | undefined> {
    return this.runs.update(vmId, update);
  }

  getThumbnail(vmId: string, index: number): Promise<Buffer | undefined> {
    return this.runs.thumbnail(vmId, index);
  }

  private async readRecordings(vmId: string) {
    // Validated where it leaves the shared store: another controller version may have written it.
    return versionedDoc(await this.run('getDoc', vmId, 'rec'), (json) => RecordingsDoc.parse(json), emptyRecordings);
  }

  async getRecordings(vmId: string): Promise<RecordingsDoc | undefined> {
    return (await this.readRecordings(vmId))?.doc;
  }

  updateRecordings<T>(
    vmId: string,
    update: (current: RecordingsDoc) => RecordingsUpdate<T>,
  ): Promise<RecordingsUpdate<T> | undefined> {
    // Recording changes come at the operator's and the segments' pace (one per segment length).
    return this.recordingWrites.run(vmId, () =>
      compareAndSet(
        'updateRecordings',
        vmId,
        () => this.readRecordings(vmId),
        update,
        async (version, u) =>
          num(await this.run('casRecordings', vmId, version, JSON.stringify(u.doc), u.wake ? '1' : '0')),
      ),
    );
  }

  async addHealth(vmId: string, sample: HealthSample, keep: number): Promise<void> {
    await this.run('addHealth', vmId, JSON.stringify(sample), keep);
  }

  async getHealth(vmId: string, last?: number): Promise<HealthSample[]> {
    const raw = await this.conn.call((r) => r.lrange(`${this.p}v:${vmId}:h`, last === undefined ? 0 : -last, -1));
    const out: HealthSample[] = [];
    for (const entry of raw) {
      // Validated where it leaves the shared store: another controller version may have written it.
      const parsed = HealthSample.safeParse(JSON.parse(entry));
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }

  async appendAudit(vmId: string, events: readonly NewAuditEvent[], keep: number): Promise<AuditEvent[] | undefined> {
    const first = num(await this.run('appendAudit', vmId, keep, ...events.map((e) => JSON.stringify(e))));
    if (first === 0) return events.length === 0 && (await this.getVm(vmId)) ? [] : undefined;
    return events.map((e, i) => ({ ...e, seq: first + i }) as AuditEvent);
  }

  async getAudit(vmId: string, since: number): Promise<AuditRead | undefined> {
    const r = list(await this.run('getAudit', vmId, since));
    if (r.length < 2) return undefined;
    const events: AuditEvent[] = [];
    for (const entry of list(r[1]).map(str)) {
      const bar = entry.indexOf('|');
      // Validated where it leaves the shared store: another controller version may have written it.
      const parsed = AuditEvent.safeParse({ ...JSON.parse(entry.slice(bar + 1)), seq: Number(entry.slice(0, bar)) });
      if (parsed.success) events.push(parsed.data);
    }
    return { events, lastSeq: num(r[0]) };
  }

  async expireIdle(olderThan: number, now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = num(await this.run('expireIdle', olderThan, now, SWEEP_BATCH));
      total += n;
      if (n < SWEEP_BATCH) return total;
    }
  }

  sessionCount(): Promise<number> {
    return this.conn.call((r) => r.zcard(`${this.p}idle`));
  }

  subscribe(topic: string, listener: () => void): Promise<Unsubscribe> {
    return this.topics.subscribe(topic, listener);
  }

  /** Channels this process is subscribed to (tests check nothing leaks). */
  get subscribedTopics(): number {
    return this.topics.size;
  }

  /** Runs a raw command on the store's connection (tests and the store benchmark: INFO, FLUSHDB). */
  command<T>(run: (r: import('ioredis').Redis) => Promise<T>): Promise<T> {
    return this.conn.call(run);
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

function writeResult(r: unknown): WriteResult {
  switch (r) {
    case 'ok':
    case 'not_found':
    case 'exists':
    case 'missing':
    case 'limit':
      return r;
    default:
      throw new Error(`unexpected script reply ${String(r)}`);
  }
}
