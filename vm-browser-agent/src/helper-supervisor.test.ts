import { EventEmitter } from 'node:events';
import { HELPER_EXIT_BAD_CONFIG, type HelperCommand, type HelperEvent } from '@vmlive/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type DiedInfo, type HelperLike, HelperSupervisor } from './helper-supervisor.js';

const log = pino({ level: 'silent' });

class FakeHelper extends EventEmitter implements HelperLike {
  static nextPid = 1000;
  pid = FakeHelper.nextPid++;
  sent: HelperCommand[] = [];
  constructor(private readonly failStart: number | null = null) {
    super();
  }
  async start() {
    if (this.failStart !== null) throw Object.assign(new Error('early exit'), { exitCode: this.failStart });
    return {
      type: 'ready',
      peerId: null,
      version: 't',
      codec: 'vp8',
      width: 1280,
      height: 720,
      fps: 30,
      pid: this.pid,
    } as const;
  }
  send(cmd: HelperCommand) {
    this.sent.push(cmd);
  }
  wedged = false;
  async getStats(): Promise<Extract<HelperEvent, { type: 'stats' }>> {
    if (this.wedged) throw new Error('timed out');
    return {
      type: 'stats',
      peerId: null,
      requestId: 1,
      encoder: {
        codec: 'vp8',
        width: 1,
        height: 1,
        fps: 0,
        bitrateKbps: 0,
        framesEncoded: 0,
        keyframesForced: 0,
        running: false,
      },
      peers: {},
      process: { cpuPercent: 0, rssBytes: 0 },
    };
  }
  async snapshot(): Promise<Buffer> {
    return Buffer.from('jpeg');
  }
  async stop() {}
  die(code: number | null, signal: NodeJS.Signals | null = null) {
    this.emit('died', { pid: this.pid, code, signal } satisfies DiedInfo);
  }
}

function waitFor<T>(em: EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => em.once(event, resolve));
}

describe('HelperSupervisor', () => {
  it('restarts a helper that dies and reports down then up', async () => {
    const made: FakeHelper[] = [];
    const sup = new HelperSupervisor(() => {
      const h = new FakeHelper();
      made.push(h);
      return h;
    }, log);
    await sup.start();
    const down = waitFor(sup, 'down');
    const up = waitFor(sup, 'up');
    made[0]?.die(null, 'SIGKILL');
    await down;
    expect(sup.helper).toBeUndefined();
    expect(sup.send({ type: 'shutdown' })).toBe(false);
    await up;
    expect(made).toHaveLength(2);
    expect(sup.helper).toBe(made[1]);
    expect(sup.restartCount).toBe(1);
    await sup.stop();
  });

  it('retries a restart whose start fails, then succeeds', async () => {
    let n = 0;
    const made: FakeHelper[] = [];
    const sup = new HelperSupervisor(() => {
      n += 1;
      const h = new FakeHelper(n === 2 ? 1 : null);
      made.push(h);
      return h;
    }, log);
    await sup.start();
    const up = waitFor(sup, 'up');
    made[0]?.die(1);
    await up;
    expect(n).toBe(3);
    await sup.stop();
  });

  it('gives up with fatal on the bad-config exit code instead of restart-looping', async () => {
    const made: FakeHelper[] = [];
    const sup = new HelperSupervisor(() => {
      const h = new FakeHelper();
      made.push(h);
      return h;
    }, log);
    await sup.start();
    const fatal = waitFor<Error>(sup, 'fatal');
    made[0]?.die(HELPER_EXIT_BAD_CONFIG);
    expect((await fatal).message).toMatch(/configuration/);
    await new Promise((r) => setTimeout(r, 300));
    expect(made).toHaveLength(1);
    await sup.stop();
  });

  it('ignores the death of a helper after stop()', async () => {
    const made: FakeHelper[] = [];
    const sup = new HelperSupervisor(() => {
      const h = new FakeHelper();
      made.push(h);
      return h;
    }, log);
    await sup.start();
    let downs = 0;
    sup.on('down', () => downs++);
    await sup.stop();
    made[0]?.die(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(downs).toBe(0);
    expect(made).toHaveLength(1);
  });

  it('kills and restarts a helper that stops answering liveness probes', async () => {
    const made: FakeHelper[] = [];
    const killed: number[] = [];
    const sup = new HelperSupervisor(
      () => {
        const h = new FakeHelper();
        made.push(h);
        return h;
      },
      log,
      { intervalMs: 20, timeoutMs: 10, maxMisses: 3 },
      (pid) => {
        killed.push(pid);
        made.find((h) => h.pid === pid)?.die(null, 'SIGKILL');
      },
    );
    await sup.start();
    // A responsive helper is left alone.
    await new Promise((r) => setTimeout(r, 150));
    expect(killed).toEqual([]);
    const up = waitFor(sup, 'up');
    (made[0] as FakeHelper).wedged = true;
    await up;
    expect(killed).toEqual([made[0]?.pid]);
    expect(sup.helper).toBe(made[1]);
    await sup.stop();
  });
});
