/**
 * Automation tokens, verified offline: an ES256 JWT with AutomationTokenClaims
 * (protocol/src/tokens.ts), signed by the controller and checked against the
 * controller's public keys (GET <controller>/.well-known/jwks.json), fetched
 * once and cached. The key set is fetched again when a token names a key id
 * the cache does not have (the controller rotated its key), at most once per
 * cooldown, and in the background once it is older than maxAgeMs; when the
 * controller cannot be reached the last good key set keeps working.
 */
import { AutomationTokenClaims, JWKS_PATH, TOKEN_ALG, TOKEN_AUDIENCE, TOKEN_ISSUER } from '@vmlive/protocol';
import {
  type CompactJWSHeaderParameters,
  createLocalJWKSet,
  type FlattenedJWSInput,
  type JWTVerifyGetKey,
  errors as jose,
  jwtVerify,
} from 'jose';
import type { Logger } from 'pino';
import { GatewayError, gatewayErrors } from './errors.js';

export interface AutomationPrincipal {
  vmId: string;
  tokenId: string;
  /** ms epoch */
  expiresAt: number;
}

export interface AutomationAuth {
  /** Resolves to the principal, or rejects with a GatewayError (401, 403 or 503). */
  verify(token: string | undefined): Promise<AutomationPrincipal>;
}

export interface JwksAutomationAuthOptions {
  /** The controller's base URL; the keys are at JWKS_PATH under it. */
  controllerUrl: string;
  /** This VM's id: tokens for any other VM are refused (403). */
  vmId: string;
  log: Logger;
  fetchTimeoutMs?: number;
  /** Least time between two fetches triggered by an unknown key id. */
  refreshCooldownMs?: number;
  /** Age after which the key set is refreshed in the background. */
  maxAgeMs?: number;
  /** Allowed clock difference between the controller and this VM, seconds. */
  clockToleranceS?: number;
}

/** Longer than any JWT we mint (three base64url parts of a few hundred bytes). */
const MAX_TOKEN_CHARS = 4096;

export class JwksAutomationAuth implements AutomationAuth {
  private keys: JWTVerifyGetKey | undefined;
  private fetchedAt = 0;
  /** Last fetch attempt, successful or not: the cooldown counts from it so a down controller is not hammered. */
  private attemptedAt = 0;
  private inflight: Promise<void> | undefined;
  private readonly jwksUrl: URL;
  private readonly o: Required<Omit<JwksAutomationAuthOptions, 'log'>>;
  private readonly log: Logger;

  constructor(opts: JwksAutomationAuthOptions) {
    this.jwksUrl = new URL(JWKS_PATH, opts.controllerUrl);
    this.log = opts.log.child({ mod: 'automation-auth' });
    this.o = {
      controllerUrl: opts.controllerUrl,
      vmId: opts.vmId,
      fetchTimeoutMs: opts.fetchTimeoutMs ?? 5_000,
      refreshCooldownMs: opts.refreshCooldownMs ?? 30_000,
      maxAgeMs: opts.maxAgeMs ?? 10 * 60_000,
      clockToleranceS: opts.clockToleranceS ?? 5,
    };
  }

  async verify(token: string | undefined): Promise<AutomationPrincipal> {
    if (!token) throw gatewayErrors.tokenMissing();
    if (token.length > MAX_TOKEN_CHARS || token.split('.').length !== 3) {
      throw gatewayErrors.tokenInvalid('not a JWT');
    }
    await this.ensureKeys();
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, (h, t) => this.keyFor(h, t), {
        algorithms: [TOKEN_ALG],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: this.o.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw this.mapError(err);
    }
    const claims = AutomationTokenClaims.safeParse(payload);
    if (!claims.success) {
      const kind = typeof payload === 'object' && payload !== null && 'kind' in payload ? payload.kind : undefined;
      if (kind === 'vm' || kind === 'viewer') {
        throw gatewayErrors.forbidden(`a ${kind} token cannot drive the browser: use an automation token`);
      }
      throw gatewayErrors.tokenInvalid('not an automation token');
    }
    if (claims.data.sub !== this.o.vmId) throw gatewayErrors.forbidden('the automation token is for another VM');
    return { vmId: claims.data.sub, tokenId: claims.data.jti, expiresAt: claims.data.exp * 1000 };
  }

  private mapError(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    if (err instanceof jose.JWTExpired) return gatewayErrors.tokenExpired();
    if (err instanceof jose.JWTClaimValidationFailed) return gatewayErrors.tokenInvalid(`claim ${err.claim}`);
    if (err instanceof jose.JWKSNoMatchingKey) return gatewayErrors.tokenInvalid('signed with an unknown key');
    if (err instanceof jose.JWSSignatureVerificationFailed) return gatewayErrors.tokenInvalid('bad signature');
    if (err instanceof jose.JOSEAlgNotAllowed) return gatewayErrors.tokenInvalid(`algorithm must be ${TOKEN_ALG}`);
    if (err instanceof jose.JOSEError) return gatewayErrors.tokenInvalid(err.code);
    return gatewayErrors.tokenInvalid('malformed');
  }

  /** The key for a token's header; an unknown kid refreshes the key set once per cooldown. */
  private async keyFor(header: CompactJWSHeaderParameters, token: FlattenedJWSInput) {
    const keys = this.keys;
    if (!keys) throw gatewayErrors.keysUnavailable('never fetched');
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof jose.JWKSNoMatchingKey)) throw err;
      if (Date.now() - this.attemptedAt < this.o.refreshCooldownMs) throw err;
      await this.refresh().catch(() => {});
      const fresh = this.keys;
      if (!fresh || fresh === keys) throw err;
      return fresh(header, token);
    }
  }

  private async ensureKeys(): Promise<void> {
    if (!this.keys) {
      try {
        await this.refresh();
      } catch (err) {
        throw gatewayErrors.keysUnavailable(err instanceof Error ? err.message : String(err));
      }
      return;
    }
    if (Date.now() - this.fetchedAt > this.o.maxAgeMs && Date.now() - this.attemptedAt > this.o.refreshCooldownMs) {
      // Keep answering with the cached keys; failures are logged in refresh().
      this.refresh().catch(() => {});
    }
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.attemptedAt = Date.now();
    try {
      const res = await fetch(this.jwksUrl, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.o.fetchTimeoutMs),
      });
      if (res.status !== 200) throw new Error(`GET ${JWKS_PATH} answered ${res.status}`);
      const keys = createLocalJWKSet(await res.json());
      this.keys = keys;
      this.fetchedAt = Date.now();
      this.log.info({ url: this.jwksUrl.origin }, 'fetched the controller keys (JWKS)');
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not fetch the controller keys');
      throw err;
    }
  }
}
