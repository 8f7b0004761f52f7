/** The Store contract, on both stores: the memory store and a Redis store on a real redis-server. */
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../test/redis-server.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
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
      await store.createSession({ sessionId: `s${i}`, vmId: 'vm1', owner: 'o', createdAt: at });
    }
    return store;
  }

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

  it('refuses sessions beyond maxSessions and for unknown VMs', async () => {
    const store = await newStore(1);
    await store.createVm({ vmId: 'vm1', name: 'vm1', createdAt: 0 });
    expect(await store.createSession({ sessionId: 'a', vmId: 'vm1', owner: 'o', createdAt: 0 })).toBe(true);
    expect(await store.createSession({ sessionId: 'b', vmId: 'vm1', owner: 'o', createdAt: 0 })).toBe(false);
    expect(await store.createSession({ sessionId: 'c', vmId: 'nope', owner: 'o', createdAt: 0 })).toBe(false);
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
    expect(await store.expireLeases(1600, 1700, 'agent')).toEqual([{ vmId: 'vm1', sessionId: 's0' }]);
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
