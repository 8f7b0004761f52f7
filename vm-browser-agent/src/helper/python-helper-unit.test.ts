/** Runs the Python helper's pure-logic unittest suite (SDP munging, keysyms, validation) in the one test command. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const HELPER_DIR = fileURLToPath(new URL('../../helper/', import.meta.url));

it('python helper unit tests pass (python3 -m unittest discover)', () => {
  const run = spawnSync('/usr/bin/python3', ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
    cwd: HELPER_DIR,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) console.error(run.stderr);
  expect(run.stderr).toMatch(/\nOK/);
  expect(run.status).toBe(0);
});
