/**
 * The processes of bench-controller: the controller under test (a child, so
 * its RSS and CPU are its own, started with --expose-gc so memory is read after
 * a full collection) and the bare node:http / Express baselines. The parent asks
 * them for memory and CPU over IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import { tuneHeapForLongRunningService } from '@vmlive/protocol/node-heap';

export const OPERATOR = 'bench-operator-token-0123456789';

export interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
}

/**
 * Forks `entry --child [args]` (the controller); resolves with its URL once it listens.
 * `v8Defaults`: on V8's default heap sizing, not the services' (`@vmlive/protocol/node-heap`).
 */
export async function forkController(
  entry: string,
  args: string[] = [],
  opts: { v8Defaults?: boolean } = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(entry, ['--child', ...args], {
    execArgv: ['--expose-gc', '--import', 'tsx', ...(opts.v8Defaults ? ['--no-optimize-for-size'] : [])],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  // Never leave the controller behind, even when the parent crashes or is interrupted.
  process.once('exit', () => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { cmd: string; url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`controller exited early (${code})`)));
  });
  return { child, url };
}

/** Forks `entry --baseline KIND`; resolves with its URL once it listens. */
export async function forkBaseline(entry: string, kind: string): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(entry, ['--baseline', kind], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  return { child, url };
}

/** Asks the controller child to close, and kills it if it has not exited within 5 s. */
export async function stopController(child: ChildProcess): Promise<void> {
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

export const childMem = (child: ChildProcess) => ask<Mem>(child, 'mem');
export const childCpuMicros = async (child: ChildProcess) => (await ask<{ micros: number }>(child, 'cpu')).micros;

// ---------------------------------------------------------------- in the children

/** Rate limits on, each budget at its maximum: 1,000,000 a minute with bursts of 1,000,000 (20 s at 50,000 req/s). */
const UNSPENDABLE_RATE_LIMITS = {
  rateLimits: true,
  rateWritesPerMin: 1_000_000,
  rateWritesBurst: 1_000_000,
  rateReadsPerMin: 1_000_000,
  rateReadsBurst: 1_000_000,
  rateMintsPerMin: 1_000_000,
  rateMintsBurst: 1_000_000,
} as const;

/**
 * The controller child: one controller on an ephemeral port, answering mem/cpu/stop.
 * `store`/`storePrefix` put it on a shared Redis (bench-store); the memory store otherwise.
 */
export async function runControllerChild(
  shared: { store?: string; storePrefix?: string; signingKeyFile?: string } = {},
  opts: { rateLimits?: boolean } = {},
): Promise<void> {
  // Sized as master-controller/src/main.ts sizes it (V8's defaults when forked with `v8Defaults`).
  tuneHeapForLongRunningService();
  const { startController } = await import('../../../master-controller/src/server.js');
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
      // A load test is thousands of clients from one address: at their defaults the rate limits would
      // measure themselves. Off, or (`rateLimits`) on with budgets no bench run can spend, so that
      // what is measured is their cost on every request, as a production controller pays it.
      ...(opts.rateLimits ? UNSPENDABLE_RATE_LIMITS : { rateLimits: false }),
      ...shared,
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
export async function runBaselineChild(kind: string): Promise<void> {
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
