import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from './reconnectPolicy.js';

describe('reconnect backoff policy', () => {
  it('doubles the delay each attempt up to the cap (no jitter)', () => {
    const policy = exponentialBackoff({ initialMs: 250, maxMs: 2000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map((a) => policy.delayMs(a))).toEqual([250, 500, 1000, 2000, 2000, 2000]);
  });

  it('gives up after maxAttempts', () => {
    const policy = exponentialBackoff({ maxAttempts: 3, jitter: 0 });
    expect(policy.delayMs(3)).not.toBeNull();
    expect(policy.delayMs(4)).toBeNull();
  });

  it('jitter keeps the delay within [d/2, d]', () => {
    const low = exponentialBackoff({ initialMs: 1000, jitter: 1, random: () => 0.999999 });
    const high = exponentialBackoff({ initialMs: 1000, jitter: 1, random: () => 0 });
    expect(low.delayMs(1)).toBe(500);
    expect(high.delayMs(1)).toBe(1000);
  });

  it('never gives up with maxAttempts Infinity', () => {
    const policy = exponentialBackoff({ maxAttempts: Number.POSITIVE_INFINITY, maxMs: 5000, jitter: 0 });
    expect(policy.delayMs(10_000)).toBe(5000);
  });
});
