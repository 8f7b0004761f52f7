/**
 * Builds the controller from its parts (config → store → tokens → metrics →
 * long-polls → HTTP app → listener → idle sweeper) and shuts them down in
 * reverse order. `startController` is the programmatic entry used by main.ts,
 * tests and the local sandbox.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { AuditTrail, CONTROLLER, controlEvent } from './audit/trail.js';
import { loadSigningKeys } from './auth/signing-keys.js';
import { TokenService } from './auth/tokens.js';
import { type ControllerConfig, resolveConfig } from './config.js';
import { createApp } from './http/app.js';
import type { Ctx } from './http/context.js';
import { LongPolls } from './http/longpoll.js';
import { Presence } from './http/presence.js';
import { Metrics } from './metrics.js';
import { SegmentSigner } from './recordings/signed-url.js';
import { DirectoryStorage } from './recordings/storage.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import type { Store } from './store/types.js';

export type { ControllerConfig } from './config.js';

export interface Controller {
  /** e.g. http://127.0.0.1:8080 (the actual port when PORT=0). */
  url: string;
  operatorToken: string;
  /** Answers waiting long-polls, refuses new requests (503), closes connections. Idempotent. */
  close(): Promise<void>;
  /**
   * Reads VMLIVE_TLS_CERT_FILE/KEY_FILE again (SIGHUP) for new connections; open ones, and their
   * long-polls, carry on. False (and the old certificate kept) when not serving TLS or unreadable.
   */
  reloadTls(): boolean;
}

/** VMLIVE_STORE: this process's memory, or a Redis shared with every controller pointed at it. */
async function openStore(config: ControllerConfig, log: Logger): Promise<Store> {
  if (config.store === 'memory') return new MemoryStore({ maxSessions: config.maxSessions });
  const where = new URL(config.store);
  const redisLog = log.child({ module: 'store', redis: `${where.host}${where.pathname}` });
  const store = new RedisStore({
    url: config.store,
    prefix: config.storePrefix,
    maxSessions: config.maxSessions,
    log: redisLog,
  });
  // Start even when Redis is down (answering 503 store_unavailable until it is up), but give it a moment.
  if (!(await store.connect(5000))) redisLog.error('store (Redis) not reachable at start; serving 503 until it is');
  return store;
}

export function createLogger(level = 'info'): Logger {
  // Synchronous writes to stdout: pino's default (asynchronous) destination flushes on exit with a
  // loop that retries every write error, and once stdout's reader has gone (a supervisor piping
  // the logs died) a SIGTERM'd controller spun there forever instead of exiting. In sync mode a
  // broken pipe is an error event, on which pino stops writing.
  return pino(
    {
      level,
      base: { service: 'master-controller' },
      redact: { paths: ['req.headers.authorization', 'token', 'vmToken'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

export async function startController(partial: Partial<ControllerConfig> = {}, logger?: Logger): Promise<Controller> {
  const config = resolveConfig(partial);
  const log = logger ?? createLogger(config.logLevel);
  const generatedOperatorToken = config.operatorToken === '' ? randomBytes(24).toString('base64url') : null;
  const operatorToken = generatedOperatorToken ?? config.operatorToken;
  const keys = await loadSigningKeys(config.signingKeyFile, config.retiredKeyFiles);
  if (keys.generated) {
    log.warn('VMLIVE_SIGNING_KEY_FILE unset: using a key generated at start, so tokens die with this process');
  }
  log.info({ kid: keys.kid, retired: keys.jwks.keys.length - 1 }, 'token signing key loaded');

  if (config.corsOrigins.includes('*'))
    log.warn("VMLIVE_CORS_ORIGINS='*': pages on any origin may call this API with a token they hold");
  const store = await openStore(config, log);
  const metrics = new Metrics({
    sessionCount: () => store.sessionCount(),
    maxVms: config.metricsMaxVms,
    vms: async (max) => {
      const now = Date.now();
      const all = (await store.listVms()).sort((a, b) => a.createdAt - b.createdAt);
      const rows = await Promise.all(
        all.slice(0, max).map(async (vm) => ({
          vmId: vm.vmId,
          online: vm.lastSeenAt !== null && now - vm.lastSeenAt <= config.vmOnlineS * 1000,
          health: (await store.getHealth(vm.vmId, 1))[0],
        })),
      );
      return { rows, total: all.length };
    },
  });
  // A VM's open sessions poll refreshes its lastSeenAt three times per online window.
  const presence = new Presence(store, log.child({ module: 'presence' }), {
    vmIntervalMs: Math.min(5000, Math.max(250, (config.vmOnlineS * 1000) / 3)),
  });
  const polls = new LongPolls(store, metrics, presence);
  const audit = new AuditTrail(store, config.auditMaxEvents, log.child({ module: 'audit' }));
  const ctx: Ctx = {
    config,
    store,
    tokens: new TokenService(keys, operatorToken, config.tokenSecret),
    metrics,
    polls,
    presence,
    audit,
    recordings: { storage: new DirectoryStorage(config.recordingsDir), signer: new SegmentSigner(operatorToken) },
    logger: log,
  };
  let closing = false;
  const app = createApp(ctx, () => closing);
  const tls = config.tlsCertFile !== '';
  const readTls = () => ({ cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) });
  const server = tls
    ? createTlsServer({ ...readTls(), keepAliveTimeout: 65_000 }, app.listener)
    : createServer({ keepAliveTimeout: 65_000 }, app.listener);
  // Long-polls last up to 30 s; keep Node's request timeout well above that.
  server.requestTimeout = 120_000;
  server.headersTimeout = 66_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: thousands of viewers and agents reconnecting at once must not see resets.
    server.listen({ port: config.port, host: config.host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${addr.port}`;

  // Idle TTL: sweep often enough that a session outlives its TTL by at most a quarter of it.
  const ttlMs = config.sessionIdleTtlS * 1000;
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      store
        .expireIdle(now - ttlMs, now)
        .then((n) => {
          if (n > 0) log.info({ expired: n }, 'idle sessions expired');
        })
        .catch((err: unknown) => log.error({ err }, 'idle sweep failed'));
    },
    Math.min(Math.max(ttlMs / 4, 50), 5000),
  );
  sweeper.unref();

  // Control leases: a holder gone for the grace (no call, no open long-poll) loses control
  // (VMLIVE_ON_HOLDER_LOST says to whom). Checked every 500 ms, so control ends at most
  // grace + 0.5 s after the holder's last sign of life.
  const graceMs = config.holderGraceS * 1000;
  const leaseSweeper = setInterval(() => {
    const now = Date.now();
    // After a store outage no sign of life could be recorded during it: give holders one grace
    // from the recovery to show one, rather than ending every lease the outage made look stale.
    if (!store.reachable || now - store.reachableSince < graceMs) return;
    store
      .expireLeases(now - graceMs, now, config.onHolderLost)
      .then(async (ended) => {
        for (const e of ended) {
          log.info(
            { vmId: e.vmId, sessionId: e.sessionId, mode: config.onHolderLost },
            'control holder gone; lease ended',
          );
          if (!e.control) continue;
          const before = { mode: e.control.from, holder: e.sessionId };
          const after = { mode: e.control.to, holder: null };
          await audit.record(e.vmId, controlEvent(CONTROLLER, 'lease_expired', before, after, now));
        }
      })
      .catch((err: unknown) => log.error({ err }, 'lease sweep failed'));
  }, 500);
  leaseSweeper.unref();

  // Scripts wait for this line, so it is printed even at LOG_LEVEL=warn/error (not when silent).
  const announce = log.level === 'silent' || log.isLevelEnabled('info') ? log : log.child({}, { level: 'info' });
  // A generated operator token goes to an owner-only file whose path is logged, never into the log
  // itself: logs are shipped and read by people the token must not reach.
  const tokenFile = generatedOperatorToken ? writeGeneratedToken(generatedOperatorToken) : null;
  announce.info({ url, ...(tokenFile ? { operatorTokenFile: tokenFile.path } : {}) }, 'controller listening');

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      log.info('controller shutting down');
      closing = true;
      clearInterval(sweeper);
      clearInterval(leaseSweeper);
      presence.close();
      polls.abortAll();
      log.info('long-polls released');
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const idleTimer = setInterval(() => server.closeIdleConnections(), 20);
      const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      await serverClosed;
      clearInterval(idleTimer);
      clearTimeout(grace);
      log.info('http server closed');
      await store.close();
      tokenFile?.remove();
      log.info('controller stopped');
    })();
    return closed;
  };

  const reloadTls = () => {
    if (!tls || !('setSecureContext' in server)) return false;
    try {
      server.setSecureContext(readTls());
    } catch (err) {
      log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'TLS reload failed; the old certificate stays',
      );
      return false;
    }
    log.info({ cert: config.tlsCertFile }, 'TLS certificate reloaded');
    return true;
  };

  return { url, operatorToken, close, reloadTls };
}

/** Writes a generated operator token to a fresh 0600 file in a 0700 directory; removed at shutdown. */
function writeGeneratedToken(token: string): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-controller-'));
  const path = join(dir, 'operator-token');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
