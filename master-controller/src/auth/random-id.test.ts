import { describe, expect, it } from 'vitest';
import { randomId } from './tokens.js';

describe('randomId', () => {
  it('never starts with a dash, which a command line would read as an option', () => {
    // Without the redraw one id in 64 starts with '-': 5,000 draws miss it with odds of 1e-34.
    const ids = Array.from({ length: 5_000 }, () => randomId(12));
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids.map((id) => id[0])).size).toBeGreaterThan(50);
  });

  it('keeps the base64url length of its bytes', () => {
    expect(randomId(12)).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{15}$/);
    expect(randomId(16)).toHaveLength(22);
  });
});
