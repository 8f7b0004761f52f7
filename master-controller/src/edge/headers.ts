/**
 * The security headers and the CORS decision, computed once from the config
 * (frozen objects; per request only a lookup):
 *   every response   X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer,
 *                    Strict-Transport-Security when this process serves TLS
 *   API and assets   CSP `default-src 'none'; frame-ancestors 'none'` (a JSON answer is no document)
 *   HTML pages       a strict CSP: scripts and styles from this origin only (the built pages have
 *                    no inline script or style; web/ builds to external files), connect-src the
 *                    controller itself, media and images also from blob: (snapshots are blob URLs);
 *                    the console is never framable, /view as VMLIVE_FRAME_ANCESTORS says.
 *   CORS             only for an Origin on VMLIVE_CORS_ORIGINS (or any, with '*'). Viewers send a
 *                    bearer header, never cookies, so no Allow-Credentials.
 */
import type { ControllerConfig } from '../config.js';

export type Headers = Readonly<Record<string, string>>;

export interface EdgeHeaders {
  /** Every response. */
  readonly common: Headers;
  /** Responses that are not HTML pages: the API, assets. */
  readonly nonPage: Headers;
  /** An HTML page at `path` (the console, or the viewer at /view). */
  page(path: string): Headers;
  /** The CORS grant for this request's Origin header (empty: none). */
  cors(origin: string | undefined): Headers;
  /** The grant's preflight part (methods, headers, max-age), for an allowed Origin. */
  readonly preflight: Headers;
}

const HSTS = 'max-age=63072000';
// Location, ETag, Link and Allow: what a WHEP player reads from the POST's answer (routes/whep.ts).
const EXPOSED = 'X-Request-Id, X-Snapshot-At, Location, ETag, Link, Retry-After, Allow';
const NONE: Headers = Object.freeze({});

function pageCsp(frameAncestors: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    'media-src blob:',
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/** /view, as the viewer's client-side route matches it (web/src/pages/route.ts). */
const isViewerPath = (path: string) => /\/view\/?$/.test(path);

export function edgeHeaders(
  config: Pick<ControllerConfig, 'corsOrigins' | 'frameAncestors' | 'tlsCertFile'>,
): EdgeHeaders {
  const common = Object.freeze({
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...(config.tlsCertFile !== '' ? { 'Strict-Transport-Security': HSTS } : {}),
  });
  const nonPage = Object.freeze({ 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" });
  // X-Frame-Options for browsers without CSP frame-ancestors; it cannot express a list, so only DENY.
  const consolePage = Object.freeze({ 'Content-Security-Policy': pageCsp("'none'"), 'X-Frame-Options': 'DENY' });
  const viewerPage = Object.freeze({
    'Content-Security-Policy': pageCsp(config.frameAncestors),
    ...(config.frameAncestors === "'none'" ? { 'X-Frame-Options': 'DENY' } : {}),
  });

  const any = config.corsOrigins.includes('*');
  const allowed = new Set(config.corsOrigins);
  const anyGrant = Object.freeze({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED });
  // A cache must not hand one origin's grant (or refusal) to another.
  const vary = Object.freeze({ Vary: 'Origin' });
  const grants = new Map<string, Headers>(
    [...allowed].map((o) => [
      o,
      Object.freeze({ 'Access-Control-Allow-Origin': o, 'Access-Control-Expose-Headers': EXPOSED, Vary: 'Origin' }),
    ]),
  );

  return {
    common,
    nonPage,
    page: (path) => (isViewerPath(path) ? viewerPage : consolePage),
    cors(origin) {
      if (any) return anyGrant;
      if (origin === undefined) return allowed.size > 0 ? vary : NONE;
      return grants.get(origin) ?? (allowed.size > 0 ? vary : NONE);
    },
    preflight: Object.freeze({
      'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match, X-Request-Id',
      'Access-Control-Max-Age': '600',
    }),
  };
}
