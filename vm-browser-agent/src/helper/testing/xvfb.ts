/**
 * Test/benchmark support: an Xvfb server on a free display number, chosen by Xvfb itself
 * (-displayfd writes the number it picked once it is ready to accept connections).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Xvfb {
  display: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export function startXvfb(width = 1280, height = 720, timeoutMs = 10_000): Promise<Xvfb> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'Xvfb',
      [
        '-displayfd',
        '3',
        '-screen',
        '0',
        `${width}x${height}x24`,
        '-nolisten',
        'tcp',
        '-noreset',
        '+extension',
        'XTEST',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Xvfb did not report a display within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    let out = '';
    (child.stdio[3] as Readable).on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve({
        display: `:${out.trim()}`,
        pid: child.pid,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited with ${code}: ${stderr}`));
    });
  });
}
