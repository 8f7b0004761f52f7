import { describe, expect, it } from 'vitest';
import type { Command } from './cdp-message.js';
import { type HeldCommand, HeldQueue } from './held-queue.js';

const cmd = (id: number, method = 'Runtime.evaluate'): Command => ({ id, method, sessionId: undefined, params: {} });
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('held queue', () => {
  it('keeps commands in arrival order and hands them all back', () => {
    const q = new HeldQueue({ maxAgeMs: 10_000, maxCount: 10, maxBytes: 1000, onExpire: () => {} });
    for (let i = 1; i <= 3; i++) q.push(cmd(i), 'change', Buffer.from(`frame${i}`));
    expect(q.length).toBe(3);
    expect(q.bytes).toBe(18);
    expect(q.takeAll().map((h) => h.command.id)).toEqual([1, 2, 3]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('refuses past its count and byte limits', () => {
    const q = new HeldQueue({ maxAgeMs: 10_000, maxCount: 2, maxBytes: 10, onExpire: () => {} });
    expect(q.refusal(11)).toMatch(/10 bytes/);
    q.push(cmd(1), 'change', Buffer.alloc(4));
    q.push(cmd(2), 'change', Buffer.alloc(4));
    expect(q.refusal(1)).toMatch(/2 commands/);
    q.clear();
  });

  it('expires the oldest changes after maxAgeMs and lets the reads queued behind them go', async () => {
    const expired: HeldCommand[][] = [];
    const q = new HeldQueue({ maxAgeMs: 80, maxCount: 10, maxBytes: 1000, onExpire: (items) => expired.push(items) });
    q.push(cmd(1), 'change', Buffer.from('a'));
    q.push(cmd(2, 'DOM.getDocument'), 'read', Buffer.from('b'));
    await wait(50);
    q.push(cmd(3), 'change', Buffer.from('c'));
    await wait(50);
    // #1 timed out; #2 (a read) only waited for #1; #3 is 50 ms old and stays.
    expect(expired.map((b) => b.map((h) => h.command.id))).toEqual([[1, 2]]);
    expect(q.length).toBe(1);
    await wait(60);
    expect(expired.map((b) => b.map((h) => h.command.id))).toEqual([[1, 2], [3]]);
    expect(q.length).toBe(0);
  });
});
