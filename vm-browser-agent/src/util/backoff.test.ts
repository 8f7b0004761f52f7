import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from './backoff.js';

describe('Backoff', () => {
  it('grows exponentially up to the cap, with jitter in [cap/2, cap]', () => {
    const b = new Backoff(100, 1000, () => 1);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    const low = new Backoff(100, 1000, () => 0);
    expect([low.next(), low.next()]).toEqual([50, 100]);
  });

  it('starts over after reset', () => {
    const b = new Backoff(100, 1000, () => 1);
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });
});

describe('sleep', () => {
  it('returns early when aborted', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 20);
    await sleep(5000, ac.signal);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
