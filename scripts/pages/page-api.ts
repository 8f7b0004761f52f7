/**
 * The `window` API of the viewer pages in scripts/pages, shared by the pages
 * and the Node code that drives them through Playwright (scripts/lib/viewers.ts,
 * e2e/rest-viewer.ts). Types, and the one constant both sides share.
 */
import type { InputFeedback, InputMessage } from '@vmlive/protocol';

export interface Sample {
  /** viewer wall clock when the value first appeared, ms */
  at: number;
  painted: number;
  latency: number;
  /** WebRTC and CDP: arrival of the picture's bytes at the viewer − painted (WebRTC: rVFC receiveTime) */
  receiveLatency?: number;
}

/** What a page's `drain()` returns: samples since the last drain (measure.js Collector), with counters. */
export interface Drained {
  samples: Sample[];
  observed: number;
  decoded: number;
  distinct: number;
  rejected: Record<string, number>;
  firstDecodedAt: number | null;
  firstDecodedWall: number | null;
  maxGapMs: number;
  errors: string[];
  /** REST viewer: offer created → first decoded clock value, ms */
  ttffMs?: number | null;
  /** REST viewer: offer created → answer applied, ms */
  answerMs?: number | null;
  /**
   * REST viewer: the production latency meter's samples since the last drain (the VM's
   * abs-capture-time → presented, viewer/src/connection/glassToGlass.ts), to set beside the clock
   * page's own measurement; `at` is the viewer wall clock at presentation, ms
   */
  glassToGlass?: { at: number; ms: number }[];
}

/** Decoding the clock page from received frames (measure.js). */
export interface MeasureOptions {
  /** the VM's clock minus the viewer's, ms (0 on one machine) */
  clockOffsetMs?: number;
  /** the VM page's CSS width, to scale the clock grid */
  viewportW?: number;
  /** noVNC only: RFB qualityLevel (0–9) and compressionLevel (0–9); noVNC's defaults when unset */
  qualityLevel?: number;
  compressionLevel?: number;
}

/** The REST viewer's flattened getStats(): the video inbound-rtp, the selected candidate pair, and states. */
export interface WebrtcStats {
  /** when the inbound stats were taken (performance clock, ms): rates use this, not the caller's clock */
  timestamp: number;
  connectionState: RTCPeerConnectionState;
  iceConnectionState: RTCIceConnectionState;
  /** the transport's DTLS state, null before it exists */
  dtlsState: string | null;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  framesDropped: number;
  framesPerSecond: number;
  frameWidth: number;
  frameHeight: number;
  freezeCount: number;
  totalFreezesDuration: number;
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  totalDecodeTime: number;
  nackCount: number;
  pliCount: number;
  firCount: number;
  /** packets that arrived as retransmissions (RTX), and their bytes */
  retransmittedPacketsReceived: number;
  retransmittedBytesReceived: number;
  keyFramesDecoded: number;
  codec: string;
  decoderImplementation: string;
  rttMs: number | null;
  /** The selected candidate pair: host | srflx | prflx | relay on each end, and the local transport (udp | tcp). */
  localCandidateType: string;
  remoteCandidateType: string;
  candidateProtocol: string;
  /** relay: how the local end reaches its TURN server (udp | tcp | tls), '' otherwise */
  relayProtocol: string;
}

/** A gap longer than this between two presented frames is a freeze (scripts/networks.ts, e2e/networks). */
export const FREEZE_GAP_MS = 200;

/**
 * Frames as the page presented them (requestVideoFrameCallback), kept from the start: how many,
 * when the last one was, and every gap over FREEZE_GAP_MS. Times are the page's performance clock
 * (rVFC presentationTime), so a busy page main thread does not make gaps that were not there.
 */
export interface FrameLog {
  /** the page's performance.now() when this was read */
  now: number;
  frames: number;
  /** presentation time of the last frame, null before the first */
  lastAt: number | null;
  /** each gap over FREEZE_GAP_MS: `at` = presentation time of the frame that ended it (the last 2000) */
  freezes: { at: number; ms: number }[];
}

export interface RestViewerConfig {
  token: string;
  vmId: string;
  /** Controller origin; default this page's own (the scripts' server proxies /api to the controller). */
  baseUrl?: string;
  /** Put this codec first in the offer, e.g. 'vp8' or 'h264'. */
  codec?: string;
  /** Decode the clock page from every frame; off, the page only connects and counts. */
  measure?: MeasureOptions;
}

/**
 * When each step of a connect happened, in `performance.now()` ms of the page (0 = the page's
 * navigation start, so `firstFrame` is the time from page load), null until it happens.
 */
export interface ConnectStages {
  sessionCreated: number | null;
  /** createOffer called (the start the issue measures TTFF from) */
  offerCreated: number | null;
  offerPosted: number | null;
  answerApplied: number | null;
  iceChecking: number | null;
  iceConnected: number | null;
  /** RTCPeerConnection.connectionState 'connected' (ICE and DTLS done) */
  connected: number | null;
  firstFrame: number | null;
}

/** `window.restViewer` (rest-viewer.ts): one viewer, REST signaling only, no reconnects. */
export interface RestViewerPage {
  /** Session, offer, answer: resolves with the sessionId once the answer is applied. */
  start(cfg: RestViewerConfig): Promise<string>;
  /** null before the peer connection exists. */
  stats(): Promise<WebrtcStats | null>;
  /** Sends on the `input` data channel; throws unless it is open. */
  send(msg: InputMessage): void;
  /** What the helper sent back on the `input` channel, validated. */
  feedback(): InputFeedback[];
  /** True once the controller said the session is gone (session_not_found). */
  sessionEnded(): boolean;
  stages(): ConnectStages;
  drain(): Drained;
  /** Presented frames and freezes since start (independent of `measure`). */
  frameLog(): FrameLog;
  stop(): Promise<void>;
}

/** `window.viewer` of the noVNC and CDP pages (viewer-novnc.js, viewer-cdp.js). */
export interface WebSocketViewerPage {
  start(cfg: MeasureOptions & { url: string }): Promise<void>;
  drain(): Drained;
  stop(): void;
}

declare global {
  interface Window {
    restViewer: RestViewerPage;
    viewer: WebSocketViewerPage;
  }
}
