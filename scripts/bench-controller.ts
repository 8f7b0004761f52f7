/**
 * Benchmark of one master-controller process (issue 2 targets):
 *   candidate POST req/s + p99, GET candidates?since req/s + p99 (autocannon),
 *   long-poll wake-up latency p50/p99 with 1,000 and 10,000 concurrent waiters
 *   (time from sending the write to receiving the woken response),
 *   RSS per idle session.
 * The controller runs in a child process (so RSS is its own), started with
 * --expose-gc so memory is measured after a full collection.
 *
 *   npx tsx scripts/bench-controller.ts [--quick] [--json-out FILE]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const HELP = `usage: npx tsx scripts/bench-controller.ts [--quick] [--json-out FILE] [--help]

Starts one master controller in a child process and measures:
  - candidate POST: req/s and p99 (autocannon)
  - GET candidates?since=: req/s and p99 (autocannon)
  - long-poll wake-up latency p50/p99 with 1,000 and 10,000 concurrent waiters
  - RSS (and heap) per idle session
Prints a table, then one JSON line. Exit code 0 even when a target is missed.

  --quick          smaller, < 30 s (CI smoke): 2 s runs, 1,000 waiters, 1,000 idle sessions
  --json-out FILE  also write the JSON result to FILE
  --help           this text

Targets: >= 5,000 req/s, p99 <= 20 ms, wake-up p99 <= 20 ms at 10,000 waiters, <= 2 KiB per idle session.`;

const OPERATOR = 'bench-operator-token-0123456789';
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- parent: the load
interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const known = new Set(['--quick', '--json-out', '--help', '-h']);
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
  const child = fork(SELF, ['--child'], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  // Never leave the controller behind, even when the parent crashes or is interrupted.
  process.once('exit', () => child.kill('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { cmd: string; url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`controller exited early (${code})`)));
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const api = new Api(url, agent);
  const log = (s: string) => process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${s}\n`);

  try {
    const vm = await api.json<{ vmId: string; vmToken: string }>('POST', '/api/vms', OPERATOR, { name: 'bench' });
    const viewer = (
      await api.json<{ token: string }>('POST', `/api/vms/${vm.vmId}/viewer-tokens`, OPERATOR, {
        role: 'control',
        ttlSeconds: 3600,
      })
    ).token;
    const newSessions = (n: number) =>
      pool(
        n,
        64,
        async () =>
          (await api.json<{ sessionId: string }>('POST', '/api/webrtc/session', viewer, { vmId: vm.vmId })).sessionId,
      );

    // 1. Memory per idle session (first, before autocannon grows the heap).
    // Warm-up round (create, then end, the same number of sessions) so the baseline already
    // includes the heap pages that request handling itself grows; the delta is then what
    // the live sessions retain.
    log(`memory: warm-up, then ${plan.idleSessions} idle sessions`);
    const warm = await newSessions(plan.idleSessions);
    await pool(warm.length, 64, (i) => api.raw('DELETE', `/api/webrtc/session/${warm[i]}`, viewer));
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

    // 2. Candidate POST throughput. 256 candidates per side per session: rotate over enough sessions.
    const postSessions = await newSessions(quick ? 200 : 2_000);
    log(`candidate POST: ${plan.duration}s, ${plan.connections} connections`);
    let k = 0;
    const candidateBody = (i: number) =>
      JSON.stringify({
        candidate: `candidate:${i} 1 udp 2122260223 192.168.1.${i % 250} ${40000 + (i % 20000)} typ host generation 0 ufrag abcd network-id 1`,
        sdpMLineIndex: 0,
        sdpMid: '0',
        from: 'browser',
      });
    const post = await cannon(child, {
      url,
      connections: plan.connections,
      duration: plan.duration,
      method: 'POST',
      headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (req) => {
            const i = k++;
            const sid = postSessions[i % postSessions.length];
            return { ...req, path: `/api/webrtc/session/${sid}/candidate`, body: candidateBody(i) };
          },
        },
      ],
    });

    // 3. GET since: sessions holding 4 candidates, random cursor.
    const getSessions = postSessions.slice(0, 100);
    for (const sid of getSessions.slice(0, 100)) {
      const cur = await api.json<{ cursor: number }>('GET', `/api/webrtc/session/${sid}/candidates/browser`, viewer);
      if (cur.cursor === 0) {
        for (let i = 0; i < 4; i++)
          await api.json('POST', `/api/webrtc/session/${sid}/candidate`, viewer, JSON.parse(candidateBody(i)));
      }
    }
    log(`GET candidates?since: ${plan.duration}s`);
    let g = 0;
    const get = await cannon(child, {
      url,
      connections: plan.connections,
      duration: plan.duration,
      method: 'GET',
      headers: { authorization: `Bearer ${vm.vmToken}` },
      requests: [
        {
          setupRequest: (req) => {
            const i = g++;
            const sid = getSessions[i % getSessions.length];
            return { ...req, path: `/api/webrtc/session/${sid}/candidates/browser?since=${i % 5}` };
          },
        },
      ],
    });

    // 4. Long-poll wake-up latency with N waiters (the idle sessions, one waiter each).
    const wake: Record<string, WakeResult> = {};
    let used = 0;
    for (const n of plan.waiterCounts) {
      // Untouched sessions only: earlier stages leave candidates behind or end theirs.
      const sessions = idle.slice(used, used + n);
      used += sessions.length;
      if (sessions.length < n) sessions.push(...(await newSessions(n - sessions.length)));
      log(`wake-up: ${n} waiters, ${Math.min(plan.samples, n)} writes`);
      wake[String(n)] = await wakeUp(url, api, vm.vmToken, viewer, sessions, Math.min(plan.samples, n));
    }

    // Baselines: the same load against a bare node:http and a bare Express "hello" on this machine now.
    const baselines: Record<string, CannonResult> = {};
    for (const kind of ['http', 'express']) {
      log(`baseline: bare ${kind} server, ${plan.duration}s`);
      const base = fork(SELF, ['--baseline', kind], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      process.once('exit', () => base.kill('SIGKILL'));
      const baseUrl = await new Promise<string>((resolve) =>
        base.once('message', (m: { url: string }) => resolve(m.url)),
      );
      baselines[kind] = await cannon(base, { url: baseUrl, connections: plan.connections, duration: plan.duration });
      base.kill('SIGKILL');
    }

    const result = {
      mode: quick ? 'quick' : 'full',
      baselines,
      node: process.version,
      cpus: (await import('node:os')).cpus().length,
      candidatePost: post,
      getSince: get,
      wakeUp: wake,
      idleSession: perSession,
    };
    printTable(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    agent.destroy();
    child.send({ cmd: 'stop' });
    await new Promise((r) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        r(null);
      }, 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        r(null);
      });
    });
  }
}

// ---------------------------------------------------------------- measurements

interface CannonResult {
  /** Controller CPU (user+sys) per request: the load-independent cost; 1e6 / this ≈ req/s on one free core. */
  controllerCpuMicrosPerReq: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

async function cannon(child: ChildProcess, opts: autocannon.Options): Promise<CannonResult> {
  const cpu0 = await childCpuMicros(child);
  const r = await autocannon(opts);
  const cpu1 = await childCpuMicros(child);
  return {
    controllerCpuMicrosPerReq: Math.round((cpu1 - cpu0) / Math.max(1, r.requests.total)),
    reqPerSec: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

interface WakeResult {
  waiters: number;
  samples: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  setupSeconds: number;
}

/**
 * Open one long-poll per session (each on its own keep-alive socket), wait until
 * the controller reports them all waiting, then post one candidate at a time to
 * `samples` of them (10 writes in flight) and time write-sent → poll-answered.
 */
async function wakeUp(
  url: string,
  api: Api,
  vmToken: string,
  viewer: string,
  sessions: string[],
  samples: number,
): Promise<WakeResult> {
  const t0 = performance.now();
  const u = new URL(url);
  const waitAgent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const answered = new Map<number, (at: number) => void>();
  const failed = new Set<number>();
  const pending: Promise<void>[] = [];
  // Open in batches, each waiting for its TCP connects, so the accept backlog never overflows.
  const BATCH = 250;
  for (let b = 0; b < sessions.length; b += BATCH) {
    const connected: Promise<void>[] = [];
    for (let i = b; i < Math.min(b + BATCH, sessions.length); i++) {
      let onConnect: () => void = () => {};
      connected.push(
        new Promise<void>((r) => {
          onConnect = r;
        }),
      );
      pending.push(
        new Promise<void>((resolve) => {
          const req = http.request(
            {
              host: u.hostname,
              port: u.port,
              path: `/api/webrtc/session/${sessions[i]}/candidates/browser?since=0&wait=30`,
              headers: { authorization: `Bearer ${vmToken}` },
              agent: waitAgent,
            },
            (res) => {
              res.resume();
              res.on('end', () => {
                answered.get(i)?.(performance.now());
                resolve();
              });
            },
          );
          req.on('socket', (sock) => {
            if (!sock.connecting) onConnect();
            else sock.once('connect', onConnect);
          });
          req.on('error', () => {
            failed.add(i);
            onConnect();
            answered.get(i)?.(Number.NaN);
            resolve();
          });
          req.end();
        }),
      );
    }
    await Promise.all(connected);
  }
  // Wait until the controller holds them all.
  for (let tries = 0; tries < 200; tries++) {
    const waiting = await api.metric('vmlive_longpolls_waiting');
    if (waiting >= sessions.length - failed.size) break;
    await sleep(50);
  }
  const setupSeconds = (performance.now() - t0) / 1000;
  if (failed.size > 0) process.stderr.write(`[bench] ${failed.size} waiters failed to connect\n`);

  const step = Math.max(1, Math.floor(sessions.length / samples));
  const picks = Array.from({ length: samples }, (_, j) => j * step).filter((i) => !failed.has(i));
  const picked = new Set(picks);
  const latencies: number[] = [];
  let lost = 0;
  await pool(picks.length, 10, async (j) => {
    const i = picks[j] as number;
    const sid = sessions[i];
    const done = new Promise<number>((resolve) => {
      answered.set(i, resolve);
      setTimeout(() => resolve(Number.NaN), 5000).unref();
    });
    const sent = performance.now();
    await api.json('POST', `/api/webrtc/session/${sid}/candidate`, viewer, {
      candidate: `candidate:${i} 1 udp 2122260223 10.1.1.1 ${30000 + (i % 30000)} typ host`,
      sdpMLineIndex: 0,
      from: 'browser',
    });
    const at = await done;
    if (Number.isNaN(at)) lost++;
    else latencies.push(at - sent);
  });
  if (lost > 0) process.stderr.write(`[bench] ${lost} woken waiters never answered within 5 s\n`);
  // Release the rest: end their sessions (answers their polls at once), then drop the sockets.
  await pool(sessions.length, 64, async (i) => {
    if (!picked.has(i) && !failed.has(i)) await api.raw('DELETE', `/api/webrtc/session/${sessions[i]}`, viewer);
  });
  await Promise.race([Promise.all(pending), sleep(10_000)]);
  waitAgent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    waiters: sessions.length - failed.size,
    samples: latencies.length,
    lost,
    p50Ms: round(pct(latencies, 0.5)),
    p99Ms: round(pct(latencies, 0.99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
    setupSeconds: round(setupSeconds),
  };
}

function ask<T>(child: ChildProcess, cmd: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { cmd: string }) => {
      if (m.cmd !== cmd) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send({ cmd });
  });
}

const childMem = (child: ChildProcess) => ask<Mem>(child, 'mem');
const childCpuMicros = async (child: ChildProcess) => (await ask<{ micros: number }>(child, 'cpu')).micros;

// ---------------------------------------------------------------- helpers

class Api {
  constructor(
    private readonly base: string,
    private readonly agent: http.Agent,
  ) {}

  raw(method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; text: string }> {
    const u = new URL(this.base + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          host: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          agent: this.agent,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async json<T = unknown>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
    const r = await this.raw(method, path, token, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return (r.text ? JSON.parse(r.text) : undefined) as T;
  }

  async metric(name: string): Promise<number> {
    const r = await this.raw('GET', '/metrics', null);
    const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : Number.NaN;
  }
}

async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x * 100) / 100;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

function printTable(r: {
  baselines: Record<string, CannonResult>;
  candidatePost: CannonResult;
  getSince: CannonResult;
  wakeUp: Record<string, WakeResult>;
  idleSession: { sessions: number; rssBytes: number; heapBytes: number };
}): void {
  const ok = (pass: boolean) => (pass ? 'ok  ' : 'MISS');
  const rows: string[][] = [['metric', 'value', 'target', '']];
  for (const [kind, b] of Object.entries(r.baselines)) {
    rows.push([
      `baseline: bare ${kind} hello`,
      `${b.reqPerSec} req/s, p99 ${b.p99Ms} ms, ${b.controllerCpuMicrosPerReq} µs CPU/req`,
      '(this machine now)',
      '',
    ]);
  }
  for (const [name, c] of [
    ['candidate POST', r.candidatePost],
    ['GET candidates?since', r.getSince],
  ] as const) {
    rows.push([`${name} req/s`, String(c.reqPerSec), '>= 5000', ok(c.reqPerSec >= 5000)]);
    rows.push([`${name} p99`, `${c.p99Ms} ms`, '<= 20 ms', ok(c.p99Ms <= 20)]);
    rows.push([
      `${name} controller CPU/req`,
      `${c.controllerCpuMicrosPerReq} µs (≈ ${Math.round(1e6 / Math.max(1, c.controllerCpuMicrosPerReq))} req/s per free core)`,
      '',
      '',
    ]);
    if (c.non2xx || c.errors) rows.push([`${name} non-2xx/errors`, `${c.non2xx}/${c.errors}`, '0', ok(false)]);
  }
  for (const w of Object.values(r.wakeUp)) {
    rows.push([`wake-up p50 @ ${w.waiters} waiters`, `${w.p50Ms} ms`, '', '']);
    rows.push([`wake-up p99 @ ${w.waiters} waiters`, `${w.p99Ms} ms`, '<= 20 ms', ok(w.p99Ms <= 20)]);
  }
  rows.push([
    `RSS per idle session (${r.idleSession.sessions})`,
    `${r.idleSession.rssBytes} B`,
    '<= 2048 B',
    ok(r.idleSession.rssBytes <= 2048),
  ]);
  rows.push([`heap per idle session`, `${r.idleSession.heapBytes} B`, '', '']);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
}

// ---------------------------------------------------------------- child: the controller
async function runChild(): Promise<void> {
  const { startController } = await import('../master-controller/src/server.js');
  const { pino } = await import('pino');
  const controller = await startController(
    {
      port: 0,
      host: '127.0.0.1',
      operatorToken: OPERATOR,
      tokenSecret: 'bench-secret-bench-secret-bench-secret-0',
      sessionIdleTtlS: 3600,
      maxSessions: 1_000_000,
      webDir: null,
    },
    pino({ level: 'warn' }),
  );
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'mem') {
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      process.send?.({ cmd: 'mem', rss: m.rss, heapUsed: m.heapUsed, external: m.external });
    } else if (msg.cmd === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cmd: 'cpu', micros: u.user + u.system });
    } else if (msg.cmd === 'stop') {
      void controller.close().then(() => process.exit(0));
    }
  });
  process.send?.({ cmd: 'ready', url: controller.url });
}

/** A bare node:http or Express JSON "hello": what this machine can do right now, to read the numbers against. */
async function runBaseline(kind: string): Promise<void> {
  let handler: http.RequestListener = (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  };
  if (kind === 'express') {
    const express = (await import('express')).default;
    const app = express();
    app.get('/', (_req, res) => {
      res.json({ ok: true });
    });
    handler = app;
  }
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cmd: 'cpu', micros: u.user + u.system });
    } else if (msg.cmd === 'stop') process.exit(0);
  });
  process.send?.({ cmd: 'ready', url: `http://127.0.0.1:${port}` });
}

// Dispatch last: classes above must be initialised before main() runs.
if (process.argv.includes('--child')) await runChild();
else if (process.argv.includes('--baseline'))
  await runBaseline(process.argv[process.argv.indexOf('--baseline') + 1] ?? 'http');
else {
  await main();
  process.exit(0);
}
