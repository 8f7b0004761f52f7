import { execFileSync, spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { asOwnHost, withoutPriorityRaise } from './priorities.js';

const asRoot = process.getuid?.() === 0;

describe('sandbox priorities', () => {
  it.runIf(asRoot)('a browser started without the right can lower its priority but not raise it', () => {
    const script =
      'renice -n 3 -p $$ >/dev/null && echo lowered; renice -n -5 -p $$ >/dev/null 2>&1 && echo raised; true';
    const [command, args] = withoutPriorityRaise('/bin/sh', ['-c', script]);
    expect(execFileSync(command, args, { encoding: 'utf8' }).trim()).toBe('lowered');
    // Unwrapped, the same root shell raises itself: the wrapper is what makes the difference.
    expect(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }).trim()).toBe('lowered\nraised');
  });

  it.runIf(asRoot)("the controller's stand-in gets the VM agent's priority", async () => {
    const child = spawn('/bin/sleep', ['5']);
    try {
      expect(asOwnHost(child.pid, { VMLIVE_NICE: '-7' })).toBe(true);
      expect(getPriority(child.pid)).toBe(-7);
    } finally {
      child.kill();
    }
  });

  it.runIf(!asRoot)('leaves everything alone when not root', () => {
    expect(withoutPriorityRaise('/usr/bin/chromium', ['--x'])).toEqual(['/usr/bin/chromium', ['--x']]);
    expect(asOwnHost(process.pid)).toBe(false);
  });
});
