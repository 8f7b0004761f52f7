/**
 * Reads a viewer token's claims in the browser FOR UI PURPOSES ONLY (which
 * buttons to show, whether it has visibly expired). Nothing is verified here:
 * the controller checks every token's signature, role and expiry itself.
 */
import { ViewerRole } from '@vmlive/protocol';

export interface TokenClaims {
  role: ViewerRole | null;
  vmId: string | null;
  /** seconds since epoch, as in JWT `exp` (RFC 7519 §4.1.4) */
  exp: number | null;
}

function base64UrlDecode(segment: string): string {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Returns null when the token is not a JWT (e.g. the operator token). */
export function readTokenClaims(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null) return null;
  const p = payload as Record<string, unknown>;
  const role = ViewerRole.safeParse(p.role);
  const vmId = typeof p.sub === 'string' ? p.sub : null;
  return {
    role: role.success ? role.data : null,
    vmId,
    exp: typeof p.exp === 'number' ? p.exp : null,
  };
}

export function isTokenExpired(token: string, nowMs: number): boolean {
  const claims = readTokenClaims(token);
  return claims?.exp != null && claims.exp * 1000 <= nowMs;
}
