/**
 * Real GStreamer helper -> real headless Chromium over WebRTC (ICE, DTLS, SRTP), signaling
 * wired in-process. Each test owns its Xvfb, helper and browser. An X client repaints part of the
 * screen at 30 Hz: the helper's default damage capture sends frames only when the screen changes
 * (a still screen is capture.e2e.test.ts's subject).
 */
import type { HelperSettings } from '@vmlive/protocol';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { startXvfb, type XvfbHandle as Xvfb } from '../sandbox/xvfb.js';
import { HelperProcess } from './helper-process.js';
import { launchChromium, Viewer } from './testing/viewer.js';
import { XPainter } from './testing/x-painter.js';

const logger = pino({ level: process.env.VMLIVE_TEST_LOG ?? 'warn' });

interface Rig {
  xvfb: Xvfb;
  helper: HelperProcess;
  browser: Browser;
}
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

async function rig(codec: 'vp8' | 'h264', settings: Partial<HelperSettings> = {}): Promise<Rig> {
  const xvfb = await startXvfb({ width: 1280, height: 720 });
  cleanups.push(() => xvfb.stop());
  const painter = XPainter.start(xvfb.display);
  cleanups.push(() => painter.stop());
  await painter.move(30);
  const helper = new HelperProcess({ settings: { display: xvfb.display, codec, nice: 0, ...settings }, logger });
  cleanups.push(() => helper.stop());
  await helper.start();
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  return { xvfb, helper, browser };
}

describe('helper streams to Chromium', () => {
  for (const codec of ['vp8', 'h264'] as const) {
    it(`a ${codec} viewer connects and decodes >= 60 frames at 1280x720 within 10 s`, async () => {
      const { helper, browser } = await rig(codec);
      const states: string[] = [];
      helper.on('event', (e) => {
        if (e.type === 'peer-state') states.push(`${e.ice}/${e.dtls}/${e.connection}`);
      });
      const viewer = await Viewer.connect(browser, helper, 'v1');
      const stats = await viewer.waitFor((s) => s.framesDecoded >= 60, 10_000);
      expect(stats.state).toBe('connected');
      expect(stats.frameWidth).toBe(1280);
      expect(stats.frameHeight).toBe(720);
      expect(states.some((s) => s.endsWith('/connected/connected'))).toBe(true);
      const answer = viewer.events.find((e) => e.type === 'local-description');
      const sdp = answer && 'sdp' in answer ? answer.sdp : '';
      expect(sdp).toContain('rtp-hdrext/playout-delay');
      // Transport-wide congestion control: the extension and the feedback asked for (twcc.py) ...
      expect(sdp).toContain('draft-holmer-rmcat-transport-wide-cc-extensions-01');
      expect(sdp).toMatch(/^a=rtcp-fb:\d+ transport-cc\r$/m);

      const helperStats = await helper.getStats(null);
      expect(helperStats.encoder.codec).toBe(codec);
      expect(helperStats.encoder.running).toBe(true);
      expect(helperStats.peers.v1?.packetsSent).toBeGreaterThan(0);
      expect(helperStats.peers.v1?.bytesSent).toBeGreaterThan(0);
      expect(helperStats.process.rssBytes).toBeGreaterThan(0);
      // ... and the viewer's arrival reports read as a queueing delay (a few ms on loopback).
      expect(helperStats.peers.v1?.queueDelayMs).toBeTypeOf('number');
      expect(helperStats.peers.v1?.queueDelayMs).toBeLessThan(50);
    });
  }

  it.each(['vp8', 'h264'] as const)(
    'two %s viewers decode at once; removing one leaves the other streaming',
    async (codec) => {
      const { helper, browser } = await rig(codec);
      const a = await Viewer.connect(browser, helper, 'a');
      const b = await Viewer.connect(browser, helper, 'b');
      await a.waitFor((s) => s.framesDecoded >= 30, 10_000);
      await b.waitFor((s) => s.framesDecoded >= 30, 10_000);

      await b.close();
      const before = (await a.stats()).framesDecoded;
      const after = await a.waitFor((s) => s.framesDecoded >= before + 45, 5_000);
      expect(after.state).toBe('connected');
      const stats = await helper.getStats(null);
      expect(Object.keys(stats.peers)).toEqual(['a']);
      await a.close();
    },
  );

  it('a joining viewer gets a keyframe at once, not at the next GOP (10 s)', async () => {
    const { helper, browser } = await rig('vp8', { keyframeIntervalS: 10 });
    const first = await Viewer.connect(browser, helper, 'first');
    await first.waitFor((s) => s.framesDecoded >= 30, 10_000);
    const second = await Viewer.connect(browser, helper, 'second');
    const s = await second.waitFor((st) => st.firstFrameMs !== null, 5_000);
    expect(s.firstFrameMs).toBeLessThan(2_000);
    const stats = await helper.getStats(null);
    expect(stats.encoder.keyframesForced).toBeGreaterThan(0);
  });

  it('a viewer whose negotiation fails does not stall the others', async () => {
    const { helper, browser } = await rig('vp8');
    const good = await Viewer.connect(browser, helper, 'good');
    await good.waitFor((s) => s.framesDecoded >= 10, 10_000);
    const page = await browser.newPage();
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.createDataChannel('input');
      return (await pc.createOffer()).sdp as string;
    });
    // Parses, names VP8, but webrtcbin refuses it: no ICE credentials.
    const broken = offer.replace(/^a=ice-(ufrag|pwd):.*\r\n/gm, '');
    const errors: string[] = [];
    helper.on('event', (e) => {
      if (e.type === 'error' && e.peerId === 'bad') errors.push(e.code);
    });
    helper.send({ type: 'add-peer', peerId: 'bad', iceServers: [] });
    helper.send({ type: 'remote-description', peerId: 'bad', sdpType: 'offer', sdp: broken });
    await new Promise((r) => setTimeout(r, 3_500)); // longer than the branch queue's 2 s
    const before = (await good.stats()).framesDecoded;
    await good.waitFor((s) => s.framesDecoded >= before + 30, 5_000);
    expect(errors.length).toBeGreaterThan(0);
    helper.send({ type: 'remove-peer', peerId: 'bad' });
    // The helper still takes commands after removing it (its main loop is not stuck in the teardown).
    const after = await helper.getStats(null);
    expect(Object.keys(after.peers)).toEqual(['good']);
    await page.close();
  });

  it('idles capture with no viewers and answers snapshot either way', async () => {
    const { helper, browser } = await rig('vp8');
    const idle = await helper.getStats(null);
    expect(idle.encoder.running).toBe(false);
    const jpeg = await helper.snapshot(60);
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    const v = await Viewer.connect(browser, helper, 'v');
    await v.waitFor((s) => s.framesDecoded >= 10, 10_000);
    expect((await helper.snapshot()).length).toBeGreaterThan(100);
    await v.close();
    await new Promise((r) => setTimeout(r, 500));
    expect((await helper.getStats(null)).encoder.running).toBe(false);
  });
});
