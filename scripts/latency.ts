/**
 * Glass-to-glass latency of one vmlive WebRTC viewer: the VM's browser paints
 * Date.now() as clock blocks every frame; a headless viewer decodes each
 * received frame (requestVideoFrameCallback → canvas) and records
 * now − painted. Pass: connected, enough samples, p50 under the threshold.
 */
import { parseArgs } from './lib/args.js';
import { EXIT, fmt, machineLine, runMain, table, writeJson } from './lib/report.js';
import { NoFrameError, runWindow } from './lib/run.js';
import { summarize } from './lib/stats.js';
import { openSession, TARGET_OPTIONS } from './lib/target.js';
import { openWebrtcViewer, type WebrtcStats } from './lib/viewers.js';

const opts = parseArgs(
  'latency',
  'Glass-to-glass latency of a vmlive viewer (clock page in the VM, decoded from every received frame).\n' +
    'Default: starts the local sandbox; or --controller URL --vm ID --token VIEWER_TOKEN for a deployment\n' +
    '(whose VM must show scripts/pages/clock.html). Exit 0 when all pass criteria hold, 1 otherwise, 3 on a\n' +
    'missing prerequisite.',
  {
    ...TARGET_OPTIONS,
    duration: { type: 'number', help: 'measure this many seconds (default: until --min-samples)' },
    'min-samples': { type: 'number', default: 500, help: 'samples required to pass (and to stop, without --duration)' },
    'max-p50': { type: 'number', default: 50, help: 'pass only if latency p50 ≤ this, ms' },
    'max-ttff': { type: 'number', help: 'pass only if time to first frame ≤ this, ms (default: not checked)' },
    warmup: { type: 'number', default: 1, help: 'seconds skipped after the first decoded frame' },
    timeout: { type: 'number', default: 120, help: 'hard bound on the measurement, s' },
    json: { type: 'string', help: 'write the result to this JSON file' },
  },
);

async function main(): Promise<number> {
  const session = await openSession('latency', opts);
  try {
    const viewer = await openWebrtcViewer(session.viewerBrowser, session.server, session.target, {
      clockOffsetMs: session.clockOffsetMs,
      viewportW: opts['screen-width'],
      ...(opts.codec ? { codec: opts.codec } : {}),
    });
    let s0: WebrtcStats | null = null;
    let s1: WebrtcStats | null = null;
    let r: Awaited<ReturnType<typeof runWindow>>;
    try {
      r = await runWindow(viewer, {
        warmupMs: opts.warmup * 1000,
        ...(opts.duration !== undefined ? { durationMs: opts.duration * 1000 } : { minSamples: opts['min-samples'] }),
        firstFrameTimeoutMs: 30_000,
        timeoutMs: opts.timeout * 1000,
        onWindowStart: async () => {
          s0 = await viewer.stats();
        },
        onWindowEnd: async () => {
          s1 = await viewer.stats();
        },
      });
    } catch (e) {
      if (e instanceof NoFrameError) {
        const st = await viewer.stats().catch(() => null);
        console.error(`latency: FAIL — ${e.message}; peer connection: ${st?.connectionState ?? 'none'}`);
        return EXIT.failed;
      }
      throw e;
    }
    const end = s1 as WebrtcStats | null;
    const start = s0 as WebrtcStats | null;
    await viewer.stop();

    const lat = summarize(r.samples.map((s) => s.latency));
    const recv = summarize(r.samples.flatMap((s) => (s.receiveLatency === undefined ? [] : [s.receiveLatency])));
    const secs = r.windowMs / 1000;
    const jbCount = start && end ? end.jitterBufferEmittedCount - start.jitterBufferEmittedCount : 0;
    const result = {
      date: new Date().toISOString(),
      machine: machineLine(),
      target: session.describe,
      clockOffsetMs: session.clockOffsetMs,
      windowSeconds: secs,
      latency: lat,
      /** painted → arrival of the frame's last packet (capture, encode, network), from rVFC receiveTime */
      receiveLatency: recv,
      fps: lat.n / secs,
      decodedFps: start && end ? (end.framesDecoded - start.framesDecoded) / secs : NaN,
      ttffMs: r.ttffMs,
      kBps: start && end ? (end.bytesReceived - start.bytesReceived) / 1000 / secs : NaN,
      jitterBufferMs:
        start && end && jbCount > 0 ? ((end.jitterBufferDelay - start.jitterBufferDelay) / jbCount) * 1000 : NaN,
      packetsLost: end?.packetsLost ?? 0,
      connectionState: end?.connectionState ?? 'none',
      codec: end?.codec ?? '',
      resolution: end ? `${end.frameWidth}x${end.frameHeight}` : '',
      rejectedFrames: r.rejected,
      errors: r.errors,
    };

    console.log(`\nlatency: ${session.describe}, ${result.date}, ${machineLine()}`);
    console.log(
      table(
        ['metric', 'value'],
        [
          ['samples', lat.n],
          ['latency p50 ms', fmt(lat.p50)],
          ['latency p95 ms', fmt(lat.p95)],
          ['latency p99 ms', fmt(lat.p99)],
          ['latency max ms', fmt(lat.max)],
          ['painted → received p50 ms', fmt(recv.p50)],
          ['jitter buffer ms (mean)', fmt(result.jitterBufferMs, 1)],
          ['fps (distinct clock values)', fmt(result.fps, 1)],
          ['fps (decoded, getStats)', fmt(result.decodedFps, 1)],
          ['time to first frame ms', fmt(result.ttffMs)],
          ['kB/s received', fmt(result.kBps)],
          ['packets lost', result.packetsLost],
          ['codec', result.codec],
          ['resolution', result.resolution],
          ['rejected frames', JSON.stringify(result.rejectedFrames)],
        ],
      ),
    );

    const failures: string[] = [];
    if (result.connectionState !== 'connected') failures.push(`peer connection ${result.connectionState}`);
    if (lat.n < opts['min-samples']) failures.push(`${lat.n} samples < ${opts['min-samples']}`);
    if (!(lat.p50 <= opts['max-p50'])) failures.push(`p50 ${fmt(lat.p50)} ms > ${opts['max-p50']} ms`);
    if (opts['max-ttff'] !== undefined && !((result.ttffMs ?? Infinity) <= opts['max-ttff']))
      failures.push(`time to first frame ${fmt(result.ttffMs)} ms > ${opts['max-ttff']} ms`);
    if (opts.json)
      writeJson(opts.json, {
        ...result,
        pass: failures.length === 0,
        failures,
        settings: { ...opts, token: opts.token ? '(redacted)' : undefined },
      });
    if (failures.length) {
      console.log(`\nlatency: FAIL — ${failures.join('; ')}`);
      return EXIT.failed;
    }
    console.log(`\nlatency: PASS (p50 ≤ ${opts['max-p50']} ms, ≥ ${opts['min-samples']} samples, connected)`);
    return EXIT.ok;
  } finally {
    await session.close();
  }
}

runMain('latency', main);
