/** What every route handler needs, built once in server.ts. */
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { Principal, TokenService } from '../auth/tokens.js';
import type { ControllerConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import type { LongPolls } from './longpoll.js';

export interface Ctx {
  config: ControllerConfig;
  store: Store;
  tokens: TokenService;
  metrics: Metrics;
  polls: LongPolls;
  logger: Logger;
  /** VMs with a sessions long-poll open in this process (they count as online while waiting). */
  vmPolling: Map<string, number>;
}

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    principal?: Principal;
  }
}

export type { Request };
