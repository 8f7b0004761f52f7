/** bench-controller's result table: each number beside its target (issue 2), ok or MISS. */
import type { CannonResult } from './load.js';
import type { WakeResult } from './wake-up.js';

export interface IdleSessionResult {
  sessions: number;
  rssBytes: number;
  heapBytes: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

export interface BenchResult {
  mode: 'quick' | 'full';
  /** The controller child's V8 heap sizing: the services' tuning (as main.ts) or V8's defaults. */
  v8Heap: 'service-tuned' | 'defaults';
  baselines: Record<string, CannonResult>;
  node: string;
  cpus: number;
  candidatePost: CannonResult;
  getSince: CannonResult;
  wakeUp: Record<string, WakeResult>;
  idleSession: IdleSessionResult;
  /** The same POST / GET loads on a controller with VMLIVE_STORE=redis:// (absent with --no-redis). */
  redisStore?: Throughput;
  /** Both loads with the rate limits on at unspendable budgets: what they cost per request (redis absent with --no-redis). */
  rateLimited: { memory: Throughput; redis?: Throughput };
}

export interface Throughput {
  candidatePost: CannonResult;
  getSince: CannonResult;
}

export function printTable(r: BenchResult): void {
  const ok = (pass: boolean) => (pass ? 'ok  ' : 'MISS');
  const rows: string[][] = [['metric', 'value', 'target', '']];
  rows.push([
    'controller V8 heap',
    r.v8Heap === 'defaults' ? "V8's defaults (--v8-defaults)" : 'as the service runs',
    '',
    '',
  ]);
  for (const [kind, b] of Object.entries(r.baselines)) {
    rows.push([
      `baseline: bare ${kind} hello`,
      `${b.reqPerSec} req/s, p99 ${b.p99Ms} ms, ${b.controllerCpuMicrosPerReq} µs CPU/req`,
      '(this machine now)',
      '',
    ]);
  }
  const loads: Array<[string, CannonResult]> = [
    ['candidate POST', r.candidatePost],
    ['GET candidates?since', r.getSince],
  ];
  const more: Array<[string, Throughput | undefined]> = [
    ['redis store', r.redisStore],
    ['rate limits on: memory store', r.rateLimited.memory],
    ['rate limits on: redis store', r.rateLimited.redis],
  ];
  for (const [prefix, t] of more) {
    if (!t) continue;
    loads.push([`${prefix}: candidate POST`, t.candidatePost]);
    loads.push([`${prefix}: GET candidates?since`, t.getSince]);
  }
  for (const [name, c] of loads) {
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
