/**
 * Controller memory per VM for the heartbeat health ring (issue 17): N VMs in
 * the memory store, each filled to VMLIVE_HEALTH_RING samples of a realistic
 * report (one viewer listed), heap before/after with a forced GC; and the
 * same ring as a Redis list (MEMORY USAGE of one VM's key) on a real
 * redis-server started here.
 *
 *   node --expose-gc --import tsx scripts/bench-health-ring.ts [--vms N] [--ring R]
 */
import { parseArgs } from 'node:util';
import type { HealthSample } from '@vmlive/protocol';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryStore } from '../master-controller/src/store/memory.js';
import { RedisStore } from '../master-controller/src/store/redis.js';
import { startRedisServer } from '../master-controller/src/test/redis-server.js';

const { values } = parseArgs({
  options: { vms: { type: 'string', default: '1000' }, ring: { type: 'string', default: '120' } },
});
const VMS = Number(values.vms);
const RING = Number(values.ring);
const gc = globalThis.gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc --import tsx scripts/bench-health-ring.ts\n');
  process.exit(2);
}

// Values differ per sample (as real ones do), so nothing is shared between samples.
const sample = (vm: number, i: number): HealthSample => ({
  at: 1_700_000_000_000 + i * 5000,
  helper: 'up',
  fps: 29 + (i % 10) / 10,
  bitrateKbps: 800 + vm + i / 7,
  cpuPercent: 10 + (i % 13) / 3,
  rssBytes: 90_000_000 + i * 4096,
  captureToSendMs: 8 + (i % 10),
  restarts: vm % 3,
  peers: 1,
  lastError: null,
  snapshotsRequested: i,
  sessions: [{ sessionId: `s${vm}x${i % 4}abcdefgh`, connectionState: 'connected', bytesSent: 1_000_000 + i * 1000 }],
});

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const store = new MemoryStore({ maxSessions: 10 });
for (let v = 0; v < VMS; v++) await store.createVm({ vmId: `vm${v}`, name: `vm${v}`, createdAt: v });
// Warm-up on a throwaway store, so the code's own first-run allocations are not counted.
const warm = new MemoryStore({ maxSessions: 10 });
await warm.createVm({ vmId: 'w', name: 'w', createdAt: 0 });
for (let i = 0; i < 2 * RING; i++) await warm.addHealth('w', sample(0, i), RING);
await warm.close();
const before = heap();
for (let v = 0; v < VMS; v++) for (let i = 0; i < RING; i++) await store.addHealth(`vm${v}`, sample(v, i), RING);
const after = heap();
const kept = (await store.getHealth('vm0')).length; // keeps the store alive past the measurement
const perVm = (after - before) / VMS;
console.log(
  `memory store: ${VMS} VMs × ${RING} samples: heap +${((after - before) / 1024 / 1024).toFixed(1)} MiB = ${(perVm / 1024).toFixed(1)} KiB per VM (${(perVm / RING).toFixed(0)} B per sample; ${kept} kept per VM)`,
);

const redis = await startRedisServer();
try {
  const rs = new RedisStore({ url: redis.url, prefix: 'bench:', maxSessions: 10, log: pino({ level: 'silent' }) });
  await rs.connect(5000);
  await rs.createVm({ vmId: 'vm0', name: 'vm0', createdAt: 0 });
  for (let i = 0; i < RING; i++) await rs.addHealth('vm0', sample(0, i), RING);
  const r = new Redis(redis.url);
  const bytes = Number(await r.call('MEMORY', 'USAGE', 'bench:v:vm0:h', 'SAMPLES', '0'));
  console.log(`redis store: one VM's ring of ${RING} samples: ${(bytes / 1024).toFixed(1)} KiB (MEMORY USAGE)`);
  r.disconnect();
  await rs.close();
} finally {
  await redis.stop();
}
