import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { heapFlagsToSet } from './node-heap.js';

describe('heapFlagsToSet', () => {
  it('sizes the heap for a long-running service when the command line says nothing', () => {
    expect(heapFlagsToSet([])).toEqual(['--optimize-for-size']);
    expect(heapFlagsToSet(['--enable-source-maps', '--max-old-space-size=512'])).toEqual(['--optimize-for-size']);
  });

  it("leaves V8's heap sizing to a command line that chose it, in either spelling", () => {
    for (const arg of ['--no-optimize-for-size', '--optimize-for-size', '--optimize_for_size', '--nooptimize-for-size'])
      expect(heapFlagsToSet(['--enable-source-maps', arg])).toEqual([]);
  });
});

describe('tuneHeapForLongRunningService', () => {
  // Its default reads the process's own command line: run it in real processes, as a service starts.
  it('sets the flag in a real Node process, and none under --no-optimize-for-size', () => {
    const module = JSON.stringify(new URL('./node-heap.ts', import.meta.url).href);
    const script = `import(${module}).then((m) => process.stdout.write(JSON.stringify(m.tuneHeapForLongRunningService())))`;
    const run = (execArgv: string[]) =>
      JSON.parse(execFileSync(process.execPath, [...execArgv, '--import', 'tsx', '-e', script], { encoding: 'utf8' }));
    expect(run([])).toEqual(['--optimize-for-size']);
    expect(run(['--no-optimize-for-size'])).toEqual([]);
  });
});
