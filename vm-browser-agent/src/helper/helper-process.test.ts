import { fileURLToPath } from 'node:url';
import type { HelperEvent, HelperSettings } from '@vmlive/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type DiedInfo, HelperError, HelperProcess } from './helper-process.js';

const FAKE = fileURLToPath(new URL('./testing/fake-helper.mjs', import.meta.url));
const running: HelperProcess[] = [];

function fake(mode: string, lines?: string[], settings: Partial<HelperSettings> = {}): HelperProcess {
  const logger = pino({ level: 'debug' }, { write: (l: string) => lines?.push(l) });
  const helper = new HelperProcess({
    python: process.execPath,
    script: FAKE,
    settings: { display: ':99', ...settings },
    env: { FAKE_MODE: mode },
    logger,
    startTimeoutMs: 3_000,
  });
  running.push(helper);
  return helper;
}

afterEach(async () => {
  for (const h of running.splice(0)) await h.stop(1_000).catch(() => {});
});

describe('HelperProcess', () => {
  it('resolves start() with the ready event and exposes the pid', async () => {
    const helper = fake('normal');
    const ready = await helper.start();
    expect(ready.type).toBe('ready');
    expect(ready.pid).toBe(helper.pid);
  });

  it('hands the helper its settings as one JSON value, defaults applied', async () => {
    // the fake's ready echoes codec and size from the --settings=<json> it received
    const ready = await fake('normal', undefined, { codec: 'h264', width: 640 }).start();
    expect([ready.codec, ready.width, ready.height, ready.fps]).toEqual(['h264', 640, 720, 30]);
  });

  it('refuses invalid settings as non-retryable bad-config without spawning', async () => {
    const helper = fake('normal', undefined, { fps: 0, codec: 'av1' as 'vp8' });
    const err = (await helper.start().catch((e: unknown) => e)) as HelperError;
    expect(err).toBeInstanceOf(HelperError);
    expect([err.code, err.retryable]).toEqual(['bad-config', false]);
    expect(err.message).toMatch(/fps \(VMLIVE_FPS\): must be between 1 and 60/);
    expect(err.message).toMatch(/codec \(VMLIVE_CODEC\): must be one of vp8, h264/);
    expect(helper.pid).toBeUndefined();
  });

  it('treats exit 42 before ready as a non-retryable bad-config error', async () => {
    const err = await fake('bad-config')
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelperError);
    expect((err as HelperError).code).toBe('bad-config');
    expect((err as HelperError).retryable).toBe(false);
    expect((err as HelperError).message).toContain('VMLIVE_CODEC');
  });

  it('treats other early exits and silence as retryable start failures', async () => {
    const early = (await fake('crash-early')
      .start()
      .catch((e: unknown) => e)) as HelperError;
    expect([early.code, early.retryable]).toEqual(['early-exit', true]);
    const silent = (await fake('silent')
      .start()
      .catch((e: unknown) => e)) as HelperError;
    expect([silent.code, silent.retryable]).toEqual(['start-timeout', true]);
  });

  it('reports a missing interpreter as spawn-failed', async () => {
    const helper = new HelperProcess({
      python: '/nonexistent/python',
      settings: { display: ':1' },
      logger: pino({ level: 'silent' }),
    });
    const err = (await helper.start().catch((e: unknown) => e)) as HelperError;
    expect(err.code).toBe('spawn-failed');
  });

  it('matches get-stats and snapshot replies by requestId', async () => {
    const helper = fake('normal');
    await helper.start();
    const [s1, s2] = await Promise.all([helper.getStats(null), helper.getStats('p1')]);
    expect(s1.peerId).toBeNull();
    expect(s2.peerId).toBe('p1');
    expect(s1.requestId).not.toBe(s2.requestId);
    const jpeg = await helper.snapshot(50);
    expect(jpeg.toString('hex')).toBe('ffd8ff');
    const failed = (await helper.snapshot(13).catch((e: unknown) => e)) as HelperError;
    expect(failed.code).toBe('request-failed');
  });

  it('validates commands before writing them', async () => {
    const helper = fake('normal');
    await helper.start();
    expect(() => helper.send({ type: 'add-peer', peerId: '' } as never)).toThrow(HelperError);
    expect(() => helper.send({ type: 'nope' } as never)).toThrow(/invalid helper command/);
  });

  it('emits validated events only and re-logs stderr and log events', async () => {
    const lines: string[] = [];
    const helper = fake('garbage', lines);
    const events: HelperEvent[] = [];
    helper.on('event', (e: HelperEvent) => events.push(e));
    await helper.start();
    await helper.getStats(null);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['ready', 'log', 'stats']));
    expect(events.some((e) => e.type === 'peer-state')).toBe(false);
    const logged = lines.join('\n');
    expect(logged).toContain('hello from the fake');
    expect(logged).toContain('starting in garbage mode');
    expect(logged).toContain('non-JSON line');
    expect(logged).toContain('failed validation');
  });

  it('emits died once and rejects every pending request when the process dies', async () => {
    const helper = fake('die-on-stats');
    await helper.start();
    const died: DiedInfo[] = [];
    helper.on('died', (d: DiedInfo) => died.push(d));
    const pid = helper.pid;
    const results = await Promise.allSettled([helper.getStats(null), helper.snapshot()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(((results[0] as PromiseRejectedResult).reason as HelperError).code).toBe('died');
    await new Promise((r) => setTimeout(r, 50));
    expect(died).toEqual([{ pid, code: 7, signal: null }]);
    expect(() => helper.send({ type: 'shutdown', peerId: null })).toThrow(/not running/);
  });

  it('stop() is graceful and does not emit died', async () => {
    const helper = fake('normal');
    await helper.start();
    let died = false;
    helper.on('died', () => {
      died = true;
    });
    await helper.stop();
    expect(died).toBe(false);
    await helper.stop(); // idempotent
  });

  it('stop() escalates to SIGKILL when the helper ignores shutdown and SIGTERM', async () => {
    const helper = fake('ignore-shutdown');
    await helper.start();
    const t0 = Date.now();
    await helper.stop(600);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('times out a request the helper never answers', async () => {
    const helper = fake('mute-stats');
    await helper.start();
    const err = await helper.getStats(null, 200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelperError);
    expect((err as HelperError).code).toBe('request-timeout');
  });
});
