/**
 * Issue 17's acceptance: the operator console's wall in headless Chromium
 * against a real controller and 12 real sandbox VMs (Xvfb + Chromium + VM agent
 * + GStreamer helper each, started in parallel, idle while nobody watches).
 * One controller and one set of VMs for the whole file. With
 * VMLIVE_SCREENSHOTS=1 it also retakes the README's screenshots (docs/wall.png,
 * docs/health-panel.png; off by default so the test command leaves the git tree
 * clean), and it prints the console's
 * cost with 12 tiles visible (renderer CPU, bytes/s). Needs `npm run build`.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ListVmsResponse } from '@vmlive/protocol';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants, ProcSampler } from '../scripts/lib/proc.js';
import type {} from '../viewer/src/debug/debugHooks.js';
import { type SandboxVm, startSandboxVm } from '../vm-browser-agent/src/sandbox/sandbox-vm.js';
import {
  type KillableBrowser,
  type LocalSystem,
  launchKillableViewerBrowser,
  REPO_ROOT,
  startSystem,
} from './system.js';

const SCREENSHOTS = process.env.VMLIVE_SCREENSHOTS === '1';

const VMS = 12;
// A heartbeat a second fills the health ring quickly; a long helper start timeout, because twelve
// helpers importing GStreamer at once on a shared 2-core machine can take longer than the default 30 s,
// and a killed slow start only starts the work again.
const AGENT_ENV = { VMLIVE_HEARTBEAT_MS: '1000', VMLIVE_HELPER_START_TIMEOUT_S: '240' };
let sys: LocalSystem;
let extra: SandboxVm[] = [];
let viewer: KillableBrowser;

/** A page a person would tell apart at a glance: the VM's name on its own colour. */
const pageFor = (i: number) =>
  `data:text/html,${encodeURIComponent(
    `<body style="margin:0;background:hsl(${i * 30},60%,35%);color:#fff;font:bold 72px sans-serif;display:grid;place-items:center;height:100vh">wall-${String(i).padStart(2, '0')}</body>`,
  )}`;

async function operator(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(sys.controllerUrl + path, {
    method,
    headers: { authorization: `Bearer ${sys.operatorToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}
/**
 * The issue's bounds (pictures within 5 s, attention within 2 s) hold on a machine that is not
 * oversubscribed; with a load average beyond four runnable processes per core (other suites on
 * the shared 2 cores) the figure is printed and a 3× looser bound asserted instead.
 */
const loadAvg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const overloaded = () => loadAvg() > 4 * availableParallelism();
const load = () =>
  `load ${loadAvg()} on ${availableParallelism()} cores${overloaded() ? ', overloaded: looser bound' : ''}`;
const listVms = async () => ((await operator('GET', '/api/vms')) as ListVmsResponse).vms;

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'web/dist/index.html'))) throw new Error('web/dist is missing: run `npm run build`');
  const t0 = performance.now();
  const logDir = mkdtempSync(join(tmpdir(), 'vmlive-wall-logs-'));
  sys = await startSystem({ width: 640, height: 360, startUrl: pageFor(0), agentEnv: AGENT_ENV, logLevel: 'info' });
  const started = await Promise.allSettled(
    Array.from({ length: VMS - 1 }, (_, k) =>
      startSandboxVm({
        controllerUrl: sys.controllerUrl,
        operatorToken: sys.operatorToken,
        name: `wall-${String(k + 1).padStart(2, '0')}`,
        url: pageFor(k + 1),
        logDir,
        agentEnv: AGENT_ENV,
      }),
    ),
  );
  extra = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  viewer = await launchKillableViewerBrowser();
  console.log(`wall: ${VMS} sandbox VMs up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}, 420_000);

afterAll(async () => {
  await viewer?.close();
  await Promise.allSettled(extra.map((vm) => vm.stop()));
  await sys?.stop();
}, 120_000);

async function openConsole(width: number, height: number): Promise<Page> {
  const page = await viewer.browser.newPage({ viewport: { width, height } });
  page.on('pageerror', (err) => console.log('console pageerror:', err.message));
  await page.goto(`${sys.controllerUrl}/`);
  await page.getByLabel('Operator token').fill(sys.operatorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

/** Tiles with a decoded picture, in wall order. */
const tilesWithPictures = (page: Page) =>
  page.evaluate(
    () =>
      [...document.querySelectorAll<HTMLImageElement>('.wall__grid li img')].filter(
        (i) => i.complete && i.naturalWidth > 0,
      ).length,
  );
const tileOrder = (page: Page) =>
  page.evaluate(() => [...document.querySelectorAll<HTMLElement>('.wall__grid li')].map((li) => li.dataset.vmId ?? ''));

describe('the operator wall', () => {
  it('shows 12 tiles with pictures within 5 s, lifts a paused VM and one a person controls to the top within 2 s, opens the viewer from a tile, and ends a non-holder session from the list', async () => {
    const page = await openConsole(1600, 1000);
    try {
      await wallScenario(page);
    } finally {
      // Closed either way: the next test counts the snapshot requests of its own consoles only.
      for (const p of page.context().pages()) await p.close();
    }
  }, 150_000);

  async function wallScenario(page: Page) {
    const opened = performance.now();
    await expect.poll(() => tilesWithPictures(page), { timeout: 30_000, interval: 100 }).toBe(VMS);
    const picturesMs = performance.now() - opened;
    console.log(`wall: ${VMS} tiles with pictures ${picturesMs.toFixed(0)} ms after sign-in (${load()})`);
    expect(picturesMs).toBeLessThan(overloaded() ? 15_000 : 5000);

    // The console's cost with 12 tiles in view, over 10 s: renderer CPU (from /proc) and bytes received (CDP).
    const cdp = await page.context().newCDPSession(page);
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e) => {
      bytes += e.encodedDataLength;
    });
    await cdp.send('Network.enable');
    const renderers = () =>
      descendants(viewer.pid).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer');
        } catch {
          return false;
        }
      });
    const sampler = new ProcSampler({ renderers: { pids: renderers() } });
    sampler.sample();
    const windowStart = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const cpu = sampler.sample().renderers?.cpuPct ?? 0;
    const seconds = (performance.now() - windowStart) / 1000;
    console.log(
      `wall: console with ${VMS} tiles visible: renderer CPU ${cpu.toFixed(1)} % of a core, ${(bytes / seconds / 1024).toFixed(1)} KiB/s received (10 s, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
    );
    await cdp.detach();

    const vms = await listVms();
    const byName = new Map(vms.map((v) => [v.name, v.vmId]));
    const paused = byName.get('wall-07') ?? '';
    const held = byName.get('wall-09') ?? '';
    const changed = performance.now();
    await operator('POST', `/api/vms/${paused}/control`, { action: 'pause' });
    await operator('POST', `/api/vms/${held}/control`, { action: 'take' });
    await expect
      .poll(async () => (await tileOrder(page)).slice(0, 2).sort(), { timeout: 5000, interval: 50 })
      .toEqual([paused, held].sort());
    const movedMs = performance.now() - changed;
    console.log(`wall: paused and held VMs at the top ${movedMs.toFixed(0)} ms after the change (${load()})`);
    expect(movedMs).toBeLessThan(overloaded() ? 6000 : 2000);
    await expect.poll(() => page.getByText(/needs attention: paused/).count()).toBe(1);
    if (SCREENSHOTS) await page.screenshot({ path: join(REPO_ROOT, 'docs/wall.png') });
    await operator('POST', `/api/vms/${paused}/control`, { action: 'resume' });
    await operator('POST', `/api/vms/${held}/control`, { action: 'release' });

    // A click on a tile opens its viewer in a new tab, and it goes live.
    const tile = page.locator(`.wall__grid li[data-vm-id="${sys.vmId}"] .tile__screen`);
    const [popup] = await Promise.all([page.waitForEvent('popup'), tile.click()]);
    await expect
      .poll(() => popup.evaluate(() => window.__vmlive?.state?.phase ?? null), { timeout: 30_000 })
      .toBe('connected');
    const sessionId = await popup.evaluate(() => window.__vmlive?.sessionId ?? null);
    expect(sessionId).toBeTruthy();

    // The VM's panel lists that session (not the holder) and ends it; the viewer says the session ended.
    await page.locator(`.wall__grid li[data-vm-id="${sys.vmId}"] .tile__details`).click();
    const row = page.locator(`.sessions-table tr[data-session-id="${sessionId}"]`);
    await expect.poll(() => row.count(), { timeout: 5000 }).toBe(1);
    expect(await row.getByText('holder').count()).toBe(0);
    // Health sparklines over a few heartbeats, with the viewer streaming: the README's panel picture.
    await expect.poll(() => page.getByText(/Encoder fps/).count()).toBe(1);
    await new Promise((r) => setTimeout(r, 3000));
    if (SCREENSHOTS) await page.locator('.vm-panel').screenshot({ path: join(REPO_ROOT, 'docs/health-panel.png') });
    await row.getByRole('button', { name: /End session/ }).click();
    await expect
      .poll(() => popup.evaluate(() => (window.__vmlive?.history ?? []).some((h) => h.code === 'session-ended')), {
        timeout: 10_000,
      })
      .toBe(true);
    await expect.poll(() => row.count(), { timeout: 5000 }).toBe(0);
  }

  it('asks VMs for snapshots only for visible tiles, at most once per VM per interval with two consoles open', async () => {
    // Two consoles, small enough that only the first row of tiles is in view; each hovers the
    // first tile, which then asks every 2 s (the enlarged rate): two consoles ask twice as often as the cache allows.
    const consoles = [await openConsole(1000, 420), await openConsole(1000, 420)];
    try {
      await snapshotScenario(consoles);
    } finally {
      for (const c of consoles) await c.close().catch(() => undefined);
    }
  }, 120_000);

  async function snapshotScenario(consoles: Page[]) {
    const visibleIn = (page: Page) =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('.wall__grid li')]
          .filter((li) => {
            const r = li.getBoundingClientRect();
            return r.bottom > 0 && r.top < window.innerHeight;
          })
          .map((li) => li.dataset.vmId ?? ''),
      );
    let asked = 0;
    for (const c of consoles) {
      await expect.poll(() => tilesWithPictures(c), { timeout: 15_000 }).toBeGreaterThan(0);
      c.on('request', (r) => {
        if (r.url().endsWith('/snapshot')) asked++;
      });
    }
    const first = (await tileOrder(consoles[0] as Page))[0] ?? '';
    for (const c of consoles) await c.locator(`.wall__grid li[data-vm-id="${first}"]`).hover();
    const visible = new Set([...(await visibleIn(consoles[0] as Page)), ...(await visibleIn(consoles[1] as Page))]);
    expect(visible.size).toBeGreaterThan(0);
    expect(visible.size).toBeLessThan(VMS);

    const counts = async () => new Map((await listVms()).map((v) => [v.vmId, v.health?.snapshotsRequested ?? 0]));
    await new Promise((r) => setTimeout(r, 1500)); // one heartbeat: the counters include every ask so far
    const before = await counts();
    asked = 0;
    const windowMs = 12_000;
    await new Promise((r) => setTimeout(r, windowMs));
    const askedByConsoles = asked;
    for (const c of consoles) await c.close();
    await new Promise((r) => setTimeout(r, 1500));
    const after = await counts();
    const delta = new Map([...after].map(([id, n]) => [id, n - (before.get(id) ?? 0)]));
    console.log(
      `wall: two consoles made ${askedByConsoles} snapshot requests in ${windowMs / 1000} s; the VMs were asked`,
      JSON.stringify(Object.fromEntries(delta)),
      `(visible: ${visible.size}, hovered ${first})`,
    );
    // At most one ask per VM per VMLIVE_SNAPSHOT_MAX_AGE_MS (2 s), plus one for the window's edges.
    const bound = Math.ceil((windowMs + 3000) / 2000) + 1;
    for (const [id, n] of delta) {
      if (visible.has(id)) expect(n, `visible VM ${id}`).toBeLessThanOrEqual(bound);
      else expect(n, `VM ${id} has no tile in view`).toBe(0);
    }
    expect(delta.get(first)).toBeGreaterThan(0);
    // The cache did the work: the consoles asked the controller more often than the VM was asked.
    expect(askedByConsoles).toBeGreaterThan([...delta.values()].reduce((a, b) => a + b, 0));
  }
});
