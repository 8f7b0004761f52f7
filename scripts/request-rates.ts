/**
 * The request rates a real viewer and a real VM agent produce, counted at the
 * controller (its /metrics request counter per method and route): the local
 * sandbox VM, one headless Chromium viewer on the built /view page, over the
 * connect (first 10 s) and then a steady minute. The rate limits' defaults
 * (master-controller/src/edge/rate-settings.ts) are set well above these.
 *
 *   npx tsx scripts/request-rates.ts [--seconds 60] [--role control]
 */
import { parseArgs } from 'node:util';
import { launchViewerBrowser, startSystem } from '../e2e/system.js';
import { framesDecoded, openViewer } from '../e2e/viewer-page.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, role: { type: 'string', default: 'control' } },
});
const seconds = Number(values.seconds);
const role = values.role === 'view' ? 'view' : 'control';

type Counts = Map<string, number>;

async function counts(url: string): Promise<Counts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Counts = new Map();
  for (const m of text.matchAll(
    /^vmlive_http_request_duration_seconds_count\{method="(\w+)",route="([^"]+)",status="\d+"\} (\d+)/gm,
  )) {
    const key = `${m[1]} ${m[2]}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

function diff(a: Counts, b: Counts, perS: number): string[] {
  return [...b]
    .map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const)
    .filter(([k, n]) => n > 0 && !k.includes('/metrics'))
    .sort((x, y) => y[1] - x[1])
    .map(([k, n]) => `  ${k.padEnd(48)} ${String(n).padStart(5)}  (${(n / perS).toFixed(2)}/s)`);
}

const sys = await startSystem({ logLevel: 'info' });
const browser = await launchViewerBrowser();
try {
  // The VM alone first (no viewer): its polls and heartbeats.
  const idle0 = await counts(sys.controllerUrl);
  await new Promise((r) => setTimeout(r, 15_000));
  const idle1 = await counts(sys.controllerUrl);
  console.log('VM agent alone, 15 s:');
  console.log(diff(idle0, idle1, 15).join('\n'));
  const page = await openViewer(browser, sys, role);
  for (let i = 0; (await framesDecoded(page)) < 30; i++) {
    if (i > 300) throw new Error('the viewer decoded no video within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const live = await counts(sys.controllerUrl);
  console.log(`\nconnect (page load → live + 2 s), ${role} viewer + VM:`);
  console.log(diff(idle1, live, 1).join('\n'));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const end = await counts(sys.controllerUrl);
  console.log(`\nsteady, ${seconds} s, ${role} viewer + VM:`);
  console.log(diff(live, end, seconds).join('\n'));
} finally {
  await browser.close();
  await sys.stop();
}
