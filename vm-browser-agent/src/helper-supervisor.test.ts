import type { EventEmitter } from 'node:events';
import { HELPER_EXIT_BAD_CONFIG } from '@vmlive/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HelperSupervisor } from './helper-supervisor.js';
import { FakeHelper, fakeHelperFactory } from './testing/fake-helper.js';

const log = pino({ level: 'silent' });

function waitFor<T>(em: EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => em.once(event, resolve));
}

describe('HelperSupervisor', () => {
  it('restarts a helper that dies and reports down then up', async () => {
    const { made, create } = fakeHelperFactory(() => new FakeHelper());
    const sup = new HelperSupervisor(create, log);
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
    const { made, create } = fakeHelperFactory((n) => new FakeHelper(n === 2 ? 1 : null));
    const sup = new HelperSupervisor(create, log);
    await sup.start();
    const up = waitFor(sup, 'up');
    made[0]?.die(1);
    await up;
    expect(made).toHaveLength(3);
    await sup.stop();
  });

  it('gives up with fatal on the bad-config exit code instead of restart-looping', async () => {
    const { made, create } = fakeHelperFactory(() => new FakeHelper());
    const sup = new HelperSupervisor(create, log);
    await sup.start();
    const fatal = waitFor<Error>(sup, 'fatal');
    made[0]?.die(HELPER_EXIT_BAD_CONFIG);
    expect((await fatal).message).toMatch(/configuration/);
    await new Promise((r) => setTimeout(r, 300));
    expect(made).toHaveLength(1);
    await sup.stop();
  });

  it('ignores the death of a helper after stop()', async () => {
    const { made, create } = fakeHelperFactory(() => new FakeHelper());
    const sup = new HelperSupervisor(create, log);
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
    const { made, create } = fakeHelperFactory(() => new FakeHelper());
    const killed: number[] = [];
    const sup = new HelperSupervisor(create, log, { intervalMs: 20, timeoutMs: 10, maxMisses: 3 }, (pid) => {
      killed.push(pid);
      made.find((h) => h.pid === pid)?.die(null, 'SIGKILL');
    });
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
