/**
 * A real coturn (Debian's `turnserver`) for tests, configured from the file we
 * ship (deploy/coturn/turnserver.conf) with only what a test must change:
 * loopback listeners, free ports, its own secret and log. `allowLoopbackPeers`
 * is the one relaxation, for tests whose two relayed ends both live on
 * 127.0.0.1; security tests run the shipped rules unchanged.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../vm-browser-agent/src/sandbox/free-port.js';

export const TURNSERVER = '/usr/bin/turnserver';
export const TURN_UCLIENT = '/usr/bin/turnutils_uclient';
export const TURN_PEER = '/usr/bin/turnutils_peer';
const SHIPPED_CONF = fileURLToPath(new URL('../deploy/coturn/turnserver.conf', import.meta.url));

export interface Coturn {
  port: number;
  secret: string;
  /** turn: URLs for VMLIVE_TURN_URLS: UDP and TCP on the loopback listener */
  urls: string[];
  log(): string;
  stop(): Promise<void>;
}

/** Lines of the shipped config that a test replaces (ports, secret, log, TLS listener). */
const REPLACED = /^(listening-port|tls-listening-port|min-port|max-port|static-auth-secret|log-file)=/;

export async function startCoturn(opts: { allowLoopbackPeers?: boolean } = {}): Promise<Coturn> {
  if (!existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} missing: apt-get install coturn`);
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-coturn-'));
  const port = await freePort();
  const secret = randomBytes(24).toString('base64url');
  // A relay range of its own, away from the kernel's ephemeral ports, per test run.
  const minPort = 40000 + (port % 200) * 50;
  const shipped = readFileSync(SHIPPED_CONF, 'utf8')
    .split('\n')
    .filter((l) => !REPLACED.test(l))
    .filter((l) => !(opts.allowLoopbackPeers && l.startsWith('denied-peer-ip=127.')));
  const conf = [
    ...shipped,
    'listening-ip=127.0.0.1',
    'relay-ip=127.0.0.1',
    `listening-port=${port}`,
    `min-port=${minPort}`,
    `max-port=${minPort + 49}`,
    `static-auth-secret=${secret}`,
    'no-tls',
    `pidfile=${join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'verbose',
    ...(opts.allowLoopbackPeers ? ['allow-loopback-peers'] : []),
  ].join('\n');
  const confFile = join(dir, 'turnserver.conf');
  writeFileSync(confFile, conf, { mode: 0o600 });
  const child: ChildProcess = spawn(TURNSERVER, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-200_000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-200_000);
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`turnserver not listening in 10 s:\n${log.slice(-2000)}`)), 10_000);
    const poll = setInterval(() => {
      if (
        /Total (UDP|General) servers/i.test(log) ||
        log.includes(`IPv4. TCP listener opened on : 127.0.0.1:${port}`)
      ) {
        clearTimeout(t);
        clearInterval(poll);
        resolve();
      }
    }, 50);
    child.once('exit', (code) => {
      clearTimeout(t);
      clearInterval(poll);
      reject(new Error(`turnserver exited (${code}):\n${log.slice(-2000)}`));
    });
  });
  return {
    port,
    secret,
    urls: [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`],
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r(undefined);
          }, 3000);
          child.once('exit', () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * coturn's own TURN client: allocates with (username, password), binds a
 * channel to `peer` and sends `messages` 100-byte messages through it.
 * Resolves with its output (it prints "error 403 (Forbidden IP)" for a refused
 * peer, "Cannot complete Allocation" for refused credentials, and
 * "tot_recv_msgs=N" for echoed messages).
 */
export function turnClient(opts: {
  port: number;
  username: string;
  password: string;
  peer: string;
  peerPort: number;
  messages?: number;
  timeoutMs?: number;
}): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      TURN_UCLIENT,
      [
        '-u',
        opts.username,
        '-w',
        opts.password,
        '-e',
        opts.peer,
        '-r',
        String(opts.peerPort),
        '-n',
        String(opts.messages ?? 3),
        '-m',
        '1',
        '-l',
        '100',
        '-p',
        String(opts.port),
        '127.0.0.1',
      ],
      { timeout: opts.timeoutMs ?? 15_000 },
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
}

/** coturn's UDP echo peer on 127.0.0.1:port, for a relay that must work end to end. */
export function startEchoPeer(port: number): { stop(): void } {
  const child = spawn(TURN_PEER, ['-L', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  return { stop: () => child.kill('SIGKILL') };
}
