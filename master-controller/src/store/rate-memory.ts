/**
 * The memory store's rate-limit state: token buckets and long-poll slots in
 * Maps kept in last-use order, so memory is bounded two ways: a bucket that
 * has refilled (it then equals a bucket never seen) and a slot past its lease
 * are dropped by a sweep at most every second, and past `maxKeys` the
 * least recently used entries go first.
 */
import type { RateBucket, RateState } from './types.js';

interface Bucket {
  tokens: number;
  at: number;
  /** When it is full again (then it can be forgotten). */
  fullAt: number;
}

export const RATE_MAX_KEYS = 200_000;

export class MemoryRates implements RateState {
  private readonly buckets = new Map<string, Bucket>();
  private readonly slots = new Map<string, Map<string, number>>();
  private sweptAt = 0;

  constructor(private readonly maxKeys = RATE_MAX_KEYS) {}

  /** Buckets and slot keys held (the bound the tests check). */
  get size(): number {
    return this.buckets.size + this.slots.size;
  }

  async takeTokens(list: readonly RateBucket[], now: number): Promise<number> {
    this.sweep(now);
    // All or none: every bucket is checked before any is taken from (two passes, no allocation:
    // this runs on every /api request).
    let wait = 0;
    for (const b of list) {
      const tokens = this.level(b, now);
      if (tokens < 1) wait = Math.max(wait, Math.ceil(((1 - tokens) / b.refillPerS) * 1000));
    }
    if (wait > 0) return wait;
    for (const b of list) {
      const tokens = this.level(b, now) - 1;
      const fullAt = now + ((b.capacity - tokens) / b.refillPerS) * 1000;
      const held = this.buckets.get(b.key);
      if (held) {
        held.tokens = tokens;
        held.at = now;
        held.fullAt = fullAt;
        this.buckets.delete(b.key); // re-inserted last: the Map stays in last-use order
        this.buckets.set(b.key, held);
      } else this.buckets.set(b.key, { tokens, at: now, fullAt });
    }
    this.trim(this.buckets);
    return 0;
  }

  /** The tokens in `b` at `now`: a bucket not held is full. */
  private level(b: RateBucket, now: number): number {
    const held = this.buckets.get(b.key);
    return held ? Math.min(b.capacity, held.tokens + ((now - held.at) / 1000) * b.refillPerS) : b.capacity;
  }

  async acquireSlot(key: string, id: string, max: number, leaseMs: number, now: number): Promise<boolean> {
    this.sweep(now);
    const held = this.slots.get(key) ?? new Map<string, number>();
    for (const [k, until] of held) if (until <= now) held.delete(k);
    if (held.size >= max) return false;
    held.set(id, now + leaseMs);
    this.slots.delete(key);
    this.slots.set(key, held);
    this.trim(this.slots);
    return true;
  }

  async releaseSlot(key: string, id: string): Promise<void> {
    const held = this.slots.get(key);
    if (!held) return;
    held.delete(id);
    if (held.size === 0) this.slots.delete(key);
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 1000) return;
    this.sweptAt = now;
    for (const [k, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(k);
    for (const [k, held] of this.slots) {
      for (const [id, until] of held) if (until <= now) held.delete(id);
      if (held.size === 0) this.slots.delete(k);
    }
  }

  private trim(map: Map<string, unknown>): void {
    if (map.size <= this.maxKeys) return;
    for (const k of map.keys()) {
      if (map.size <= this.maxKeys) return;
      map.delete(k);
    }
  }
}
