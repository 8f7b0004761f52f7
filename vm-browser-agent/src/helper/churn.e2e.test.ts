/** Viewers come and go all day: adding and removing peers must not leak or wedge the helper. */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { startXvfb } from '../sandbox/xvfb.js';
import { HelperProcess } from './helper-process.js';
import { launchChromium, Viewer } from './testing/viewer.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

const rssMB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

it('repeated viewer connect/remove cycles keep streaming and do not grow memory without bound', async () => {
  const xvfb = await startXvfb({ width: 1280, height: 720 });
  cleanups.push(() => xvfb.stop());
  const helper = new HelperProcess({
    settings: { display: xvfb.display, nice: 0 },
    logger: pino({ level: 'warn' }),
  });
  cleanups.push(() => helper.stop());
  await helper.start();
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const pid = helper.pid as number;
  const rss: number[] = [];
  const cycles = Number(process.env.VMLIVE_CHURN_CYCLES ?? 12);
  for (let i = 0; i < cycles; i++) {
    const v = await Viewer.connect(browser, helper, `c${i}`);
    await v.waitFor((s) => s.framesDecoded >= 5, 10_000);
    // every other viewer vanishes without a goodbye first (tab closed), then is removed
    await v.close(i % 2 === 0);
    if (i % 2 === 1) helper.send({ type: 'remove-peer', peerId: `c${i}`, reason: 'gone' });
    // Sampled idle (peer gone, capture stopped, free heap handed back): what a VM nobody watches holds.
    const idleBy = Date.now() + 15_000;
    let stats = await helper.getStats(null);
    while ((Object.keys(stats.peers).length > 0 || stats.encoder.running) && Date.now() < idleBy) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await helper.getStats(null);
    }
    expect(Object.keys(stats.peers), `cycle ${i}`).toEqual([]);
    expect(stats.encoder.running, `cycle ${i}`).toBe(false);
    rss.push(rssMB(pid));
  }
  console.log(`helper RSS idle after each of ${cycles} cycles (MB): ${rss.map((r) => r.toFixed(0)).join(' ')}`);
  // The first cycles warm caches and pools. After that a leak of one peer's webrtcbin (its
  // elements, threads' stacks, buffers: several MB) adds up over the cycles. The helper trims its
  // heap when it goes idle (60 MB here, was 125), but one of glibc's two arenas keeps a 22 MB
  // high-water now and then (in 1 of 2 runs of 10 cycles here; the GStreamer leaks tracer lists
  // the same live objects either way), so one step is allowed, not three.
  const growth = (rss.at(-1) as number) - (rss[3] as number);
  expect(growth).toBeLessThan(40);
});
