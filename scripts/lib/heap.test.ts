import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { diffHeapSummaries, summarizeHeapSnapshot } from './heap.js';

class SoakLeakProbe {
  constructor(readonly n: number) {}
}

const dir = mkdtempSync(join(tmpdir(), 'vmlive-heap-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('heap snapshot growth', () => {
  it('names the constructor whose instances were kept between two snapshots, with their count', () => {
    const before = summarizeHeapSnapshot(writeHeapSnapshot(join(dir, 'a.heapsnapshot')));
    const kept = Array.from({ length: 5000 }, (_, i) => new SoakLeakProbe(i));
    const after = summarizeHeapSnapshot(writeHeapSnapshot(join(dir, 'b.heapsnapshot')));
    const d = diffHeapSummaries(before, after, 50);
    const probe = d.top.find((g) => g.key === 'object SoakLeakProbe');
    expect(probe?.countDelta).toBe(5000);
    expect(probe?.bytesDelta).toBeGreaterThan(5000 * 8);
    expect(d.totalAfter).toBeGreaterThan(d.totalBefore);
    expect(kept.length).toBe(5000);
    expect(readdirSync(dir)).toHaveLength(2);
  }, 60_000);

  it('refuses a JSON file that is not a heap snapshot', () => {
    expect(() => summarizeHeapSnapshot(join(process.cwd(), 'package.json'))).toThrow(/not a V8 heap snapshot/);
  });
});
