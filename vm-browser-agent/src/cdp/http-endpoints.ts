/**
 * The DevTools HTTP endpoints (/json/...), proxied to Chromium with the
 * WebSocket URLs in the answers pointing at the gateway instead, plus the
 * request-line helpers the WebSocket upgrade shares: the optional
 * `/token/<jwt>` path prefix, the bearer header and the Host check.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { type GatewayError, gatewayErrors } from './errors.js';

export interface RequestTarget {
  /** The token from a `/token/<jwt>` prefix, if any. */
  pathToken: string | undefined;
  /** `/token/<jwt>` or '' — kept in the URLs handed back so a client that cannot send headers stays authenticated. */
  prefix: string;
  /** The path after the prefix, without a trailing slash ('/' stays '/'). */
  path: string;
  /** `?…` or '' */
  search: string;
}

const TOKEN_PREFIX = /^\/token\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(?=\/|$)/;

export function parseRequestTarget(url: string | undefined): RequestTarget {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  let path = q >= 0 ? raw.slice(0, q) : raw;
  const search = q >= 0 ? raw.slice(q) : '';
  let pathToken: string | undefined;
  let prefix = '';
  const m = TOKEN_PREFIX.exec(path);
  if (m) {
    pathToken = m[1];
    prefix = m[0];
    path = path.slice(m[0].length) || '/';
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return { pathToken, prefix, path, search };
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * The Host header the client used, when it may be reflected into URLs.
 * Without auth (loopback) it must name an IP address or localhost, as
 * Chromium's own DevTools server demands: otherwise a web page could reach the
 * gateway through DNS rebinding (a name of its own resolving to 127.0.0.1).
 */
export function checkHost(host: string | undefined, authRequired: boolean): string {
  const m = host ? HOST.exec(host) : null;
  if (!host || !m) throw gatewayErrors.forbidden('the Host header is missing or malformed');
  const name = (m[1] ?? '').replace(/^\[|\]$/g, '');
  if (!authRequired && isIP(name) === 0 && name.toLowerCase() !== 'localhost') {
    throw gatewayErrors.forbidden('the Host header must be an IP address or localhost');
  }
  return host;
}

/** Chromium's ws://127.0.0.1:<port>/devtools/… → ws://<host the client used><prefix>/devtools/… */
export function rewriteWsUrl(url: string, publicBase: string): string {
  const path = /^wss?:\/\/[^/]+(\/.*)$/.exec(url)?.[1];
  return path ? `ws://${publicBase}${path}` : url;
}

/** The `ws=<host:port>/devtools/…` parameter of devtoolsFrontendUrl, pointed at the gateway. */
export function rewriteFrontendUrl(url: string, publicBase: string): string {
  return url.replace(/([?&]ws=)[^/&#]+(\/[^&#]*)/, (_all, key: string, path: string) => `${key}${publicBase}${path}`);
}

const Target = z.looseObject({
  webSocketDebuggerUrl: z.string().optional(),
  devtoolsFrontendUrl: z.string().optional(),
});
type Target = z.infer<typeof Target>;

function rewriteTarget(t: Target, publicBase: string): Target {
  const out: Target = { ...t };
  if (t.webSocketDebuggerUrl) out.webSocketDebuggerUrl = rewriteWsUrl(t.webSocketDebuggerUrl, publicBase);
  if (t.devtoolsFrontendUrl) out.devtoolsFrontendUrl = rewriteFrontendUrl(t.devtoolsFrontendUrl, publicBase);
  return out;
}

export type JsonEndpoint = 'version' | 'list' | 'new' | 'activate' | 'close' | 'protocol';

export interface JsonRoute {
  endpoint: JsonEndpoint;
  /** Opens, closes or focuses a tab: held while a person has control, like a CDP command. */
  changes: boolean;
  /** The answer carries WebSocket URLs to rewrite: one target, or a list of them. */
  rewrite: 'one' | 'many' | null;
}

/** The /json endpoints Chromium serves (chrome/browser/devtools, "DevTools HTTP protocol"); others are 404. */
export function matchJsonRoute(path: string): JsonRoute | undefined {
  if (path === '/json/version') return { endpoint: 'version', changes: false, rewrite: 'one' };
  if (path === '/json' || path === '/json/list') return { endpoint: 'list', changes: false, rewrite: 'many' };
  if (path === '/json/new') return { endpoint: 'new', changes: true, rewrite: 'one' };
  if (path === '/json/protocol') return { endpoint: 'protocol', changes: false, rewrite: null };
  if (/^\/json\/activate\/[^/]+$/.test(path)) return { endpoint: 'activate', changes: true, rewrite: null };
  if (/^\/json\/close\/[^/]+$/.test(path)) return { endpoint: 'close', changes: true, rewrite: null };
  return undefined;
}

export interface ProxiedAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/**
 * Asks Chromium and rewrites the answer. The client's method goes through
 * unchanged: Chromium itself refuses GET /json/new (it wants PUT, so that a
 * web page cannot open tabs with a plain link).
 */
export async function proxyJson(opts: {
  upstreamUrl: string;
  route: JsonRoute;
  method: string;
  target: RequestTarget;
  publicBase: string;
  timeoutMs: number;
}): Promise<ProxiedAnswer> {
  const { route, target } = opts;
  let res: Response;
  try {
    res = await fetch(`${opts.upstreamUrl}${target.path}${target.search}`, {
      method: opts.method,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    throw gatewayErrors.browserUnavailable(err instanceof Error ? String(err.cause ?? err.message) : 'fetch failed');
  }
  const body = Buffer.from(await res.arrayBuffer());
  const contentType = res.headers.get('content-type') ?? 'text/plain';
  if (res.status !== 200 || !route.rewrite) return { status: res.status, contentType, body };
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw gatewayErrors.browserUnavailable(`GET ${target.path} answered with something that is not JSON`);
  }
  const parsed = route.rewrite === 'one' ? Target.safeParse(json) : z.array(Target).safeParse(json);
  if (!parsed.success) throw gatewayErrors.browserUnavailable(`unexpected answer to ${target.path}`);
  const out = Array.isArray(parsed.data)
    ? parsed.data.map((t) => rewriteTarget(t, opts.publicBase))
    : rewriteTarget(parsed.data, opts.publicBase);
  return {
    status: 200,
    contentType: 'application/json; charset=UTF-8',
    body: Buffer.from(JSON.stringify(out, null, 2)),
  };
}

export function errorAnswer(err: GatewayError): ProxiedAnswer {
  return { status: err.status, contentType: 'application/json; charset=UTF-8', body: Buffer.from(err.body()) };
}
