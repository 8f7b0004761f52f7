/**
 * One more controller process (master-controller/dist/main.js, as in
 * production) for the scale-out tests, sharing a store, a signing key and an
 * operator token with the system's own controller; and the signing key file
 * they share.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './system.js';

export interface ControllerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A PKCS#8 EC P-256 key file, as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` makes. */
export function writeSigningKey(dir: string): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const file = join(dir, 'signing.pem');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

export function startControllerProcess(env: Record<string, string>, logFile: string): Promise<ControllerProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'master-controller/dist/main.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', VMLIVE_WEB_DIR: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stderr?.pipe(out, { end: false });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`controller not listening within 20 s; see ${logFile}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`controller exited with ${code}; see ${logFile}`));
    });
    lines.on('line', (line) => {
      out.write(`${line}\n`);
      if (!line.includes('"controller listening"')) return;
      const rec: unknown = JSON.parse(line);
      const url = typeof rec === 'object' && rec !== null && 'url' in rec ? rec.url : undefined;
      if (typeof url !== 'string') return;
      clearTimeout(timer);
      resolve({ url, child, stop });
    });
  });
}
