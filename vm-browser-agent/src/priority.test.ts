import { spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('./priority.ts', import.meta.url));

/** Runs raisePriority(nice) in a fresh agent-like process; returns its priority while it runs and what it logged. */
async function raiseIn(nice: number, uid?: number): Promise<{ priority: number; log: string }> {
  const script =
    `const { raisePriority } = await import(${JSON.stringify(MODULE)});` +
    `const log = { info: (o, m) => process.stdout.write(JSON.stringify({ ...o, msg: m }) + '\\n') };` +
    `raisePriority(${nice}, log); process.stdout.write('ready\\n'); setTimeout(() => {}, 5000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
  });
  const priority = getPriority(child.pid);
  child.kill();
  return { priority, log: out };
}

describe('raisePriority', () => {
  it.runIf(process.getuid?.() === 0)('takes the asked-for priority when it may', async () => {
    const { priority, log } = await raiseIn(-4);
    expect(priority).toBe(-4);
    expect(log).toContain('"msg":"scheduling priority raised"');
  });

  it.runIf(process.getuid?.() === 0)('stays put and says why without the right to raise it', async () => {
    const { priority, log } = await raiseIn(-4, 65534);
    expect(priority).toBe(0);
    expect(log).toContain('EACCES');
    expect(log).toContain('"msg":"could not raise scheduling priority"');
  });

  it('never lowers the priority it already has', async () => {
    const { priority, log } = await raiseIn(5);
    expect(priority).toBe(getPriority());
    expect(log).toBe('ready\n');
  });
});
