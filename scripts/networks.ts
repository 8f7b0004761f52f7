/**
 * What a viewer sees on a lossy, jittery link, with retransmission (RTX) on
 * and off side by side. The local sandbox shows the clock page; one headless
 * Chromium viewer runs in its own network namespace behind the network test
 * bed's link (e2e/netbed: random loss of the UDP sent to it, delay + jitter).
 * For each RTX setting a fresh sandbox is started (VMLIVE_RTX is a helper
 * setting), and for each link profile a fresh viewer session measures one
 * window after a warm-up: presented fps, freezes over 200 ms, time frozen,
 * latency p50 (clock page), and the loss/NACK/RTX counters behind them.
 *
 * A measurement, not a pass/fail gate: exit 0 once every window was measured,
 * 1 when a viewer never got a frame, 3 when not root or a tool is missing.
 */
import type { Browser } from 'playwright-core';
import { type Reading, type WindowFigures, windowFigures } from '../e2e/netbed/figures.js';
import { type Netbed, netbedUnavailable, openNetbed, type Shape, type ViewerLink } from '../e2e/netbed/netbed.js';
import { parseArgs } from './lib/args.js';
import { EXIT, fmt, machineLine, PrerequisiteError, runMain, table, writeJson } from './lib/report.js';
import { NoFrameError, runWindow } from './lib/run.js';
import { type PageServer, startPageServer } from './lib/server.js';
import { summarize } from './lib/stats.js';
import { startLocalSystem } from './lib/system.js';
import { runThinCase, THIN_CASES, type ThinCaseName, type ThinFigures, type ThinOptions } from './lib/thin-links.js';
import { openWebrtcViewer, type WebrtcViewer } from './lib/viewers.js';

const opts = parseArgs(
  'networks',
  'fps, freezes (> 200 ms), time frozen and latency p50 of one WebRTC viewer behind a lossy/jittery link\n' +
    '(its own network namespace, e2e/netbed), with RTX on and off side by side. Local sandbox only; needs root.',
  {
    loss: { type: 'list', default: ['0', '1', '2'], help: 'random loss profiles, % of the UDP sent to the viewer' },
    jitter: {
      type: 'string',
      default: '2:20:10',
      help: 'one more profile LOSS:DELAY:JITTER (%, ms, ± ms), or "none"',
    },
    rtx: { type: 'list', default: ['off', 'on'], help: 'VMLIVE_RTX settings to compare' },
    seconds: { type: 'number', default: 20, help: 'measurement window per profile, s' },
    warmup: { type: 'number', default: 5, help: 'seconds after the first frame before the window opens' },
    mode: { type: 'string', default: 'static', help: 'clock page: static or busy' },
    codec: { type: 'string', default: 'vp8', help: 'vp8 or h264' },
    json: { type: 'string', help: 'write every figure to this JSON file' },
    thin: {
      type: 'list',
      default: [],
      help: 'instead of the loss profiles, thin-link cases with a clean and a shaped viewer: cap, step, blackout',
    },
    adapt: { type: 'list', default: ['off', 'on'], help: 'thin cases: VMLIVE_LINK_ADAPT settings to compare' },
    cap: { type: 'number', default: 1000, help: 'thin cap case: the cap, kbit/s' },
    step: { type: 'string', default: '5000:500', help: 'thin step case: FROM:TO kbit/s' },
    'blackout-ms': { type: 'number', default: 2000, help: 'thin blackout case: how long, ms' },
    hold: { type: 'number', default: 12, help: 'thin cases: seconds the cap (the step’s lower rate) is held' },
  },
);

interface Profile {
  label: string;
  shape: Shape;
}

interface Measured {
  rtx: string;
  profile: string;
  figures: WindowFigures;
  latencyP50: number;
  latencySamples: number;
  linkDropped: number;
  codec: string;
}

function profiles(): Profile[] {
  const out: Profile[] = opts.loss.map((l) => ({ label: `${l} % loss`, shape: { lossPct: Number(l) } }));
  if (opts.jitter !== 'none') {
    const [loss, delay, jitter] = opts.jitter.split(':').map(Number);
    if (![loss, delay, jitter].every((v) => v !== undefined && Number.isFinite(v)))
      throw new PrerequisiteError(`--jitter must be LOSS:DELAY:JITTER or none, got ${opts.jitter}`);
    out.push({
      label: `${loss} % + ${delay}±${jitter} ms`,
      shape: { lossPct: loss ?? 0, delayMs: delay ?? 0, jitterMs: jitter ?? 0 },
    });
  }
  for (const p of out) if (!Number.isFinite(p.shape.lossPct)) throw new PrerequisiteError(`bad --loss ${p.label}`);
  return out;
}

/** One viewer session on the link as shaped now: warm-up, then one window. */
async function measureOnce(
  browser: Browser,
  server: PageServer,
  pageOrigin: string,
  target: { controllerUrl: string; vmId: string; token: string },
  link: ViewerLink,
): Promise<Omit<Measured, 'rtx' | 'profile'>> {
  const viewer = await openWebrtcViewer(browser, server, target, {
    clockOffsetMs: 0,
    viewportW: 1280,
    codec: opts.codec,
    pageOrigin,
  });
  try {
    let a: Reading | undefined;
    let b: Reading | undefined;
    const read = async (): Promise<Reading> => {
      const stats = await viewer.stats();
      if (!stats) throw new Error('the viewer has no peer connection');
      return { stats, log: await viewer.frameLog() };
    };
    let dropped0 = 0;
    const r = await runWindow(viewer, {
      warmupMs: opts.warmup * 1000,
      durationMs: opts.seconds * 1000,
      firstFrameTimeoutMs: 30_000,
      timeoutMs: (opts.warmup + opts.seconds + 60) * 1000,
      onWindowStart: async () => {
        a = await read();
        dropped0 = (await link.counters()).lossDropped;
      },
      onWindowEnd: async () => {
        b = await read();
      },
    });
    if (!a || !b) throw new NoFrameError('the window never closed');
    const lat = summarize(r.samples.map((s) => s.latency));
    return {
      figures: windowFigures(a, b),
      latencyP50: lat.p50,
      latencySamples: lat.n,
      linkDropped: (await link.counters()).lossDropped - dropped0,
      codec: b.stats.codec,
    };
  } finally {
    await viewer.stop();
  }
}

async function main(): Promise<number> {
  const why = netbedUnavailable();
  if (why) throw new PrerequisiteError(why);
  if (opts.thin.length > 0) return mainThin();
  if (opts.mode !== 'static' && opts.mode !== 'busy') throw new PrerequisiteError('--mode must be static or busy');
  if (opts.codec !== 'vp8' && opts.codec !== 'h264') throw new PrerequisiteError('--codec must be vp8 or h264');
  const codec = opts.codec;
  const list = profiles();
  const results: Measured[] = [];
  const server = await startPageServer();
  let bed: Netbed | undefined;
  try {
    bed = await openNetbed(['viewer']);
    const link = bed.link('viewer');
    const browser = await link.launchBrowser();
    const pageOrigin = (await link.forward(server.origin)).replace(/\/$/, '');
    for (const rtx of opts.rtx) {
      console.error(`networks: starting the local sandbox with VMLIVE_RTX=${rtx}…`);
      const system = await startLocalSystem({
        startUrl: server.pageUrl('clock.html', { mode: opts.mode }),
        codec,
        agentEnv: { VMLIVE_RTX: rtx },
      });
      try {
        server.setController(system.controllerUrl);
        const target = {
          controllerUrl: system.controllerUrl,
          vmId: system.vmId,
          token: await system.mintViewerToken('view', 3600),
        };
        for (const p of list) {
          await link.shape(p.shape);
          console.error(`networks: RTX ${rtx}, ${p.label}: ${opts.warmup} s warm-up + ${opts.seconds} s…`);
          results.push({ rtx, profile: p.label, ...(await measureOnce(browser, server, pageOrigin, target, link)) });
        }
      } finally {
        await link.shape({});
        await system.stop();
      }
    }
  } catch (e) {
    if (e instanceof NoFrameError) {
      console.error(`networks: FAIL — ${e.message}`);
      return EXIT.failed;
    }
    throw e;
  } finally {
    await bed?.close();
    await server.close();
  }

  const date = new Date().toISOString();
  console.log(`\nnetworks: local sandbox, ${opts.mode} clock page, ${codec}, ${date}, ${machineLine()}`);
  console.log(`each cell: RTX ${opts.rtx.join(' / ')}; window ${opts.seconds} s after ${opts.warmup} s warm-up\n`);
  const cell = (p: string, f: (m: Measured) => string) =>
    opts.rtx
      .map((rtx) => results.find((m) => m.rtx === rtx && m.profile === p))
      .map((m) => (m ? f(m) : '-'))
      .join(' / ');
  console.log(
    table(
      [
        'link',
        'fps shown',
        'fps decoded',
        'freezes > 200 ms',
        'frozen s',
        'latency p50 ms',
        'lost',
        'NACKs',
        'RTX pkts',
      ],
      list.map((p) => [
        p.label,
        cell(p.label, (m) => fmt(m.figures.shownFps, 1)),
        cell(p.label, (m) => fmt(m.figures.decodedFps, 1)),
        cell(p.label, (m) => String(m.figures.freezes)),
        cell(p.label, (m) => fmt(m.figures.frozenMs / 1000, 1)),
        cell(p.label, (m) => fmt(m.latencyP50)),
        cell(p.label, (m) => String(m.linkDropped)),
        cell(p.label, (m) => String(m.figures.nacksSent)),
        cell(p.label, (m) => String(m.figures.retransmissionsReceived)),
      ]),
    ),
  );
  console.log(
    '\nlost: UDP packets the link dropped in the window (nftables counter); NACKs and RTX pkts: the viewer’s getStats.',
  );
  if (opts.json) writeJson(opts.json, { date, machine: machineLine(), settings: opts, results });
  return EXIT.ok;
}

/** The thin-link cases (scripts/lib/thin-links.ts): per VMLIVE_LINK_ADAPT setting, one sandbox, two viewers. */
async function mainThin(): Promise<number> {
  const cases = opts.thin.map((c) => {
    const name = THIN_CASES.find((k) => k === c);
    if (!name) throw new PrerequisiteError(`--thin takes ${THIN_CASES.join(', ')}, got ${c}`);
    return name;
  });
  const [stepFrom, stepTo] = opts.step.split(':').map(Number);
  if (!(stepFrom && stepTo && stepFrom > 0 && stepTo > 0)) throw new PrerequisiteError('--step must be FROM:TO kbit/s');
  const thin: ThinOptions = {
    capKbit: opts.cap,
    stepFromKbit: stepFrom,
    stepToKbit: stepTo,
    blackoutMs: opts['blackout-ms'],
    holdS: opts.hold,
    afterS: 8,
    beforeS: 5,
  };
  const codec = opts.codec === 'h264' ? 'h264' : 'vp8';
  const mode = opts.mode === 'busy' ? 'busy' : 'static';
  const results: (ThinFigures & { adapt: string })[] = [];
  const server = await startPageServer();
  let bed: Netbed | undefined;
  try {
    bed = await openNetbed(['clean', 'shaped']);
    const links = { clean: bed.link('clean'), shaped: bed.link('shaped') };
    const browsers = { clean: await links.clean.launchBrowser(), shaped: await links.shaped.launchBrowser() };
    const origins = {
      clean: (await links.clean.forward(server.origin)).replace(/\/$/, ''),
      shaped: (await links.shaped.forward(server.origin)).replace(/\/$/, ''),
    };
    for (const adapt of opts.adapt) {
      console.error(`networks: starting the local sandbox with VMLIVE_LINK_ADAPT=${adapt}…`);
      const system = await startLocalSystem({
        startUrl: server.pageUrl('clock.html', { mode }),
        codec,
        agentEnv: { VMLIVE_LINK_ADAPT: adapt },
      });
      const open: WebrtcViewer[] = [];
      try {
        server.setController(system.controllerUrl);
        const target = {
          controllerUrl: system.controllerUrl,
          vmId: system.vmId,
          token: await system.mintViewerToken('view', 3600),
        };
        const viewer = async (who: 'clean' | 'shaped') => {
          const v = await openWebrtcViewer(browsers[who], server, target, {
            clockOffsetMs: 0,
            viewportW: 1280,
            codec,
            pageOrigin: origins[who],
          });
          open.push(v);
          await runWindow(v, {
            warmupMs: opts.warmup * 1000,
            durationMs: 0,
            firstFrameTimeoutMs: 30_000,
            timeoutMs: 60_000,
          });
          return v;
        };
        const viewers = { clean: await viewer('clean'), shaped: await viewer('shaped') };
        for (const c of cases) {
          console.error(`networks: adapt ${adapt}, thin case ${c}…`);
          results.push({ adapt, ...(await runThinCase(c, thin, viewers, links.shaped)) });
        }
      } finally {
        for (const v of open) await v.stop();
        await system.stop();
      }
    }
  } catch (e) {
    if (e instanceof NoFrameError) {
      console.error(`networks: FAIL — ${e.message}`);
      return EXIT.failed;
    }
    throw e;
  } finally {
    await bed?.close();
    await server.close();
  }
  const date = new Date().toISOString();
  console.log(`\nnetworks (thin links): local sandbox, ${mode} clock page, ${codec}, ${date}, ${machineLine()}`);
  console.log(`each cell: VMLIVE_LINK_ADAPT ${opts.adapt.join(' / ')}; one clean and one shaped viewer\n`);
  const ms = (v: number | null) => (v === null ? 'never' : fmt(v / 1000, 1));
  const cell = (c: ThinCaseName, f: (m: ThinFigures) => string) =>
    opts.adapt
      .map((a) => results.find((m) => m.adapt === a && m.case === c))
      .map((m) => (m ? f(m) : '-'))
      .join(' / ');
  console.log(
    table(
      [
        'link (shaped viewer)',
        'longest stall s',
        'settled s',
        'kbit/s capped',
        'height capped',
        'full quality s',
        'video back s',
        'same session',
        'clean fps before→during',
        'clean latency p50 ms',
      ],
      cases.map((c) => [
        results.find((m) => m.case === c)?.label ?? c,
        cell(c, (m) => fmt(m.longestStallMs / 1000, 1)),
        cell(c, (m) => (m.case === 'blackout' ? '' : ms(m.settleMs))),
        cell(c, (m) => fmt(m.cappedKbps)),
        cell(c, (m) => fmt(m.cappedHeight)),
        cell(c, (m) => (m.case === 'blackout' ? '' : ms(m.fullQualityMs))),
        cell(c, (m) => (m.case === 'blackout' ? ms(m.videoBackMs) : '')),
        cell(c, (m) => (m.sameSession ? 'yes' : 'no')),
        cell(c, (m) => `${fmt(m.cleanFpsBefore, 1)}→${fmt(m.cleanFpsDuring, 1)}`),
        cell(c, (m) => `${fmt(m.cleanLatencyBefore)}→${fmt(m.cleanLatencyDuring)}`),
      ]),
    ),
  );
  console.log(
    '\nsettled: from the cap until the link’s last drop under it (tbf drops only what is sent above the cap);\n' +
      'full quality: from lifting the cap until the shaped viewer shows full height at ≥ 70 % of the clean one’s fps for 1 s;\n' +
      'video back: from the blackout’s end until frames flow for 0.5 s without a freeze; kbit/s and height: last 5 s capped.',
  );
  if (opts.json) writeJson(opts.json, { date, machine: machineLine(), settings: opts, thin: results });
  return EXIT.ok;
}

runMain('networks', main);
