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
  unauthorized: { status: 401, description: 'Missing, malformed or badly signed bearer token.' },
  token_expired: { status: 401, description: 'The viewer token has expired.' },
  forbidden: {
    status: 403,
    description: 'The token is valid but may not do this (wrong kind, other VM, role, owner).',
  },
  not_found: { status: 404, description: 'No such route.' },
  vm_not_found: { status: 404, description: 'Unknown (or deleted) vmId.' },
  session_not_found: { status: 404, description: 'Unknown, ended or expired sessionId.' },
  offer_not_found: { status: 404, description: 'The session has no offer yet.' },
  offer_exists: { status: 409, description: 'The session already has an offer.' },
  answer_exists: { status: 409, description: 'The session is already answered.' },
  offer_missing: { status: 409, description: 'An answer was posted before any offer.' },
  too_many_candidates: { status: 409, description: 'This side already posted the maximum number of candidates.' },
  control_held: { status: 409, description: 'Another session holds control.' },
  not_holder: { status: 409, description: 'The action needs the control holder, and this session does not hold it.' },
  body_too_large: { status: 413, description: 'The body exceeds the size limit.' },
  unsupported_media_type: { status: 415, description: 'The Content-Type is not accepted by this route.' },
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
