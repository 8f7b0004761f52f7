/**
 * Errors the controller raises. The codes and their HTTP statuses are the
 * protocol's registry (protocol/src/errors.ts); the HTTP layer (http/app.ts)
 * maps an ApiError to `{error:{code,message,field?}}` with the registry's status.
 */
import { ERROR_CODES, type ErrorCode } from '@vmlive/protocol';

export { ERROR_CODES, type ErrorCode } from '@vmlive/protocol';

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

  toJSON(): { error: { code: ErrorCode; message: string; field?: string } } {
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
