/**
 * One example of every message kind on the agent ⇄ helper and viewer ⇄ helper channels, with
 * every optional field that kind has, for the round-trip test across TypeScript and Python
 * (contract-roundtrip.test.ts asserts that every discriminant of each union is here).
 */
import type { HelperCommand, HelperEvent, InputFeedback, InputMessage } from '@vmlive/protocol';

const SDP =
  'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n';

export const COMMANDS: HelperCommand[] = [
  {
    type: 'add-peer',
    peerId: 'p1',
    iceServers: [
      { urls: 'stun:127.0.0.1:3478' },
      { urls: ['turn:127.0.0.1:3478?transport=udp', 'turns:t:5349'], username: 'u', credential: 'c' },
    ],
  },
  { type: 'remote-description', peerId: 'p1', sdpType: 'offer', sdp: SDP },
  { type: 'restart-ice', peerId: 'p1', sdpType: 'offer', sdp: SDP },
  {
    type: 'remote-candidate',
    peerId: 'p1',
    candidate: 'candidate:1 1 udp 2122260223 10.0.0.1 50000 typ host',
    sdpMLineIndex: 0,
  },
  { type: 'remove-peer', peerId: 'p1', reason: 'session-ended' },
  { type: 'set-control-holder', peerId: null },
  { type: 'get-stats', peerId: 'p1', requestId: 7 },
  { type: 'snapshot', peerId: null, requestId: 8, quality: 55 },
  { type: 'shutdown', peerId: null },
  {
    type: 'recording-start',
    peerId: null,
    recordingId: 'rec1',
    directory: '/var/spool/vmlive/rec1',
    segmentSeconds: 60,
  },
  { type: 'recording-stop', peerId: null, recordingId: 'rec1' },
];

const encoder = {
  codec: 'h264',
  width: 1280,
  height: 720,
  fps: 29.5,
  bitrateKbps: 2411.3,
  framesEncoded: 1234,
  keyframesForced: 3,
  captureToSendMs: 9.25,
  running: true,
} as const;

export const EVENTS: HelperEvent[] = [
  {
    type: 'ready',
    peerId: null,
    version: '0.3.0',
    codec: 'vp8',
    width: 1280,
    height: 720,
    fps: 30,
    capture: 'damage',
    pid: 4242,
  },
  { type: 'local-description', peerId: 'p1', sdpType: 'answer', sdp: SDP },
  { type: 'local-candidate', peerId: 'p1', candidate: '', sdpMLineIndex: 0 },
  { type: 'peer-state', peerId: 'p1', ice: 'connected', dtls: 'connected', connection: 'connected' },
  {
    type: 'recording-segment',
    peerId: null,
    recordingId: 'rec1',
    path: '/var/spool/vmlive/rec1/1796226383263-00000.webm',
    mediaType: 'video/webm',
    startedAt: 1796226383270,
    durationMs: 60000,
    bytes: 18_000_000,
  },
  { type: 'recording-stopped', peerId: null, recordingId: 'rec1', segments: 3 },
  {
    type: 'stats',
    peerId: null,
    requestId: 7,
    encoder,
    peers: {
      p1: {
        bytesSent: 123456,
        packetsSent: 200,
        roundTripTime: 0.012,
        nackCount: 1,
        pliCount: 2,
        firCount: 0,
        packetsLost: null,
        bitrateKbps: 950.5,
        connectionState: 'connected',
        layer: 'full',
        queueDelayMs: 3.5,
        input: { pointer: 3, key: 2, wheel: 1 },
      },
    },
    process: { cpuPercent: 21.5, rssBytes: 120_000_000 },
  },
  { type: 'input-rejected', peerId: 'p2', reason: 'invalid', detail: 'x: must be <= 1' },
  { type: 'snapshot-result', peerId: null, requestId: 8, jpeg: null, error: 'no display' },
  { type: 'error', peerId: 'p1', code: 'negotiation-failed', message: 'remote-description: no VP8 — “ünïcode”' },
  { type: 'peer-lost', peerId: 'p1', reason: 'silent', silentMs: 5012 },
  { type: 'log', peerId: null, level: 'warn', msg: 'pipeline warning' },
];

export const INPUTS: InputMessage[] = [
  { t: 'pointer', action: 'down', x: 0.25, y: 1, button: 2 },
  { t: 'wheel', x: 0, y: 0.5, dx: -3.5, dy: 120 },
  { t: 'key', action: 'down', key: 'A', code: 'KeyA', mods: { shift: true, ctrl: false } },
  { t: 'text', text: `héllo wörld ${'😀'.repeat(4084)}` }, // 4096 code points: the longest valid text
];

export const FEEDBACK: InputFeedback[] = [
  { t: 'control', granted: true },
  { t: 'rejected', reason: 'not-holder', detail: 'someone else holds control' },
];

/** Lines both sides must refuse: a Python check looser or stricter than zod's shows up here. */
export const INVALID: Array<{ kind: 'command' | 'input'; line: string }> = [
  { kind: 'command', line: '{"type":"add-peer","peerId":""}' },
  { kind: 'command', line: '{"type":"remote-candidate","peerId":"p","candidate":"c","sdpMLineIndex":0.5}' },
  { kind: 'command', line: '{"type":"get-stats","peerId":null,"requestId":true}' },
  { kind: 'command', line: '{"type":"snapshot","requestId":1,"quality":101}' },
  { kind: 'command', line: '{"type":"add-peer","peerId":"p","iceServers":[{"urls":[]}]}' },
  { kind: 'command', line: '{"type":"set-control-holder"}' },
  { kind: 'command', line: `{"type":"remove-peer","peerId":"${'x'.repeat(65)}"}` },
  { kind: 'input', line: '{"t":"pointer","action":"move","x":1.01,"y":0}' },
  { kind: 'input', line: '{"t":"key","action":"down","key":"","code":"KeyA"}' },
  { kind: 'input', line: '{"t":"key","action":"down","key":"a","code":"KeyA","mods":{"shift":1}}' },
  // lengths count code points on both sides (JSON Schema; zod 4), so 4097 emoji, not 2049
  { kind: 'input', line: `{"t":"text","text":"${'😀'.repeat(4097)}"}` },
  { kind: 'input', line: '{"t":"drag"}' },
];
