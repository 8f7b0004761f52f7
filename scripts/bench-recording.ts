/**
 * What recording costs the helper, per codec: its CPU with one viewer watching, with and without
 * a recording on top (the recording tees the encoded stream: no second encode), and the bytes a
 * minute of recording takes. Xvfb + a kiosk Chromium showing the clock page + the helper + one
 * headless viewer; windows alternate off / on so that load from elsewhere on the machine falls on
 * both alike.
 *
 *   npx tsx scripts/bench-recording.ts --help
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HELPER_SETTINGS, type HelperEvent, parseEnv } from '@vmlive/protocol';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { HelperProcess } from '../vm-browser-agent/src/helper/helper-process.js';
import { clockPage } from '../vm-browser-agent/src/helper/testing/clock-page.js';
import { launchChromium, Viewer } from '../vm-browser-agent/src/helper/testing/viewer.js';
import { startXvfb } from '../vm-browser-agent/src/sandbox/xvfb.js';

const HELP = `bench-recording: helper CPU (% of one core) with one viewer, recording off vs on, and
recorded bytes per minute, for each codec.

  --codecs vp8,h264  default both
  --page static|motion   VM page: the clock on a still page (default) or full-screen motion
  --seconds S        one window, default 20
  --rounds N         off/on pairs per codec, default 2
  --segment S        segment length, default 10
  --json             also print one JSON line with every figure
`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean' },
    codecs: { type: 'string', default: 'vp8,h264' },
    page: { type: 'string', default: 'static' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    segment: { type: 'string', default: '10' },
    json: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const codecs = (values.codecs ?? '').split(',').filter((c): c is 'vp8' | 'h264' => c === 'vp8' || c === 'h264');
const windowS = Number(values.seconds);
const rounds = Number(values.rounds);
const segmentS = Number(values.segment);
const logger = pino({ level: process.env.VMLIVE_BENCH_LOG ?? 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** utime+stime of a process in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function cpuOver(pid: number, seconds: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  return (100 * (cpuSeconds(pid) - c0)) / ((Date.now() - t0) / 1000);
}

interface CodecResult {
  codec: 'vp8' | 'h264';
  cpuOff: number[];
  cpuOn: number[];
  segments: number;
  recordedS: number;
  bytes: number;
  bytesPerMinute: number;
}

async function benchCodec(codec: 'vp8' | 'h264', display: string, viewerBrowser: Browser): Promise<CodecResult> {
  const spool = mkdtempSync(join(tmpdir(), 'vmlive-bench-rec-'));
  const settings = parseEnv(HELPER_SETTINGS, { VMLIVE_CODEC: codec, DISPLAY: display });
  const helper = new HelperProcess({ settings, logger });
  const segments: Array<Extract<HelperEvent, { type: 'recording-segment' }>> = [];
  helper.on('event', (e: HelperEvent) => {
    if (e.type === 'recording-segment') segments.push(e);
  });
  try {
    await helper.start();
    const viewer = await Viewer.connect(viewerBrowser, helper, `bench-${codec}`);
    await viewer.waitFor((s) => s.framesDecoded > 30, 15_000);
    await sleep(2000);
    const pid = helper.pid as number;
    const cpuOff: number[] = [];
    const cpuOn: number[] = [];
    for (let r = 0; r < rounds; r++) {
      cpuOff.push(await cpuOver(pid, windowS));
      const recordingId = `bench${r}`;
      helper.send({
        type: 'recording-start',
        peerId: null,
        recordingId,
        directory: join(spool, recordingId),
        segmentSeconds: segmentS,
      });
      await sleep(1000); // the branch's set-up is not the steady cost
      cpuOn.push(await cpuOver(pid, windowS));
      helper.send({ type: 'recording-stop', peerId: null, recordingId });
      await sleep(1500);
    }
    await viewer.close();
    const bytes = segments.reduce((n, s) => n + s.bytes, 0);
    const recordedS = segments.reduce((n, s) => n + s.durationMs, 0) / 1000;
    return {
      codec,
      cpuOff,
      cpuOn,
      segments: segments.length,
      recordedS,
      bytes,
      bytesPerMinute: recordedS > 0 ? (bytes / recordedS) * 60 : Number.NaN,
    };
  } finally {
    await helper.stop().catch(() => undefined);
    rmSync(spool, { recursive: true, force: true });
  }
}

async function main() {
  const xvfb = await startXvfb({ width: 1280, height: 720 });
  const cleanups: Array<() => Promise<unknown>> = [() => xvfb.stop()];
  try {
    const vmBrowser = await launchChromium({
      headless: false,
      env: { ...process.env, DISPLAY: xvfb.display },
      args: ['--window-position=0,0', '--window-size=1280,720', '--kiosk'],
    });
    cleanups.push(() => vmBrowser.close());
    const page = await vmBrowser.newPage({ viewport: null });
    await page.setContent(clockPage(values.page === 'motion'));
    const viewerBrowser = await launchChromium({
      args: ['--disable-renderer-backgrounding', '--disable-background-timer-throttling'],
    });
    cleanups.push(() => viewerBrowser.close());
    const results: CodecResult[] = [];
    for (const codec of codecs) results.push(await benchCodec(codec, xvfb.display, viewerBrowser));
    const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
    const lines = [
      `bench-recording: 1280x720@30, ${values.page} page, one viewer; ${rounds} x (${windowS} s off, ${windowS} s on); load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
      'codec  helper CPU off  on     added   recorded  segments  MiB/min',
      ...results.map(
        (r) =>
          `${r.codec.padEnd(6)} ${f(mean(r.cpuOff)).padStart(6)} %     ${f(mean(r.cpuOn)).padStart(5)} %  ${f(
            mean(r.cpuOn) - mean(r.cpuOff),
          ).padStart(5)} %  ${f(r.recordedS).padStart(6)} s  ${String(r.segments).padStart(8)}  ${f(
            r.bytesPerMinute / 1048576,
            2,
          ).padStart(7)}`,
      ),
      '(CPU in % of one core over each window; "added" = mean on - mean off; per-window values in --json)',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify({ page: values.page, windowS, rounds, results })}\n`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

main().catch((err) => {
  process.stderr.write(`bench-recording: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
