/**
 * Bearer tokens. The operator token is a shared secret from config; VM, viewer
 * and automation tokens are ES256 JWTs (jose) with the claims of
 * protocol/src/tokens.ts, signed with the current signing key and verified
 * against the published key set (signing-keys.ts), so any controller instance
 * sharing the key file — and the VM agent's CDP gateway — verifies them
 * without a lookup. HS256 tokens from before the move to asymmetric keys still
 * verify while VMLIVE_TOKEN_SECRET is set.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TOKEN_ALG, TOKEN_AUDIENCE, TOKEN_ISSUER, TokenClaims, type ViewerRole } from '@vmlive/protocol';
import { createLocalJWKSet, decodeProtectedHeader, errors as jose, jwtVerify, SignJWT } from 'jose';
import { ApiError, errors } from '../errors.js';
import type { SigningKeys } from './signing-keys.js';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'vm'; vmId: string }
  | { kind: 'viewer'; vmId: string; role: ViewerRole; tokenId: string; expiresAt: number }
  | { kind: 'automation'; vmId: string; tokenId: string; expiresAt: number };

/** Verified tokens are cached so a long-poll loop does not pay a signature check + JSON parse per request. */
const CACHE_MAX = 10_000;

/**
 * A random base64url id (VMs, sessions, recordings, token ids) that never starts with '-': ids
 * are passed as command-line arguments (`automation.mjs --vm ID`, the scripts), and one that
 * begins with a dash is read as an option (Node's parseArgs refused `--vm -TtmdUq…` in CI), one
 * draw in 64.
 */
export function randomId(bytes = 16): string {
  for (;;) {
    const id = randomBytes(bytes).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class TokenService {
  private readonly operatorDigest: Buffer;
  private readonly cache = new Map<string, Principal>();
  private readonly jwks: ReturnType<typeof createLocalJWKSet>;
  private readonly legacyKey: Uint8Array | null;

  constructor(
    private readonly keys: SigningKeys,
    operatorToken: string,
    legacySecret: string,
  ) {
    this.operatorDigest = sha256(operatorToken);
    this.jwks = createLocalJWKSet(keys.jwks);
    this.legacyKey = legacySecret ? new TextEncoder().encode(legacySecret) : null;
  }

  /** The public keys, as served at /.well-known/jwks.json. */
  get publicKeys(): SigningKeys['jwks'] {
    return this.keys.jwks;
  }

  private sign(claims: Record<string, unknown>, vmId: string): SignJWT {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: TOKEN_ALG, typ: 'JWT', kid: this.keys.kid })
      .setSubject(vmId)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE);
  }

  async issueVmToken(vmId: string): Promise<string> {
    return this.sign({ kind: 'vm' }, vmId).setIssuedAt().sign(this.keys.privateKey);
  }

  async issueViewerToken(
    vmId: string,
    role: ViewerRole,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: number }> {
    return this.issueExpiring({ kind: 'viewer', role }, vmId, ttlSeconds);
  }

  async issueAutomationToken(vmId: string, ttlSeconds: number): Promise<{ token: string; expiresAt: number }> {
    return this.issueExpiring({ kind: 'automation' }, vmId, ttlSeconds);
  }

  private async issueExpiring(
    claims: Record<string, unknown>,
    vmId: string,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: number }> {
    const now = Date.now();
    // JWT times are whole seconds: round up so the token lives at least ttlSeconds.
    const expS = Math.ceil(now / 1000 + ttlSeconds);
    const token = await this.sign(claims, vmId)
      .setJti(randomId(12))
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(expS)
      .sign(this.keys.privateKey);
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
      const alg = decodeProtectedHeader(token).alg;
      const opts = { issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE };
      const { payload } =
        alg === 'HS256' && this.legacyKey
          ? await jwtVerify(token, this.legacyKey, { ...opts, algorithms: ['HS256'] })
          : await jwtVerify(token, this.jwks, { ...opts, algorithms: [TOKEN_ALG] });
      const claims = TokenClaims.safeParse(payload);
      if (!claims.success) throw errors.unauthorized('unknown token kind');
      const c = claims.data;
      switch (c.kind) {
        case 'vm':
          principal = { kind: 'vm', vmId: c.sub };
          break;
        case 'viewer':
          principal = { kind: 'viewer', vmId: c.sub, role: c.role, tokenId: c.jti, expiresAt: c.exp * 1000 };
          break;
        case 'automation':
          principal = { kind: 'automation', vmId: c.sub, tokenId: c.jti, expiresAt: c.exp * 1000 };
          break;
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
  if ((p.kind === 'viewer' || p.kind === 'automation') && p.expiresAt <= Date.now()) {
    throw new ApiError('token_expired', 'the token has expired');
  }
  return p;
}
