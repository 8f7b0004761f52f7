import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELPER_EXIT_BAD_CONFIG } from '@vmlive/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HelperError, HelperProcess } from './helper/helper-process.js';
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

  it('keeps retrying a first start that fails for a retryable reason (a slow VM), and resolves on the first ready', async () => {
    const { made, create } = fakeHelperFactory((n) => new FakeHelper(n <= 2 ? 1 : null));
    const sup = new HelperSupervisor(create, log);
    let fatal = 0;
    sup.on('fatal', () => fatal++);
    const ready = await sup.start();
    expect(ready.type).toBe('ready');
    expect(made).toHaveLength(3);
    expect(sup.helper).toBe(made[2]);
    expect(fatal).toBe(0);
    await sup.stop();
  });

  it('rejects a first start that fails with bad-config, after one fatal, and spawns nothing more', async () => {
    const { made, create } = fakeHelperFactory(() => new FakeHelper(HELPER_EXIT_BAD_CONFIG));
    const sup = new HelperSupervisor(create, log);
    let fatal = 0;
    sup.on('fatal', () => fatal++);
    const err = await sup.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelperError);
    expect((err as HelperError).code).toBe('bad-config');
    await new Promise((r) => setTimeout(r, 600));
    expect(fatal).toBe(1);
    expect(made).toHaveLength(1);
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

describe('HelperSupervisor with a real HelperProcess', () => {
  // Regression: a helper that started once and then exits 42 before `ready` on its restart must
  // end in one `fatal`, not a restart loop (the decision is on HelperError, which only the real
  // HelperProcess throws: the fake above cannot catch a mismatch between the two).
  it('emits fatal exactly once and spawns no more when a restarted helper exits 42 before ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmlive-sup-'));
    const starts = join(dir, 'starts');
    const made: HelperProcess[] = [];
    const sup = new HelperSupervisor(() => {
      const h = new HelperProcess({
        python: process.execPath,
        script: fileURLToPath(new URL('./helper/testing/fake-helper.mjs', import.meta.url)),
        settings: { display: ':99' },
        env: { FAKE_MODE: 'ready-then-bad-config', FAKE_STARTS: starts },
        logger: log,
        startTimeoutMs: 5_000,
      });
      made.push(h);
      return h;
    }, log);
    try {
      const fatals: Error[] = [];
      sup.on('fatal', (err) => fatals.push(err));
      let downs = 0;
      sup.on('down', () => downs++);
      await sup.start();
      await until(() => fatals.length > 0, 10_000);
      // Longer than the supervisor's first backoff steps: a wrong decision would have respawned by now.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(fatals).toHaveLength(1);
      expect(fatals[0]).toBeInstanceOf(HelperError);
      expect((fatals[0] as HelperError).code).toBe('bad-config');
      expect(downs).toBe(1);
      expect(readFileSync(starts, 'utf8').trim().split('\n')).toHaveLength(2);
      expect(made).toHaveLength(2);
      expect(sup.helper).toBeUndefined();
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function until(ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
