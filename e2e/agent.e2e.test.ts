/**
 * Issue 3's acceptance: the real controller + sandbox VM (Xvfb, headful
 * Chromium, agent, GStreamer helper), and headless Chromium viewers that
 * connect through the REST contract only.
 */
import { ApiClient, routes } from '@vmlive/protocol';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRestViewer, type RestViewer } from './rest-viewer.js';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';

let sys: LocalSystem;
let browser: Browser;

beforeAll(async () => {
  sys = await startSystem();
  browser = await launchViewerBrowser();
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

async function viewer(role: 'view' | 'control' = 'view'): Promise<RestViewer> {
  return openRestViewer(browser, {
    controllerUrl: sys.controllerUrl,
    vmId: sys.vmId,
    token: await sys.mintViewerToken(role),
  });
}

/** Screen-normalized centre of an element in the sandbox page (kiosk window at 0,0 without browser chrome). */
async function sandboxElementCentre(selector: string): Promise<{ x: number; y: number }> {
  const cdp = await chromium.connectOverCDP(sys.sandboxCdpUrl);
  try {
    const page = cdp.contexts()[0]?.pages()[0];
    if (!page) throw new Error('sandbox browser has no page');
    return await page.evaluate((sel) => {
      const r = document.querySelector(sel)?.getBoundingClientRect();
      if (!r) throw new Error(`no ${sel}`);
      return { x: (r.left + r.width / 2) / window.innerWidth, y: (r.top + r.height / 2) / window.innerHeight };
    }, selector);
  } finally {
    await cdp.close();
  }
}

async function sandboxText(selector: string): Promise<string> {
  const cdp = await chromium.connectOverCDP(sys.sandboxCdpUrl);
  try {
    const page = cdp.contexts()[0]?.pages()[0];
    return (await page?.evaluate((sel) => document.querySelector(sel)?.textContent ?? '', selector)) ?? '';
  } finally {
    await cdp.close();
  }
}

function control(action: 'take' | 'release', v: RestViewer, token: string) {
  return new ApiClient({ baseUrl: sys.controllerUrl, token }).call(routes.postControl, {
    params: { vmId: sys.vmId },
    body: { action, sessionId: v.sessionId },
  });
}

describe('sandbox VM streaming to REST-only viewers', () => {
  it('connects with ICE and DTLS complete and decodes 60 frames at 1280x720 within 10 s', async () => {
    const v = await viewer();
    try {
      const stats = await v.waitFrames(60, 10_000);
      expect(stats.connectionState).toBe('connected');
      expect(['connected', 'completed']).toContain(stats.iceConnectionState);
      expect(stats.dtlsState).toBe('connected');
      expect([stats.frameWidth, stats.frameHeight]).toEqual([1280, 720]);
    } finally {
      await v.close();
    }
  });

  it('streams to two viewers at once, and the other keeps streaming when one leaves', async () => {
    const a = await viewer();
    const b = await viewer();
    try {
      await Promise.all([a.waitFrames(30), b.waitFrames(30)]);
      await a.close();
      const before = (await b.stats()).framesDecoded;
      // A frozen stream would stay at `before`; a live one passes +30 within a second or two.
      const after = await b.waitFrames(before + 30, 8000);
      expect(after.connectionState).toBe('connected');
    } finally {
      await b.close();
    }
  });

  it("lands the control holder's click and text in the sandbox page, not a view-only viewer's", async () => {
    const controlToken = await sys.mintViewerToken('control');
    const holder = await openRestViewer(browser, {
      controllerUrl: sys.controllerUrl,
      vmId: sys.vmId,
      token: controlToken,
    });
    const watcher = await viewer('view');
    try {
      await Promise.all([holder.waitFrames(10), watcher.waitFrames(10)]);
      const before = Number(await sandboxText('#count'));
      const btn = await sandboxElementCentre('#btn');

      // A view-only viewer's click is dropped and reported back on its channel.
      await watcher.sendInput({ t: 'pointer', action: 'move', ...btn });
      await watcher.sendInput({ t: 'pointer', action: 'down', button: 0, ...btn });
      await watcher.sendInput({ t: 'pointer', action: 'up', button: 0, ...btn });
      await expect
        .poll(() => watcher.feedback(), { timeout: 5000 })
        .toContainEqual(expect.objectContaining({ t: 'rejected' }));
      expect(Number(await sandboxText('#count'))).toBe(before);

      expect(await control('take', holder, controlToken)).toMatchObject({ mode: 'user', holder: holder.sessionId });
      // The agent learns the holder on its long-poll; the helper then accepts this peer's input.
      await expect
        .poll(
          async () => {
            await holder.sendInput({ t: 'pointer', action: 'move', ...btn });
            await holder.sendInput({ t: 'pointer', action: 'down', button: 0, ...btn });
            await holder.sendInput({ t: 'pointer', action: 'up', button: 0, ...btn });
            return Number(await sandboxText('#count'));
          },
          { timeout: 10_000, interval: 500 },
        )
        .toBeGreaterThan(before);

      const field = await sandboxElementCentre('#text');
      await holder.sendInput({ t: 'pointer', action: 'down', button: 0, ...field });
      await holder.sendInput({ t: 'pointer', action: 'up', button: 0, ...field });
      await holder.sendInput({ t: 'text', text: 'hello vm' });
      await expect.poll(() => sandboxText('#echo'), { timeout: 5000 }).toBe('hello vm');
      expect(await control('release', holder, controlToken)).toMatchObject({ mode: 'agent', holder: null });
    } finally {
      await holder.close();
      await watcher.close();
    }
  });

  it('restarts a killed helper, and a viewer that reconnects decodes again', async () => {
    const v = await viewer();
    try {
      await v.waitFrames(10);
      await sys.killHelper();
      // The agent ends the lost peer's session so the viewer knows to reconnect.
      await expect.poll(() => v.sessionEnded(), { timeout: 10_000 }).toBe(true);
    } finally {
      await v.close();
    }
    await sys.waitHelperUp(30_000);
    const again = await viewer();
    try {
      const stats = await again.waitFrames(30, 15_000);
      expect(stats.connectionState).toBe('connected');
    } finally {
      await again.close();
    }
  });
});
