/**
 * The rate limits' settings (spread into the controller's table). Every budget
 * is a token bucket: `…_PER_MIN` tokens refill per minute, up to `…_BURST`.
 * The per-token budget applies to each bearer token; each client address gets
 * VMLIVE_RATE_ADDRESS_FACTOR times it (one address may carry many viewers: an
 * office behind NAT). The defaults are ten times or more what a real viewer
 * and VM agent were measured to make (scripts/request-rates.ts; docs/api.md).
 */
import { setting } from '@vmlive/protocol';

const perMin = (env: string, what: string, d: number) =>
  setting.int(env, 1, 1_000_000, { default: d, help: `${what}: tokens refilled per minute, per bearer token` });
const burst = (env: string, what: string, d: number) =>
  setting.int(env, 1, 1_000_000, { default: d, help: `${what}: bucket size (the burst allowed), per bearer token` });

export const RATE_SETTINGS = {
  rateLimits: setting.bool('VMLIVE_RATE_LIMITS', {
    default: true,
    help: 'rate-limit the API per token and per client address (429 rate_limited with Retry-After); off only for load tests',
  }),
  rateWritesPerMin: perMin('VMLIVE_RATE_WRITES_PER_MIN', 'writes (POST/PUT/DELETE but token minting)', 600),
  // A side may post up to 256 candidates (LIMITS.candidatesPerSide): they fit in one burst.
  rateWritesBurst: burst('VMLIVE_RATE_WRITES_BURST', 'writes', 300),
  rateReadsPerMin: perMin('VMLIVE_RATE_READS_PER_MIN', 'reads and long-polls (GET /api/…)', 600),
  rateReadsBurst: burst('VMLIVE_RATE_READS_BURST', 'reads and long-polls', 120),
  // The operator's backend mints one viewer token per viewer it opens: 10 a second sustained.
  rateMintsPerMin: perMin(
    'VMLIVE_RATE_MINTS_PER_MIN',
    'token minting (POST /api/vms, viewer and automation tokens)',
    600,
  ),
  rateMintsBurst: burst('VMLIVE_RATE_MINTS_BURST', 'token minting', 100),
  rateAddressFactor: setting.int('VMLIVE_RATE_ADDRESS_FACTOR', 1, 10_000, {
    default: 20,
    help: 'each client address gets this many times the per-token budgets',
  }),
  maxLongPollsPerToken: setting.int('VMLIVE_MAX_LONGPOLLS_PER_TOKEN', 1, 10_000, {
    default: 16,
    help: 'long-polls (a GET with wait > 0) one bearer token may hold open at once; beyond it 429 too_many_long_polls',
  }),
};
