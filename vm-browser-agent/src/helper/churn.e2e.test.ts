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
    await new Promise((r) => setTimeout(r, 300));
    rss.push(rssMB(pid));
  }
  const stats = await helper.getStats(null);
  expect(Object.keys(stats.peers)).toEqual([]);
  expect(stats.encoder.running).toBe(false);
  // first cycles warm caches/pools; after that growth must stay small
  const growth = (rss.at(-1) as number) - (rss[3] as number);
  console.log(`helper RSS over ${cycles} cycles (MB): ${rss.map((r) => r.toFixed(0)).join(' ')}`);
  expect(growth).toBeLessThan(40);
});
