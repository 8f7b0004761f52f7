/**
 * Benchmark of one master-controller process (issue 2 targets):
 *   candidate POST req/s + p99, GET candidates?since req/s + p99 (autocannon),
 *   long-poll wake-up latency p50/p99 with 1,000 and 10,000 concurrent waiters
 *   (time from sending the write to receiving the woken response),
 *   RSS per idle session;
 * then candidate POST and GET since again on a second controller child whose
 * store is a redis-server started here (own port and temporary directory),
 * then both loads on each store with the rate limits on (at budgets no run
 * can spend, so what shows is what they cost every request in production),
 * and the bare node:http / Express baselines, all in the same run.
 * The controller runs in a child process (so RSS is its own), started with
 * --expose-gc so memory is measured after a full collection. The stages live in
 * lib/bench-controller/: processes (controller child, baselines), load
 * (autocannon), wake-up (long-poll waiters), table.
 *
 *   npx tsx scripts/bench-controller.ts [--quick] [--json-out FILE]
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ApiClient, LIMITS, routes } from '@vmlive/protocol';
import { startRedisServer } from '../master-controller/src/test/redis-server.js';
import {
  type CannonResult,
  candidatePostLoad,
  cannon,
  fillCandidates,
  getSinceLoad,
} from './lib/bench-controller/load.js';
import {
  childMem,
  forkBaseline,
  forkController,
  OPERATOR,
  runBaselineChild,
  runControllerChild,
  stopController,
} from './lib/bench-controller/processes.js';
import { type BenchResult, printTable, type Throughput } from './lib/bench-controller/table.js';
import { type WakeResult, wakeUp } from './lib/bench-controller/wake-up.js';
import { pool } from './lib/pool.js';

const HELP = `usage: npx tsx scripts/bench-controller.ts [--quick] [--json-out FILE] [--help]

Starts one master controller in a child process and measures:
  - candidate POST: req/s and p99 (autocannon)
  - GET candidates?since=: req/s and p99 (autocannon)
  - long-poll wake-up latency p50/p99 with 1,000 and 10,000 concurrent waiters
  - RSS (and heap) per idle session
  - candidate POST and GET since again with VMLIVE_STORE=redis:// (a redis-server started here)
  - both again on each store with the rate limits on (budgets no run can spend: their cost only)
  - bare node:http and Express "hello" baselines
Prints a table, then one JSON line. Exit code 0 even when a target is missed.

  --quick          smaller, < 45 s (CI smoke): 2 s runs, 1,000 waiters, 1,000 idle sessions
  --no-redis       skip the Redis-store stages
  --v8-defaults    run the controller on V8's default heap sizing, not the services' tuning
                   (@vmlive/protocol/node-heap), to measure what that tuning costs
  --json-out FILE  also write the JSON result to FILE
  --help           this text

Targets: >= 5,000 req/s, p99 <= 20 ms, wake-up p99 <= 20 ms at 10,000 waiters, <= 2 KiB per idle session.`;

const SELF = fileURLToPath(import.meta.url);
/** The controller children on V8's default heap sizing (what the services' tuning costs). */
const V8_DEFAULTS = process.argv.includes('--v8-defaults');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const known = new Set(['--quick', '--no-redis', '--v8-defaults', '--json-out', '--help', '-h']);
  const jsonOutIdx = args.indexOf('--json-out');
  const jsonOut = jsonOutIdx >= 0 ? args[jsonOutIdx + 1] : undefined;
  for (const [i, a] of args.entries()) {
    if (!known.has(a) && i !== jsonOutIdx + 1) {
      process.stderr.write(`unknown option ${a}\n\n${HELP}\n`);
      process.exit(2);
    }
  }
  if (jsonOutIdx >= 0 && !jsonOut) {
    process.stderr.write('--json-out needs a file name\n');
    process.exit(2);
  }
  const quick = args.includes('--quick');
  const plan = quick
    ? { duration: 2, connections: 32, idleSessions: 1_000, waiterCounts: [1_000], samples: 300 }
    : { duration: 10, connections: 64, idleSessions: 10_000, waiterCounts: [1_000, 10_000], samples: 2_000 };

  const started = Date.now();
  const { child, url } = await forkController(SELF, [], { v8Defaults: V8_DEFAULTS });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  // The timed long-poll writes go raw on this agent; everything else through the protocol's client.
  const writeAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const operator = new ApiClient({ baseUrl: url, token: OPERATOR });
  const log = (s: string) => process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${s}\n`);
  const load = { url, connections: plan.connections, duration: plan.duration };

  try {
    const vm = await operator.call(routes.createVm, { body: { name: 'bench' } });
    const viewerToken = (
      await operator.call(routes.createViewerToken, {
        params: { vmId: vm.vmId },
        body: { role: 'control', ttlSeconds: 3600 },
      })
    ).token;
    const viewer = operator.withToken(viewerToken);
    const newSessions = (n: number) =>
      pool(n, 64, async () => (await viewer.call(routes.createSession, { body: { vmId: vm.vmId } })).sessionId);
    const endSession = (id: string) => viewer.call(routes.deleteSession, { params: { id } });

    // 1. Memory per idle session (first, before autocannon grows the heap).
    // Warm-up round (create, then end, the same number of sessions) so the baseline already
    // includes the heap pages that request handling itself grows; the delta is then what
    // the live sessions retain.
    log(`memory: warm-up, then ${plan.idleSessions} idle sessions`);
    const warm = await newSessions(plan.idleSessions);
    await pool(warm.length, 64, (i) => endSession(warm[i] as string));
    const mem0 = await childMem(child);
    const idle = await newSessions(plan.idleSessions);
    const mem1 = await childMem(child);
    const perSession = {
      sessions: plan.idleSessions,
      rssBytes: Math.round((mem1.rss - mem0.rss) / plan.idleSessions),
      heapBytes: Math.round((mem1.heapUsed - mem0.heapUsed) / plan.idleSessions),
      rssBeforeMiB: +(mem0.rss / 2 ** 20).toFixed(1),
      rssAfterMiB: +(mem1.rss / 2 ** 20).toFixed(1),
    };

    // 2. Candidate POST throughput. 256 candidates per side per session: rotate over enough sessions
    // that a run at the bare node:http baseline's rate (~90k req/s here) never fills them all; a full
    // session answers 409 too_many_candidates, which the bench counts as a failure.
    const postSessionCount = Math.ceil((100_000 * (quick ? 2 : 10)) / LIMITS.candidatesPerSide);
    const postSessions = await newSessions(postSessionCount);
    log(`candidate POST: ${plan.duration}s, ${plan.connections} connections`);
    const post = await candidatePostLoad(child, load, viewerToken, postSessions);

    // 3. GET since: sessions holding 4 candidates (as a real session holds a handful), random cursor.
    // Fresh ones: the POST stage left up to 256 in each of its sessions, and a reply of 100+ candidates
    // would measure JSON encoding of a session no browser makes.
    const getSessions = await newSessions(100);
    await fillCandidates(viewer, getSessions);
    log(`GET candidates?since: ${plan.duration}s`);
    const get = await getSinceLoad(child, load, vm.vmToken, getSessions);

    // 4. Long-poll wake-up latency with N waiters (the idle sessions, one waiter each).
    const wake: Record<string, WakeResult> = {};
    const target = { url, viewer, viewerToken, writeAgent, vmToken: vm.vmToken };
    let used = 0;
    for (const n of plan.waiterCounts) {
      // Untouched sessions only: earlier stages leave candidates behind or end theirs.
      const sessions = idle.slice(used, used + n);
      used += sessions.length;
      if (sessions.length < n) sessions.push(...(await newSessions(n - sessions.length)));
      log(`wake-up: ${n} waiters, ${Math.min(plan.samples, n)} writes`);
      wake[String(n)] = await wakeUp(target, sessions, Math.min(plan.samples, n));
    }

    // The same two loads on a controller whose store is Redis: one process, every request a round trip.
    // Then both stores again with the rate limits on (as in production), at budgets no run can spend.
    const noRedis = args.includes('--no-redis');
    let redisStore: BenchResult['redisStore'];
    if (!noRedis) {
      log('redis store: candidate POST and GET since');
      redisStore = await storeThroughput(load, postSessionCount, { redis: true, rateLimits: false });
    }
    log('memory store, rate limits on: candidate POST and GET since');
    const rateLimited: BenchResult['rateLimited'] = {
      memory: await storeThroughput(load, postSessionCount, { redis: false, rateLimits: true }),
    };
    if (!noRedis) {
      log('redis store, rate limits on: candidate POST and GET since');
      rateLimited.redis = await storeThroughput(load, postSessionCount, { redis: true, rateLimits: true });
    }

    // Baselines: the same load against a bare node:http and a bare Express "hello" on this machine now.
    const baselines: Record<string, CannonResult> = {};
    for (const kind of ['http', 'express']) {
      log(`baseline: bare ${kind} server, ${plan.duration}s`);
      const base = await forkBaseline(SELF, kind);
      baselines[kind] = await cannon(base.child, {
        url: base.url,
        connections: plan.connections,
        duration: plan.duration,
      });
      base.child.kill('SIGKILL');
    }

    const result: BenchResult = {
      mode: quick ? 'quick' : 'full',
      v8Heap: V8_DEFAULTS ? 'defaults' : 'service-tuned',
      baselines,
      node: process.version,
      cpus: cpus().length,
      candidatePost: post,
      getSince: get,
      wakeUp: wake,
      idleSession: perSession,
      ...(redisStore ? { redisStore } : {}),
      rateLimited,
    };
    printTable(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    writeAgent.destroy();
    await stopController(child);
  }
}

/**
 * A fresh controller child (on a fresh redis-server when `redis`): candidate POST, then GET since
 * on other sessions holding 4 candidates each, as for the first controller.
 */
async function storeThroughput(
  load: { url: string; connections: number; duration: number },
  postSessionCount: number,
  opts: { redis: boolean; rateLimits: boolean },
): Promise<Throughput> {
  const server = opts.redis ? await startRedisServer() : null;
  const { child, url } = await forkController(
    SELF,
    [server?.url ?? 'memory', ...(opts.rateLimits ? ['--rate-limits'] : [])],
    { v8Defaults: V8_DEFAULTS },
  );
  try {
    const operator = new ApiClient({ baseUrl: url, token: OPERATOR });
    const vm = await operator.call(routes.createVm, { body: { name: 'bench-store' } });
    const viewerToken = (
      await operator.call(routes.createViewerToken, {
        params: { vmId: vm.vmId },
        body: { role: 'control', ttlSeconds: 3600 },
      })
    ).token;
    const viewer = operator.withToken(viewerToken);
    const newSessions = (n: number) =>
      pool(n, 64, async () => (await viewer.call(routes.createSession, { body: { vmId: vm.vmId } })).sessionId);
    const plan = { ...load, url };
    const candidatePost = await candidatePostLoad(child, plan, viewerToken, await newSessions(postSessionCount));
    const getSessions = await newSessions(100);
    await fillCandidates(viewer, getSessions);
    const getSince = await getSinceLoad(child, plan, vm.vmToken, getSessions);
    return { candidatePost, getSince };
  } finally {
    await stopController(child);
    await server?.stop();
  }
}

// The same file is the entry of its children (forked with --child [STORE [--rate-limits]] / --baseline).
if (process.argv.includes('--child')) {
  const store = process.argv[process.argv.indexOf('--child') + 1];
  await runControllerChild(store && store !== 'memory' ? { store } : {}, {
    rateLimits: process.argv.includes('--rate-limits'),
  });
} else if (process.argv.includes('--baseline'))
  await runBaselineChild(process.argv[process.argv.indexOf('--baseline') + 1] ?? 'http');
else {
  await main();
  process.exit(0);
}
