/**
 * The request and response objects the routes see, over bare node:http.
 *
 * The controller used Express; at 5,000 req/s on one core its routing,
 * middleware chain and response helpers cost more than everything the
 * controller itself does per request (profile in docs/api.md, "Throughput").
 * These two classes keep the handful of Express-style calls the routes use
 * (`res.status(201).json(x)`, `res.set`, `req.params`, `req.log`) and nothing
 * else, so a response is one `writeHead` + one `end` (one socket write).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type ParsedUrlQuery, parse as parseQueryString } from 'node:querystring';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.js';

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export class Req {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  private readonly rawQuery: string;
  private parsedQuery: ParsedUrlQuery | undefined;
  /** Path parameters of the matched route. */
  params: Readonly<Record<string, string>> = NO_PARAMS;
  /** The parsed JSON body (or the raw Buffer for a raw-body route); undefined when none was sent. */
  body: unknown = undefined;
  /** The matched route's path (metrics label), 'unmatched' otherwise. */
  routePath = 'unmatched';
  id = '';
  /** The client's address (edge/client-address.ts: the peer, or X-Forwarded-For from a trusted proxy). */
  address = '';
  principal?: Principal;
  logBindings: Record<string, unknown> = {};
  logChild: Logger | undefined = undefined;

  constructor(
    readonly raw: IncomingMessage,
    private readonly rootLog: Logger,
  ) {
    this.method = raw.method ?? 'GET';
    const url = raw.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.rawQuery = q < 0 ? '' : url.slice(q + 1);
  }

  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  /** The query string as node:querystring parses it (a repeated key is an array, which the schemas refuse). */
  get query(): ParsedUrlQuery {
    this.parsedQuery ??= parseQueryString(this.rawQuery);
    return this.parsedQuery;
  }

  /** Child logger with reqId (+ vmId, sessionId once known), created on first use: most requests never log. */
  get log(): Logger {
    this.logChild ??= this.rootLog.child(this.logBindings);
    return this.logChild;
  }

  /**
   * A debug line (per-candidate detail and the like) through `log`, which is built only when debug
   * is on: a pino child serialises its bindings when it is made, whatever the level, and the hot
   * routes (a candidate POST) would otherwise pay that on every request to log nothing.
   */
  debug(fields: Record<string, unknown>, msg: string): void {
    if (this.rootLog.isLevelEnabled('debug')) this.log.debug(fields, msg);
  }
}

export class Res {
  private code = 200;
  private readonly extra: OutgoingHttpHeaders = {};

  constructor(readonly raw: ServerResponse) {}

  get headersSent(): boolean {
    return this.raw.headersSent;
  }

  get statusCode(): number {
    return this.raw.headersSent ? this.raw.statusCode : this.code;
  }

  status(code: number): this {
    this.code = code;
    return this;
  }

  /** An array sends the header once per value (e.g. one `Link` per ICE server). */
  setHeader(name: string, value: string | string[]): this {
    this.extra[name] = value;
    return this;
  }

  set(headers: Record<string, string>): this {
    Object.assign(this.extra, headers);
    return this;
  }

  type(contentType: string): this {
    this.extra['Content-Type'] = contentType;
    return this;
  }

  json(body: unknown): void {
    this.send(JSON.stringify(body), 'application/json; charset=utf-8');
  }

  /** A string or bytes with the Content-Type given, set before (`type`/`set`), or the default. */
  send(body: string | Buffer, defaultType = 'text/html; charset=utf-8'): void {
    const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    const headers = this.extra;
    headers['Content-Type'] ??= defaultType;
    headers['Content-Length'] = bytes;
    this.raw.writeHead(this.code, headers);
    this.raw.end(body);
  }

  /**
   * A body of `length` bytes from a stream (a recording segment), with the headers set before; a
   * stream that fails midway ends the response early (the client sees a short body and retries).
   */
  stream(body: Readable, length: number, onError: (err: Error) => void): void {
    this.extra['Content-Length'] = length;
    this.raw.writeHead(this.code, this.extra);
    body.once('error', (err) => {
      onError(err);
      this.raw.destroy();
    });
    this.raw.once('close', () => body.destroy());
    body.pipe(this.raw);
  }

  /** No body (204, or a status without content). */
  end(): void {
    this.raw.writeHead(this.code, this.extra);
    this.raw.end();
  }
}
