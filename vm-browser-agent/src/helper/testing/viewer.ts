/**
 * Test/benchmark support: a real Chromium viewer (playwright-core) wired to a HelperProcess
 * in-process, the way pion's tests wire `signalPair`: the page offers recvonly video plus the
 * `input` data channel, the helper answers, candidates are trickled both ways.
 */
import type { HelperEvent } from '@vmlive/protocol';
import { type Browser, chromium, type LaunchOptions, type Page } from 'playwright-core';
import { CHROMIUM, viewerFlags } from '../../sandbox/chromium-flags.js';
import type { HelperProcess } from '../helper-process.js';

export const CHROMIUM_PATH = CHROMIUM;

/** A headless viewer browser; `mdns: true` (the default) keeps Chromium's mDNS host candidates. */
export function launchChromium(options: LaunchOptions & { mdns?: boolean } = {}): Promise<Browser> {
  const { mdns = true, ...rest } = options;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ...rest,
    args: [...viewerFlags({ launchedByPlaywright: true, mdnsCandidates: mdns }), ...(rest.args ?? [])],
  });
}

export interface ViewerStats {
  state: string;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  firstFrameMs: number | null;
  framesPerSecond: number;
  /** W3C webrtc-stats inbound-rtp counters (seconds), for jitter-buffer and decode averages */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  totalDecodeTime: number;
}

interface PageVm {
  offer(): Promise<string>;
  answer(sdp: string): Promise<void>;
  candidate(c: { candidate: string; sdpMLineIndex: number }): Promise<void>;
  stats(): Promise<ViewerStats>;
  channelOpen(): boolean;
  send(msg: unknown): void;
  close(): void;
  feedback: unknown[];
}
type VmWindow = { vm: PageVm };

/** Runs inside the viewer page. Keeps everything on `window.vm`. */
const PAGE_SCRIPT = `
window.vm = {
  pc: null, dc: null, feedback: [], firstFrameMs: null, t0: 0, pendingCandidates: [], answered: false,
  async offer() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    this.dc = pc.createDataChannel('input');
    this.dc.onmessage = (e) => this.feedback.push(JSON.parse(e.data));
    pc.onicecandidate = (e) => {
      if (e.candidate) window.__vmSendCandidate(JSON.stringify({ candidate: e.candidate.candidate, sdpMLineIndex: e.candidate.sdpMLineIndex ?? 0 }));
    };
    pc.ontrack = (e) => {
      const video = document.createElement('video');
      video.muted = true; video.autoplay = true; video.playsInline = true;
      video.srcObject = new MediaStream([e.track]);
      document.body.appendChild(video);
      const onFrame = () => { if (this.firstFrameMs === null) this.firstFrameMs = performance.now() - this.t0; };
      if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
      video.play().catch(() => {});
    };
    this.t0 = performance.now();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    // Poll getStats too: headless rendering may not run video frame callbacks.
    const poll = setInterval(async () => {
      if (this.firstFrameMs !== null || !this.pc) { clearInterval(poll); return; }
      const t = performance.now();
      const stats = await this.pc.getStats();
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0 && this.firstFrameMs === null) this.firstFrameMs = t - this.t0; });
    }, 10);
    return pc.localDescription.sdp;
  },
  async answer(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.answered = true;
    for (const c of this.pendingCandidates) await this.pc.addIceCandidate(c);
    this.pendingCandidates = [];
  },
  async candidate(c) {
    if (!this.answered) { this.pendingCandidates.push(c); return; }
    await this.pc.addIceCandidate(c);
  },
  async stats() {
    const out = { state: this.pc ? this.pc.connectionState : 'none', framesDecoded: 0, frameWidth: 0, frameHeight: 0, firstFrameMs: this.firstFrameMs, framesPerSecond: 0, jitterBufferDelay: 0, jitterBufferEmittedCount: 0, totalDecodeTime: 0 };
    if (!this.pc) return out;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.framesDecoded = s.framesDecoded || 0; out.frameWidth = s.frameWidth || 0; out.frameHeight = s.frameHeight || 0;
        out.framesPerSecond = s.framesPerSecond || 0;
        out.jitterBufferDelay = s.jitterBufferDelay || 0; out.jitterBufferEmittedCount = s.jitterBufferEmittedCount || 0;
        out.totalDecodeTime = s.totalDecodeTime || 0; out.framesReceived = s.framesReceived || 0;
      }
    });
    return out;
  },
  channelOpen() { return !!this.dc && this.dc.readyState === 'open'; },
  send(msg) { this.dc.send(JSON.stringify(msg)); },
  close() { if (this.pc) this.pc.close(); this.pc = null; },
};
`;

export class Viewer {
  readonly events: HelperEvent[] = [];
  private readonly onEvent: (e: HelperEvent) => void;
  private answerApplied: Promise<void> = Promise.resolve();

  private constructor(
    readonly peerId: string,
    readonly page: Page,
    private readonly helper: HelperProcess,
  ) {
    this.onEvent = (e: HelperEvent) => {
      if (e.peerId !== this.peerId) return;
      this.events.push(e);
      if (e.type === 'local-description') {
        this.answerApplied = this.page.evaluate((sdp) => (window as unknown as VmWindow).vm.answer(sdp), e.sdp);
      } else if (e.type === 'local-candidate' && e.candidate) {
        const c = { candidate: e.candidate, sdpMLineIndex: e.sdpMLineIndex };
        void this.page.evaluate((cand) => (window as unknown as VmWindow).vm.candidate(cand), c).catch(() => {});
      }
    };
  }

  /**
   * Opens a page in `browser` and negotiates like the real agent would: the viewer creates its
   * offer first, then the peer is added to the helper together with the offer. Candidates the
   * page gathers before that are held back.
   */
  static async connect(browser: Browser, helper: HelperProcess, peerId: string, pageUrl?: string): Promise<Viewer> {
    const page = await browser.newPage();
    if (pageUrl) await page.goto(pageUrl);
    else await page.setContent('<!doctype html><title>vmlive test viewer</title><body></body>');
    const viewer = new Viewer(peerId, page, helper);
    let added = false;
    const early: Array<{ candidate: string; sdpMLineIndex: number }> = [];
    const forward = (c: { candidate: string; sdpMLineIndex: number }) => {
      try {
        helper.send({ type: 'remote-candidate', peerId, candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex });
      } catch {
        // helper gone or peer removed: the test notices through the connection state
      }
    };
    await page.exposeFunction('__vmSendCandidate', (json: string) => {
      const c = JSON.parse(json) as { candidate: string; sdpMLineIndex: number };
      if (added) forward(c);
      else early.push(c);
    });
    await page.evaluate(PAGE_SCRIPT);
    helper.on('event', viewer.onEvent);
    const sdp = await page.evaluate(() => (window as unknown as VmWindow).vm.offer());
    helper.send({ type: 'add-peer', peerId, iceServers: [] });
    helper.send({ type: 'remote-description', peerId, sdpType: 'offer', sdp });
    added = true;
    for (const c of early.splice(0)) forward(c);
    return viewer;
  }

  stats(): Promise<ViewerStats> {
    return this.page.evaluate(() => (window as unknown as VmWindow).vm.stats());
  }

  async waitFor(pred: (s: ViewerStats) => boolean, timeoutMs: number): Promise<ViewerStats> {
    const deadline = Date.now() + timeoutMs;
    let last = await this.stats();
    while (!pred(last)) {
      if (Date.now() > deadline) throw new Error(`viewer ${this.peerId} timed out: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 100));
      last = await this.stats();
    }
    return last;
  }

  async waitChannelOpen(timeoutMs = 10_000): Promise<void> {
    await this.page.waitForFunction(() => (window as unknown as VmWindow).vm.channelOpen(), undefined, {
      timeout: timeoutMs,
    });
  }

  send(msg: unknown): Promise<void> {
    return this.page.evaluate((m) => (window as unknown as VmWindow).vm.send(m), msg);
  }

  feedback(): Promise<unknown[]> {
    return this.page.evaluate(() => (window as unknown as VmWindow).vm.feedback);
  }

  async close(removeFromHelper = true): Promise<void> {
    this.helper.off('event', this.onEvent);
    await this.answerApplied.catch(() => {});
    if (removeFromHelper) {
      try {
        this.helper.send({ type: 'remove-peer', peerId: this.peerId, reason: 'test done' });
      } catch {
        // helper already stopped
      }
    }
    await this.page.evaluate(() => (window as unknown as VmWindow).vm.close()).catch(() => {});
    await this.page.close().catch(() => {});
  }
}
