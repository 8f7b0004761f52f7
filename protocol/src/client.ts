/**
 * The one REST client of the controller's contract, used by the VM agent, the
 * web viewer, the e2e tests and the scripts. A call names its route (routes.ts);
 * the client fills the path, serialises the query and body, and validates the
 * response with the route's schema where it enters. Every failure is one of the
 * typed errors below; callers decide on the class and on `ApiError.code` (a code
 * of the registry in errors.ts), never on a bare status.
 */
import { z } from 'zod';
import { type ErrorCode, isErrorCode } from './errors.js';
import { buildPath, type PathParamNames, type Route } from './routes.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type ClientErrorKind = 'api' | 'network' | 'timeout' | 'aborted' | 'invalid-response';

export abstract class ClientError extends Error {
  abstract readonly kind: ClientErrorKind;
}

/** The controller answered with an error body. `code` is a registry code, or `http_<status>` for a foreign body. */
export class ApiError extends ClientError {
  override readonly name = 'ApiError';
  readonly kind = 'api';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | `http_${number}`,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  is(...codes: ErrorCode[]): boolean {
    return (codes as string[]).includes(this.code);
  }
}

/** A ClientError class of one kind (the platform's AbortError keeps its name `AbortError`). */
function kinded<K extends ClientErrorKind>(kind: K, name: string) {
  return class extends ClientError {
    override readonly name = name;
    readonly kind: K = kind;
  };
}

/** The request never got an answer (refused, reset, DNS, CORS). */
export class NetworkError extends kinded('network', 'NetworkError') {}
/** No answer within the client's own deadline. */
export class TimeoutError extends kinded('timeout', 'TimeoutError') {}
/** The caller's AbortSignal fired. `name` is 'AbortError' like the platform's. */
export class AbortedError extends kinded('aborted', 'AbortError') {}
/** A 2xx answer whose body does not match the route's schema. */
export class InvalidResponseError extends kinded('invalid-response', 'InvalidResponseError') {}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/**
 * Runs `poll` (one long-poll round) again and again until `signal` aborts; a failure waits
 * `retryMs` and polls again. What every follower of a cursor feed does (automation, viewer panel).
 */
export function pollUntilAborted(signal: AbortSignal, poll: () => Promise<void>, retryMs: number): void {
  void (async () => {
    while (!signal.aborted) {
      try {
        await poll();
      } catch (err) {
        if (signal.aborted || isAbortError(err)) return;
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  })();
}

/** A binary response (snapshot JPEG, OpenAPI text). */
export interface BinaryBody {
  blob: Blob;
  headers: Headers;
}

type JsonSchemaOf<R extends Route> = Extract<R['responses'][number], { schema: z.ZodType }>['schema'];
type HasEmpty<R extends Route> =
  Exclude<R['responses'][number], { schema: z.ZodType } | { mediaType: string }> extends never ? false : true;
type HasBinary<R extends Route> = Extract<R['responses'][number], { mediaType: string }> extends never ? false : true;

export type RouteResult<R extends Route> =
  | z.infer<JsonSchemaOf<R>>
  | (HasEmpty<R> extends true ? undefined : never)
  | (HasBinary<R> extends true ? BinaryBody : never);

type ParamsArg<R extends Route> = [PathParamNames<R['path']>] extends [never]
  ? { params?: undefined }
  : { params: Record<PathParamNames<R['path']>, string> };
type QueryArg<R extends Route> = R['query'] extends z.ZodObject
  ? { query?: z.input<R['query']> }
  : { query?: undefined };
type BodyArg<R extends Route> = R['body'] extends { schema: infer S extends z.ZodType }
  ? { body: z.input<S> }
  : R['body'] extends { mediaType: string }
    ? { body: Blob | Uint8Array<ArrayBuffer> }
    : { body?: undefined };

export type CallArgs<R extends Route> = ParamsArg<R> &
  QueryArg<R> &
  BodyArg<R> & {
    signal?: AbortSignal | undefined;
    /** Overrides the deadline (default: the query's `wait` plus `slackMs`, or `timeoutMs`). */
    timeoutMs?: number;
    /** Let the request outlive the page (DELETE on unload). */
    keepalive?: boolean;
  };

export interface ApiClientOptions {
  baseUrl: string;
  /** Bearer token; omit for the routes that need none. */
  token?: string;
  fetch?: FetchLike;
  /** Deadline of a request without `wait` (default 20 s). */
  timeoutMs?: number;
  /** Added to a long-poll's `wait` before the request is abandoned (default 10 s). */
  slackMs?: number;
}

const LooseErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;
  private readonly slackMs: number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    // Bind so a bare `fetch` keeps its `this` (Chromium throws "Illegal invocation" otherwise).
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.slackMs = options.slackMs ?? 10_000;
  }

  /** The same client with another token. */
  withToken(token: string): ApiClient {
    return new ApiClient({
      baseUrl: this.baseUrl,
      token,
      fetch: this.fetchFn,
      timeoutMs: this.timeoutMs,
      slackMs: this.slackMs,
    });
  }

  async call<R extends Route>(route: R, args: CallArgs<R>): Promise<RouteResult<R>> {
    const a = args as {
      params?: Record<string, string>;
      query?: Record<string, unknown>;
      body?: unknown;
      signal?: AbortSignal;
      timeoutMs?: number;
      keepalive?: boolean;
    };
    let url = this.baseUrl + buildPath(route.path, a.params ?? {});
    let waitS = 0;
    if (a.query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(a.query)) {
        if (v === undefined || v === null) continue;
        qs.set(k, String(v));
        if (k === 'wait') waitS = Number(v) || 0;
      }
      const s = qs.toString();
      if (s) url += `?${s}`;
    }
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    const init: RequestInit = { method: route.method, headers };
    if (route.body?.schema) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(a.body);
    } else if (route.body?.mediaType) {
      // A Blob's own type names the one media type a route accepting a range (video/*) is sent.
      headers['content-type'] = a.body instanceof Blob && a.body.type ? a.body.type : route.body.mediaType;
      init.body = a.body instanceof Blob ? a.body : new Blob([a.body as Uint8Array<ArrayBuffer>]);
    }
    if (a.keepalive) init.keepalive = true;
    const deadline = a.timeoutMs ?? (waitS > 0 ? waitS * 1000 + this.slackMs : this.timeoutMs);
    const what = `${route.method} ${route.path}`;
    // One controller per call, tied to the caller's signal by a listener removed when the call
    // ends. Not AbortSignal.any(): on Node 20 every composite stays reachable from a long-lived
    // source signal (the VM agent's stop signal) after it fired, about 2 KB per request, forever.
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, deadline);
    const onAbort = () => ctl.abort();
    if (a.signal?.aborted) ctl.abort();
    else a.signal?.addEventListener('abort', onAbort, { once: true });
    init.signal = ctl.signal;
    try {
      return await this.exchange(route, url, init, what);
    } catch (err) {
      if (err instanceof ClientError) throw err;
      if (a.signal?.aborted) throw new AbortedError(`${what}: aborted`, { cause: err });
      if (timedOut) throw new TimeoutError(`${what}: no answer within ${deadline} ms`, { cause: err });
      const detail = err instanceof Error ? err.message : String(err);
      throw new NetworkError(`${what}: ${detail}`, { cause: err });
    } finally {
      clearTimeout(timer);
      a.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Sends the request and reads the answer; transport failures are left to `call` to classify. */
  private async exchange<R extends Route>(
    route: R,
    url: string,
    init: RequestInit,
    what: string,
  ): Promise<RouteResult<R>> {
    const res = await this.fetchFn(url, init);
    if (!res.ok) throw await apiErrorFrom(res);
    const spec = route.responses.find((r) => r.status === res.status) ?? route.responses[0];
    if (spec?.schema) {
      const text = await res.text();
      if (text === '' && res.status === 204) return undefined as RouteResult<R>;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new InvalidResponseError(`${what}: ${res.status} response is not JSON`);
      }
      const checked = spec.schema.safeParse(parsed);
      if (!checked.success) {
        throw new InvalidResponseError(`${what}: unexpected response: ${z.prettifyError(checked.error)}`);
      }
      return checked.data as RouteResult<R>;
    }
    if (spec?.mediaType) {
      return { blob: await res.blob(), headers: res.headers } as RouteResult<R>;
    }
    await res.body?.cancel();
    return undefined as RouteResult<R>;
  }
}

async function apiErrorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const parsed = LooseErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      const { code, message, field } = parsed.data.error;
      return new ApiError(res.status, isErrorCode(code) ? code : `http_${res.status}`, message, field);
    }
  } catch {
    // not JSON: keep the status and the raw text
  }
  return new ApiError(res.status, `http_${res.status}`, text.slice(0, 200) || res.statusText || `HTTP ${res.status}`);
}
