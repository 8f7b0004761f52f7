/**
 * A minimal viewer driven through the controller's REST contract only, run in
 * a headless Chromium page: it offers recvonly video + the `input` data
 * channel, long-polls the answer and the VM's candidates with the cursor, and
 * trickles its own. Tests use it to see the agent and helper exactly as any
 * third-party viewer would, without the React viewer in the way.
 */
import type { InputMessage } from '@vmlive/protocol';
import type { Browser, Page } from 'playwright-core';

export interface RestViewerStats {
  connectionState: string;
  iceState: string;
  dtlsState: string | null;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  bytesReceived: number;
}

export interface RestViewer {
  page: Page;
  sessionId: string;
  stats(): Promise<RestViewerStats>;
  /** Resolves once `framesDecoded` reaches n; rejects after timeoutMs with the last stats. */
  waitFrames(n: number, timeoutMs?: number): Promise<RestViewerStats>;
  sendInput(msg: InputMessage): Promise<void>;
  /** Messages the helper sent back on the input channel. */
  feedback(): Promise<unknown[]>;
  /** True once the controller answered 404 for this session (it ended). */
  sessionEnded(): Promise<boolean>;
  close(): Promise<void>;
}

interface PageApi {
  connect(opts: { base: string; vmId: string; token: string }): Promise<string>;
  stats(): Promise<RestViewerStats>;
  send(msg: string): void;
  feedback: unknown[];
  ended: boolean;
  close(): Promise<void>;
}

declare global {
  interface Window {
    restViewer: PageApi;
  }
}

/** Runs inside the page: defines window.restViewer. Kept self-contained (serialized by Playwright). */
function installPageApi(): void {
  let pc: RTCPeerConnection | undefined;
  let dc: RTCDataChannel | undefined;
  let sessionId = '';
  let headers: Record<string, string> = {};
  let base = '';
  let closed = false;
  const api: PageApi = {
    feedback: [],
    ended: false,
    async connect(opts) {
      base = opts.base;
      headers = { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' };
      const created = await fetch(`${base}/api/webrtc/session`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ vmId: opts.vmId }),
      });
      if (created.status !== 201) throw new Error(`POST session → ${created.status} ${await created.text()}`);
      const session = (await created.json()) as { sessionId: string; iceServers: RTCIceServer[] };
      sessionId = session.sessionId;
      const peer = new RTCPeerConnection({ iceServers: session.iceServers, bundlePolicy: 'max-bundle' });
      pc = peer;
      peer.addTransceiver('video', { direction: 'recvonly' });
      dc = peer.createDataChannel('input', { ordered: true });
      dc.onmessage = (e) => api.feedback.push(JSON.parse(String(e.data)));
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      document.body.append(video);
      peer.ontrack = (e) => {
        (e.receiver as RTCRtpReceiver & { jitterBufferTarget?: number }).jitterBufferTarget = 0;
        video.srcObject = new MediaStream([e.track]);
      };
      peer.onicecandidate = (e) => {
        const c = e.candidate;
        void fetch(`${base}/api/webrtc/session/${sessionId}/candidate`, {
          method: 'POST',
          headers,
          body: JSON.stringify(
            c
              ? { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0, sdpMid: c.sdpMid, from: 'browser' }
              : { candidate: '', sdpMLineIndex: 0, from: 'browser' },
          ),
        });
      };
      await peer.setLocalDescription(await peer.createOffer());
      const offered = await fetch(`${base}/api/webrtc/session/${sessionId}/offer`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'offer', sdp: peer.localDescription?.sdp }),
      });
      if (offered.status !== 204) throw new Error(`POST offer → ${offered.status}`);
      for (;;) {
        const r = await fetch(`${base}/api/webrtc/session/${sessionId}/answer?wait=10`, { headers });
        if (r.status === 200) {
          await peer.setRemoteDescription((await r.json()) as RTCSessionDescriptionInit);
          break;
        }
        if (r.status !== 204) throw new Error(`GET answer → ${r.status}`);
      }
      void (async () => {
        let cursor = 0;
        while (!closed) {
          const r = await fetch(`${base}/api/webrtc/session/${sessionId}/candidates/vm?since=${cursor}&wait=10`, {
            headers,
          });
          if (r.status === 404) {
            api.ended = true;
            return;
          }
          if (r.status !== 200) continue;
          const body = (await r.json()) as {
            cursor: number;
            candidates: Array<{ candidate: string; sdpMLineIndex: number; sdpMid: string | null }>;
          };
          for (const c of body.candidates) {
            await peer
              .addIceCandidate(c.candidate === '' ? null : { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex })
              .catch(() => undefined);
          }
          cursor = body.cursor;
        }
      })();
      return sessionId;
    },
    async stats() {
      const out: RestViewerStats = {
        connectionState: pc?.connectionState ?? 'new',
        iceState: pc?.iceConnectionState ?? 'new',
        dtlsState: null,
        framesDecoded: 0,
        frameWidth: 0,
        frameHeight: 0,
        bytesReceived: 0,
      };
      const report = await pc?.getStats();
      report?.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out.framesDecoded = s.framesDecoded ?? 0;
          out.frameWidth = s.frameWidth ?? 0;
          out.frameHeight = s.frameHeight ?? 0;
          out.bytesReceived = s.bytesReceived ?? 0;
        }
        if (s.type === 'transport') out.dtlsState = s.dtlsState ?? null;
      });
      return out;
    },
    send(msg) {
      if (dc?.readyState !== 'open') throw new Error(`input channel is ${dc?.readyState}`);
      dc.send(msg);
    },
    async close() {
      closed = true;
      pc?.close();
      await fetch(`${base}/api/webrtc/session/${sessionId}`, { method: 'DELETE', headers }).catch(() => undefined);
    },
  };
  window.restViewer = api;
}

export async function openRestViewer(
  browser: Browser,
  opts: { controllerUrl: string; vmId: string; token: string },
): Promise<RestViewer> {
  const page = await browser.newPage();
  // Same origin as the controller keeps the REST calls free of CORS preflights.
  await page.goto(`${opts.controllerUrl}/healthz`);
  await page.evaluate(installPageApi);
  const sessionId = await page.evaluate((o) => window.restViewer.connect(o), {
    base: opts.controllerUrl,
    vmId: opts.vmId,
    token: opts.token,
  });
  const stats = () => page.evaluate(() => window.restViewer.stats());
  return {
    page,
    sessionId,
    stats,
    async waitFrames(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let last = await stats();
      while (last.framesDecoded < n) {
        if (Date.now() > deadline)
          throw new Error(`only ${last.framesDecoded} frames decoded: ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, 100));
        last = await stats();
      }
      return last;
    },
    sendInput: (msg) => page.evaluate((m) => window.restViewer.send(m), JSON.stringify(msg)),
    feedback: () => page.evaluate(() => window.restViewer.feedback),
    sessionEnded: () => page.evaluate(() => window.restViewer.ended),
    async close() {
      await page.evaluate(() => window.restViewer.close()).catch(() => undefined);
      await page.close().catch(() => undefined);
    },
  };
}
