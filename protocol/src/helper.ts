/**
 * JSON-lines protocol between the TypeScript webrtc-server (agent) and the
 * Python GStreamer helper, one message per line on the helper's stdin/stdout.
 * The helper's stdout carries only these lines; its logs go to stderr.
 * The Python side mirrors these shapes in vm-browser-agent/helper/vmlive_helper/protocol.py.
 */
import { z } from 'zod';
import { IceServer } from './rest.js';

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
]);
export type HelperErrorCode = z.infer<typeof HelperErrorCode>;

// ---- agent → helper ----
export const AddPeer = z.object({
  type: z.literal('add-peer'),
  peerId,
  iceServers: z.array(IceServer).default([]),
});
export const RemoteDescription = z.object({
  type: z.literal('remote-description'),
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

export const HelperCommand = z.discriminatedUnion('type', [
  AddPeer,
  RemoteDescription,
  RemoteCandidate,
  RemovePeer,
  SetControlHolder,
  GetStats,
  Snapshot,
  Shutdown,
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
});
export type EncoderStats = z.infer<typeof EncoderStats>;

export const Ready = z.object({
  type: z.literal('ready'),
  peerId: z.null(),
  version: z.string(),
  codec: z.enum(['vp8', 'h264']),
  width: z.number().int(),
  height: z.number().int(),
  fps: z.number().int(),
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
  HelperLog,
]);
export type HelperEvent = z.infer<typeof HelperEvent>;

/** Exit code the helper uses for invalid settings: the agent must not restart-loop on it. */
export const HELPER_EXIT_BAD_CONFIG = 42;
