/**
 * The HTTP application on bare node:http: request id (+ lazy child logger),
 * metrics, CORS, the shutdown 503, the route table's handlers (route.ts) with
 * their bodies read first (body.ts), the viewer's static files, and the one
 * error path that turns every failure into `{error:{code,message,field?}}`
 * via the error registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorBody, type Health, type Route, routes } from '@vmlive/protocol';
import type { Histogram } from 'prom-client';
import { clientAddressOf } from '../edge/client-address.js';
import { edgeHeaders } from '../edge/headers.js';
import { RateLimitedError, RateLimiter, rateClass } from '../edge/rate-limit.js';
import { ApiError } from '../errors.js';
import { StoreUnavailableError } from '../store/types.js';
import { readBody } from './body.js';
import type { Ctx } from './context.js';
import { Req, Res } from './kit.js';
import { handle, Router } from './route.js';
import { auditRoutes } from './routes/audit.js';
import { controlRoutes } from './routes/control.js';
import { healthRoutes } from './routes/health.js';
import { recordingRoutes } from './routes/recordings.js';
import { runRoutes } from './routes/run.js';
import { sessionRoutes } from './routes/sessions.js';
import { vmRoutes } from './routes/vms.js';
import { whepRoutes } from './routes/whep.js';
import { StaticFiles } from './static.js';

export const OPENAPI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi.json');

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Response headers a cross-origin page may read (a browser WHEP player needs Location, ETag and Link). */

export interface App {
  /** The node:http request listener. */
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Every route this app serves (openapi.test.ts compares them with the document). */
  readonly registered: readonly Route[];
}

const storeUnavailable = () =>
  new ApiError('store_unavailable', 'the shared store (Redis) is unreachable; retry: this recovers by itself');

/** One histogram child per (method, route, status): labels are resolved once, not per request. */
function observer(h: Histogram<'method' | 'route' | 'status'>) {
  const children = new Map<string, { observe(v: number): void }>();
  return (method: string, route: string, status: number, seconds: number) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      child = h.labels(method, route, String(status));
      children.set(key, child);
    }
    child.observe(seconds);
  };
}

export function createApp(ctx: Ctx, isClosing: () => boolean): App {
  const router = new Router();

  handle(router, routes.healthz, async (_req, res) => {
    const kind = ctx.config.store === 'memory' ? 'memory' : 'ok';
    if (ctx.store.reachable) {
      res.json({ ok: true, store: kind } satisfies Health);
      return;
    }
    res
      .status(503)
      .json({ ok: false, store: 'unreachable', ...storeUnavailable().toJSON() } satisfies Health & ErrorBody);
  });
  handle(router, routes.jwks, async (_req, res) => {
    // Public keys only; cacheable briefly so a rotation propagates within a minute.
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(ctx.tokens.publicKeys);
  });
  handle(router, routes.metrics, async (_req, res) => {
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  const openapi = existsSync(OPENAPI_PATH) ? readFileSync(OPENAPI_PATH, 'utf8') : null;
  handle(router, routes.openapi, async (_req, res) => {
    if (!openapi) throw new ApiError('not_found', 'openapi.json is missing from this build');
    res.type('application/json').send(openapi);
  });
  vmRoutes(ctx, router);
  sessionRoutes(ctx, router);
  controlRoutes(ctx, router);
  runRoutes(ctx, router);
  whepRoutes(ctx, router);
  healthRoutes(ctx, router);
  auditRoutes(ctx, router);
  recordingRoutes(ctx, router);

  const web = ctx.config.webDir ? new StaticFiles(ctx.config.webDir) : null;
  const edge = edgeHeaders(ctx.config);
  const clientAddress = clientAddressOf(ctx.config.trustProxy);
  const limiter = ctx.config.rateLimits ? new RateLimiter(ctx.store, ctx.config) : null;
  const observe = ctx.metrics ? observer(ctx.metrics.requestDuration) : () => {};
  const root = ctx.logger;
  let nextReqId = 0;

  let storeWarnedAt = 0;
  const fail = (req: Req, res: Res, err: unknown) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500 && apiErr.code === 'internal') req.log.error({ err }, 'request failed');
    else if (err instanceof StoreUnavailableError && Date.now() - storeWarnedAt > 1000) {
      // Why the store failed (refused, timed out, loading), at most once a second.
      storeWarnedAt = Date.now();
      req.log.warn({ err: err.message }, 'store unavailable: answering 503');
    } else if (root.isLevelEnabled('debug'))
      req.log.debug({ code: apiErr.code, status: apiErr.status }, 'request rejected');
    if (res.headersSent) {
      res.raw.end();
      return;
    }
    if (apiErr instanceof RateLimitedError) res.setHeader('Retry-After', String(apiErr.retryAfterS));
    res.status(apiErr.status).json(apiErr.toJSON());
  };

  const dispatch = async (req: Req, res: Res, start: number) => {
    const match = router.match(req.method, req.path);
    try {
      if (isClosing()) {
        res.setHeader('Connection', 'close');
        throw new ApiError('shutting_down', 'the controller is shutting down');
      }
      if (match) {
        req.routePath = match.route.path;
        const cls = limiter && rateClass(match.route);
        if (limiter && cls) {
          const wait = req.query.wait;
          const longPoll = typeof wait === 'string' && Number(wait) > 0;
          const release = await limiter.admit(cls, req.address, req.headers.authorization, longPoll);
          if (release) res.raw.once('close', release);
        }
        req.params = match.params;
        req.body = await readBody(req.raw, match.route);
        await match.handler(req, res);
      } else if (
        !(
          web &&
          !req.path.startsWith('/api/') &&
          web.serve(req.method, req.path, res.raw, baseHeaders(req), edge.page(req.path))
        )
      ) {
        // RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field" (WHEP, draft §4.1, expects the
        // generic statuses: a player that PUTs its offer learns what the resource takes).
        const allowed = router.methodsAt(req.path);
        if (allowed.length > 0) {
          res.setHeader('Allow', [...allowed, 'OPTIONS'].join(', '));
          throw new ApiError('method_not_allowed', `${req.method} is not allowed on ${req.path}`);
        }
        throw new ApiError('not_found', `no route ${req.method} ${req.path}`);
      }
    } catch (err) {
      fail(req, res, err);
    }
    const done = () => {
      const ms = performance.now() - start;
      observe(req.method, req.routePath, res.statusCode, ms / 1000);
      // The path carries ids but never tokens (those travel in the Authorization header).
      if (root.isLevelEnabled('debug')) {
        req.log.debug({ method: req.method, path: req.path, status: res.statusCode, ms, addr: req.address }, 'request');
      }
    };
    if (res.raw.writableEnded) done();
    else res.raw.once('finish', done);
  };

  const baseHeaders = (req: Req): Record<string, string> => ({
    'X-Request-Id': req.id,
    ...edge.common,
    ...edge.nonPage,
    ...edge.cors(req.headers.origin),
  });

  return {
    registered: router.registered,
    listener(raw, rawRes) {
      const start = performance.now();
      const req = new Req(raw, root);
      const given = raw.headers['x-request-id'];
      req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : `r${(++nextReqId).toString(36)}`;
      req.logBindings = { reqId: req.id };
      req.address = clientAddress(raw);
      const res = new Res(rawRes);
      res.setHeader('X-Request-Id', req.id);
      res.set(edge.common).set(edge.nonPage);
      // CORS only for an allowed Origin (edge/headers.ts); a refused preflight gets no grant, so the browser blocks.
      const grant = edge.cors(raw.headers.origin);
      res.set(grant);
      if (req.method === 'OPTIONS') {
        if ('Access-Control-Allow-Origin' in grant) res.set(edge.preflight);
        if (req.path.startsWith('/whep/vms/')) {
          // WHEP draft §4.3: "The 200 OK response to any OPTIONS request SHOULD include an
          // Accept-Post header with a media type value of application/sdp" (W3C LDP §7.1).
          res.status(200).set({ 'Accept-Post': 'application/sdp', 'Content-Length': '0' }).end();
        } else if (req.path.startsWith('/whep/sessions/')) {
          res.status(200).set({ 'Accept-Patch': 'application/trickle-ice-sdpfrag', 'Content-Length': '0' }).end();
        } else res.status(204).end();
        return;
      }
      void dispatch(req, res, start);
    },
  };
}

/** Map anything thrown onto the registry: a store that is down is 503 store_unavailable, anything unknown a 500. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreUnavailableError) return storeUnavailable();
  return new ApiError('internal', 'internal error');
}
