/**
 * Rate limits at the edge of the API, before a handler runs: every /api
 * request takes one token from its class's bucket for its bearer token and one
 * from the bucket of its client address (both, or neither), and a long-poll
 * (GET with `wait` > 0) also holds one of its token's concurrent long-poll
 * slots until it is answered. The state is in the store (several controllers
 * sharing a Redis count the same requests). Refusals are 429 `rate_limited`
 * or `too_many_long_polls` with `Retry-After` (whole seconds, at least 1).
 *
 * The token is identified by a hash of its Authorization header, without
 * verifying it: a flood of bad tokens is still bounded by its address's
 * budget, and the limiter costs one store call, not a signature check.
 * The operator token is limited like any other.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Route, routes } from '@vmlive/protocol';
import type { ControllerConfig } from '../config.js';
import { ApiError } from '../errors.js';
import type { RateBucket, RateState } from '../store/types.js';

export type RateClass = 'writes' | 'reads' | 'mints';

/** A 429 with the seconds the client should wait (the Retry-After header). */
export class RateLimitedError extends ApiError {
  constructor(
    code: 'rate_limited' | 'too_many_long_polls',
    message: string,
    readonly retryAfterS: number,
  ) {
    super(code, message);
  }
}

const MINTS: ReadonlySet<Route> = new Set([routes.createVm, routes.createViewerToken, routes.createAutomationToken]);

/** The budget a route draws on; null: not limited (health, metrics, the JWKS: no token, cheap, cacheable). */
export function rateClass(route: Route): RateClass | null {
  if (!route.path.startsWith('/api/')) return null;
  if (MINTS.has(route)) return 'mints';
  return route.method === 'GET' ? 'reads' : 'writes';
}

/** A long-poll's lease outlives its longest wait, so a crashed controller's slots free themselves. */
const SLOT_LEASE_MS = 45_000;

type Limits = Pick<
  ControllerConfig,
  | 'rateWritesPerMin'
  | 'rateWritesBurst'
  | 'rateReadsPerMin'
  | 'rateReadsBurst'
  | 'rateMintsPerMin'
  | 'rateMintsBurst'
  | 'rateAddressFactor'
  | 'maxLongPollsPerToken'
>;

/**
 * Digests of recent Authorization headers: a viewer or VM agent sends the same header on every
 * request, so the limiter hashes it once, not per request (the digest is a pure function of the
 * header, so caching it changes nothing). The headers are not verified yet, so the cache is bounded
 * in bytes too: only headers up to DIGEST_CACHED_CHARS (the tokens this controller issues are
 * ~450) are kept, at most DIGESTS_MAX of them (≤ ~10 MiB under a flood of distinct ones, which
 * only churns the oldest out); a longer header is hashed every time, as before.
 */
const DIGESTS_MAX = 10_000;
const DIGEST_CACHED_CHARS = 1024;

export class RateLimiter {
  private readonly budgets: Record<RateClass, { capacity: number; refillPerS: number }>;
  private readonly digests = new Map<string, string>();

  constructor(
    private readonly state: RateState,
    private readonly limits: Limits,
  ) {
    const b = (perMin: number, burst: number) => ({ capacity: burst, refillPerS: perMin / 60 });
    this.budgets = {
      writes: b(limits.rateWritesPerMin, limits.rateWritesBurst),
      reads: b(limits.rateReadsPerMin, limits.rateReadsBurst),
      mints: b(limits.rateMintsPerMin, limits.rateMintsBurst),
    };
  }

  /**
   * Admits one request of `cls` from `address` with `authorization`, or throws RateLimitedError.
   * `longPoll`: it will wait; the returned function frees its slot (call it once answered).
   */
  async admit(
    cls: RateClass,
    address: string,
    authorization: string | undefined,
    longPoll: boolean,
    now = Date.now(),
  ): Promise<(() => void) | null> {
    const budget = this.budgets[cls];
    const f = this.limits.rateAddressFactor;
    const token = authorization ? this.digest(authorization) : null;
    const byAddress: RateBucket = {
      key: `${cls}:a:${address}`,
      capacity: budget.capacity * f,
      refillPerS: budget.refillPerS * f,
    };
    const buckets: RateBucket[] = token
      ? [byAddress, { key: `${cls}:t:${token}`, capacity: budget.capacity, refillPerS: budget.refillPerS }]
      : [byAddress];
    const waitMs = await this.state.takeTokens(buckets, now);
    if (waitMs > 0)
      throw new RateLimitedError(
        'rate_limited',
        `too many ${cls} from this token or address; retry in ${Math.ceil(waitMs / 1000)} s`,
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    if (!longPoll || !token) return null;
    const key = `t:${token}`;
    const id = randomBytes(9).toString('base64url');
    if (!(await this.state.acquireSlot(key, id, this.limits.maxLongPollsPerToken, SLOT_LEASE_MS, now)))
      throw new RateLimitedError(
        'too_many_long_polls',
        `this token already holds ${this.limits.maxLongPollsPerToken} long-polls open`,
        1,
      );
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A lost release only keeps the slot until its lease ends.
      this.state.releaseSlot(key, id).catch(() => undefined);
    };
  }

  /** The token's name in the buckets: 22 base64url characters (132 bits) of the header's SHA-256. */
  private digest(authorization: string): string {
    let d = this.digests.get(authorization);
    if (d === undefined) {
      d = createHash('sha256').update(authorization).digest('base64url').slice(0, 22);
      if (authorization.length > DIGEST_CACHED_CHARS) return d;
      if (this.digests.size >= DIGESTS_MAX) {
        const oldest = this.digests.keys().next().value;
        if (oldest !== undefined) this.digests.delete(oldest);
      }
      this.digests.set(authorization, d);
    }
    return d;
  }
}
