/**
 * A real coturn (Debian's `turnserver`) for tests, configured from the file we
 * ship (deploy/coturn/turnserver.conf) with only what a test must change:
 * loopback listeners, free ports, its own secret and log. `allowLoopbackPeers`
 * is the one relaxation, for tests whose two relayed ends both live on
 * 127.0.0.1; security tests run the shipped rules unchanged.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
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
  pid: number;
  address: string;
  port: number;
  /** the TLS listener's port, when started with `tls` */
  tlsPort: number | null;
  secret: string;
  /** URLs for VMLIVE_TURN_URLS: turn: over UDP and TCP, and turns: (TLS) when started with `tls` */
  urls: string[];
  log(): string;
  stop(): Promise<void>;
}

/**
 * A throwaway self-signed certificate (PEM) for coturn's TLS listener, valid one day for
 * `address`, written into `dir`. Chromium then needs --ignore-certificate-errors for turns:.
 */
export function makeTestCertificate(dir: string, address: string): { cert: string; key: string } {
  const cert = join(dir, 'turn.crt');
  const key = join(dir, 'turn.key');
  execFileSync('/usr/bin/openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=vmlive-test-turn',
    '-addext',
    `subjectAltName=IP:${address}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Lines of the shipped config that a test replaces (ports, secret, log, TLS listener). */
const REPLACED = /^(listening-port|tls-listening-port|min-port|max-port|static-auth-secret|log-file)=/;

export async function startCoturn(
  opts: {
    allowLoopbackPeers?: boolean;
    /** the one address it listens and relays on (default 127.0.0.1) */
    address?: string;
    /** a certificate and key (PEM files) for a TLS listener on a free port */
    tls?: { cert: string; key: string };
  } = {},
): Promise<Coturn> {
  if (!existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} missing: apt-get install coturn`);
  const address = opts.address ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-coturn-'));
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : null;
  const secret = randomBytes(24).toString('base64url');
  // A relay range of its own, away from the kernel's ephemeral ports, per test run.
  const minPort = 40000 + (port % 200) * 50;
  const shipped = readFileSync(SHIPPED_CONF, 'utf8')
    .split('\n')
    .filter((l) => !REPLACED.test(l))
    .filter((l) => !(opts.allowLoopbackPeers && l.startsWith('denied-peer-ip=127.')));
  const conf = [
    ...shipped,
    `listening-ip=${address}`,
    `relay-ip=${address}`,
    `listening-port=${port}`,
    `min-port=${minPort}`,
    `max-port=${minPort + 49}`,
    `static-auth-secret=${secret}`,
    ...(opts.tls && tlsPort
      ? [`tls-listening-port=${tlsPort}`, `cert=${opts.tls.cert}`, `pkey=${opts.tls.key}`]
      : ['no-tls']),
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
        log.includes(`IPv4. TCP listener opened on : ${address}:${port}`)
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
    pid: child.pid ?? -1,
    address,
    port,
    tlsPort,
    secret,
    urls: [
      `turn:${address}:${port}?transport=udp`,
      `turn:${address}:${port}?transport=tcp`,
      ...(tlsPort ? [`turns:${address}:${tlsPort}?transport=tcp`] : []),
    ],
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
  /** coturn's address (default 127.0.0.1) */
  host?: string;
  /** run the client in this network namespace */
  netns?: string;
  port: number;
  username: string;
  password: string;
  peer: string;
  peerPort: number;
  messages?: number;
  timeoutMs?: number;
}): Promise<string> {
  const args = [
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
    opts.host ?? '127.0.0.1',
  ];
  const [cmd, argv]: [string, string[]] = opts.netns
    ? ['/usr/sbin/ip', ['netns', 'exec', opts.netns, TURN_UCLIENT, ...args]]
    : [TURN_UCLIENT, args];
  return new Promise((resolve) => {
    execFile(cmd, argv, { timeout: opts.timeoutMs ?? 15_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

/** coturn's UDP echo peer on 127.0.0.1:port, for a relay that must work end to end. */
export function startEchoPeer(port: number): { stop(): void } {
  const child = spawn(TURN_PEER, ['-L', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  return { stop: () => child.kill('SIGKILL') };
}
