/** Starts Xvfb on a free display number (Xvfb picks it and reports it on -displayfd). */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface XvfbHandle {
  display: string;
  pid: number;
  stop(): Promise<void>;
}

export class SandboxStartError extends Error {
  override readonly name = 'SandboxStartError';
  constructor(
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${component}: ${message}`, options);
  }
}

export async function startXvfb(opts: {
  width: number;
  height: number;
  timeoutMs?: number;
  /** more server arguments, e.g. `-extension MIT-SHM` for a server without shared memory */
  extraArgs?: readonly string[];
}): Promise<XvfbHandle> {
  const child = spawn(
    'Xvfb',
    [
      '-displayfd',
      '3',
      '-screen',
      '0',
      `${opts.width}x${opts.height}x24`,
      '-nolisten',
      'tcp',
      '-noreset',
      '+extension',
      'XTEST',
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const fd3 = child.stdio[3] as NodeJS.ReadableStream;
  const display = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => reject(new SandboxStartError('Xvfb', `no display after ${opts.timeoutMs ?? 10000} ms`)),
      opts.timeoutMs ?? 10_000,
    );
    fd3.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /(\d+)\n/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(`:${m[1]}`);
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new SandboxStartError('Xvfb', `cannot start (is the xvfb package installed?): ${err.message}`, { cause: err }),
      );
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new SandboxStartError('Xvfb', `exited with ${code}: ${stderr.trim()}`));
    });
  });
  return { display, pid: child.pid ?? -1, stop: () => stopChild(child) };
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
