/**
 * The VM side of the controller's REST contract (issue 2). Every response is
 * validated with the shared zod schemas where it enters; failures become a
 * typed ControllerError carrying the HTTP status and the controller's error code.
 */
import {
  type CandidateBody,
  CandidatesResponseSchema,
  ErrorBodySchema,
  type StoredCandidate,
  type VmSessionsResponse,
  VmSessionsResponseSchema,
} from '@vmlive/protocol';
import type { z } from 'zod';

export type ControllerErrorReason = 'http' | 'network' | 'timeout' | 'invalid-response' | 'aborted';

export class ControllerError extends Error {
  override readonly name = 'ControllerError';
  constructor(
    readonly reason: ControllerErrorReason,
    message: string,
    readonly status?: number,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The resource is gone for good (session ended, VM deleted): stop polling it. */
  get isGone(): boolean {
    return this.status === 404 || this.status === 410;
  }

  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export interface ControllerClientOptions {
  baseUrl: string;
  vmId: string;
  token: string;
  /** Added to a long-poll's wait before the request itself is abandoned. */
  slackMs?: number;
}

export class ControllerClient {
  private readonly base: string;
  private readonly slackMs: number;

  constructor(private readonly opts: ControllerClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.slackMs = opts.slackMs ?? 10_000;
  }

  get vmId(): string {
    return this.opts.vmId;
  }

  async listSessions(
    state: 'offered' | 'active',
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<VmSessionsResponse & { snapshotWanted?: boolean }> {
    const path = `/api/vms/${enc(this.opts.vmId)}/sessions?state=${state}&wait=${waitSeconds}`;
    return this.requestJson('GET', path, VmSessionsResponseSchema, { signal, timeoutMs: waitSeconds * 1000 });
  }

  async postAnswer(sessionId: string, sdp: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/api/webrtc/session/${enc(sessionId)}/answer`, {
      body: { type: 'answer', sdp },
      signal,
    });
  }

  async postCandidate(sessionId: string, c: Omit<CandidateBody, 'from'>, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/api/webrtc/session/${enc(sessionId)}/candidate`, {
      body: { ...c, from: 'vm' },
      signal,
    });
  }

  async browserCandidates(
    sessionId: string,
    since: number,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<{ candidates: StoredCandidate[]; cursor: number }> {
    const path = `/api/webrtc/session/${enc(sessionId)}/candidates/browser?since=${since}&wait=${waitSeconds}`;
    const res = await this.requestJson('GET', path, CandidatesResponseSchema, {
      signal,
      timeoutMs: waitSeconds * 1000,
    });
    return {
      cursor: res.cursor,
      candidates: res.candidates.map((c) => ({ ...c, sdpMid: c.sdpMid ?? null })),
    };
  }

  async deleteSession(sessionId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.request('DELETE', `/api/webrtc/session/${enc(sessionId)}`, { signal });
    } catch (err) {
      if (err instanceof ControllerError && err.isGone) return;
      throw err;
    }
  }

  async heartbeat(stats: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/api/vms/${enc(this.opts.vmId)}/heartbeat`, { body: { stats }, signal });
  }

  async putSnapshot(jpeg: Buffer, signal?: AbortSignal): Promise<void> {
    await this.request('PUT', `/api/vms/${enc(this.opts.vmId)}/snapshot`, {
      raw: jpeg,
      contentType: 'image/jpeg',
      signal,
    });
  }

  private async requestJson<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    opts: { signal?: AbortSignal | undefined; timeoutMs?: number },
  ): Promise<z.infer<S>> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new ControllerError('invalid-response', `${method} ${path}: response is not JSON`, res.status, undefined, {
        cause,
      });
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new ControllerError(
        'invalid-response',
        `${method} ${path}: unexpected response shape: ${parsed.error.message}`,
        res.status,
      );
    }
    return parsed.data;
  }

  private async request(
    method: string,
    path: string,
    opts: {
      body?: unknown;
      raw?: Buffer;
      contentType?: string;
      signal?: AbortSignal | undefined;
      timeoutMs?: number;
    },
  ): Promise<Response> {
    const timeout = AbortSignal.timeout((opts.timeoutMs ?? 0) + this.slackMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}` };
    let body: string | Blob | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    } else if (opts.raw) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      body = new Blob([new Uint8Array(opts.raw)]);
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body, signal });
    } catch (cause) {
      if (opts.signal?.aborted)
        throw new ControllerError('aborted', `${method} ${path}: aborted`, undefined, undefined, { cause });
      if (timeout.aborted)
        throw new ControllerError('timeout', `${method} ${path}: timed out`, undefined, undefined, { cause });
      throw new ControllerError('network', `${method} ${path}: ${describe(cause)}`, undefined, undefined, { cause });
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let code: string | undefined;
    let message = text.slice(0, 200);
    try {
      const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) {
        code = parsed.data.error.code;
        message = parsed.data.error.message;
      }
    } catch {
      // not JSON: keep the raw text as the message
    }
    throw new ControllerError('http', `${method} ${path}: ${res.status} ${message}`, res.status, code);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
