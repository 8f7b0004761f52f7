/**
 * A real redis-server (Debian's, installed by scripts/install-deps.sh) for the
 * tests that need one: its own free port on loopback, its own temporary data
 * directory, stopped and removed afterwards. No snapshots; an append-only file
 * when `persistent` (a test that kills Redis and starts it again on the same
 * directory then finds every acknowledged write). `appendfsync everysec` is
 * enough for that: Redis write()s the file before it replies, and a killed
 * process loses nothing already written; only a machine crash needs `always`,
 * whose fsync per write stalls replies by 100s of ms on a busy disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.VMLIVE_REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly pid: number | undefined;
  /** SIGKILL (as a crash would); resolves once it exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory (after kill()). */
  restart(): Promise<void>;
  /** Stops it and removes its data directory. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string, persistent: boolean): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    persistent ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'notice',
  ];
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on ${port}: ${out}`));
    }, 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${REDIS_SERVER} (install redis-server: scripts/install-deps.sh): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

export async function startRedisServer(opts: { persistent?: boolean } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-redis-'));
  const persistent = opts.persistent ?? false;
  let port = await freePort();
  let child: ChildProcess;
  try {
    child = await launch(port, dir, persistent);
  } catch {
    // The free port was taken meanwhile: one more try on another.
    port = await freePort();
    child = await launch(port, dir, persistent);
  }
  // Never leave a server behind when the test process ends early.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    dir,
    get pid() {
      return child.pid;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async restart() {
      child = await launch(port, dir, persistent);
    },
    async stop() {
      process.off('exit', onExit);
      child.kill('SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
