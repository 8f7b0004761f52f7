/**
 * Benchmark of the Redis store (issue 16): two controller processes on one
 * redis-server (started here, on its own port and temporary directory), and
 *   - 10,000 sessions created across both (half through each), req/s and p99,
 *   - Redis memory per idle session (INFO memory used_memory, before/after),
 *   - candidate POST rotating over those sessions through both at once, req/s and p99,
 *   - GET candidates?since through both at once, req/s and p99.
 * Every stage is bounded in count (autocannon `amount`) and in time (a cap per stage).
 *
 *   npx tsx scripts/bench-store.ts [--quick] [--json-out FILE]
 */

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient, routes } from '@vmlive/protocol';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { startRedisServer } from '../master-controller/src/test/redis-server.js';
import { candidate } from './lib/bench-controller/load.js';
import { forkController, OPERATOR, runControllerChild, stopController } from './lib/bench-controller/processes.js';

const HELP = `usage: npx tsx scripts/bench-store.ts [--quick] [--json-out FILE] [--help]

Starts a redis-server and two master controllers sharing it (VMLIVE_STORE=redis://…), then:
  - creates 10,000 sessions, half through each controller: req/s, p99
  - Redis memory per idle session (INFO memory, before/after)
  - candidate POST through both at once: req/s, p99 (4 per session)
  - GET candidates?since through both at once: req/s, p99
Prints a table, then one JSON line. Exit code 0 even when a target is missed.

  --quick          1,000 sessions (CI smoke, < 60 s)
  --json-out FILE  also write the JSON result to FILE
  --help           this text

Target: <= 4 KiB of Redis memory per idle session.`;

const SELF = fileURLToPath(import.meta.url);
const STAGE_CAP_S = 120;

interface Stage {
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/** One autocannon run per controller, at once; the combined rate and the worse p99. */
async function both(
  urls: string[],
  perController: number,
  make: (k: number, c: number) => { method: 'GET' | 'POST'; path: string; body?: string },
  onBody?: (body: string) => void,
): Promise<Stage> {
  const t0 = performance.now();
  const runs = await Promise.all(
    urls.map((url, c) => {
      let k = 0;
      return autocannon({
        url,
        connections: 32,
        amount: perController,
        duration: STAGE_CAP_S,
        headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req) => ({ ...req, ...make(k++, c) }),
            ...(onBody ? { onResponse: (_status: number, body: string) => onBody(body) } : {}),
          },
        ],
      });
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const requests = runs.reduce((a, r) => a + r.requests.total, 0);
  return {
    requests,
    reqPerSec: Math.round(requests / seconds),
    p50Ms: Math.max(...runs.map((r) => r.latency.p50)),
    p99Ms: Math.max(...runs.map((r) => r.latency.p99)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors + r.timeouts, 0),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const jsonOutIdx = args.indexOf('--json-out');
  const jsonOut = jsonOutIdx >= 0 ? args[jsonOutIdx + 1] : undefined;
  for (const [i, a] of args.entries()) {
    if (!['--quick', '--json-out'].includes(a) && i !== jsonOutIdx + 1) {
      process.stderr.write(`unknown option ${a}\n\n${HELP}\n`);
      process.exit(2);
    }
  }
  if (jsonOutIdx >= 0 && !jsonOut) {
    process.stderr.write('--json-out needs a file name\n');
    process.exit(2);
  }
  const quick = args.includes('--quick');
  const sessionCount = quick ? 1_000 : 10_000;
  const started = Date.now();
  const log = (s: string) =>
    process.stderr.write(`[bench-store +${((Date.now() - started) / 1000).toFixed(1)}s] ${s}\n`);

  const server = await startRedisServer();
  const redis = new Redis(server.url);
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-bench-store-'));
  const keyFile = join(dir, 'signing.pem');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const controllers = await Promise.all([0, 1].map(() => forkController(SELF, [server.url, 'bench:', keyFile])));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  try {
    const urls = controllers.map((c) => c.url);
    const api = new ApiClient({ baseUrl: urls[0] as string, token: OPERATOR });
    const { vmId } = await api.call(routes.createVm, { body: { name: 'bench-store' } });

    const mem0 = await usedMemory(redis);
    log(`creating ${sessionCount} sessions through both controllers`);
    const ids: string[] = [];
    const create = await both(
      urls,
      sessionCount / 2,
      () => ({ method: 'POST', path: '/api/webrtc/session', body: JSON.stringify({ vmId }) }),
      (body) => {
        const parsed: unknown = JSON.parse(body);
        if (
          typeof parsed === 'object' &&
          parsed !== null &&
          'sessionId' in parsed &&
          typeof parsed.sessionId === 'string'
        )
          ids.push(parsed.sessionId);
      },
    );
    const mem1 = await usedMemory(redis);
    const perIdleSession = Math.round((mem1 - mem0) / Math.max(1, ids.length));

    log(`candidate POST: ${ids.length * 4} through both controllers`);
    const post = await both(urls, ids.length * 2, (k, c) => {
      // Controller c writes the even/odd candidates of every session: 4 per session in all.
      const i = k * 2 + c;
      const sid = ids[i % ids.length];
      return { method: 'POST', path: `/api/webrtc/session/${sid}/candidate`, body: JSON.stringify(candidate(i)) };
    });

    log(`GET candidates?since: ${ids.length * 2} through both controllers`);
    const get = await both(urls, ids.length, (k) => ({
      method: 'GET',
      path: `/api/webrtc/session/${ids[k % ids.length]}/candidates/browser?since=${k % 4}`,
    }));
    const mem2 = await usedMemory(redis);

    const result = {
      mode: quick ? 'quick' : 'full',
      node: process.version,
      cpus: cpus().length,
      loadAverage: loadavg().map((l) => +l.toFixed(2)),
      sessions: ids.length,
      createSession: create,
      candidatePost: post,
      getSince: get,
      redisMemory: {
        beforeBytes: mem0,
        idleSessionsBytes: mem1,
        withCandidatesBytes: mem2,
        perIdleSessionBytes: perIdleSession,
        perSessionWith4CandidatesBytes: Math.round((mem2 - mem0) / Math.max(1, ids.length)),
      },
    };
    const row = (name: string, s: Stage) =>
      `${name.padEnd(34)}${`${s.reqPerSec} req/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms (${s.requests} requests, ${s.non2xx} non-2xx, ${s.errors} errors)`}`;
    process.stdout.write(
      [
        `two controllers on one Redis, ${ids.length} sessions, load average ${result.loadAverage.join(' ')}`,
        row('create session', create),
        row('candidate POST', post),
        row('GET candidates?since', get),
        `${'Redis memory per idle session'.padEnd(34)}${perIdleSession} B (target <= 4096 B) ${perIdleSession <= 4096 ? 'ok' : 'MISS'}`,
        `${'... with 4 candidates each'.padEnd(34)}${result.redisMemory.perSessionWith4CandidatesBytes} B`,
        '',
      ].join('\n'),
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.all(controllers.map((c) => stopController(c.child)));
    redis.disconnect();
    await server.stop();
  }
}

// The same file is the entry of its controller children (forked with --child URL PREFIX KEYFILE).
if (process.argv.includes('--child')) {
  const [store, storePrefix, signingKeyFile] = process.argv.slice(process.argv.indexOf('--child') + 1);
  await runControllerChild({ store, storePrefix, signingKeyFile });
} else {
  await main();
  process.exit(0);
}
