/**
 * Takeover input lands in the VM: a headful Chromium runs on the helper's Xvfb display; viewers
 * send input over their `input` data channel; only the control holder's input reaches X (XTEST).
 */
import { execFileSync } from 'node:child_process';
import type { HelperEvent } from '@vmlive/protocol';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXvfb, type XvfbHandle as Xvfb } from '../sandbox/xvfb.js';
import { HelperProcess } from './helper-process.js';
import { launchChromium, Viewer } from './testing/viewer.js';

const logger = pino({ level: process.env.VMLIVE_TEST_LOG ?? 'warn' });
const W = 1280;
const H = 720;

const APP_PAGE = `<!doctype html><html><body style="margin:0;background:#fff">
<button id="btn" style="position:absolute;left:200px;top:150px;width:200px;height:80px">click me</button>
<input id="field" style="position:absolute;left:200px;top:350px;width:400px;height:40px;font-size:20px">
<div style="position:absolute;left:0;top:0;width:10px;height:4000px"></div>
<script>
  window.clicks = 0; window.lastMove = null; window.ups = 0;
  document.getElementById('btn').addEventListener('click', () => { window.clicks++; });
  addEventListener('mousemove', (e) => { window.lastMove = { x: e.clientX, y: e.clientY }; });
  addEventListener('mouseup', () => { window.ups++; });
</script></body></html>`;

let xvfb: Xvfb;
let helper: HelperProcess;
let vmBrowser: Browser;
let app: Page;
let viewers: Browser;
let a: Viewer;
let b: Viewer;
const events: HelperEvent[] = [];
let offset = { x: 0, y: 0 };

/** Normalized video coordinates of a page point (client px), using the calibrated window offset. */
function norm(clientX: number, clientY: number): { x: number; y: number } {
  return { x: (clientX + offset.x) / (W - 1), y: (clientY + offset.y) / (H - 1) };
}

async function center(selector: string): Promise<{ x: number; y: number }> {
  const box = await app.locator(selector).boundingBox();
  if (!box) throw new Error(`no box for ${selector}`);
  return norm(box.x + box.width / 2, box.y + box.height / 2);
}

async function click(viewer: Viewer, p: { x: number; y: number }): Promise<void> {
  await viewer.send({ t: 'pointer', action: 'move', ...p });
  await viewer.send({ t: 'pointer', action: 'down', button: 0, ...p });
  await viewer.send({ t: 'pointer', action: 'up', button: 0, ...p });
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  xvfb = await startXvfb({ width: W, height: H });
  vmBrowser = await launchChromium({
    headless: false,
    env: { ...process.env, DISPLAY: xvfb.display },
    args: ['--window-position=0,0', `--window-size=${W},${H}`, '--kiosk'],
  });
  app = await vmBrowser.newPage();
  await app.setContent(APP_PAGE);
  helper = new HelperProcess({ settings: { display: xvfb.display, nice: 0 }, logger });
  helper.on('event', (e) => events.push(e));
  await helper.start();
  viewers = await launchChromium();
  a = await Viewer.connect(viewers, helper, 'holder');
  b = await Viewer.connect(viewers, helper, 'watcher');
  await Promise.all([a.waitChannelOpen(), b.waitChannelOpen()]);
  helper.send({ type: 'set-control-holder', peerId: 'holder' });
  await until(
    () => a.feedback(),
    (f) => f.some((m) => JSON.stringify(m) === '{"t":"control","granted":true}'),
  );
  // Calibrate where the page's viewport sits on the X screen (window decorations, kiosk or not).
  const probe = { x: 0.5, y: 0.5 };
  await a.send({ t: 'pointer', action: 'move', ...probe });
  const move = await until(
    () => app.evaluate(() => (window as unknown as { lastMove: { x: number; y: number } | null }).lastMove),
    (m) => m !== null,
  );
  if (!move) throw new Error('no mousemove reached the page');
  offset = { x: Math.round(probe.x * (W - 1)) - move.x, y: Math.round(probe.y * (H - 1)) - move.y };
}, 120_000);

afterAll(async () => {
  await a?.close().catch(() => {});
  await b?.close().catch(() => {});
  await viewers?.close().catch(() => {});
  await helper?.stop().catch(() => {});
  await vmBrowser?.close().catch(() => {});
  await xvfb?.stop().catch(() => {});
});

const clicks = () => app.evaluate(() => (window as unknown as { clicks: number }).clicks);
const fieldValue = () => app.locator('#field').inputValue();

describe('takeover input', () => {
  it("the holder's click lands on the button", async () => {
    await click(a, await center('#btn'));
    expect(await until(clicks, (n) => n === 1)).toBe(1);
  });

  it("a non-holder's click is dropped and reported as input-rejected", async () => {
    const before = await clicks();
    await click(b, await center('#btn'));
    await until(
      async () => events.filter((e) => e.type === 'input-rejected' && e.peerId === 'watcher'),
      (list) => list.length > 0,
    );
    const feedback = await until(
      () => b.feedback(),
      (f) => f.some((m) => (m as { t?: string }).t === 'rejected'),
    );
    expect(feedback).toContainEqual({ t: 'rejected', reason: 'not-holder' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await clicks()).toBe(before);
  });

  it("the holder's typed text and keys reach a text field (shifted characters included)", async () => {
    await click(a, await center('#field'));
    await until(
      () => app.evaluate(() => document.activeElement?.id),
      (id) => id === 'field',
    );
    await a.send({ t: 'text', text: 'Hello, World! @#1' });
    expect(await until(fieldValue, (v) => v === 'Hello, World! @#1')).toBe('Hello, World! @#1');
    await a.send({ t: 'key', action: 'down', key: 'Backspace', code: 'Backspace' });
    await a.send({ t: 'key', action: 'up', key: 'Backspace', code: 'Backspace' });
    await a.send({ t: 'key', action: 'down', key: 'Shift', code: 'ShiftLeft', mods: { shift: true } });
    await a.send({ t: 'key', action: 'down', key: 'Z', code: 'KeyZ', mods: { shift: true } });
    await a.send({ t: 'key', action: 'up', key: 'Z', code: 'KeyZ', mods: { shift: true } });
    await a.send({ t: 'key', action: 'up', key: 'Shift', code: 'ShiftLeft' });
    await a.send({ t: 'key', action: 'down', key: 'x', code: 'KeyX' });
    await a.send({ t: 'key', action: 'up', key: 'x', code: 'KeyX' });
    expect(await until(fieldValue, (v) => v === 'Hello, World! @#Zx')).toBe('Hello, World! @#Zx');
  });

  it('characters missing from the X keymap are typed through remapped spare keycodes', async () => {
    const before = await fieldValue();
    await a.send({ t: 'text', text: ' é€日本語ß' });
    expect(await until(fieldValue, (v) => v === `${before} é€日本語ß`)).toBe(`${before} é€日本語ß`);
  });

  it("the watcher's typing does not reach the field", async () => {
    const before = await fieldValue();
    await b.send({ t: 'text', text: 'intruder' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await fieldValue()).toBe(before);
  });

  it('a holder change releases the buttons the old holder still held', async () => {
    const upsBefore = await app.evaluate(() => (window as unknown as { ups: number }).ups);
    const blank = norm(900, 600);
    await a.send({ t: 'pointer', action: 'move', ...blank });
    await a.send({ t: 'pointer', action: 'down', button: 0, ...blank });
    await new Promise((r) => setTimeout(r, 200));
    helper.send({ type: 'set-control-holder', peerId: 'watcher' });
    await until(
      () => app.evaluate(() => (window as unknown as { ups: number }).ups),
      (n) => n === upsBefore + 1,
    );
    await until(
      () => b.feedback(),
      (f) => f.some((m) => JSON.stringify(m) === '{"t":"control","granted":true}'),
    );
    expect(await a.feedback()).toContainEqual({ t: 'control', granted: false });
    // now the old holder is rejected and the new one is obeyed
    const before = await clicks();
    await click(b, await center('#btn'));
    expect(await until(clicks, (n) => n === before + 1)).toBe(before + 1);
  });

  it("the holder's wheel scrolls the page", async () => {
    // the watcher holds control since the previous test
    await b.send({ t: 'wheel', ...norm(700, 300), dx: 0, dy: 300 });
    const y = await until(
      () => app.evaluate(() => window.scrollY),
      (v) => v > 0,
    );
    expect(y).toBeGreaterThan(0);
    await b.send({ t: 'wheel', ...norm(700, 300), dx: 0, dy: -3000 });
    await until(
      () => app.evaluate(() => window.scrollY),
      (v) => v === 0,
    );
  });

  it("turns off the X server's autorepeat, so a late key-up cannot type extra characters", async () => {
    const probe = 'from Xlib import display; print(display.Display().get_keyboard_control().global_auto_repeat)';
    const out = execFileSync('/usr/bin/python3', ['-c', probe], { env: { ...process.env, DISPLAY: xvfb.display } });
    expect(out.toString().trim()).toBe('0');
  });

  it('invalid input is reported as invalid, not injected', async () => {
    await b.send({ t: 'pointer', action: 'move', x: 3, y: -1 });
    await until(
      async () => events.filter((e) => e.type === 'input-rejected' && e.peerId === 'watcher' && e.reason === 'invalid'),
      (list) => list.length > 0,
    );
  });
});
