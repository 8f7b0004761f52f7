/**
 * In-process stand-in for the GStreamer helper in the agent's unit tests: it
 * records the commands it is sent and dies on demand. The real helper is
 * exercised by the e2e suites.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { HELPER_EXIT_BAD_CONFIG, type HelperCommand, type HelperEvent, helperProtocol } from '@vmlive/protocol';
import { helperErrors } from '../helper/helper-errors.js';
import type { DiedInfo, HelperLike } from '../helper-supervisor.js';

type StatsEvent = Extract<HelperEvent, { type: 'stats' }>;

/** The stats both fakes report (the child-process one is helper/testing/fake-helper.mjs). */
const FAKE_STATS = helperProtocol.Stats.pick({ encoder: true, peers: true, process: true }).parse(
  JSON.parse(readFileSync(new URL('../helper/testing/fake-stats.json', import.meta.url), 'utf8')),
);

export class FakeHelper extends EventEmitter implements HelperLike {
  // Above Linux's pid_max, so a test that kills a fake helper can never hit a real process.
  static nextPid = 10_000_000;
  readonly pid = FakeHelper.nextPid++;
  readonly received: HelperCommand[] = [];
  /** When set, liveness probes (getStats) fail as if the helper hung. */
  wedged = false;

  /** @param failStartWith exit code with which start() fails, or null to start fine */
  constructor(private readonly failStartWith: number | null = null) {
    super();
  }

  async start() {
    if (this.failStartWith !== null) {
      // As HelperProcess rejects: bad-config for the reserved exit code, early-exit otherwise.
      throw this.failStartWith === HELPER_EXIT_BAD_CONFIG
        ? helperErrors.badConfig('fake: bad settings')
        : helperErrors.earlyExit(this.failStartWith, null, 'fake: early exit');
    }
    return {
      type: 'ready',
      peerId: null,
      version: 't',
      codec: 'vp8',
      width: 1280,
      height: 720,
      fps: 30,
      capture: 'damage',
      pid: this.pid,
    } as const;
  }

  send(cmd: HelperCommand): void {
    this.received.push(cmd);
  }

  async getStats(): Promise<StatsEvent> {
    if (this.wedged) throw new Error('timed out');
    return {
      type: 'stats',
      peerId: null,
      requestId: 1,
      ...FAKE_STATS,
    };
  }

  async snapshot(): Promise<Buffer> {
    return Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  }

  async stop(): Promise<void> {}

  event(e: HelperEvent): void {
    this.emit('event', e);
  }

  die(code: number | null = null, signal: NodeJS.Signals | null = 'SIGKILL'): void {
    this.emit('died', { pid: this.pid, code, signal } satisfies DiedInfo);
  }

  commands<T extends HelperCommand['type']>(type: T): Extract<HelperCommand, { type: T }>[] {
    return this.received.filter((c): c is Extract<HelperCommand, { type: T }> => c.type === type);
  }
}

/** A helper factory for HelperSupervisor that keeps every helper it made, in order. */
export function fakeHelperFactory<H extends FakeHelper>(make: (n: number) => H) {
  const made: H[] = [];
  return {
    made,
    create: () => {
      const h = make(made.length + 1);
      made.push(h);
      return h;
    },
  };
}
