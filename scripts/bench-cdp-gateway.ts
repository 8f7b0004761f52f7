/**
 * Benchmark of the VM agent's CDP gateway (vm-browser-agent/src/cdp/) in front
 * of a headless Debian Chromium:
 *   - Runtime.evaluate('1') round trips on one page, directly to Chromium and
 *     through the gateway (interleaved blocks), p50/p99 and the overhead;
 *   - hold → release: a command held while a person has control, time from
 *     the mode flipping back to `agent` to its response arriving, median of N.
 * The gateway runs in its own process, as it does inside the VM agent, so it
 * does not share an event loop with the client that measures it.
 *
 *   npx tsx scripts/bench-cdp-gateway.ts --help
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { z } from 'zod';
import { ControlCell } from '../vm-browser-agent/src/cdp/control-view.js';
import { CDP_GATEWAY_DEFAULTS, CdpGateway } from '../vm-browser-agent/src/cdp/gateway.js';
import { startHeadlessChromium } from '../vm-browser-agent/src/cdp/testing/headless-chromium.js';
import { RawCdp } from '../vm-browser-agent/src/cdp/testing/raw-cdp.js';
import { parseArgs } from './lib/args.js';
import { CHROMIUM, requireBinary } from './lib/chromium.js';
import { EXIT, fmt, machineLine, runMain, table, writeJson } from './lib/report.js';
import { median, summarize } from './lib/stats.js';

const SELF = fileURLToPath(import.meta.url);
/** Set in the gateway's child process: Chromium's DevTools base URL. */
const CHILD_ENV = 'VMLIVE_BENCH_CDP_UPSTREAM';

// Parent ⇄ gateway child messages, validated on arrival.
const ToChild = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('mode'), mode: z.enum(['agent', 'user']), seq: z.number() }),
  z.object({ cmd: z.literal('ping'), seq: z.number() }),
]);
const ToParent = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('ready'), url: z.string() }),
  z.object({ cmd: z.literal('ack'), seq: z.number() }),
]);

async function child(upstreamUrl: string): Promise<void> {
  const control = new ControlCell();
  const gw = new CdpGateway({
    upstreamUrl,
    host: '127.0.0.1',
    port: 0,
    control,
    whileHeld: 'hold',
    holdMaxMs: 60_000,
    maxMessageBytes: CDP_GATEWAY_DEFAULTS.maxMessageBytes,
    log: pino({ level: process.env.VMLIVE_BENCH_LOG ?? 'warn' }),
  });
  const { url } = await gw.start();
  let since = 1;
  process.on('message', (raw) => {
    const m = ToChild.parse(raw);
    if (m.cmd === 'mode') control.set({ mode: m.mode, holder: m.mode === 'agent' ? null : 'bench', since: since++ });
    process.send?.({ cmd: 'ack', seq: m.seq });
  });
  process.on('disconnect', () => void gw.stop().then(() => process.exit(0)));
  process.send?.({ cmd: 'ready', url });
}

const opts = parseArgs(
  'bench-cdp-gateway',
  'CDP gateway overhead (Runtime.evaluate round trips, direct vs through the gateway) and hold → release latency,\n' +
    'against a headless /usr/bin/chromium. Prints a table; exit 0 unless something failed.',
  {
    quick: { type: 'boolean', help: 'short run for the smoke test (< 20 s): 200 round trips, 10 holds' },
    'round-trips': { type: 'number', default: 1000, help: 'Runtime.evaluate round trips per path' },
    holds: { type: 'number', default: 30, help: 'hold → release samples' },
    timeout: { type: 'number', default: 120, help: 'hard bound on the whole run, s' },
    json: { type: 'string', help: 'also write the figures to this JSON file' },
  },
);

async function roundTrips(cdp: RawCdp, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await cdp.send('Runtime.evaluate', { expression: '1' });
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<number> {
  requireBinary(CHROMIUM, 'chromium');
  const started = Date.now();
  const deadline = setTimeout(() => {
    console.error(`bench-cdp-gateway: over the ${opts.timeout} s bound, giving up`);
    process.exit(EXIT.failed);
  }, opts.timeout * 1000);
  deadline.unref();
  const n = opts.quick ? 200 : opts['round-trips'];
  const holds = opts.quick ? 10 : opts.holds;

  const browser = await startHeadlessChromium();
  const gateway = fork(SELF, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, [CHILD_ENV]: browser.httpUrl },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  process.once('exit', () => gateway.kill('SIGKILL'));
  const acks = new Map<number, () => void>();
  const ready = new Promise<string>((resolve, reject) => {
    gateway.on('message', (raw) => {
      const m = ToParent.parse(raw);
      if (m.cmd === 'ready') resolve(m.url);
      else acks.get(m.seq)?.();
    });
    gateway.once('exit', (code) => reject(new Error(`the gateway process exited (${code})`)));
  });
  let seq = 0;
  const tell = (msg: { cmd: 'mode'; mode: 'agent' | 'user' } | { cmd: 'ping' }) =>
    new Promise<void>((resolve) => {
      const s = ++seq;
      acks.set(s, () => {
        acks.delete(s);
        resolve();
      });
      gateway.send({ ...msg, seq: s });
    });

  try {
    const gwUrl = await ready;
    const target = z
      .object({ id: z.string() })
      .parse(await (await fetch(`${browser.httpUrl}/json/new?about:blank`, { method: 'PUT' })).json());
    const direct = await RawCdp.connect(`${browser.httpUrl.replace('http', 'ws')}/devtools/page/${target.id}`);
    const through = await RawCdp.connect(`${gwUrl.replace('http', 'ws')}/devtools/page/${target.id}`);
    await roundTrips(direct, 50);
    await roundTrips(through, 50);
    // Interleaved blocks, so drift in machine load hits both paths alike.
    const d: number[] = [];
    const g: number[] = [];
    const block = Math.min(100, n);
    for (let done = 0; done < n; done += block) {
      d.push(...(await roundTrips(direct, Math.min(block, n - done))));
      g.push(...(await roundTrips(through, Math.min(block, n - done))));
    }

    const ipc: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await tell({ cmd: 'ping' });
      ipc.push(performance.now() - t0);
    }
    // The same wait without a hold: what Chromium (and the gateway) take for a command after 30 ms idle.
    const idle: number[] = [];
    for (let i = 0; i < holds; i++) {
      await new Promise((r) => setTimeout(r, 30));
      idle.push((await roundTrips(through, 1))[0] ?? Number.NaN);
    }
    const release: number[] = [];
    for (let i = 0; i < holds; i++) {
      await tell({ cmd: 'mode', mode: 'user' });
      let answered = false;
      const reply = through.send('Runtime.evaluate', { expression: '1' }).then(() => {
        answered = true;
        return performance.now();
      });
      await new Promise((r) => setTimeout(r, 30));
      if (answered) throw new Error('a held command was answered while the mode was user');
      const t0 = performance.now();
      void tell({ cmd: 'mode', mode: 'agent' });
      release.push((await reply) - t0);
    }
    direct.close();
    through.close();

    const sd = summarize(d);
    const sg = summarize(g);
    const figures = {
      roundTrips: n,
      directP50Ms: sd.p50,
      directP99Ms: sd.p99,
      gatewayP50Ms: sg.p50,
      gatewayP99Ms: sg.p99,
      overheadP50Ms: sg.p50 - sd.p50,
      overheadP99Ms: sg.p99 - sd.p99,
      holdReleaseMedianMs: median(release),
      holdReleaseMaxMs: Math.max(...release),
      idleRoundTripMedianMs: median(idle),
      holds,
      ipcRoundTripMedianMs: median(ipc),
    };
    console.log(`bench-cdp-gateway: ${machineLine()}, Chromium headless, gateway in its own process`);
    console.log(
      table(
        ['Runtime.evaluate("1")', 'n', 'p50 ms', 'p99 ms', 'mean ms'],
        [
          ['direct to Chromium', sd.n, fmt(sd.p50, 3), fmt(sd.p99, 3), fmt(sd.mean, 3)],
          ['through the gateway', sg.n, fmt(sg.p50, 3), fmt(sg.p99, 3), fmt(sg.mean, 3)],
          ['overhead', '', fmt(figures.overheadP50Ms, 3), fmt(figures.overheadP99Ms, 3), fmt(sg.mean - sd.mean, 3)],
        ],
      ),
    );
    console.log(
      `hold -> release: median ${fmt(figures.holdReleaseMedianMs, 2)} ms, max ${fmt(figures.holdReleaseMaxMs, 2)} ms ` +
        `over ${holds} (mode flips to agent -> the held command's response arrives; includes one IPC hop to the ` +
        `gateway process, round trip median ${fmt(figures.ipcRoundTripMedianMs, 2)} ms)`,
    );
    console.log(
      `  for comparison, the same command after 30 ms idle without a hold: median ${fmt(figures.idleRoundTripMedianMs, 2)} ms`,
    );
    console.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (opts.json) writeJson(opts.json, figures);
    return EXIT.ok;
  } finally {
    gateway.disconnect();
    await browser.stop();
  }
}

const upstream = process.env[CHILD_ENV];
if (upstream) void child(upstream);
else runMain('bench-cdp-gateway', main);
