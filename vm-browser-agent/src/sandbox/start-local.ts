/**
 * `./vmlive start`: controller + one sandbox VM + viewer on this machine.
 * Prints the viewer URL and keeps running until Ctrl-C / SIGTERM.
 * Honours PORT (default 8080), HOST, VMLIVE_OPERATOR_TOKEN, VMLIVE_START_URL, VMLIVE_CODEC,
 * VMLIVE_CDP_PORT (the CDP gateway, default 9223).
 */
import { join } from 'node:path';
import { REPO_ROOT, startLocalSystem } from './local-system.js';

function envInt(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`vmlive start: ${name} must be a port number, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const codec = process.env.VMLIVE_CODEC;
  if (codec !== undefined && codec !== 'vp8' && codec !== 'h264') {
    process.stderr.write(`vmlive start: VMLIVE_CODEC must be vp8 or h264, got ${codec}\n`);
    process.exit(2);
  }
  const logDir = join(REPO_ROOT, '.vmlive', 'logs');
  process.stdout.write('vmlive: starting controller, sandbox VM (Xvfb + Chromium + agent) ...\n');
  const sys = await startLocalSystem({
    port: envInt('PORT', 8080),
    host: process.env.HOST || '127.0.0.1',
    operatorToken: process.env.VMLIVE_OPERATOR_TOKEN || undefined,
    startUrl: process.env.VMLIVE_START_URL || undefined,
    codec,
    logDir,
    cdpPort: envInt('VMLIVE_CDP_PORT', 9223),
  });
  const viewer = await sys.viewerUrl('control', 24 * 3600);
  process.stdout.write(
    [
      '',
      'vmlive is running.',
      `  Viewer (control, 24 h):  ${viewer}`,
      `  Operator console:        ${sys.controllerUrl}/`,
      `  Operator token:          ${sys.operatorToken}`,
      `  VM id:                   ${sys.vmId}  (display ${sys.display})`,
      `  Automation CDP gateway:  ${sys.cdpUrl}   (chromium.connectOverCDP / puppeteer.connect({browserURL}))`,
      `  Logs:                    ${sys.logDir}`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('vmlive: stopping ...\n');
    await sys.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`vmlive start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
