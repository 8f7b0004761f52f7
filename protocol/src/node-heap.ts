/**
 * How vmlive's long-running Node services (the controller and the VM agent) have V8 size its
 * heap. Their own entry point (`@vmlive/protocol/node-heap`), since it imports `node:v8` and
 * the package's main entry is also bundled for browsers.
 *
 * Both services allocate slowly (~170 KB/s) and hold little, but much of what they hold lives a
 * few seconds: heartbeat bodies until the next heartbeat, long-poll requests for up to 25 s,
 * metric values until the next scrape. That outlives two scavenges and is promoted, ~5 KB/s.
 * With V8's defaults the first full collection then waits for the old generation's first limit
 * (at least 8 MB above what was live at start-up): measured on the controller, no major GC in
 * 25 minutes while its old space went 14.3 → 21.0 MB in use, and its RSS ramped for half an
 * hour before levelling, enough to read as a leak in a 60-minute soak (`scripts/stability.ts`).
 *
 * `--optimize-for-size` ("favor memory size over execution speed") has the heap collect the old
 * generation early instead: measured on the controller in a 16-minute soak, a major GC every
 * ~5 minutes, old space between 14.8 and 15.6 MB, RSS 72–75 MB with no trend, set the way this
 * module sets it: at start-up, from the running process (Node's docs warn that flags changed
 * after start may do nothing; this one measurably does). Node takes it only on the command line
 * or here, not in NODE_OPTIONS, and setting it here covers every way the services are launched
 * (systemd, npm scripts, the sandbox, the tests, the controller benchmark).
 *
 * What it costs: under the controller benchmark's saturating loads (`scripts/bench-controller
 * --v8-defaults` runs without it), CPU per request medians of three interleaved runs moved within
 * the runs' noise on candidate POST (178 → 176 µs) and up on the others (GET since 142 → 163,
 * rate-limited POST 170 → 204, GET 156 → 161 µs). A controller that lives at that load rather than
 * at its usual ~1 % of a core can keep V8's defaults: `node --no-optimize-for-size …/main.js`.
 */
import { setFlagsFromString } from 'node:v8';

const OPTIMIZE_FOR_SIZE = '--optimize-for-size';
/** V8 spells its flags with dashes or underscores. */
const CHOSE_OPTIMIZE_FOR_SIZE = /^--(no-?)?optimize[-_]for[-_]size$/;

/**
 * The V8 flags to set, given the process's own command line: none when it already chose either
 * way, so `node --no-optimize-for-size …/main.js` runs a service on V8's defaults.
 */
export function heapFlagsToSet(execArgv: readonly string[]): string[] {
  return execArgv.some((arg) => CHOSE_OPTIMIZE_FOR_SIZE.test(arg)) ? [] : [OPTIMIZE_FOR_SIZE];
}

/** Call first thing in a service's entry point; returns the flags it set, for the start-up log. */
export function tuneHeapForLongRunningService(execArgv: readonly string[] = process.execArgv): string[] {
  const flags = heapFlagsToSet(execArgv);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}
