/**
 * The VM agent's scheduling priority. It relays every viewer's offer to the helper and the
 * helper's answer and candidates back, so on a busy VM (the automation's Chromium, run as root at
 * nice -8, plus whatever the page does) a default-priority agent waits for the CPU on the path of
 * every first frame. scripts/first-frame.ts (10 fresh viewers per run, 2026-12-03) measured the
 * "offer posted → answer applied" stage at 172, 178 and 135 ms p50 with the agent at nice 0, and
 * 124, 91 and 89 ms with it at -10, the helper's own setting; the whole createOffer → first frame
 * varied 247–350 ms between runs either way, so that gain is within the noise there. The image's
 * systemd unit sets Nice=-5; this covers every other way of running the agent (the local sandbox,
 * a VM provisioned by hand). Linux priorities are per thread: the call is made at start, before
 * libuv's pool threads and the helper exist, so they inherit it.
 */
import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'pino';

/** Asks for `nice` if it is higher priority than the current one; without the right (not root, no CAP_SYS_NICE) stays put. */
export function raisePriority(nice: number, log: Logger): void {
  const current = getPriority();
  if (nice >= current) return;
  try {
    setPriority(nice);
    log.info({ nice, was: current }, 'scheduling priority raised');
  } catch (err) {
    // Node's SystemError: "... uv_os_setpriority returned EACCES (permission denied)"
    const reason = err instanceof Error ? err.message : String(err);
    log.info({ nice, stays: current, reason }, 'could not raise scheduling priority');
  }
}
