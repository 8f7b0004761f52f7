/** The Store contract, on both stores: the memory store and a Redis store on a real redis-server. */

import type { HealthSample, NewAuditEvent } from '@vmlive/protocol';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addSegment, startRecording, stopRecording } from '../recordings/doc.js';
import { attachThumbnail, reportStep } from '../run/timeline.js';
import { type RedisServer, startRedisServer } from '../test/redis-server.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { RunDoc } from './run-doc.js';
import { type Store, topics } from './types.js';

const c = (candidate: string) => ({ candidate, sdpMLineIndex: 0, sdpMid: null });

type TestStore = Store & { subscribedTopics: number };

describe.each(['memory', 'redis'] as const)('%s store', (kind) => {
  let redis: RedisServer | null = null;
  let n = 0;
  const open: TestStore[] = [];
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(() => redis?.stop());

  async function newStore(maxSessions = 1000): Promise<TestStore> {
    let store: TestStore;
    if (kind === 'memory' || !redis) store = new MemoryStore({ maxSessions });
    else {
      const r = new RedisStore({ url: redis.url, prefix: `st${++n}:`, maxSessions, log: pino({ level: 'silent' }) });
      await r.connect(5000);
      store = r;
    }
    open.push(store);
    return store;
  }

  async function storeWithSessions(count: number, at = 1000) {
    const store = await newStore();
    await store.createVm({ vmId: 'vm1', name: 'vm1', createdAt: at });
    for (let i = 0; i < count; i++) {
      await store.createSession({
        sessionId: `s${i}`,
        vmId: 'vm1',
        owner: 'o',
        kind: 'rest',
        role: 'control',
        createdAt: at,
      });
    }
    return store;
  }

  it("keeps a session's ICE transport policy (all unless asked) next to its kind, in reads and in the VM's offered list", async () => {
    const store = await newStore();
    await store.createVm({ vmId: 'vm1', name: 'vm1', createdAt: 1000 });
    await store.createSession({
      sessionId: 'r',
      vmId: 'vm1',
      owner: 'o',
      kind: 'whep',
      role: 'view',
      createdAt: 1000,
      iceTransportPolicy: 'relay',
    });
    await store.createSession({
      sessionId: 'a',
      vmId: 'vm1',
      owner: 'o',
      kind: 'rest',
      role: 'control',
      createdAt: 1000,
    });
    expect((await store.getSession('r'))?.iceTransportPolicy).toBe('relay');
    expect((await store.getSession('a'))?.iceTransportPolicy).toBe('all');
    await store.setOffer('r', 'v=0', 1100);
    await store.setOffer('a', 'v=0', 1200);
    const offered = await store.listVmSessions('vm1', 'offered');
    expect(offered.map((s) => [s.sessionId, s.iceTransportPolicy, s.kind])).toEqual([
      ['r', 'relay', 'whep'],
      ['a', 'all', 'rest'],
    ]);
  });

  it('expires only sessions idle past the cutoff, oldest activity first, whatever their creation order', async () => {
    const store = await storeWithSessions(3, 1000);
    await store.touchSession('s0', 5000); // s0 is now the most recently active
    await store.getSession('s1'); // a read is not activity
    expect(await store.expireIdle(2000, 6000)).toBe(2);
    expect(await store.getSession('s0')).toBeDefined();
    expect(await store.getSession('s1')).toBeUndefined();
    expect(await store.countVmSessions('vm1')).toBe(1);
    expect(await store.sessionCount()).toBe(1);
  });

  it('touches many sessions in one call, past one batch, skipping ids that no longer exist', async () => {
    const store = await storeWithSessions(600, 1000);
    const ids = Array.from({ length: 600 }, (_, i) => `s${i}`).filter((id) => id !== 's1');
    await store.endSession('s1', 1100);
    await store.touchSessions([...ids, 'gone'], 5000);
    // Every touched session is now active at 5000: none is idle past a 2000 cutoff at 6000.
    expect(await store.expireIdle(2000, 6000)).toBe(0);
    expect(await store.sessionCount()).toBe(599);
    expect(await store.getSession('gone')).toBeUndefined();
  });

  it('keeps candidates in seq order per side with one per-session sequence', async () => {
    const store = await storeWithSessions(1);
    await store.addCandidate('s0', 'browser', c('a'), 1);
    await store.addCandidate('s0', 'vm', c('b'), 2);
    await store.addCandidate('s0', 'browser', c('c'), 3);
    const all = await store.getCandidates('s0', 'browser', 0);
    expect(all?.candidates.map((x) => [x.candidate, x.seq])).toEqual([
      ['a', 1],
      ['c', 3],
    ]);
    expect(all?.cursor).toBe(3);
    expect((await store.getCandidates('s0', 'browser', 1))?.candidates.map((x) => x.seq)).toEqual([3]);
    expect(await store.getCandidates('s0', 'browser', 3)).toEqual({ candidates: [], cursor: 3 });
    expect(await store.getCandidates('s0', 'vm', 2)).toEqual({ candidates: [], cursor: 2 });
  });

  it('stores a candidate sent again once (its first seq back), even at the limit, telling the same line on two m-lines apart', async () => {
    const store = await storeWithSessions(1);
    const on = (sdpMLineIndex: number, sdpMid: string | null) => ({ candidate: 'x', sdpMLineIndex, sdpMid });
    const first = await store.addCandidate('s0', 'browser', on(0, '0'), 1);
    const second = await store.addCandidate('s0', 'browser', on(1, '1'), 2);
    const third = await store.addCandidate('s0', 'browser', on(1, null), 3);
    expect([first, second, third]).toEqual([
      { seq: 1, timestamp: 1 },
      { seq: 2, timestamp: 2 },
      { seq: 3, timestamp: 3 },
    ]);
    for (let i = 3; i < 256; i++) expect(await store.addCandidate('s0', 'browser', c(`f${i}`), 10)).not.toBe('limit');
    expect(await store.addCandidate('s0', 'browser', c('one-too-many'), 11)).toBe('limit');
    // Retries, the later m-lines' first: each gets its own seq back and nothing is stored.
    expect(await store.addCandidate('s0', 'browser', on(1, null), 20)).toEqual(third);
    expect(await store.addCandidate('s0', 'browser', on(1, '1'), 20)).toEqual(second);
    expect(await store.addCandidate('s0', 'browser', on(0, '0'), 20)).toEqual(first);
    expect(await store.addCandidate('s0', 'browser', c('f200'), 20)).toMatchObject({ timestamp: 10 });
    const all = await store.getCandidates('s0', 'browser', 0);
    expect(all?.candidates).toHaveLength(256);
    expect(all?.cursor).toBe(256);
  });

  it('publishes on the session topic and cleans up listeners when they unsubscribe', async () => {
    const store = await storeWithSessions(1);
    let woken = 0;
    const off = await store.subscribe(topics.session('s0'), () => woken++);
    await store.addCandidate('s0', 'vm', c('x'), 1);
    await store.setOffer('s0', 'v=0', 2);
    await expect.poll(() => woken).toBe(2);
    off();
    expect(store.subscribedTopics).toBe(0);
  });

  it('keeps the kind a session was created with, in getSession and in the VM listing', async () => {
    const store = await storeWithSessions(1);
    await store.createSession({ sessionId: 'w', vmId: 'vm1', owner: 'o', kind: 'whep', role: 'view', createdAt: 1000 });
    await store.setOffer('s0', 'v=0', 1001);
    await store.setOffer('w', 'v=0', 1002);
    expect((await store.getSession('w'))?.kind).toBe('whep');
    expect((await store.getSession('s0'))?.kind).toBe('rest');
    const listed = await store.listVmSessions('vm1', 'offered');
    expect(listed.map((x) => [x.sessionId, x.kind])).toEqual([
      ['s0', 'rest'],
      ['w', 'whep'],
    ]);
  });

  it('refuses sessions beyond maxSessions and for unknown VMs', async () => {
    const store = await newStore(1);
    await store.createVm({ vmId: 'vm1', name: 'vm1', createdAt: 0 });
    expect(
      await store.createSession({
        sessionId: 'a',
        vmId: 'vm1',
        owner: 'o',
        kind: 'rest',
        role: 'control',
        createdAt: 0,
      }),
    ).toBe(true);
    expect(
      await store.createSession({
        sessionId: 'b',
        vmId: 'vm1',
        owner: 'o',
        kind: 'rest',
        role: 'control',
        createdAt: 0,
      }),
    ).toBe(false);
    expect(
      await store.createSession({
        sessionId: 'c',
        vmId: 'nope',
        owner: 'o',
        kind: 'rest',
        role: 'control',
        createdAt: 0,
      }),
    ).toBe(false);
  });

  it('ending a leased holder session keeps control until the lease expires, then returns it with a later since', async () => {
    const store = await storeWithSessions(1);
    const taken = await store.updateControl('vm1', (cur) => ({
      control: { mode: 'user', holder: 's0', since: cur.control.since + 1 },
      lease: { sessionId: 's0', owner: 'o', aliveAt: 1000 },
    }));
    await store.touchSession('s0', 1500);
    await store.endSession('s0', 1600);
    expect((await store.getVm('vm1'))?.control).toEqual(taken);
    expect(await store.expireLeases(1400, 1700, 'agent')).toEqual([]);
    expect(await store.expireLeases(1600, 1700, 'agent')).toEqual([
      { vmId: 'vm1', sessionId: 's0', control: { from: 'user', to: 'agent' } },
    ]);
    const vm = await store.getVm('vm1');
    expect(vm?.control).toMatchObject({ mode: 'agent', holder: null });
    expect(vm?.control.since).toBeGreaterThan(taken.since);
    expect(vm?.lease).toBeNull();
  });

  it('ending a holder session without a lease returns control at once; a paused VM stays paused', async () => {
    const store = await storeWithSessions(2);
    await store.updateControl('vm1', (cur) => ({
      control: { mode: 'paused', holder: 's0', since: cur.control.since + 1 },
      lease: null,
    }));
    await store.endSession('s0', 0);
    expect((await store.getVm('vm1'))?.control).toMatchObject({ mode: 'paused', holder: null });
  });

  it('announces a snapshot request to the VM once', async () => {
    const store = await storeWithSessions(0);
    await store.requestSnapshot('vm1', 10_000, 1);
    expect(await store.claimSnapshotRequest('vm1', 2)).toBe(true);
    expect(await store.claimSnapshotRequest('vm1', 3)).toBe(false);
    expect(await store.claimSnapshotRequest('vm1', 20_000)).toBe(false);
  });

  it('deleting a VM drops its sessions and snapshot', async () => {
    const store = await storeWithSessions(5);
    await store.putSnapshot('vm1', Buffer.from([0xff, 0xd8, 0xff]), 1);
    expect(await store.deleteVm('vm1')).toBe(true);
    expect(await store.sessionCount()).toBe(0);
    expect(await store.getSnapshot('vm1')).toBeUndefined();
    expect(await store.deleteVm('vm1')).toBe(false);
  });

  const sample = (at: number): HealthSample => ({
    at,
    helper: 'up',
    fps: 30,
    bitrateKbps: 900,
    cpuPercent: 12.5,
    rssBytes: 80e6,
    captureToSendMs: null,
    restarts: 0,
    peers: 1,
    lastError: null,
    snapshotsRequested: 0,
    sessions: [{ sessionId: 's0', connectionState: 'connected', bytesSent: 1234 }],
  });

  it('keeps the last `keep` health samples per VM, oldest first, and drops them with the VM', async () => {
    const store = await storeWithSessions(0);
    await store.createVm({ vmId: 'vm2', name: 'vm2', createdAt: 1 });
    for (let i = 1; i <= 7; i++) await store.addHealth('vm1', sample(i), 5);
    await store.addHealth('vm2', sample(100), 5);
    await store.addHealth('nope', sample(1), 5);
    expect((await store.getHealth('vm1')).map((s) => s.at)).toEqual([3, 4, 5, 6, 7]);
    expect(await store.getHealth('vm1', 1)).toEqual([sample(7)]);
    expect((await store.getHealth('vm2')).map((s) => s.at)).toEqual([100]);
    expect(await store.getHealth('nope')).toEqual([]);
    await store.deleteVm('vm1');
    expect(await store.getHealth('vm1')).toEqual([]);
  });

  describe('audit trail', () => {
    const ev = (at: number, version = at): NewAuditEvent => ({
      type: 'instructions',
      at,
      actor: { role: 'operator' },
      detail: { version, chars: 3 },
    });

    it('numbers concurrent appends one after another: every seq once, none lost, and the cursor reads each once', async () => {
      const store = await storeWithSessions(0);
      // 20 writers appending 5 events each at once (two per call for half of them).
      const writes = Array.from({ length: 20 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 5; i++) {
            const batch = w % 2 === 0 ? [ev(w * 100 + i)] : [ev(w * 100 + i), ev(w * 100 + i + 50)];
            await store.appendAudit('vm1', batch, 1000);
          }
        })(),
      );
      // A reader following the cursor meanwhile, one read after another.
      const seen: number[] = [];
      let cursor = 0;
      const follow = async () => {
        const r = await store.getAudit('vm1', cursor);
        for (const e of r?.events ?? []) seen.push(e.seq);
        cursor = Math.max(cursor, r?.lastSeq ?? 0);
      };
      let writing = true;
      const reader = (async () => {
        while (writing) await follow();
      })();
      await Promise.all(writes);
      writing = false;
      await reader;
      await follow();
      expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
      const all = await store.getAudit('vm1', 0);
      expect(all?.lastSeq).toBe(150);
      expect(new Set(all?.events.map((e) => e.detail && 'version' in e.detail && e.detail.version)).size).toBe(150);
    });

    it('keeps the last `keep` events, wakes the audit topic, and drops the trail with the VM', async () => {
      const store = await storeWithSessions(0);
      let wakes = 0;
      const unsubscribe = await store.subscribe(topics.audit('vm1'), () => wakes++);
      for (let i = 1; i <= 12; i++) await store.appendAudit('vm1', [ev(i)], 5);
      const r = await store.getAudit('vm1', 0);
      expect(r?.events.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
      expect(r?.events[0]).toEqual({ ...ev(8), seq: 8 });
      expect(r?.lastSeq).toBe(12);
      expect((await store.getAudit('vm1', 10))?.events.map((e) => e.seq)).toEqual([11, 12]);
      expect(await store.appendAudit('nope', [ev(1)], 5)).toBeUndefined();
      expect(await store.getAudit('nope', 0)).toBeUndefined();
      await store.deleteVm('vm1');
      for (let i = 0; i < 50 && wakes < 13; i++) await new Promise((res) => setTimeout(res, 10));
      unsubscribe();
      expect(wakes).toBe(13);
      expect(await store.getAudit('vm1', 0)).toBeUndefined();
      // A VM created again under the same id starts a new trail.
      await store.createVm({ vmId: 'vm1', name: 'vm1', createdAt: 1 });
      expect(await store.getAudit('vm1', 0)).toEqual({ events: [], lastSeq: 0 });
    });
  });

  it('lists every live session of a VM with its role, in creation order, whatever its signaling state', async () => {
    const store = await newStore();
    await store.createVm({ vmId: 'vm1', name: 'vm1', createdAt: 0 });
    await store.createSession({ sessionId: 'b', vmId: 'vm1', owner: 'o1', kind: 'rest', role: 'view', createdAt: 10 });
    await store.createSession({
      sessionId: 'a',
      vmId: 'vm1',
      owner: 'operator',
      kind: 'rest',
      role: 'operator',
      createdAt: 20,
    });
    await store.createSession({
      sessionId: 'c',
      vmId: 'vm1',
      owner: 'o2',
      kind: 'rest',
      role: 'control',
      createdAt: 30,
    });
    await store.setOffer('a', 'v=0 a', 21);
    await store.setOffer('c', 'v=0 c', 31);
    await store.setAnswer('c', 'v=0 c answer', 32);
    const all = await store.listVmSessions('vm1', 'all');
    expect(all.map((s) => [s.sessionId, s.role, s.offer !== null, s.answer !== null])).toEqual([
      ['b', 'view', false, false],
      ['a', 'operator', true, false],
      ['c', 'control', true, true],
    ]);
    expect((await store.listVmSessions('vm1', 'offered')).map((s) => s.sessionId)).toEqual(['a']);
    expect((await store.listVmSessions('vm1', 'active')).map((s) => s.sessionId)).toEqual(['c']);
    expect((await store.getSession('b'))?.role).toBe('view');
  });

  describe('run control', () => {
    const report = (index: number) => (doc: RunDoc) =>
      reportStep(doc, { index, action: 'click', status: 'started' }, 1000 + index);

    it('applies concurrent run updates one after another: no change lost, every seq distinct', async () => {
      const store = await storeWithSessions(0);
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => store.updateRun('vm1', report(i))));
      const seqs = results.map((s) => s?.seq);
      expect(new Set(seqs).size).toBe(30);
      const doc = await store.getRun('vm1');
      expect(doc?.steps.map((s) => s.index)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(doc?.seq).toBe(30);
    });

    it('stores a thumbnail with its step and drops them all with a new run; a refused update changes nothing', async () => {
      const store = await storeWithSessions(0);
      await store.updateRun('vm1', report(0));
      await store.updateRun('vm1', report(1));
      const jpeg = Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3]);
      await store.updateRun('vm1', (doc) => attachThumbnail(doc, 1, jpeg, 2000));
      expect(await store.getThumbnail('vm1', 1)).toEqual(jpeg);
      const before = await store.getRun('vm1');
      await expect(store.updateRun('vm1', (doc) => attachThumbnail(doc, 9, jpeg, 2000))).rejects.toThrow(/no step 9/);
      expect(await store.getRun('vm1')).toEqual(before);
      await store.updateRun('vm1', report(0));
      expect(await store.getThumbnail('vm1', 1)).toBeUndefined();
      expect((await store.getRun('vm1'))?.run).toBe(2);
    });

    it('wakes the steps topic on a step; deleting the VM drops its run and wakes the readers', async () => {
      const store = await storeWithSessions(0);
      let wakes = 0;
      const unsubscribe = await store.subscribe(topics.run('vm1', 'steps'), () => wakes++);
      await store.updateRun('vm1', report(0));
      await store.updateRun('vm1', (doc) => attachThumbnail(doc, 0, Buffer.from([0xff, 0xd8, 0xff]), 1));
      await store.deleteVm('vm1');
      for (let i = 0; i < 50 && wakes < 3; i++) await new Promise((r) => setTimeout(r, 10));
      unsubscribe();
      expect(wakes).toBe(3);
      expect(await store.getRun('vm1')).toBeUndefined();
      expect(await store.getThumbnail('vm1', 0)).toBeUndefined();
      expect(await store.updateRun('vm1', report(1))).toBeUndefined();
    });
  });

  describe('recordings', () => {
    const actor = { role: 'operator' } as const;
    const seg = (startedAt: number) => ({
      startedAt,
      durationMs: 1000,
      bytes: 10,
      mediaType: 'video/webm' as const,
      key: `vm1/r1/${startedAt}.webm`,
    });

    it('applies concurrent segment uploads one after another: none lost, every index distinct', async () => {
      const store = await storeWithSessions(0);
      await store.updateRecordings('vm1', (d) =>
        startRecording(d, { recordingId: 'r1', startedAt: 1, startedBy: actor, segmentSeconds: 1 }),
      );
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          store.updateRecordings('vm1', (d) => addSegment(d, 'r1', seg(1000 + i), 1e9)),
        ),
      );
      const indexes = results.map((u) => (u && 'ok' in u.result ? u.result.ok.index : -1));
      expect(new Set(indexes).size).toBe(30);
      const doc = await store.getRecordings('vm1');
      expect(doc?.recordings[0]?.segments.map((s) => s.startedAt)).toEqual(
        Array.from({ length: 30 }, (_, i) => 1000 + i),
      );
      expect(doc?.active).toBe('r1');
    });

    it("wakes the VM's topic when the order changes (start, stop), not on a segment; deleting the VM drops them", async () => {
      const store = await storeWithSessions(0);
      expect(await store.getRecordings('vm1')).toEqual({ active: null, everyRun: null, recordings: [] });
      let wakes = 0;
      const unsubscribe = await store.subscribe(topics.vm('vm1'), () => wakes++);
      await store.updateRecordings('vm1', (d) =>
        startRecording(d, { recordingId: 'r1', startedAt: 1, startedBy: actor, segmentSeconds: 1 }),
      );
      await store.updateRecordings('vm1', (d) => addSegment(d, 'r1', seg(5), 1e9));
      await store.updateRecordings('vm1', (d) => stopRecording(d, 'r1', 9));
      for (let i = 0; i < 50 && wakes < 2; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      unsubscribe();
      expect(wakes).toBe(2);
      expect((await store.getRecordings('vm1'))?.recordings[0]).toMatchObject({
        stoppedAt: 9,
        segments: [{ index: 0 }],
      });
      await store.deleteVm('vm1');
      expect(await store.getRecordings('vm1')).toBeUndefined();
      expect(await store.updateRecordings('vm1', (d) => stopRecording(d, 'r1', 10))).toBeUndefined();
    });
  });

  it('a token bucket spends its burst, refuses with the wait until the next token, and refills with time', async () => {
    const store = await newStore();
    const b = { key: 'reads:t:x', capacity: 3, refillPerS: 2 };
    for (let i = 0; i < 3; i++) expect(await store.takeTokens([b], 1000)).toBe(0);
    expect(await store.takeTokens([b], 1000)).toBe(500);
    expect(await store.takeTokens([b], 1250)).toBe(250);
    expect(await store.takeTokens([b], 1500)).toBe(0);
    expect(await store.takeTokens([{ ...b, key: 'reads:t:other' }], 1500)).toBe(0);
  });

  it('takes from every bucket or from none', async () => {
    const store = await newStore();
    const address = { key: 'writes:a:1', capacity: 5, refillPerS: 1 };
    const token = { key: 'writes:t:1', capacity: 1, refillPerS: 1 };
    expect(await store.takeTokens([address, token], 0)).toBe(0);
    expect(await store.takeTokens([address, token], 0)).toBe(1000); // the token is empty …
    for (let i = 0; i < 4; i++) expect(await store.takeTokens([address], 0)).toBe(0); // … and the address kept 4
    expect(await store.takeTokens([address], 0)).toBeGreaterThan(0);
  });

  it('holds at most max long-poll slots per key, frees them on release or when their lease ends', async () => {
    const store = await newStore();
    expect(await store.acquireSlot('t:a', 'p1', 2, 1000, 0)).toBe(true);
    expect(await store.acquireSlot('t:a', 'p2', 2, 1000, 0)).toBe(true);
    expect(await store.acquireSlot('t:a', 'p3', 2, 1000, 10)).toBe(false);
    expect(await store.acquireSlot('t:b', 'p1', 2, 1000, 10)).toBe(true);
    await store.releaseSlot('t:a', 'p1');
    expect(await store.acquireSlot('t:a', 'p3', 2, 1000, 20)).toBe(true);
    expect(await store.acquireSlot('t:a', 'p4', 2, 1000, 20)).toBe(false);
    expect(await store.acquireSlot('t:a', 'p4', 2, 1000, 1001)).toBe(true); // p2's lease ended
  });
});
