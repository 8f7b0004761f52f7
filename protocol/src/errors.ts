/**
 * The one registry of API error codes: code → HTTP status → description.
 * The controller raises only these (its HTTP layer maps code → status here),
 * clients branch on the code (never on a bare status), and the OpenAPI
 * document lists every code (openapi.test.ts checks each is documented).
 */
import { z } from 'zod';

export const ERROR_CODES = {
  invalid_json: { status: 400, description: 'The request body is not valid JSON.' },
  invalid_body: { status: 400, description: 'The body failed validation; `field` names the first bad field.' },
  invalid_query: { status: 400, description: 'A query parameter is malformed or out of range; `field` names it.' },
  invalid_sdp: {
    status: 400,
    description:
      'WHEP: the SDP offer or the trickle-ice-sdpfrag body is malformed (no v=0, no ICE credentials, no fingerprint, a bad line).',
  },
  unauthorized: { status: 401, description: 'Missing, malformed or badly signed bearer token.' },
  token_expired: { status: 401, description: 'The viewer token has expired.' },
  forbidden: {
    status: 403,
    description: 'The token is valid but may not do this (wrong kind, other VM, role, owner).',
  },
  not_found: { status: 404, description: 'No such route.' },
  vm_not_found: { status: 404, description: 'Unknown (or deleted) vmId.' },
  session_not_found: { status: 404, description: 'Unknown, ended or expired sessionId.' },
  step_not_found: { status: 404, description: 'The run has no step with this index (or no thumbnail for it).' },
  override_not_found: { status: 404, description: 'No override with this id on this VM (or it was dropped).' },
  recording_not_found: { status: 404, description: 'This VM has no recording with this id (or retention dropped it).' },
  segment_not_found: {
    status: 404,
    description: 'The recording has no segment with this index (or retention dropped it).',
  },
  offer_not_found: { status: 404, description: 'The session has no offer yet.' },
  method_not_allowed: {
    status: 405,
    description: 'The path exists but not with this method; `Allow` lists those it has.',
  },
  offer_exists: { status: 409, description: 'The session already has an offer.' },
  answer_exists: { status: 409, description: 'The session is already answered.' },
  offer_missing: { status: 409, description: 'An answer, or an ICE restart, was posted before any offer.' },
  too_many_candidates: { status: 409, description: 'This side already posted the maximum number of candidates.' },
  control_held: { status: 409, description: 'Another session holds control.' },
  not_holder: { status: 409, description: 'The action needs the control holder, and this session does not hold it.' },
  override_acked: { status: 409, description: 'The override was already acked with another result.' },
  too_many_overrides: {
    status: 409,
    description: 'The VM already has the maximum number of queued overrides; wait for the automation to ack them.',
  },
  vm_offline: {
    status: 409,
    description: 'WHEP: the VM is not online, so there is no stream to play yet; `Retry-After` says when to try again.',
  },
  recording_active: { status: 409, description: 'The VM is already recording; stop that recording first.' },
  precondition_failed: {
    status: 412,
    description: 'WHEP PATCH: `If-Match` names another ICE session than the current one (its `ETag`).',
  },
  body_too_large: { status: 413, description: 'The body exceeds the size limit.' },
  unsupported_media_type: { status: 415, description: 'The Content-Type is not accepted by this route.' },
  offer_unsupported: {
    status: 422,
    description:
      'WHEP: a well-formed offer the VM cannot serve: no video section that can receive its codec (VP8 or H.264 packetization-mode 1), or the VM refused it.',
  },
  ice_restart_unsupported: {
    status: 422,
    description:
      'WHEP PATCH: an ICE restart (`If-Match: *` or new ice-ufrag/ice-pwd); sessions take trickle candidates only, so the current ICE session is kept.',
  },
  range_not_satisfiable: {
    status: 416,
    description:
      'The Range asked for starts past the end of the segment; `Content-Range: bytes */<size>` gives its size.',
  },
  precondition_required: { status: 428, description: 'WHEP PATCH: no `If-Match` header (its value is the `ETag`).' },
  too_many_sessions: { status: 429, description: 'The controller holds the maximum number of live sessions.' },
  rate_limited: {
    status: 429,
    description:
      'This token or client address spent its budget for this class of route (writes, reads and long-polls, token minting); retry after the `Retry-After` seconds.',
  },
  too_many_long_polls: {
    status: 429,
    description: 'This token already holds the maximum number of open long-polls; retry after `Retry-After` seconds.',
  },
  internal: { status: 500, description: 'Unexpected server error (a bug).' },
  snapshot_unavailable: { status: 503, description: 'The VM uploaded no fresh snapshot in time.' },
  answer_timeout: {
    status: 503,
    description: 'WHEP: the VM did not answer the offer in time (nothing is left behind); retry after `Retry-After`.',
  },
  shutting_down: { status: 503, description: 'The controller is shutting down.' },
  store_unavailable: {
    status: 503,
    description:
      'The shared store (Redis, VMLIVE_STORE) is unreachable; nothing was changed, or a retried write is not repeated. Retry: the controller recovers by itself once the store is back.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ErrorCodeSchema = z
  .enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])
  .meta({ id: 'ErrorCode', description: 'One code of the error registry (protocol/src/errors.ts).' });

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export const ErrorBody = z
  .object({
    error: z.object({
      code: ErrorCodeSchema,
      message: z.string(),
      field: z.string().optional().meta({ description: 'the offending body field or query parameter' }),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;
