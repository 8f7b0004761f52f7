// @ts-check
/**
 * Minimal headless WebRTC viewer for measurements: it speaks the controller's
 * REST contract directly (no React, no web/ code) so the numbers are the
 * transport's. The page is served by the scripts' own server, which proxies
 * /api/* to the controller (same origin, no CORS dependency).
 *
 * Flow (viewer is the offerer, trickle ICE over long-poll, issue 2's contract):
 * POST /api/webrtc/session → createOffer → POST offer → GET answer?wait →
 * POST browser candidates / long-poll vm candidates with the cursor.
 */
import { Collector } from './measure.js';

/**
 * @typedef {{ token: string, vmId: string, clockOffsetMs?: number, viewportW?: number, codec?: string }} Config
 */

const video = /** @type {HTMLVideoElement} */ (document.getElementById('v'));
/** @type {RTCPeerConnection | null} */
let pc = null;
/** @type {string | null} */
let sessionId = null;
let closed = false;
/** @type {Collector | null} */
let collector = null;
const timing = { offerAt: /** @type {number | null} */ (null), answerAt: /** @type {number | null} */ (null) };
/** @type {string[]} */
const errors = [];

/** @param {string} path @param {string} token @param {RequestInit} [init] */
async function api(path, token, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  if (res.status >= 400) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status} ${await res.text()}`);
  return res;
}

/** @param {Config} cfg */
async function start(cfg) {
  collector = new Collector({ clockOffsetMs: cfg.clockOffsetMs ?? 0, viewportW: cfg.viewportW ?? 1280 });
  const created = await (
    await api('/api/webrtc/session', cfg.token, { method: 'POST', body: JSON.stringify({ vmId: cfg.vmId }) })
  ).json();
  sessionId = created.sessionId;
  const base = `/api/webrtc/session/${encodeURIComponent(created.sessionId)}`;
  pc = new RTCPeerConnection({ iceServers: created.iceServers ?? [], bundlePolicy: 'max-bundle' });
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  if (cfg.codec) {
    const want = `video/${cfg.codec}`.toLowerCase();
    const caps = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
    const preferred = caps.filter((c) => c.mimeType.toLowerCase() === want);
    if (preferred.length) transceiver.setCodecPreferences(preferred);
  }
  // Same shape as the real viewer's offer (video + the input data channel).
  pc.createDataChannel('input');
  // Ask for no extra playout delay; only the sender's playout-delay extension can
  // actually cap it (issue 3), but this keeps the receiver's own target at 0.
  /** @type {any} */ (transceiver.receiver).jitterBufferTarget = 0;
  pc.ontrack = (ev) => {
    video.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
    video.play().catch((e) => errors.push(`play: ${e}`));
  };

  let offerPosted = false;
  /** @type {RTCIceCandidate[]} */
  const early = [];
  /** @param {RTCIceCandidate | null} c */
  const postCandidate = (c) =>
    api(`${base}/candidate`, cfg.token, {
      method: 'POST',
      body: JSON.stringify({
        candidate: c ? c.candidate : '',
        sdpMLineIndex: c?.sdpMLineIndex ?? 0,
        sdpMid: c?.sdpMid ?? null,
        from: 'browser',
      }),
    }).catch((e) => errors.push(`candidate: ${e}`));
  pc.onicecandidate = (ev) => {
    if (ev.candidate && !ev.candidate.candidate) return;
    if (!offerPosted && ev.candidate) early.push(ev.candidate);
    else void postCandidate(ev.candidate);
  };

  timing.offerAt = performance.now();
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await api(`${base}/offer`, cfg.token, { method: 'POST', body: JSON.stringify({ type: 'offer', sdp: offer.sdp }) });
  offerPosted = true;
  for (const c of early.splice(0)) void postCandidate(c);

  for (;;) {
    if (closed) return;
    const res = await api(`${base}/answer?wait=10`, cfg.token);
    if (res.status === 200) {
      const answer = await res.json();
      await pc.setRemoteDescription(answer);
      timing.answerAt = performance.now();
      break;
    }
  }
  void pollCandidates(base, cfg.token);
  video.requestVideoFrameCallback(onFrame);
}

/** @param {string} base @param {string} token */
async function pollCandidates(base, token) {
  let cursor = 0;
  while (!closed && pc) {
    try {
      const res = await api(`${base}/candidates/vm?since=${cursor}&wait=10`, token);
      const body = await res.json();
      cursor = body.cursor;
      for (const c of body.candidates) {
        if (!c.candidate) continue; // end-of-candidates
        await pc.addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid });
      }
    } catch (e) {
      if (closed) return;
      errors.push(`candidates: ${e}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** @type {VideoFrameRequestCallback} */
function onFrame(_now, meta) {
  if (closed) return;
  collector?.observe(video, meta.width, { receiveTime: meta.receiveTime });
  video.requestVideoFrameCallback(onFrame);
}

/** Flattened getStats: the video inbound-rtp, the selected candidate pair, and states. */
async function stats() {
  if (!pc) return null;
  const report = await pc.getStats();
  /** @type {any} */
  let inbound = null;
  /** @type {any} */
  let pair = null;
  /** @type {Record<string, any>} */
  const byId = {};
  report.forEach((s) => {
    byId[s.id] = s;
    if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
  });
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId[s.selectedCandidatePairId];
  });
  if (!pair) {
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
  }
  return {
    /** when the inbound stats were taken (performance clock, ms): rates use this, not the caller's clock */
    timestamp: inbound?.timestamp ?? performance.now(),
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
    bytesReceived: inbound?.bytesReceived ?? 0,
    packetsReceived: inbound?.packetsReceived ?? 0,
    packetsLost: inbound?.packetsLost ?? 0,
    framesDecoded: inbound?.framesDecoded ?? 0,
    framesDropped: inbound?.framesDropped ?? 0,
    framesPerSecond: inbound?.framesPerSecond ?? 0,
    frameWidth: inbound?.frameWidth ?? 0,
    frameHeight: inbound?.frameHeight ?? 0,
    freezeCount: inbound?.freezeCount ?? 0,
    totalFreezesDuration: inbound?.totalFreezesDuration ?? 0,
    jitterBufferDelay: inbound?.jitterBufferDelay ?? 0,
    jitterBufferEmittedCount: inbound?.jitterBufferEmittedCount ?? 0,
    totalDecodeTime: inbound?.totalDecodeTime ?? 0,
    nackCount: inbound?.nackCount ?? 0,
    pliCount: inbound?.pliCount ?? 0,
    codec: inbound?.codecId ? (byId[inbound.codecId]?.mimeType ?? '') : '',
    decoderImplementation: inbound?.decoderImplementation ?? '',
    rttMs: pair?.currentRoundTripTime !== undefined ? pair.currentRoundTripTime * 1000 : null,
  };
}

function drain() {
  const d = collector?.drain() ?? null;
  return {
    ...d,
    ttffMs: d?.firstDecodedAt != null && timing.offerAt != null ? d.firstDecodedAt - timing.offerAt : null,
    answerMs: timing.answerAt != null && timing.offerAt != null ? timing.answerAt - timing.offerAt : null,
    errors: errors.splice(0),
  };
}

/** @param {string} token */
async function stop(token) {
  closed = true;
  pc?.close();
  if (sessionId) {
    await fetch(`/api/webrtc/session/${encodeURIComponent(sessionId)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => {});
  }
}

/** @type {any} */ (window).viewer = { start, drain, stats, stop };
