/**
 * JSON-lines protocol between the TypeScript webrtc-server (agent) and the
 * Python GStreamer helper, one message per line on the helper's stdin/stdout.
 * The helper's stdout carries only these lines; its logs go to stderr.
 * The helper's settings are a table here too, parsed by the agent and handed
 * over as one JSON value (`--settings=<json>`).
 *
 * The Python side gets these schemas from a generated artefact,
 * vm-browser-agent/helper/vmlive_helper/contract.json (`npm run gen -w protocol`;
 * helper-contract.test.ts fails when it is stale), so no shape is written twice.
 */
import { z } from 'zod';
import { IceServer, IceTransportPolicy, InputCounts } from './rest.js';
import { type ConfigOf, setting, settingsSchema } from './settings.js';

const peerId = z.string().min(1).max(64);

/**
 * Codes of the helper's `error` events. The VM agent decides on them
 * (webrtc-server.ts keeps one table: which end the peer, which are only logged).
 */
export const HelperErrorCode = z.enum([
  'invalid-command', // a line failed validation (a bug in the VM agent)
  'command-failed', // a valid command raised (logged, nothing else changes)
  'negotiation-failed', // this peer's offer/answer failed: the peer is unusable
  'candidate-rejected', // one remote candidate could not be added (ICE uses the others)
  'pipeline-error', // a GStreamer error; with a peerId it is that viewer's branch
  'input-failed', // XTEST injection raised
  'bad-config', // settings rejected at start (exit 42)
  'missing-dependency', // a typelib or element is missing (exit 42)
  'startup-failed', // start-up raised (exit 1: retryable)
  'recording-failed', // the recording branch could not start or broke (the stream goes on)
]);
export type HelperErrorCode = z.infer<typeof HelperErrorCode>;

// ---- agent → helper ----
export const AddPeer = z.object({
  type: z.literal('add-peer'),
  peerId,
  iceServers: z.array(IceServer).default([]),
  /** relay: this peer gathers and uses TURN relay candidates only (webrtcbin ice-transport-policy). */
  iceTransportPolicy: IceTransportPolicy.default('all'),
});
export const RemoteDescription = z.object({
  type: z.literal('remote-description'),
  peerId,
  sdpType: z.literal('offer'),
  sdp: z.string().min(1),
});
/**
 * An ICE restart of a connected peer (RFC 8445 §9): the viewer's new offer, with new
 * ice-ufrag/ice-pwd (RFC 8839 §4.4.1.1.1). The helper restarts the peer's ICE agent, answers
 * with new local credentials (a `local-description`) and trickles its candidates again; the
 * media, the DTLS association and the data channel stay.
 */
export const RestartIce = z.object({
  type: z.literal('restart-ice'),
  peerId,
  sdpType: z.literal('offer'),
  sdp: z.string().min(1),
});
export const RemoteCandidate = z.object({
  type: z.literal('remote-candidate'),
  peerId,
  /** empty string = end-of-candidates */
  candidate: z.string(),
  sdpMLineIndex: z.number().int().min(0),
});
export const RemovePeer = z.object({ type: z.literal('remove-peer'), peerId, reason: z.string().optional() });
/** peerId of the peer allowed to inject input, or null for nobody (agent mode / paused). */
export const SetControlHolder = z.object({ type: z.literal('set-control-holder'), peerId: peerId.nullable() });
export const GetStats = z.object({
  type: z.literal('get-stats'),
  peerId: peerId.nullable(),
  requestId: z.number().int(),
});
export const Snapshot = z.object({
  type: z.literal('snapshot'),
  peerId: z.null().default(null),
  requestId: z.number().int(),
  quality: z.number().int().min(1).max(100).default(70),
});
export const Shutdown = z.object({ type: z.literal('shutdown'), peerId: z.null().default(null) });
const recordingId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/**
 * Start writing the shared encoder's output (no re-encode) into `directory`, one file per
 * `segmentSeconds` (each starting on a keyframe); every finished file is reported as a
 * `recording-segment`. The capture runs while a recording does, viewers or not.
 */
export const RecordingStart = z.object({
  type: z.literal('recording-start'),
  peerId: z.null().default(null),
  recordingId,
  directory: z.string().min(1).max(4096),
  segmentSeconds: z.number().int().min(1).max(3600),
});
/** Close the segment being written (reported like the others), then stop recording. */
export const RecordingStop = z.object({
  type: z.literal('recording-stop'),
  peerId: z.null().default(null),
  recordingId,
});

export const HelperCommand = z.discriminatedUnion('type', [
  AddPeer,
  RemoteDescription,
  RestartIce,
  RemoteCandidate,
  RemovePeer,
  SetControlHolder,
  GetStats,
  Snapshot,
  Shutdown,
  RecordingStart,
  RecordingStop,
]);
export type HelperCommand = z.input<typeof HelperCommand>;

// ---- helper → agent ----
export const PeerStats = z.object({
  bytesSent: z.number(),
  packetsSent: z.number(),
  roundTripTime: z.number().nullable(),
  nackCount: z.number(),
  pliCount: z.number(),
  firCount: z.number(),
  packetsLost: z.number().nullable(),
  bitrateKbps: z.number().nullable(),
  connectionState: z.string(),
  /** which shared encoding this viewer's branch carries (link adaptation, VMLIVE_LINK_ADAPT) */
  layer: z.enum(['full', 'reduced']),
  queueDelayMs: z
    .number()
    .nullable()
    .meta({
      description:
        "queueing delay on this viewer's path from its transport-wide congestion control feedback (VMLIVE_TWCC): " +
        'the median one-way delay of the last 150 ms above the least of the last 10 s, ms; null without feedback',
    }),
  /** input injected from this viewer since it was added (counts only: protocol audit.ts) */
  input: InputCounts,
});
export type PeerStats = z.infer<typeof PeerStats>;

export const EncoderStats = z.object({
  codec: z.enum(['vp8', 'h264']),
  width: z.number().int(),
  height: z.number().int(),
  fps: z.number(),
  bitrateKbps: z.number(),
  framesEncoded: z.number().int(),
  keyframesForced: z.number().int(),
  running: z.boolean(),
  captureToSendMs: z
    .number()
    .min(0)
    .nullable()
    .meta({
      description:
        'the VM side of glass-to-glass: screen changed (XDamage) → RTP packet out of the payloader, p50 over the ' +
        'last 2 s of frames sent to viewers that asked for abs-capture-time, ms; null when none did',
    }),
});
export type EncoderStats = z.infer<typeof EncoderStats>;

/** How the helper grabs the screen: on XDamage notifications, or every 1/fps s (ximagesrc). */
const CAPTURE_MODES = ['damage', 'timer'] as const;
export const CaptureMode = z.enum(CAPTURE_MODES);
export type CaptureMode = z.infer<typeof CaptureMode>;

export const Ready = z.object({
  type: z.literal('ready'),
  peerId: z.null(),
  version: z.string(),
  codec: z.enum(['vp8', 'h264']),
  width: z.number().int(),
  height: z.number().int(),
  fps: z.number().int(),
  /** the capture in use: `timer` when damage was asked for but this X server cannot do it */
  capture: CaptureMode,
  pid: z.number().int(),
});
export const LocalDescription = z.object({
  type: z.literal('local-description'),
  peerId,
  sdpType: z.literal('answer'),
  sdp: z.string(),
});
export const LocalCandidate = z.object({
  type: z.literal('local-candidate'),
  peerId,
  candidate: z.string(),
  sdpMLineIndex: z.number().int().min(0),
});
export const PeerState = z.object({
  type: z.literal('peer-state'),
  peerId,
  ice: z.string(),
  dtls: z.string(),
  connection: z.string(),
});
export const Stats = z.object({
  type: z.literal('stats'),
  peerId: peerId.nullable(),
  requestId: z.number().int().nullable(),
  encoder: EncoderStats,
  peers: z.record(z.string(), PeerStats),
  process: z.object({ cpuPercent: z.number(), rssBytes: z.number() }),
});
export const InputRejected = z.object({
  type: z.literal('input-rejected'),
  peerId,
  reason: z.enum(['not-holder', 'invalid']),
  detail: z.string().optional(),
});
export const SnapshotResult = z.object({
  type: z.literal('snapshot-result'),
  peerId: z.null(),
  requestId: z.number().int(),
  /** base64 JPEG, or null when the capture failed */
  jpeg: z.string().nullable(),
  error: z.string().optional(),
});
export const HelperError = z.object({
  type: z.literal('error'),
  peerId: peerId.nullable(),
  code: HelperErrorCode,
  message: z.string(),
});
/**
 * A connected viewer stopped answering: nothing arrived from it for `silentMs`
 * (reason `silent`), or its data channel's SCTP association ended (`sctp-closed`:
 * the viewer closed its RTCPeerConnection, which aborts the association, RFC 4960
 * section 9.1). Sent once per peer; the helper keeps the peer until the agent
 * removes it. Why silence is the signal, and the threshold
 * (`VMLIVE_PEER_SILENCE_MS`): vm-browser-agent/helper/README.md, "Dead viewers".
 */
export const PeerLostReason = z.enum(['silent', 'sctp-closed']);
export type PeerLostReason = z.infer<typeof PeerLostReason>;
export const PeerLost = z.object({
  type: z.literal('peer-lost'),
  peerId,
  reason: PeerLostReason,
  /** ms since the last packet from the viewer (since it connected, if none came) */
  silentMs: z.number().int().min(0),
});
/**
 * One finished recording segment: a complete file the agent may upload and delete. `startedAt`
 * is the wall time (ms epoch) of its first frame, `durationMs` its length.
 */
export const RecordingSegment = z.object({
  type: z.literal('recording-segment'),
  peerId: z.null(),
  recordingId,
  path: z.string().min(1),
  mediaType: z.enum(['video/webm', 'video/mp4']),
  startedAt: z.number().int().min(0),
  durationMs: z.number().int().min(0),
  bytes: z.number().int().min(0),
});
export type RecordingSegment = z.infer<typeof RecordingSegment>;
/** The recording's branch is gone (after recording-stop, once its last segment was reported). */
export const RecordingStopped = z.object({
  type: z.literal('recording-stopped'),
  peerId: z.null(),
  recordingId,
  segments: z.number().int().min(0),
});
export const HelperLog = z.object({
  type: z.literal('log'),
  peerId: peerId.nullable(),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  msg: z.string(),
});

export const HelperEvent = z.discriminatedUnion('type', [
  Ready,
  LocalDescription,
  LocalCandidate,
  PeerState,
  Stats,
  InputRejected,
  SnapshotResult,
  HelperError,
  PeerLost,
  RecordingSegment,
  RecordingStopped,
  HelperLog,
]);
export type HelperEvent = z.infer<typeof HelperEvent>;

/** Exit code the helper uses for invalid settings: the agent must not restart-loop on it. */
export const HELPER_EXIT_BAD_CONFIG = 42;

// ---- the helper's settings ----
// One range per setting: the agent parses them from its environment with these
// rows, validates the typed value before spawning, and the helper validates the
// same JSON against the same schema (contract.json). The helper reads no env.

/** An X display name: `[host]:display[.screen]`, e.g. ":99" or "localhost:10.0". */
const X_DISPLAY = /^[A-Za-z0-9_.-]*:[0-9]+(\.[0-9]+)?$/;

export const HELPER_SETTINGS = {
  display: setting.str('DISPLAY', {
    help: 'X display to capture and inject input into',
    pattern: { re: X_DISPLAY, message: 'must be an X display like ":99"' },
  }),
  codec: setting.oneOf('VMLIVE_CODEC', ['vp8', 'h264'] as const, {
    default: 'vp8',
    help: 'video codec shared by all viewers',
  }),
  width: setting.int('VMLIVE_WIDTH', 160, 3840, {
    default: 1280,
    help: 'encoded width (capture is scaled if the screen differs)',
  }),
  height: setting.int('VMLIVE_HEIGHT', 120, 2160, { default: 720, help: 'encoded height' }),
  fps: setting.int('VMLIVE_FPS', 1, 60, {
    default: 30,
    help: 'frame rate (timer: every frame; damage: large changes, small ones up to twice as often, at most 60)',
  }),
  capture: setting.oneOf('VMLIVE_CAPTURE', CAPTURE_MODES, {
    default: 'damage',
    help: 'damage: grab when the screen changes (XDamage), repeat a still picture every 500 ms; timer: grab every 1/fps s',
  }),
  bitrateKbps: setting.int('VMLIVE_BITRATE_KBPS', 100, 50_000, {
    default: 2500,
    help: 'encoder target bitrate (kbit/s)',
  }),
  keyframeIntervalS: setting.int('VMLIVE_KEYFRAME_INTERVAL_S', 1, 3600, {
    default: 5,
    help: 'longest GOP in seconds (viewers also get a keyframe on join and on PLI/FIR)',
  }),
  keyframeThrottleMs: setting.int('VMLIVE_KEYFRAME_THROTTLE_MS', 0, 5000, {
    default: 250,
    help: 'at most one forced keyframe per this window (ms), across all viewers',
  }),
  vp8CpuUsed: setting.int('VMLIVE_VP8_CPU_USED', -16, 16, { default: 8, help: 'libvpx speed/quality trade-off' }),
  playoutDelay: setting.bool('VMLIVE_PLAYOUT_DELAY', {
    default: true,
    help: 'write the playout-delay RTP header extension (min=max=0) when the viewer offers it',
  }),
  rtx: setting.bool('VMLIVE_RTX', {
    default: true,
    help: 'retransmit what a viewer NACKs, as RTX (RFC 4588), when its offer has rtx for the codec',
  }),
  twcc: setting.bool('VMLIVE_TWCC', {
    default: true,
    help: 'ask each viewer for transport-wide congestion control feedback (per-packet arrival times) when its offer has it, and read its queueing delay in link adaptation',
  }),
  linkAdapt: setting.bool('VMLIVE_LINK_ADAPT', {
    default: true,
    help: 'move a viewer whose link loses what the full encoding needs to a reduced one (half size, reducedBitrateKbps), and back when its link carries the full one again',
  }),
  reducedBitrateKbps: setting.int('VMLIVE_REDUCED_BITRATE_KBPS', 50, 10_000, {
    default: 300,
    help: 'bitrate of the reduced encoding (kbit/s), encoded only while some viewer is on it',
  }),
  iceTcp: setting.bool('VMLIVE_ICE_TCP', {
    default: false,
    help: 'also gather ICE-TCP candidates (off: half the candidate pairs; TURN covers TCP-only paths)',
  }),
  peerSilenceMs: setting.int('VMLIVE_PEER_SILENCE_MS', 2000, 60_000, {
    default: 5000,
    help: 'a connected viewer that sent nothing (RTCP, data channel) for this long is reported gone (peer-lost) and its session ended',
  }),
  mtu: setting.int('VMLIVE_RTP_MTU', 576, 1500, {
    default: 1200,
    help: 'RTP payloader MTU (leaves room for the header extension and SRTP)',
  }),
  nice: setting.int('VMLIVE_NICE', -20, 19, {
    default: -10,
    help: 'scheduling priority the VM agent and the helper ask for at start (negative needs root/CAP_SYS_NICE; failure is ignored)',
  }),
  logLevel: setting.oneOf('VMLIVE_HELPER_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, {
    default: 'info',
    help: 'lowest level of the log lines the helper writes to stderr',
  }),
} as const;

export type HelperSettings = ConfigOf<typeof HELPER_SETTINGS>;
/** The settings as the helper receives them: every key, defaults applied by the sender. */
export const HelperSettings = settingsSchema(HELPER_SETTINGS);
