/**
 * Scheduling priorities of the local sandbox's processes, set so that one machine behaves like a
 * deployment, where the controller has a host of its own and the VM's browser runs unprivileged.
 *
 * - The VM's browser: it runs as root here (this machine's only user), and Chromium as root
 *   raises its display-critical threads to nice -8: the browser's main and IO threads, the GPU
 *   process and its viz compositor, every renderer's compositor (`ps -L`, Chromium 156). In a VM
 *   built from the image it runs as the unprivileged `vmlive` user (rootfs/units), where those
 *   calls fail and everything stays at 0 or above. Dropping CAP_SYS_NICE from the bounding set
 *   before exec makes root's Chromium behave like the image's: with RLIMIT_NICE at 0 (Linux's
 *   default, root included) it cannot lower its nice value, and raising it (background renderers
 *   at +5) still works. setpriv is util-linux, always present on Debian. This is for fidelity:
 *   first-frame.ts showed no difference beyond its noise (2 interleaved pairs of 10 viewers).
 * - The controller: in a deployment it does not compete for the VM's CPU. Here it shares two
 *   cores with the VM's browser, the VM agent and a viewer's browser starting up, and at nice 0
 *   every signaling hop through it (offer, answer, candidates) waited behind them. It gets the VM
 *   agent's priority (VMLIVE_NICE). scripts/first-frame.ts, 4 interleaved pairs of 10 fresh
 *   viewers (2026-12-04): createOffer → first frame p50 182–226 ms (median 213) at -10 against
 *   213–274 (238) at 0, p95 293–420 (337) against 322–405 (372).
 *
 * Not root: nothing is dropped or raised, and every process stays where it started.
 */
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { HELPER_SETTINGS, parseEnv } from '@vmlive/protocol';

const SETPRIV = '/usr/bin/setpriv';
const asRoot = () => process.getuid?.() === 0;

/** `[command, args]` that runs `command` without the right to raise its scheduling priority. */
export function withoutPriorityRaise(command: string, args: string[]): [string, string[]] {
  if (!asRoot() || !existsSync(SETPRIV)) return [command, args];
  return [SETPRIV, ['--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--', command, ...args]];
}

/** The VM agent's priority for a process that stands in for a host of its own; false when not allowed. */
export function asOwnHost(pid: number | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (pid === undefined || !asRoot()) return false;
  try {
    // Read as the agent reads it (range and default); a bad value fails the agent's own start.
    setPriority(pid, parseEnv({ nice: HELPER_SETTINGS.nice }, env).nice);
    return true;
  } catch {
    return false;
  }
}
