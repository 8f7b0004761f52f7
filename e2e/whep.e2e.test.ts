/**
 * Issue 19: a WHEP endpoint any player can use. Players that are not our viewer watch the sandbox
 * VM through POST /whep/vms/:vmId: a GStreamer webrtcbin offerer in Python (e2e/whep_client.py,
 * /usr/bin/python3), once without trickle (every candidate in the offer) and once trickling its
 * candidates in a PATCH; and a headless Chromium page with a plain RTCPeerConnection and fetch (no
 * vmlive code), from another origin. Each decodes 60 frames at 1280x720; DELETE ends the session
 * and the helper's peer. One controller and VM for the file. The error statuses are covered, against
 * a real controller, by master-controller/src/http/whep.test.ts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openRestViewer } from './rest-viewer.js';
import { type LocalSystem, launchViewerBrowser, REPO_ROOT, startSystem } from './system.js';

const run = promisify(execFile);
let sys: LocalSystem;
let browser: Browser;

beforeAll(async () => {
  // A heartbeat a second: the helper's peers (GET /api/vms stats.peerStats) are at most 1 s old.
  // The browser player runs on a page of its own (origin "null"): a deployment that serves any WHEP
  // player allows every origin, which exposes nothing since tokens travel in a header, not cookies.
  sys = await startSystem({ agentEnv: { VMLIVE_HEARTBEAT_MS: '1000' }, controllerEnv: { VMLIVE_CORS_ORIGINS: '*' } });
  browser = await launchViewerBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

interface PlayerResult {
  frames: number;
  width: number;
  height: number;
  ttffMs: number;
  answerMs: number;
  answerCandidates: number;
  answerEnd: boolean;
  patchedCandidates?: number;
  statuses: { post: number; patch?: number; delete?: number };
  sessionUrl: string;
  error?: string;
}

async function gstreamerPlayer(mode: 'full' | 'trickle'): Promise<PlayerResult> {
  const token = await sys.mintViewerToken('view');
  const { stdout } = await run(
    '/usr/bin/python3',
    [
      join(REPO_ROOT, 'e2e', 'whep_client.py'),
      '--url',
      `${sys.controllerUrl}/whep/vms/${sys.vmId}`,
      '--token',
      token,
      '--mode',
      mode,
    ],
    { timeout: 60_000 },
  );
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as PlayerResult;
}

/** The helper's peers as the VM last reported them. */
async function helperPeers(): Promise<string[]> {
  const r = await fetch(`${sys.controllerUrl}/api/vms`, { headers: { authorization: `Bearer ${sys.operatorToken}` } });
  const body = (await r.json()) as { vms: Array<{ vmId: string; stats?: { peerStats?: Record<string, unknown> } }> };
  return Object.keys(body.vms.find((v) => v.vmId === sys.vmId)?.stats?.peerStats ?? {});
}

async function expectEnded(sessionUrl: string): Promise<void> {
  const sessionId = sessionUrl.split('/').pop() as string;
  const token = sys.operatorToken;
  const r = await fetch(sessionUrl, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status).toBe(404);
  await expect.poll(helperPeers, { timeout: 10_000, interval: 250 }).not.toContain(sessionId);
}

it('a GStreamer player that does not trickle gets every VM candidate in the answer and decodes 1280x720', async () => {
  const r = await gstreamerPlayer('full');
  console.log(`WHEP webrtcbin, no trickle: ${JSON.stringify(r)}`);
  expect(r.error).toBeUndefined();
  expect(r.statuses).toMatchObject({ post: 201, delete: 200 });
  expect(r.answerCandidates).toBeGreaterThan(0);
  expect(r.answerEnd).toBe(true);
  expect(r.frames).toBeGreaterThanOrEqual(60);
  expect([r.width, r.height]).toEqual([1280, 720]);
  await expectEnded(r.sessionUrl);
}, 90_000);

it('a GStreamer player that trickles its candidates in a PATCH decodes too, and DELETE removes its peer', async () => {
  const r = await gstreamerPlayer('trickle');
  console.log(`WHEP webrtcbin, trickle: ${JSON.stringify(r)}`);
  expect(r.error).toBeUndefined();
  expect(r.statuses).toEqual({ post: 201, patch: 204, delete: 200 });
  expect(r.patchedCandidates).toBeGreaterThan(0);
  expect(r.frames).toBeGreaterThanOrEqual(60);
  expect([r.width, r.height]).toEqual([1280, 720]);
  await expectEnded(r.sessionUrl);
}, 90_000);

it('a plain RTCPeerConnection in headless Chromium, from another origin, plays 60 frames (TTFF printed beside the REST viewer)', async () => {
  const page = await browser.newPage();
  try {
    await page.setContent('<video autoplay muted playsinline></video>');
    const endpoint = `${sys.controllerUrl}/whep/vms/${sys.vmId}`;
    const token = await sys.mintViewerToken('control');
    const r = await page.evaluate(
      async ({ endpoint, token }) => {
        const t0 = performance.now();
        const pc = new RTCPeerConnection();
        // What a generic player offers: audio and video, receive only, no data channel.
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        await pc.setLocalDescription(await pc.createOffer());
        // No trickle: wait for gathering (bounded), then POST every candidate in the offer.
        await new Promise<void>((resolve) => {
          if (pc.iceGatheringState === 'complete') resolve();
          pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
          setTimeout(resolve, 2000);
        });
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
          body: pc.localDescription?.sdp,
        });
        const answer = await res.text();
        if (res.status !== 201) return { status: res.status, answer };
        const location = new URL(res.headers.get('location') as string, endpoint).href;
        const video = document.querySelector('video') as HTMLVideoElement;
        pc.ontrack = (e) => {
          if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]);
        };
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        let ttffMs = 0;
        let frames = 0;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`only ${frames} frames`)), 30_000);
          const onFrame = () => {
            if (frames++ === 0) ttffMs = performance.now() - t0;
            if (frames >= 60) {
              clearTimeout(timer);
              resolve();
            } else video.requestVideoFrameCallback(onFrame);
          };
          video.requestVideoFrameCallback(onFrame);
        });
        const del = await fetch(location, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
        pc.close();
        return {
          status: res.status,
          frames,
          ttffMs: Math.round(ttffMs),
          width: video.videoWidth,
          height: video.videoHeight,
          location,
          deleted: del.status,
        };
      },
      { endpoint, token },
    );
    console.log(`WHEP Chromium (no trickle): ${JSON.stringify(r)}`);
    expect(r).toMatchObject({ status: 201, width: 1280, height: 720, deleted: 200 });
    expect(r.frames).toBeGreaterThanOrEqual(60);
    await expectEnded(r.location as string);

    const t0 = performance.now();
    const rest = await openRestViewer(browser, {
      controllerUrl: sys.controllerUrl,
      vmId: sys.vmId,
      token: await sys.mintViewerToken('view'),
    });
    await rest.waitFrames(1, 30_000);
    console.log(`REST viewer TTFF (page load to first decoded frame): ${Math.round(performance.now() - t0)} ms`);
    await rest.close();
  } finally {
    await page.close();
  }
}, 90_000);
