/**
 * The CDP gateway's HTTP errors: codes from the protocol's registry
 * (protocol/src/errors.ts), answered as its ErrorBody `{error:{code,message}}`,
 * on plain HTTP and on a refused WebSocket upgrade alike.
 *
 * Two situations have no registry code yet; until the protocol gains them
 * they are the gateway's own and kept here, in one table:
 * `bad_upgrade` (400), `browser_unavailable` (502) and `keys_unavailable` (503).
 */
import { ERROR_CODES, type ErrorCode } from '@vmlive/protocol';

export const GATEWAY_ONLY_CODES = {
  bad_upgrade: { status: 400, description: 'Not a valid WebSocket upgrade request (RFC 6455 §4.2.1).' },
  browser_unavailable: { status: 502, description: "The VM's browser does not answer (not started, or restarting)." },
  keys_unavailable: {
    status: 503,
    description: "The controller's public keys (JWKS) could not be fetched, so no token can be verified.",
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type GatewayErrorCode = ErrorCode | keyof typeof GATEWAY_ONLY_CODES;

const isGatewayOnly = (code: GatewayErrorCode): code is keyof typeof GATEWAY_ONLY_CODES =>
  Object.hasOwn(GATEWAY_ONLY_CODES, code);

function statusOf(code: GatewayErrorCode): number {
  return isGatewayOnly(code) ? GATEWAY_ONLY_CODES[code].status : ERROR_CODES[code].status;
}

export class GatewayError extends Error {
  override name = 'GatewayError';
  readonly status: number;

  constructor(
    readonly code: GatewayErrorCode,
    message: string,
  ) {
    super(message);
    this.status = statusOf(code);
  }

  body(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message } });
  }
}

export const gatewayErrors = {
  tokenMissing: () =>
    new GatewayError(
      'unauthorized',
      'an automation token is required: send Authorization: Bearer <token> or use the path prefix /token/<token>/',
    ),
  tokenInvalid: (why: string) => new GatewayError('unauthorized', `the automation token is not valid: ${why}`),
  tokenExpired: () => new GatewayError('token_expired', 'the automation token has expired'),
  forbidden: (why: string) => new GatewayError('forbidden', why),
  controlHeld: (why: string) => new GatewayError('control_held', why),
  badUpgrade: (why: string) => new GatewayError('bad_upgrade', `not a WebSocket upgrade: ${why}`),
  notFound: (path: string) => new GatewayError('not_found', `no such endpoint ${path}`),
  browserUnavailable: (why: string) => new GatewayError('browser_unavailable', `the browser does not answer: ${why}`),
  keysUnavailable: (why: string) =>
    new GatewayError('keys_unavailable', `cannot verify automation tokens: controller keys unavailable (${why})`),
};
