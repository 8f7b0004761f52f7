/**
 * The minimal REST viewer: one RTCPeerConnection signaled over the
 * controller's REST contract only (the protocol's ApiClient, through
 * @vmlive/viewer's SignalingClient), no React, no reconnects, so what it sees is the
 * agent and helper as any third-party viewer would, and its numbers are the
 * transport's. The e2e tests (e2e/rest-viewer.ts) and the measurement scripts
 * (scripts/lib/viewers.ts) both drive it through `window.restViewer`.
 *
 * Flow (the viewer is the offerer, trickle ICE over long-polls): POST session
 * → createOffer → POST offer → local candidates, in order, after the offer →
 * GET answer?wait → long-poll the VM's candidates with the server cursor.
 *
 * `npm run build` bundles it for the browser (esbuild, one IIFE) into
 * scripts/pages/dist/rest-viewer.js, which rest-viewer.html loads.
 */
import { ApiClient, ApiError, INPUT_CHANNEL_LABEL, InputFeedback } from '@vmlive/protocol';
import { SignalingClient } from '../../viewer/src/api/signalingClient.js';
import { GlassToGlassMeter, negotiateCaptureTime } from '../../viewer/src/connection/glassToGlass.js';
import { Collector } from './measure.js';
import {
  type ConnectStages,
  FREEZE_GAP_MS,
  type FrameLog,
  type RestViewerConfig,
  type RestViewerPage,
  type WebrtcStats,
} from './page-api.js';

const REPAIR_CODECS = new Set(['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03']);
const abort = new AbortController();
const errors: string[] = [];
const feedback: InputFeedback[] = [];
const timing: { offerAt: number | null; answerAt: number | null } = { offerAt: null, answerAt: null };
const stages: ConnectStages = {
  sessionCreated: null,
  offerCreated: null,
  offerPosted: null,
  answerApplied: null,
  iceChecking: null,
  iceConnected: null,
  connected: null,
  firstFrame: null,
};
const mark = (k: keyof ConnectStages) => {
  stages[k] ??= performance.now();
};
let pc: RTCPeerConnection | null = null;
let channel: RTCDataChannel | null = null;
let signaling: SignalingClient | null = null;
let sessionId: string | null = null;
let collector = new Collector();
let measuring = false;
let meter: GlassToGlassMeter | null = null;
const meterSamples: { at: number; ms: number }[] = [];
let ended = false;
const frameLog: Omit<FrameLog, 'now'> = { frames: 0, lastAt: null, freezes: [] };

// Created here rather than in the HTML, so a page of any origin can load the bundle (e2e/rest-viewer.ts).
const video = document.createElement('video');
video.muted = true;
video.autoplay = true;
video.playsInline = true;
document.body.append(video);

async function start(cfg: RestViewerConfig): Promise<string> {
  const { signal } = abort;
  const api = new ApiClient({ baseUrl: cfg.baseUrl ?? location.origin, token: cfg.token });
  const client = new SignalingClient(api, { waitSeconds: 10, retryDelayMs: 500 });
  signaling = client;
  collector = new Collector(cfg.measure);
  measuring = cfg.measure !== undefined;

  const session = await client.createSession(cfg.vmId, signal);
  mark('sessionCreated');
  const id = session.sessionId;
  sessionId = id;
  const peer = new RTCPeerConnection({
    iceServers: session.iceServers,
    iceTransportPolicy: session.iceTransportPolicy,
    bundlePolicy: 'max-bundle',
  });
  pc = peer;
  peer.addEventListener('iceconnectionstatechange', () => {
    if (peer.iceConnectionState === 'checking') mark('iceChecking');
    if (peer.iceConnectionState === 'connected' || peer.iceConnectionState === 'completed') mark('iceConnected');
  });
  peer.addEventListener('connectionstatechange', () => {
    if (peer.connectionState === 'connected') mark('connected');
  });
  // The first frame, measuring or not (rVFC fires when a frame is presented to the compositor).
  video.requestVideoFrameCallback(() => mark('firstFrame'));
  const transceiver = peer.addTransceiver('video', { direction: 'recvonly' });
  // The same header extensions as the web viewer's, whose latency meter this page checks.
  if (negotiateCaptureTime(transceiver)) meter = new GlassToGlassMeter(performance.timeOrigin);
  if (cfg.codec) {
    const want = `video/${cfg.codec}`.toLowerCase();
    const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
    const preferred = codecs.filter((c) => c.mimeType.toLowerCase() === want);
    // Keep the loss-repair formats: an offer of the media codec alone has no rtx, and the
    // helper then has nothing to send retransmissions as (the web viewer offers them all).
    const repair = codecs.filter((c) => REPAIR_CODECS.has(c.mimeType.toLowerCase()));
    if (preferred.length) transceiver.setCodecPreferences([...preferred, ...repair]);
  }
  // Ask for no extra playout delay; only the sender's playout-delay extension can
  // really cap it, but this keeps the receiver's own target at 0.
  transceiver.receiver.jitterBufferTarget = 0;
  // The same offer as the web viewer's: video plus the ordered `input` channel.
  const dc = peer.createDataChannel(INPUT_CHANNEL_LABEL, { ordered: true });
  channel = dc;
  dc.onmessage = (e) => {
    try {
      const parsed = InputFeedback.safeParse(JSON.parse(String(e.data)));
      if (parsed.success) feedback.push(parsed.data);
      else errors.push(`feedback: not an InputFeedback: ${String(e.data).slice(0, 200)}`);
    } catch {
      errors.push('feedback: not JSON');
    }
  };
  peer.ontrack = (e) => {
    video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    video.play().catch((err: unknown) => errors.push(`play: ${err}`));
  };

  // Local candidates go out in gathering order, only once the offer is posted.
  let releaseLocal = () => {};
  let localChain = new Promise<void>((resolve) => {
    releaseLocal = resolve;
  });
  peer.onicecandidate = (e) => {
    const c = e.candidate;
    if (c && !c.candidate) return; // Chromium's own empty end-of-candidates event; the null one follows
    // null: gathering finished, so end-of-candidates (RFC 8838 §8.2).
    const body = c
      ? { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0, sdpMid: c.sdpMid ?? null }
      : { candidate: '', sdpMLineIndex: 0, sdpMid: null };
    localChain = localChain.then(() =>
      client.postCandidate(id, body, signal).catch((err: unknown) => {
        if (!signal.aborted) errors.push(`candidate: ${err}`);
      }),
    );
  };

  timing.offerAt = performance.now();
  mark('offerCreated');
  const offer = await peer.createOffer();
  await peer.setLocalDescription(offer);
  const sdp = peer.localDescription?.sdp ?? offer.sdp;
  if (!sdp) throw new Error('createOffer produced no SDP');
  await client.postOffer(id, sdp, signal);
  mark('offerPosted');
  releaseLocal();

  const answer = await client.waitForAnswer(id, signal);
  await peer.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  timing.answerAt = performance.now();
  mark('answerApplied');
  // Polled only now, so every VM candidate arrives after the remote description.
  void client
    .pollVmCandidates(
      id,
      (c) => {
        // An empty candidate string is end-of-candidates (W3C webrtc-pc §4.4.1.5 addIceCandidate).
        peer
          .addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid })
          .catch((err: unknown) => errors.push(`addIceCandidate: ${err}`));
      },
      signal,
    )
    .catch((err: unknown) => {
      if (err instanceof ApiError && err.is('session_not_found')) ended = true;
      else errors.push(`candidates: ${err}`);
    });
  video.requestVideoFrameCallback(onFrame);
  return id;
}

function onFrame(_now: number, meta: VideoFrameCallbackMetadata): void {
  if (abort.signal.aborted) return;
  const at = meta.presentationTime;
  if (frameLog.lastAt !== null && at - frameLog.lastAt > FREEZE_GAP_MS) {
    frameLog.freezes.push({ at, ms: at - frameLog.lastAt });
    if (frameLog.freezes.length > 2000) frameLog.freezes.shift();
  }
  frameLog.frames++;
  frameLog.lastAt = at;
  if (measuring) {
    collector.observe(video, meta.width, { receiveTime: meta.receiveTime });
    const receiver = meter && pc?.getReceivers()[0];
    const ms = receiver ? meter?.frame(meta, receiver.getSynchronizationSources()) : null;
    if (ms != null) meterSamples.push({ at: performance.timeOrigin + meta.expectedDisplayTime, ms });
  }
  video.requestVideoFrameCallback(onFrame);
}

async function stats(): Promise<WebrtcStats | null> {
  if (!pc) return null;
  const report = await pc.getStats();
  const byId = new Map<string, Record<string, unknown>>();
  let inbound: Record<string, unknown> = {};
  let transport: Record<string, unknown> = {};
  report.forEach((s: Record<string, unknown>) => {
    byId.set(String(s.id), s);
    if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
    if (s.type === 'transport') transport = s;
  });
  let pair = byId.get(String(transport.selectedCandidatePairId));
  if (!pair) {
    for (const s of byId.values()) if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
  }
  const num = (s: Record<string, unknown> | undefined, key: string) => {
    const v = s?.[key];
    return typeof v === 'number' ? v : 0;
  };
  const str = (s: Record<string, unknown> | undefined, key: string) => {
    const v = s?.[key];
    return typeof v === 'string' ? v : '';
  };
  const rtt = pair?.currentRoundTripTime;
  const local = byId.get(str(pair, 'localCandidateId'));
  return {
    timestamp: num(inbound, 'timestamp') || performance.now(),
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
    dtlsState: str(transport, 'dtlsState') || null,
    bytesReceived: num(inbound, 'bytesReceived'),
    packetsReceived: num(inbound, 'packetsReceived'),
    packetsLost: num(inbound, 'packetsLost'),
    framesDecoded: num(inbound, 'framesDecoded'),
    framesDropped: num(inbound, 'framesDropped'),
    framesPerSecond: num(inbound, 'framesPerSecond'),
    frameWidth: num(inbound, 'frameWidth'),
    frameHeight: num(inbound, 'frameHeight'),
    freezeCount: num(inbound, 'freezeCount'),
    totalFreezesDuration: num(inbound, 'totalFreezesDuration'),
    jitterBufferDelay: num(inbound, 'jitterBufferDelay'),
    jitterBufferEmittedCount: num(inbound, 'jitterBufferEmittedCount'),
    totalDecodeTime: num(inbound, 'totalDecodeTime'),
    nackCount: num(inbound, 'nackCount'),
    pliCount: num(inbound, 'pliCount'),
    firCount: num(inbound, 'firCount'),
    retransmittedPacketsReceived: num(inbound, 'retransmittedPacketsReceived'),
    retransmittedBytesReceived: num(inbound, 'retransmittedBytesReceived'),
    keyFramesDecoded: num(inbound, 'keyFramesDecoded'),
    codec: str(byId.get(str(inbound, 'codecId')), 'mimeType'),
    decoderImplementation: str(inbound, 'decoderImplementation'),
    rttMs: typeof rtt === 'number' ? rtt * 1000 : null,
    localCandidateType: str(local, 'candidateType'),
    remoteCandidateType: str(byId.get(str(pair, 'remoteCandidateId')), 'candidateType'),
    candidateProtocol: str(local, 'protocol'),
    relayProtocol: str(local, 'relayProtocol'),
  };
}

function drain() {
  const d = collector.drain();
  const since = (t: number | null | undefined) => (t != null && timing.offerAt != null ? t - timing.offerAt : null);
  return {
    ...d,
    ttffMs: since(d.firstDecodedAt),
    answerMs: since(timing.answerAt),
    glassToGlass: meterSamples.splice(0),
    errors: errors.splice(0),
  };
}

async function stop(): Promise<void> {
  abort.abort();
  pc?.close();
  if (signaling && sessionId) await signaling.deleteSession(sessionId).catch(() => {});
}

const page: RestViewerPage = {
  start,
  stats,
  send(msg) {
    if (channel?.readyState !== 'open') throw new Error(`input channel is ${channel?.readyState ?? 'not created'}`);
    channel.send(JSON.stringify(msg));
  },
  feedback: () => [...feedback],
  sessionEnded: () => ended,
  stages: () => ({ ...stages }),
  drain,
  frameLog: () => ({ ...frameLog, freezes: [...frameLog.freezes], now: performance.now() }),
  stop,
};
window.restViewer = page;
