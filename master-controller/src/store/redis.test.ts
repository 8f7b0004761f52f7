/**
 * What only a shared store has to get right: two RedisStore instances (two
 * controller processes) on one real redis-server writing at once, control by
 * compare-and-set, wake-ups across instances, an outage and the recovery from
 * it, and memory that stays bounded.
 */
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyControl } from '../control/transitions.js';
import { ApiError } from '../errors.js';
import { type RedisServer, startRedisServer } from '../test/redis-server.js';
import { RedisStore } from './redis.js';
import { StoreUnavailableError, topics } from './types.js';

let redis: RedisServer;
let n = 0;
const open: RedisStore[] = [];

beforeAll(async () => {
  redis = await startRedisServer({ persistent: true });
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(() => redis.stop());

/** `count` stores sharing one prefix: controllers sharing a deployment. */
async function processes(count: number, maxSessions = 1000): Promise<RedisStore[]> {
  const prefix = `rt${++n}:`;
  const out: RedisStore[] = [];
  for (let i = 0; i < count; i++) {
    const s = new RedisStore({ url: redis.url, prefix, maxSessions, log: pino({ level: 'silent' }) });
    expect(await s.connect(5000)).toBe(true);
    open.push(s);
    out.push(s);
  }
  return out;
}

async function withSession(store: RedisStore, sessionId = 's1', vmId = 'vm1') {
  if (!(await store.getVm(vmId))) await store.createVm({ vmId, name: vmId, createdAt: 1000 });
  await store.createSession({
    sessionId,
    vmId,
    owner: `owner-${sessionId}`,
    kind: 'rest',
    role: 'view',
    createdAt: Date.now(),
  });
}

const cand = (i: number) => ({
  candidate: `candidate:${i} 1 udp 1 10.0.0.1 ${1000 + i} typ host`,
  sdpMLineIndex: 0,
  sdpMid: '0',
});

describe('RedisStore across processes', () => {
  it('candidates written at once through two stores get distinct seqs 1..N, none lost or repeated', async () => {
    const [a, b] = await processes(2);
    if (!a || !b) throw new Error('no stores');
    await withSession(a);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).addCandidate('s1', 'browser', cand(i), Date.now())),
    );
    const seqs = results.map((r) => (typeof r === 'object' ? r.seq : -1)).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const read = await b.getCandidates('s1', 'browser', 0);
    expect(read?.candidates.map((c) => c.seq)).toEqual(seqs);
    expect(new Set(read?.candidates.map((c) => c.candidate)).size).toBe(200);
  });

  it('two stores racing to take control for different viewers: exactly one wins, the other is control_held', async () => {
    const [a, b] = await processes(2);
    if (!a || !b) throw new Error('no stores');
    await withSession(a, 'sa');
    await withSession(a, 'sb');
    for (let round = 0; round < 20; round++) {
      const take = (store: RedisStore, sessionId: string) =>
        store
          .updateControl('vm1', (cur) =>
            applyControl(cur, 'take', { kind: 'viewer', sessionId, owner: `owner-${sessionId}` }, Date.now()),
          )
          .then(
            (state) => ({ ok: state.holder === sessionId }),
            (err: unknown) => ({ ok: false, held: err instanceof ApiError && err.code === 'control_held' }),
          );
      const [ra, rb] = await Promise.all([take(a, 'sa'), take(b, 'sb')]);
      expect([ra.ok, rb.ok].filter(Boolean)).toHaveLength(1);
      const loser = ra.ok ? rb : ra;
      expect(loser).toEqual({ ok: false, held: true });
      const winner = ra.ok ? 'sa' : 'sb';
      expect((await b.getVm('vm1'))?.control.holder).toBe(winner);
      await a.updateControl('vm1', (cur) => applyControl(cur, 'release', { kind: 'vm' }, Date.now()));
    }
  });

  it('a write through one store wakes a subscriber of the other, even one that subscribed just before', async () => {
    const [a, b] = await processes(2);
    if (!a || !b) throw new Error('no stores');
    await withSession(a);
    for (let i = 0; i < 50; i++) {
      let woken = false;
      const off = await b.subscribe(topics.session('s1'), () => {
        woken = true;
      });
      await a.addCandidate('s1', 'vm', cand(i), Date.now());
      await expect.poll(() => woken, { timeout: 1000, interval: 5 }).toBe(true);
      off();
    }
    await expect.poll(() => b.subscribedTopics).toBe(0);
  });

  it('an idle session ends in one store only, leaving no key behind', async () => {
    const [a, b] = await processes(2);
    if (!a || !b) throw new Error('no stores');
    const keys = async () => (await a.command((r) => r.keys(`rt${n}:*`))).map((k) => k.slice(`rt${n}:`.length)).sort();
    await withSession(a, 'old');
    await a.addCandidate('old', 'vm', cand(1), 1);
    await a.setOffer('old', 'v=0', 1);
    const ended = await Promise.all([
      a.expireIdle(Date.now() + 1, Date.now()),
      b.expireIdle(Date.now() + 1, Date.now()),
    ]);
    expect(ended[0] + ended[1]).toBe(1);
    expect(await a.getSession('old')).toBeUndefined();
    // Only the VM's hash and the VM list stay (Redis drops the emptied session set itself).
    expect(await keys()).toEqual(['v:vm1', 'vms']);
    expect(await a.sessionCount()).toBe(0);
  });
});

describe('RedisStore when Redis goes away', () => {
  it('fails fast with StoreUnavailableError while Redis is down, then recovers by itself and wakes its waiters', async () => {
    const [a] = await processes(1);
    if (!a) throw new Error('no store');
    await withSession(a);
    let woken = 0;
    const off = await a.subscribe(topics.session('s1'), () => woken++);

    await redis.kill();
    await expect.poll(() => a.reachable, { timeout: 3000, interval: 20 }).toBe(false);
    const t0 = performance.now();
    const err = await a.getSession('s1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - t0).toBeLessThan(500);
    await expect(a.subscribe(topics.session('other'), () => undefined)).rejects.toBeInstanceOf(StoreUnavailableError);

    await redis.restart();
    await expect.poll(() => a.reachable, { timeout: 5000, interval: 20 }).toBe(true);
    expect(a.reachableSince).toBeGreaterThan(0);
    // A publish may have been missed while the pub/sub connection was down: waiters re-read.
    await expect.poll(() => woken, { timeout: 3000 }).toBeGreaterThan(0);
    // The append-only file kept the session; the restored subscription receives again.
    expect((await a.getSession('s1'))?.vmId).toBe('vm1');
    const seen = woken;
    await a.addCandidate('s1', 'vm', cand(1), Date.now());
    await expect.poll(() => woken, { timeout: 2000 }).toBeGreaterThan(seen);
    off();
  });
});
