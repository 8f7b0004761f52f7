/**
 * Issue 19's recording, end to end: the real controller, sandbox VM (agent, GStreamer helper,
 * the sandbox Chromium showing the clock page) and a real viewer page that takes and releases
 * control while the operator records. The segments are played back in headless Chromium
 * `<video>` elements from their signed URLs (no token), seeking to 5 s into each, and the clock
 * the VM painted is read out of the decoded frames (scripts/pages/clock-code.js): so the
 * recording's own time is checked against the wall time, and the audit trail's take and release
 * against what the recording shows at those times. Then the helper is SIGKILLed mid-segment:
 * only that segment is lost, and the restarted helper records on. Needs `npm run build` first.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, type AuditEvent, type Recording, routes } from '@vmlive/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PageServer, startPageServer } from '../scripts/lib/server.js';
import { type LocalSystem, launchViewerBrowser, REPO_ROOT, startSystem } from './system.js';
import { openViewer, waitLive } from './viewer-page.js';

const SEGMENT_S = 10;

let sys: LocalSystem;
let pages: PageServer;
let browser: Browser;
let operator: ApiClient;
let storeDir: string;
let spoolDir: string;

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'vmlive-e2e-recordings-'));
  spoolDir = mkdtempSync(join(tmpdir(), 'vmlive-e2e-spool-'));
  pages = await startPageServer();
  sys = await startSystem({
    startUrl: pages.pageUrl('clock.html', { mode: 'static' }),
    controllerEnv: { VMLIVE_RECORDINGS_DIR: storeDir },
    agentEnv: { VMLIVE_RECORDING_SPOOL_DIR: spoolDir },
  });
  browser = await launchViewerBrowser();
  operator = new ApiClient({ baseUrl: sys.controllerUrl, token: sys.operatorToken });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
  await pages?.close();
  rmSync(storeDir, { recursive: true, force: true });
  rmSync(spoolDir, { recursive: true, force: true });
});

const vm = () => ({ vmId: sys.vmId });
const listing = () => operator.call(routes.listRecordings, { params: vm() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (logs: ${sys.logDir})`);
    await sleep(250);
  }
}

/**
 * A page on the controller's origin (so decoded frames can be read back from a canvas) with the
 * clock decoder, CSP bypassed for the injected script: the page a person would open is the
 * console, whose CSP allows what it needs; this one is a test probe.
 */
async function playerPage(): Promise<Page> {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${sys.controllerUrl}/healthz`);
  const code = readFileSync(join(REPO_ROOT, 'scripts/pages/clock-code.js'), 'utf8').replace(/^export /gm, '');
  await page.addScriptTag({ content: `${code}\nwindow.__clock = { decodeGrid, unwrapTime, LAYOUT, gridSize };` });
  return page;
}

interface Played {
  duration: number;
  /** Per asked time (s): the wall clock (ms epoch) the VM painted in the frame shown there, or null. */
  painted: Array<number | null>;
}

/** Plays `url` in a `<video>`, seeks to each time and reads the clock out of the frame shown. */
function play(page: Page, url: string, times: number[]): Promise<Played> {
  return page.evaluate(
    async ({ url, times }) => {
      type Clock = {
        decodeGrid(d: Uint8ClampedArray, w: number): { ok: boolean; low32?: number };
        unwrapTime(low32: number, now: number): number;
        gridSize(): { w: number; h: number };
        LAYOUT: { x: number; y: number };
      };
      const clock = (window as unknown as { __clock: Clock }).__clock;
      const v = document.createElement('video');
      v.muted = true;
      v.preload = 'auto';
      v.src = url;
      document.body.append(v);
      await new Promise<void>((resolve, reject) => {
        v.onloadeddata = () => resolve();
        v.onerror = () => reject(new Error(`video error ${v.error?.code} ${v.error?.message}`));
      });
      const { w, h } = clock.gridSize();
      const c = document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = clock.LAYOUT.y + h + 8;
      const g = c.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
      const painted: Array<number | null> = [];
      for (const t of times) {
        v.currentTime = Math.min(t, v.duration - 0.01);
        await new Promise<void>((resolve) => {
          v.onseeked = () => resolve();
        });
        g.drawImage(v, 0, 0);
        // decodeGrid reads the grid's own pixels, from its top-left cell
        const r = clock.decodeGrid(g.getImageData(clock.LAYOUT.x, clock.LAYOUT.y, w, h).data, w);
        painted.push(r.ok && r.low32 !== undefined ? clock.unwrapTime(r.low32, Date.now()) : null);
      }
      v.remove();
      return { duration: v.duration, painted };
    },
    { url, times },
  );
}

it('records 30 s of the clock page while a person takes and releases control; plays with seeking; a killed helper loses only its unfinished segment', async () => {
  // ---- record, with a takeover in the middle ----
  const viewer = await openViewer(browser, sys, 'control');
  await waitLive(viewer, sys, 30_000);
  const started = await operator.call(routes.startRecording, { params: vm(), body: { segmentSeconds: SEGMENT_S } });
  const recordingId = started.recordingId;
  await sleep(4000);
  await viewer.getByRole('button', { name: 'Take control' }).click();
  await expect.poll(() => viewer.getByText('You are in control').count(), { timeout: 10_000 }).toBe(1);
  await sleep(8000);
  await viewer.getByRole('button', { name: 'Return control' }).click();
  await viewer.close();
  // Three whole segments (0-30 s), then the helper dies 1.5 s into the fourth.
  await until(
    'three segments uploaded',
    async () => {
      const r = (await listing()).recordings.find((x) => x.recordingId === recordingId);
      return r && r.segments.length >= 3 && r;
    },
    45_000,
  );
  const firstStart = (await listing()).recordings[0]?.segments[0]?.startedAt ?? 0;
  await sleep(Math.max(0, firstStart + 3 * SEGMENT_S * 1000 + 1500 - Date.now()));
  const killedAt = Date.now();
  await sys.killHelper();
  await sys.waitHelperUp(30_000);
  const upAt = Date.now();
  // The replacement records the same recording: wait for it to have written a little, then stop.
  await sleep(3000);
  await operator.call(routes.stopRecording, { params: { ...vm(), recordingId } });
  const rec: Recording = await until(
    'the last segment',
    async () => {
      const r = (await listing()).recordings.find((x) => x.recordingId === recordingId);
      return r?.segments.some((s) => s.startedAt > killedAt) && r;
    },
    30_000,
  );

  // ---- what was kept ----
  const before = rec.segments.filter((s) => s.startedAt < killedAt);
  const after = rec.segments.filter((s) => s.startedAt >= killedAt);
  console.log(
    'recording segments (start offset s, duration s, KiB):',
    rec.segments.map((s) => [
      ((s.startedAt - firstStart) / 1000).toFixed(2),
      s.durationMs / 1000,
      Math.round(s.bytes / 1024),
    ]),
    `helper killed at ${((killedAt - firstStart) / 1000).toFixed(2)} s, up again ${((upAt - killedAt) / 1000).toFixed(1)} s later`,
  );
  // Only the segment being written when the helper died is missing: the three before are whole.
  expect(before).toHaveLength(3);
  for (const [i, s] of before.entries()) {
    // N s each (the forced keyframe comes within the keyframe throttle), one after another
    expect(Math.abs(s.durationMs - SEGMENT_S * 1000)).toBeLessThan(400);
    if (i > 0) {
      const prev = before[i - 1] as (typeof before)[number];
      expect(Math.abs(prev.startedAt + prev.durationMs - s.startedAt)).toBeLessThan(50);
    }
  }
  expect(after.length).toBeGreaterThanOrEqual(1);
  expect(after[0]?.startedAt).toBeGreaterThan(killedAt);
  expect(Math.abs(firstStart - started.startedAt)).toBeLessThan(3000);
  // The spool is empty: everything finished was uploaded, the unfinished file dropped.
  await until('an empty spool', async () => readdirSync(join(spoolDir, sys.vmId, recordingId)).length === 0, 10_000);

  // ---- playback with seeking, the clock read from the frames ----
  const page = await playerPage();
  const played: Played[] = [];
  // 0.5 s from either end (a segment's first frame is a keyframe forced at the CBR budget: too
  // soft to read the cells reliably).
  for (const s of before) played.push(await play(page, s.url, [0.5, 5, s.durationMs / 1000 - 0.5]));
  for (const [i, p] of played.entries()) {
    const s = before[i] as (typeof before)[number];
    expect(Math.abs(p.duration * 1000 - s.durationMs)).toBeLessThan(250);
    // 5 s in, the frame shows what the VM painted 5 s after the segment began (the capture takes a few ms).
    const at5 = p.painted[1];
    expect(at5, `segment ${i}: clock unreadable at 5 s`).not.toBeNull();
    expect(Math.abs((at5 as number) - (s.startedAt + 5000))).toBeLessThan(1000);
  }
  // 5, 15 and 25 s into the recording: the clock reads 5, 15 and 25 s after its first frame.
  expect(played[0]?.painted[0]).not.toBeNull();
  // the wall clock at the recording's first frame, as its frame 0.5 s in shows it
  const origin = (played[0]?.painted[0] as number) - 500;
  const offsets = played.map((p) => ((p.painted[1] as number) - origin) / 1000);
  console.log('clock at 5/15/25 s of the recording reads (s after its first frame):', offsets);
  for (const [i, o] of offsets.entries()) expect(Math.abs(o - (5 + i * SEGMENT_S))).toBeLessThan(1);
  // Total duration against wall time: the three segments' media against the clock from the
  // first frame to the last.
  const media = played.reduce((n, p) => n + p.duration, 0);
  expect(played[2]?.painted[2]).not.toBeNull();
  const last = played[2] as Played;
  const wall = ((last.painted[2] as number) + 500 - origin) / 1000;
  console.log(`30 s recorded: media ${media.toFixed(3)} s, wall ${wall.toFixed(3)} s`);
  expect(Math.abs(media - wall)).toBeLessThan(1);
  const tail = await play(page, after[0]?.url as string, [0.5]);
  expect(tail.painted[0]).not.toBeNull();

  // ---- the audit trail of the recording's span: take and release, at the recording's times ----
  const auditUrl = new URL(rec.auditUrl, sys.controllerUrl);
  const trail = (await (
    await fetch(auditUrl, { headers: { authorization: `Bearer ${sys.operatorToken}` } })
  ).json()) as { events: AuditEvent[] };
  const changes = trail.events.filter((e) => e.type === 'control');
  const take = changes.find((e) => e.type === 'control' && e.detail.cause === 'take');
  const release = changes.find((e) => e.type === 'control' && e.detail.cause === 'release');
  expect(take?.actor.role).toBe('viewer');
  expect(release?.actor.sessionId).toBe(take?.actor.sessionId);
  for (const e of [take, release] as AuditEvent[]) {
    const s = before.find((x) => e.at >= x.startedAt && e.at < x.startedAt + x.durationMs);
    expect(s, `a segment covers the ${e.type} at ${e.at}`).toBeDefined();
    const seg = s as (typeof before)[number];
    const [shown] = (await play(page, seg.url, [(e.at - seg.startedAt) / 1000])).painted;
    // What the recording shows at the event's time was painted at that time.
    expect(shown).not.toBeNull();
    expect(Math.abs((shown as number) - e.at)).toBeLessThan(1000);
  }
  await page.context().close();
}, 150_000);
