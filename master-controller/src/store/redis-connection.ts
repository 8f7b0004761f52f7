/**
 * The Redis store's two connections (commands; pub/sub) and how they fail.
 *
 * Failing fast is the point: no offline queue (a command while disconnected
 * fails at once), no command resent after a reconnect (a script that ran but
 * whose reply was lost must not run twice), a per-command timeout (a stalled
 * server answers 503, never a hang), and a reconnect every ≤ 1 s, so the
 * controller recovers by itself within a second of Redis coming back.
 */

import { createHash } from 'node:crypto';
import { type CommonRedisOptions, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';
import { StoreUnavailableError } from './types.js';

export interface RedisConnectionOptions {
  url: string;
  /**
   * Per-command deadline; past it the request answers 503 store_unavailable. Generous on
   * purpose: on a starved machine a process can miss its timers by seconds, and a reply that
   * arrived meanwhile would still count as late.
   */
  commandTimeoutMs: number;
  log: Logger;
}

/** Redis replies that mean "not now" rather than "your script is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOSCRIPT)\b/;

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** A connection-level failure becomes StoreUnavailableError; a script's own error stays a bug (500). */
export function storeError(err: unknown): Error {
  if (err instanceof StoreUnavailableError) return err;
  if (isReplyError(err) && !TRANSIENT_REPLY.test(err.message)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`the store (Redis) is unreachable: ${detail}`, { cause: err });
}

export class RedisConnections {
  readonly cmd: Redis;
  readonly sub: Redis;
  private readonly shas = new Map<ScriptName, string>();
  private upSince = 0;
  private wasUp = false;
  private closing = false;
  /** Called once both connections are ready again after an outage (not on the first connect). */
  onRecovered: () => void = () => {};

  constructor(private readonly opts: RedisConnectionOptions) {
    const common: CommonRedisOptions = {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs),
      retryStrategy: (times) => Math.min(100 * times, 1000),
      // Subscriptions are restored by RedisTopics itself, which then wakes every waiter to re-read.
      autoResubscribe: false,
      connectionName: 'vmlive-controller',
    };
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      this.shas.set(name as ScriptName, createHash('sha1').update(lua).digest('hex'));
    }
    this.cmd = new Redis(opts.url, common);
    this.sub = new Redis(opts.url, { ...common, connectionName: 'vmlive-controller-sub' });
    for (const [role, conn] of [
      ['commands', this.cmd],
      ['pubsub', this.sub],
    ] as const) {
      conn.on('error', (err: Error) => {
        if (this.wasUp || this.upSince === 0) opts.log.debug({ role, err: err.message }, 'redis connection error');
      });
      conn.on('ready', () => this.transition());
      conn.on('close', () => this.transition());
    }
  }

  get reachable(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready';
  }

  get reachableSince(): number {
    return this.reachable ? this.upSince : 0;
  }

  private transition(): void {
    const up = this.reachable;
    if (up === this.wasUp || this.closing) return;
    this.wasUp = up;
    if (up) {
      const first = this.upSince === 0;
      this.upSince = Date.now();
      this.opts.log.info(first ? 'store (Redis) connected' : 'store (Redis) reachable again');
      if (!first) this.onRecovered();
    } else {
      this.opts.log.error('store (Redis) unreachable: requests answer 503 store_unavailable until it is back');
    }
  }

  /** Resolves once both connections are ready, or after `timeoutMs` (the controller then starts degraded). */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.reachable) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.cmd.off('ready', check);
        this.sub.off('ready', check);
        resolve(ok);
      };
      const check = () => {
        if (this.reachable) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.cmd.on('ready', check);
      this.sub.on('ready', check);
    });
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script (after a restart). */
  async script(name: ScriptName, args: Array<string | number | Buffer>): Promise<unknown> {
    const sha = this.shas.get(name) ?? '';
    try {
      return await this.cmd.evalsha(sha, 0, ...args);
    } catch (err) {
      if (isReplyError(err) && err.message.startsWith('NOSCRIPT')) {
        try {
          return await this.cmd.eval(SCRIPTS[name], 0, ...args);
        } catch (again) {
          throw storeError(again);
        }
      }
      throw storeError(err);
    }
  }

  /** Any other command, with the same failure mapping. */
  async call<T>(run: (r: Redis) => Promise<T>): Promise<T> {
    try {
      return await run(this.cmd);
    } catch (err) {
      throw storeError(err);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [this.cmd, this.sub].map(async (c) => {
        try {
          await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 1000))]);
        } catch {
          // already gone
        }
        c.disconnect();
      }),
    );
  }
}
