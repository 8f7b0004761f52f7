/**
 * Time to first frame the way a person meets it: for each of N viewers, a fresh
 * Chromium process (new profile, nothing cached) loads the REST viewer page,
 * creates its session and offer, and waits for the first decoded frame; then the
 * viewer and its browser are closed before the next one starts, so every viewer
 * is the only one (the helper's encoder may have stopped in between, as it does
 * for a person opening a VM nobody watches).
 *
 * Prints the median and p95 of TTFF from createOffer (the issue's figure) and
 * from page load, and of every stage between, so a slow total says where the
 * time went.
 */

import { parseArgs } from './lib/args.js';
import { launchChromium } from './lib/chromium.js';
import { EXIT, fmt, machineLine, runMain, table, writeJson } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { openTarget, TARGET_OPTIONS, type TargetSession } from './lib/target.js';
import { openWebrtcViewer } from './lib/viewers.js';
import type { ConnectStages } from './pages/page-api.js';

const opts = parseArgs(
  'first-frame',
  'Time to first frame of N fresh viewers (a new Chromium process each), with the stage breakdown.\n' +
    'Default: starts the local sandbox; or --controller URL --vm ID --token VIEWER_TOKEN for a deployment.\n' +
    'Exit 0 when every viewer got a frame and the p50/p95 bounds hold, 1 otherwise, 3 on a missing prerequisite.',
  {
    ...TARGET_OPTIONS,
    viewers: { type: 'number', default: 10, help: 'fresh viewers, one after the other' },
    gap: {
      type: 'number',
      default: 2,
      help: 'seconds before each viewer starts (after the system is up, or the previous viewer closed)',
    },
    'max-p50': { type: 'number', default: 250, help: 'pass only if TTFF from createOffer p50 ≤ this, ms' },
    'max-p95': { type: 'number', default: 400, help: 'pass only if TTFF from createOffer p95 ≤ this, ms' },
    timeout: { type: 'number', default: 20, help: 'seconds one viewer may wait for its first frame' },
    json: { type: 'string', help: 'write every viewer’s stages and the summary to this JSON file' },
  },
);

/** Stage spans, each from one mark to the next, in the order a connect goes through them. */
const SPANS: [label: string, from: keyof ConnectStages, to: keyof ConnectStages][] = [
  ['session created → createOffer', 'sessionCreated', 'offerCreated'],
  ['createOffer → offer posted', 'offerCreated', 'offerPosted'],
  ['offer posted → answer applied', 'offerPosted', 'answerApplied'],
  // Not split at 'ICE checking': Chromium fires that state change while it applies the answer,
  // before setRemoteDescription resolves, so the span would come out negative.
  ['answer applied → ICE connected', 'answerApplied', 'iceConnected'],
  ['ICE connected → DTLS connected', 'iceConnected', 'connected'],
  ['DTLS connected → first frame', 'connected', 'firstFrame'],
];

interface ViewerRun {
  index: number;
  /** Chromium process start → page ready to connect, ms */
  browserStartMs: number;
  stages: ConnectStages | null;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function oneViewer(index: number, session: TargetSession): Promise<ViewerRun> {
  const t0 = performance.now();
  const browser = await launchChromium({ headless: true });
  try {
    const viewer = await openWebrtcViewer(browser.browser, session.server, session.target, {
      ...(opts.codec ? { codec: opts.codec } : {}),
    });
    const browserStartMs = performance.now() - t0;
    const deadline = Date.now() + opts.timeout * 1000;
    let stages: ConnectStages | null = null;
    while (Date.now() < deadline) {
      stages = await viewer.page.evaluate(() => window.restViewer.stages());
      if (stages.firstFrame !== null) break;
      await sleep(20);
    }
    const drained = await viewer.drain().catch((e: unknown) => ({ errors: [String(e)] }));
    await viewer.stop();
    const errors = 'errors' in drained ? drained.errors : [];
    if (stages?.firstFrame == null)
      return { index, browserStartMs, stages, error: `no frame in ${opts.timeout} s ${errors.join('; ')}`.trim() };
    return { index, browserStartMs, stages };
  } finally {
    await browser.stop();
  }
}

const span = (s: ConnectStages | null, from: keyof ConnectStages, to: keyof ConnectStages): number => {
  const a = s?.[from];
  const b = s?.[to];
  return a == null || b == null ? Number.NaN : b - a;
};

async function main(): Promise<number> {
  // No shared viewer browser: each viewer starts its own, and a browser that started up beside the
  // first one (its start-up takes both cores for 1-2 s) made the "cold helper" row measure that.
  const session = await openTarget('first-frame', opts);
  try {
    const runs: ViewerRun[] = [];
    for (let i = 0; i < opts.viewers; i++) {
      // Before the first one too: a person meets a VM whose own start-up (the sandbox's browser
      // loading its page, the helper's warm-up) is over; the helper has served no viewer yet.
      await sleep(opts.gap * 1000);
      const r = await oneViewer(i, session);
      runs.push(r);
      const fromOffer = span(r.stages, 'offerCreated', 'firstFrame');
      console.error(
        `first-frame: viewer ${i + 1}/${opts.viewers}: ${r.error ?? `${fmt(fromOffer)} ms from createOffer, ${fmt(r.stages?.firstFrame)} ms from page load`}`,
      );
    }
    const ok = runs.filter((r) => !r.error);
    const col = (f: (r: ViewerRun) => number) => {
      const v = ok.map(f).filter(Number.isFinite);
      return [fmt(percentile(v, 50)), fmt(percentile(v, 95)), fmt(v.length ? Math.max(...v) : Number.NaN)];
    };
    const fromOffer = (r: ViewerRun) => span(r.stages, 'offerCreated', 'firstFrame');
    const rows: (string | number)[][] = [
      ['TTFF from createOffer', ...col(fromOffer)],
      ['TTFF from page load (navigation start)', ...col((r) => r.stages?.firstFrame ?? Number.NaN)],
      ['first viewer (cold helper): from createOffer', fmt(runs[0] ? fromOffer(runs[0]) : Number.NaN), '', ''],
      ...SPANS.map(([label, a, b]) => [`  ${label}`, ...col((r) => span(r.stages, a, b))]),
      ['Chromium start → page ready', ...col((r) => r.browserStartMs)],
    ];
    console.log(`\nfirst-frame: ${session.describe}, ${new Date().toISOString()}, ${machineLine()}`);
    console.log(`${ok.length}/${runs.length} fresh viewers decoded a frame\n`);
    console.log(table(['ms', 'p50', 'p95', 'max'], rows));

    const p50 = percentile(ok.map(fromOffer), 50);
    const p95 = percentile(ok.map(fromOffer), 95);
    const failures: string[] = [];
    for (const r of runs) if (r.error) failures.push(`viewer ${r.index + 1}: ${r.error}`);
    if (!(p50 <= opts['max-p50'])) failures.push(`p50 ${fmt(p50)} ms > ${opts['max-p50']} ms`);
    if (!(p95 <= opts['max-p95'])) failures.push(`p95 ${fmt(p95)} ms > ${opts['max-p95']} ms`);
    if (opts.json)
      writeJson(opts.json, {
        date: new Date().toISOString(),
        machine: machineLine(),
        target: session.describe,
        ttffFromOffer: { p50, p95 },
        runs,
        pass: failures.length === 0,
        failures,
        settings: { ...opts, token: opts.token ? '(redacted)' : undefined },
      });
    if (failures.length) {
      console.log(`\nfirst-frame: FAIL — ${failures.join('; ')}`);
      return EXIT.failed;
    }
    console.log(`\nfirst-frame: PASS (p50 ≤ ${opts['max-p50']} ms, p95 ≤ ${opts['max-p95']} ms, every viewer decoded)`);
    return EXIT.ok;
  } finally {
    await session.close();
  }
}

runMain('first-frame', main);
