/**
 * The Express application: cross-cutting middleware (request id + child
 * logger, metrics, CORS, shutdown 503, JSON body parser), the routes, the
 * viewer's static files, and the one error handler that turns every failure
 * into `{error:{code,message,field?}}` via the error registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorBody, type Health, LIMITS, routes } from '@vmlive/protocol';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { Logger } from 'pino';
import { ApiError } from '../errors.js';
import { StoreUnavailableError } from '../store/types.js';
import type { Ctx } from './context.js';
import { handle } from './route.js';
import { controlRoutes } from './routes/control.js';
import { sessionRoutes } from './routes/sessions.js';
import { vmRoutes } from './routes/vms.js';

export const OPENAPI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi.json');

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(ctx: Ctx, isClosing: () => boolean): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const root = ctx.logger;
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request): Logger {
      this.logChild ??= root.child(this.logBindings ?? {});
      return this.logChild;
    },
  });

  let nextReqId = 0;
  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : `r${(++nextReqId).toString(36)}`;
    req.logBindings = { reqId: req.id };
    req.logChild = undefined;
    res.setHeader('X-Request-Id', req.id);
    const start = performance.now();
    res.once('finish', () => {
      const ms = performance.now() - start;
      const route = req.route ? String(req.route.path) : 'unmatched';
      ctx.metrics.requestDuration.observe({ method: req.method, route, status: res.statusCode }, ms / 1000);
      // The path carries ids but never tokens (those travel in the Authorization header).
      if (root.isLevelEnabled('debug')) {
        req.log.debug({ method: req.method, path: req.path, status: res.statusCode, ms }, 'request');
      }
    });
    next();
  });

  // CORS: viewers authenticate with a bearer header, not cookies, so any origin may call.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, X-Snapshot-At');
    next();
  });

  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (!isClosing()) return next();
    res.setHeader('Connection', 'close');
    next(new ApiError('shutting_down', 'the controller is shutting down'));
  });

  const open = Router();
  handle(open, routes.healthz, async (_req, res) => {
    const kind = ctx.config.store === 'memory' ? 'memory' : 'ok';
    if (ctx.store.reachable) {
      res.json({ ok: true, store: kind } satisfies Health);
      return;
    }
    const err = storeUnavailable().toJSON();
    res.status(503).json({ ok: false, store: 'unreachable', ...err } satisfies Health & ErrorBody);
  });
  handle(open, routes.jwks, async (_req, res) => {
    // Public keys only; cacheable briefly so a rotation propagates within a minute.
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(ctx.tokens.publicKeys);
  });
  handle(open, routes.metrics, async (_req, res) => {
    res.setHeader('Content-Type', ctx.metrics.registry.contentType);
    res.send(await ctx.metrics.registry.metrics());
  });
  const openapi = existsSync(OPENAPI_PATH) ? readFileSync(OPENAPI_PATH, 'utf8') : null;
  handle(open, routes.openapi, async (_req, res) => {
    if (!openapi) throw new ApiError('not_found', 'openapi.json is missing from this build');
    res.type('application/json').send(openapi);
  });
  app.use(open);

  app.use(express.json({ limit: LIMITS.jsonBodyBytes, strict: true }));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    // A POST body that is not JSON would otherwise be silently ignored (PUT carries the raw snapshot).
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (req.method === 'POST' && hasBody && req.body === undefined) {
      return next(new ApiError('unsupported_media_type', 'send the body as application/json'));
    }
    next();
  });

  app.use(vmRoutes(ctx));
  app.use(sessionRoutes(ctx));
  app.use(controlRoutes(ctx));

  app.use('/api', (req: Request, _res: Response, next: NextFunction) => {
    next(new ApiError('not_found', `no route ${req.method} ${req.baseUrl}${req.path}`));
  });

  const webDir = ctx.config.webDir;
  if (webDir) {
    app.use(express.static(webDir, { index: 'index.html', maxAge: 0 }));
    const indexHtml = join(webDir, 'index.html');
    // SPA fallback: client-side routes load the viewer shell.
    app.get('/{*rest}', (_req, res) => {
      res.sendFile(indexHtml);
    });
  }

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ApiError('not_found', `no route ${req.method} ${req.path}`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500 && apiErr.code === 'internal') req.log.error({ err }, 'request failed');
    else req.log.debug({ code: apiErr.code, status: apiErr.status }, 'request rejected');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(apiErr.status).json(apiErr.toJSON());
  });

  return app;
}

/** Map anything thrown (including body-parser's http-errors) onto the registry. */
const storeUnavailable = () =>
  new ApiError('store_unavailable', 'the shared store (Redis) is unreachable; retry: this recovers by itself');

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreUnavailableError) return storeUnavailable();
  const e = err as { type?: string; status?: number; message?: string } | null;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new ApiError('invalid_json', 'the body is not valid JSON');
    case 'entity.too.large':
      return new ApiError('body_too_large', 'the body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('unsupported_media_type', e.message ?? 'unsupported encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new ApiError('invalid_body', e.message ?? 'bad request body');
  }
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new ApiError(e.status === 404 ? 'not_found' : 'invalid_body', e.message ?? 'bad request');
  }
  return new ApiError('internal', 'internal error');
}
