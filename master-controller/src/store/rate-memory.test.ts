/** The memory store's rate-limit state stays bounded whatever the number of tokens and addresses seen. */
import { describe, expect, it } from 'vitest';
import { MemoryRates } from './rate-memory.js';

describe('memory rate state', () => {
  it('forgets buckets that refilled and slots whose lease ended', async () => {
    const r = new MemoryRates(1000);
    for (let i = 0; i < 500; i++) await r.takeTokens([{ key: `a:${i}`, capacity: 10, refillPerS: 10 }], 0);
    for (let i = 0; i < 100; i++) await r.acquireSlot(`t:${i}`, 'p', 4, 2000, 0);
    expect(r.size).toBe(600);
    // 1.1 s later every bucket is full again (1 token at 10/s), the slots still leased.
    await r.takeTokens([{ key: 'late', capacity: 10, refillPerS: 10 }], 1100);
    expect(r.size).toBe(101);
    await r.takeTokens([{ key: 'later', capacity: 10, refillPerS: 10 }], 2200);
    expect(r.size).toBe(1);
  });

  it('never holds more than its bound under a flood of distinct keys, dropping the least recently used', async () => {
    const r = new MemoryRates(1000);
    const hot = { key: 'hot', capacity: 200, refillPerS: 0.0001 };
    for (let i = 0; i < 20_000; i++) {
      await r.takeTokens([{ key: `flood:${i}`, capacity: 100, refillPerS: 0.001 }], i);
      if (i % 100 === 0) expect(await r.takeTokens([hot], i)).toBe(0);
      expect(r.size).toBeLessThanOrEqual(1000);
    }
    // The bucket in use survived the flood: it still knows it spent its 200.
    expect(await r.takeTokens([hot], 20_000)).toBeGreaterThan(0);
  });
});
