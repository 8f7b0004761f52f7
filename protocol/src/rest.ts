/**
 * REST wire contract between the master controller, the VM agent and viewers.
 * One schema per request body, validated at the controller's edge; response
 * types are shared so the agent and the web viewer never cast by hand.
 * The contract is documented in master-controller/openapi.json.
 */
import { z } from 'zod';

const encoder = new TextEncoder();
export function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

export const LIMITS = Object.freeze({
  sdpBytes: 64 * 1024,
  candidateBytes: 1024,
  candidatesPerSide: 256,
  jsonBodyBytes: 128 * 1024,
  snapshotBytes: 2 * 1024 * 1024,
  maxWaitSeconds: 30,
});

export const ViewerRole = z.enum(['view', 'control']);
export type ViewerRole = z.infer<typeof ViewerRole>;

export const CandidateSide = z.enum(['vm', 'browser']);
export type CandidateSide = z.infer<typeof CandidateSide>;

export const ControlMode = z.enum(['agent', 'user', 'paused']);
export type ControlMode = z.infer<typeof ControlMode>;

export const ControlAction = z.enum(['take', 'release', 'pause', 'resume']);
export type ControlAction = z.infer<typeof ControlAction>;

const sdpString = z
  .string()
  .min(1, 'sdp must not be empty')
  .refine((s) => utf8Length(s) <= LIMITS.sdpBytes, `sdp exceeds ${LIMITS.sdpBytes} bytes`);

export const CreateVmBody = z.object({ name: z.string().min(1).max(128).optional() }).strict();
export type CreateVmBody = z.infer<typeof CreateVmBody>;

export const CreateViewerTokenBody = z.object({ role: ViewerRole, ttlSeconds: z.number().int().min(1) }).strict();
export type CreateViewerTokenBody = z.infer<typeof CreateViewerTokenBody>;

export const HeartbeatBody = z.object({ stats: z.record(z.string(), z.unknown()).optional() }).strict();
export type HeartbeatBody = z.infer<typeof HeartbeatBody>;

export const CreateSessionBody = z.object({ vmId: z.string().min(1).max(64) }).strict();
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

export const OfferBody = z.object({ type: z.literal('offer'), sdp: sdpString }).strict();
export type OfferBody = z.infer<typeof OfferBody>;

export const AnswerBody = z.object({ type: z.literal('answer'), sdp: sdpString }).strict();
export type AnswerBody = z.infer<typeof AnswerBody>;

/** An empty `candidate` string is end-of-candidates (RFC 8838 §8.2, W3C webrtc-pc §4.8.1). */
export const CandidateBody = z
  .object({
    candidate: z
      .string()
      .refine((s) => utf8Length(s) <= LIMITS.candidateBytes, `candidate exceeds ${LIMITS.candidateBytes} bytes`),
    sdpMLineIndex: z.number().int().min(0).max(255),
    sdpMid: z.string().max(64).nullable().optional(),
    from: CandidateSide,
  })
  .strict();
export type CandidateBody = z.infer<typeof CandidateBody>;

export const ControlBody = z.object({ action: ControlAction, sessionId: z.string().min(1).max(64) }).strict();
export type ControlBody = z.infer<typeof ControlBody>;

// ---- responses ----

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface CreateVmResponse {
  vmId: string;
  vmToken: string;
}

export interface ControlState {
  mode: ControlMode;
  /** sessionId of the viewer holding control in mode `user`; 'operator' or null otherwise */
  holder: string | null;
  /** ms since epoch of the last change */
  since: number;
}

export interface VmSummary {
  vmId: string;
  name: string;
  online: boolean;
  lastSeenAt: number | null;
  viewers: number;
  control: ControlState;
  stats?: Record<string, unknown>;
}

export interface ListVmsResponse {
  vms: VmSummary[];
}

export interface ViewerTokenResponse {
  token: string;
  expiresAt: number;
}

export interface SessionDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

export interface OfferedSession {
  sessionId: string;
  offer: { type: 'offer'; sdp: string };
  createdAt: number;
}

export interface VmSessionsResponse {
  sessions: OfferedSession[];
  /** Extension: the VM's control state, so the agent learns the holder on the same long-poll. */
  control: ControlState;
  /**
   * Extension: a viewer asked for a screenshot (GET /api/vms/:vmId/snapshot);
   * the VM should PUT a JPEG to /api/vms/:vmId/snapshot soon.
   */
  snapshotWanted?: boolean;
}

export interface CreateSessionResponse {
  sessionId: string;
  iceServers: IceServer[];
  expiresAt: number;
  /**
   * Whether the VM's agent is polling or heartbeating right now. When false a
   * viewer can say "VM offline" at once instead of waiting for an answer that
   * will not come. (Optional for clients of older controllers.)
   */
  vmOnline?: boolean;
}

export interface PostCandidateResponse {
  seq: number;
  timestamp: number;
}

export interface StoredCandidate {
  candidate: string;
  sdpMLineIndex: number;
  sdpMid: string | null;
  seq: number;
  timestamp: number;
}

export interface CandidatesResponse {
  candidates: StoredCandidate[];
  cursor: number;
}
