/**
 * Bearer tokens. The operator token is a shared secret from config; VM and
 * viewer tokens are HS256 JWTs (jose) so any controller instance sharing
 * VMLIVE_TOKEN_SECRET verifies them without a lookup.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ViewerRole } from '@vmlive/protocol';
import { errors as jose, jwtVerify, SignJWT } from 'jose';
import { ApiError, errors } from '../errors.js';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'vm'; vmId: string }
  | { kind: 'viewer'; vmId: string; role: ViewerRole; tokenId: string; expiresAt: number };

const ISSUER = 'vmlive';
const AUDIENCE = 'vmlive-controller';
/** Verified tokens are cached so a long-poll loop does not pay an HMAC + JSON parse per request. */
const CACHE_MAX = 10_000;

export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class TokenService {
  private readonly key: Uint8Array;
  private readonly operatorDigest: Buffer;
  private readonly cache = new Map<string, Principal>();

  constructor(secret: string, operatorToken: string) {
    this.key = new TextEncoder().encode(secret);
    this.operatorDigest = sha256(operatorToken);
  }

  async issueVmToken(vmId: string): Promise<string> {
    return new SignJWT({ kind: 'vm' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(vmId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .sign(this.key);
  }

  async issueViewerToken(
    vmId: string,
    role: ViewerRole,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: number }> {
    const now = Date.now();
    const nowS = Math.floor(now / 1000);
    // JWT times are whole seconds: round up so the token lives at least ttlSeconds.
    const expS = Math.ceil(now / 1000 + ttlSeconds);
    const token = await new SignJWT({ kind: 'viewer', role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(vmId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setJti(randomId(12))
      .setIssuedAt(nowS)
      .setExpirationTime(expS)
      .sign(this.key);
    return { token, expiresAt: expS * 1000 };
  }

  /** Resolve an `Authorization` header to a principal, or throw 401. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header?.startsWith('Bearer ')) throw errors.unauthorized();
    const token = header.slice(7).trim();
    if (token.length === 0 || token.length > 4096) throw errors.unauthorized();

    const cached = this.cache.get(token);
    if (cached) return checkExpiry(cached);

    if (timingSafeEqual(sha256(token), this.operatorDigest)) return { kind: 'operator' };
    if (token.split('.').length !== 3) throw errors.unauthorized();

    let principal: Principal;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      const vmId = payload.sub;
      if (typeof vmId !== 'string') throw errors.unauthorized();
      if (payload.kind === 'vm') {
        principal = { kind: 'vm', vmId };
      } else if (
        payload.kind === 'viewer' &&
        (payload.role === 'view' || payload.role === 'control') &&
        typeof payload.jti === 'string' &&
        typeof payload.exp === 'number'
      ) {
        principal = { kind: 'viewer', vmId, role: payload.role, tokenId: payload.jti, expiresAt: payload.exp * 1000 };
      } else {
        throw errors.unauthorized('unknown token kind');
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof jose.JWTExpired) throw new ApiError('token_expired', 'the token has expired');
      throw errors.unauthorized();
    }
    if (this.cache.size >= CACHE_MAX) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(token, principal);
    return principal;
  }
}

function checkExpiry(p: Principal): Principal {
  if (p.kind === 'viewer' && p.expiresAt <= Date.now()) throw new ApiError('token_expired', 'the token has expired');
  return p;
}
