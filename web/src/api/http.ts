/**
 * The one place the web app talks HTTP to the controller: bearer auth, JSON
 * bodies, and the controller's `{error:{code,message,field?}}` bodies turned
 * into an `ApiError` that carries the HTTP status and the error code.
 */
import type { ErrorBody } from '@vmlive/protocol';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A request that never reached the controller (DNS, refused, reset, CORS). */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  /** Let the request outlive the page (used for DELETE on unload). */
  keepalive?: boolean;
}

export interface HttpClientOptions {
  baseUrl: string;
  token: string;
  fetch?: FetchLike;
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}

export class HttpClient {
  readonly baseUrl: string;
  readonly token: string;
  private readonly fetchFn: FetchLike;

  constructor(options: HttpClientOptions) {
    this.baseUrl = options.baseUrl;
    this.token = options.token;
    // Bind so a bare `fetch` keeps its `this` (Chromium throws "Illegal invocation" otherwise).
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Sends a request; resolves with the raw Response for 2xx, throws ApiError/NetworkError otherwise. */
  async raw(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    const init: RequestInit = { method: options.method ?? 'GET', headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    if (options.signal) init.signal = options.signal;
    if (options.keepalive) init.keepalive = true;
    let response: Response;
    try {
      response = await this.fetchFn(joinUrl(this.baseUrl, path), init);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new NetworkError(err instanceof Error ? err.message : String(err));
    }
    if (response.ok) return response;
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      parsed = undefined;
    }
    if (isErrorBody(parsed)) {
      throw new ApiError(response.status, parsed.error.code, parsed.error.message, parsed.error.field);
    }
    throw new ApiError(response.status, `http_${response.status}`, response.statusText || `HTTP ${response.status}`);
  }

  /** JSON request; resolves `undefined` for 204 (or any empty body). */
  async json<T>(path: string, options: RequestOptions = {}): Promise<T | undefined> {
    const response = await this.raw(path, options);
    if (response.status === 204) return undefined;
    const text = await response.text();
    return text ? (JSON.parse(text) as T) : undefined;
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
