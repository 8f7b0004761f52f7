/**
 * The bed's only way to touch the kernel: `ip`, `nft` and `tc`, each call
 * bounded in time, with errors that name the command and what it printed.
 */
import { execFile, execFileSync } from 'node:child_process';

export const IP = '/usr/sbin/ip';
export const NFT = '/usr/sbin/nft';
export const TC = '/usr/sbin/tc';
const TIMEOUT_MS = 10_000;

export class NetbedError extends Error {
  override name = 'NetbedError';
}

/** Runs one command; rejects with its stderr when it fails or takes longer than 10 s. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new NetbedError(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The same, synchronously, for teardown from an `exit` handler: failures are returned, never thrown. */
export function runSync(cmd: string, args: readonly string[]): { ok: true; out: string } | { ok: false; err: string } {
  try {
    const out = execFileSync(cmd, args, { timeout: TIMEOUT_MS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, out };
  } catch (e) {
    const stderr = (e as { stderr?: string | Buffer }).stderr?.toString().trim();
    return { ok: false, err: stderr || (e instanceof Error ? e.message : String(e)) };
  }
}

/** `ip netns exec NS cmd ...` as argv. */
export const inNs = (ns: string, cmd: string, args: readonly string[]): [string, string[]] => [
  IP,
  ['netns', 'exec', ns, cmd, ...args],
];

/** Applies an nftables script inside a namespace, atomically (one `nft -f` transaction). */
export function nftIn(ns: string, script: string): Promise<string> {
  const [cmd, args] = inNs(ns, NFT, ['-f', '-']);
  return run(cmd, args, script);
}
