/**
 * The one registry of API error codes. Every error the controller sends is
 * `{error:{code,message,field?}}` with the HTTP status listed here; the
 * OpenAPI document lists every code (checked by openapi.test.ts).
 */

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
  internal: { status: 500, description: 'Unexpected server error (a bug).' },
  snapshot_unavailable: { status: 503, description: 'The VM uploaded no fresh snapshot in time.' },
  shutting_down: { status: 503, description: 'The controller is shutting down.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.field = field;
  }

  toJSON(): { error: { code: string; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } };
  }
}

export const apiError = (code: ErrorCode, message: string, field?: string): ApiError =>
  new ApiError(code, message, field);

// Small factories for the errors raised in many places.
export const errors = {
  unauthorized: (message = 'missing or invalid bearer token') => apiError('unauthorized', message),
  forbidden: (message: string, field?: string) => apiError('forbidden', message, field),
  vmNotFound: (vmId: string) => apiError('vm_not_found', `no VM ${vmId}`),
  sessionNotFound: (sessionId: string) => apiError('session_not_found', `no session ${sessionId}`),
};
