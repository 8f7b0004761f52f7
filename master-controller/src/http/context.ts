/** What every route handler needs, built once in server.ts. */
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail.js';
import type { TokenService } from '../auth/tokens.js';
import type { ControllerConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { SegmentSigner } from '../recordings/signed-url.js';
import type { RecordingStorage } from '../recordings/storage.js';
import type { Store } from '../store/types.js';
import type { Req } from './kit.js';
import type { LongPolls } from './longpoll.js';
import type { Presence } from './presence.js';

export interface Ctx {
  config: ControllerConfig;
  store: Store;
  tokens: TokenService;
  metrics: Metrics;
  polls: LongPolls;
  presence: Presence;
  /** Where control, run and input changes are recorded (audit/trail.ts). */
  audit: AuditTrail;
  /** Where recording segments live (recordings/storage.ts) and who signs their URLs. */
  recordings: { storage: RecordingStorage; signer: SegmentSigner };
  logger: Logger;
}

/**
 * Add context to the request's logger. Most requests never log at the enabled
 * level, so the pino child is built lazily (on first `req.log`) from these bindings.
 */
export function bindLog(req: Req, bindings: Record<string, unknown>): void {
  if (req.logChild) req.logChild = req.logChild.child(bindings);
  else Object.assign(req.logBindings, bindings);
}

export type { Req };
