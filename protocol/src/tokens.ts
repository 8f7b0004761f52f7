/**
 * The bearer tokens' claims, once. VM, viewer and automation tokens are JWTs
 * signed by the controller with an asymmetric key (ES256); anyone holding the
 * controller's public keys (GET /.well-known/jwks.json) verifies them offline:
 * every controller instance, and the VM agent's CDP gateway for automation
 * tokens. The operator token is a shared secret, not a JWT.
 */
import { z } from 'zod';
import { Id, ViewerRole } from './rest.js';

export const TOKEN_ISSUER = 'vmlive';
export const TOKEN_AUDIENCE = 'vmlive-controller';
/** ECDSA P-256 with SHA-256 (RFC 7518 §3.4). */
export const TOKEN_ALG = 'ES256';
export const JWKS_PATH = '/.well-known/jwks.json';

const base = { sub: Id.meta({ description: 'the vmId the token is scoped to' }), iat: z.number().int() };

/** The VM agent's own token: no expiry (the VM lives until it is deleted). */
export const VmTokenClaims = z.object({ kind: z.literal('vm'), ...base });
export const ViewerTokenClaims = z.object({
  kind: z.literal('viewer'),
  role: ViewerRole,
  jti: z.string().min(1),
  exp: z.number().int(),
  ...base,
});
/** For an automation (Playwright, Puppeteer, an MCP browser server) driving the VM's browser through the CDP gateway. */
export const AutomationTokenClaims = z.object({
  kind: z.literal('automation'),
  jti: z.string().min(1),
  exp: z.number().int(),
  ...base,
});
export const TokenClaims = z.discriminatedUnion('kind', [VmTokenClaims, ViewerTokenClaims, AutomationTokenClaims]);
export type TokenClaims = z.infer<typeof TokenClaims>;
