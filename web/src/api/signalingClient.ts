/**
 * REST signaling for one viewer: session, offer, answer long-poll, trickle
 * candidates both ways (RFC 8838 trickle ICE over the controller's REST
 * contract), and the session's end. Long-polls stop when their AbortSignal
 * fires, so closing a connection never leaves a request looping.
 */
import type { CreateSessionResponse, SessionDescription, StoredCandidate } from '@vmlive/protocol';
import { ApiError, type FetchLike, HttpClient, isAbortError } from './http.js';
import { AnswerSchema, CandidatesResponseSchema, CreateSessionResponseSchema, parseResponse } from './responses.js';

export interface BrowserCandidate {
  candidate: string;
  sdpMLineIndex: number;
  sdpMid: string | null;
}

export interface SignalingClientOptions {
  baseUrl: string;
  token: string;
  fetch?: FetchLike;
  /** Long-poll length asked of the controller (0–30 s). */
  waitSeconds?: number;
  /** Pause before retrying a candidate poll that failed for a transient reason. */
  retryDelayMs?: number;
}

const enc = encodeURIComponent;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class SignalingClient {
  readonly http: HttpClient;
  private readonly waitSeconds: number;
  private readonly retryDelayMs: number;

  constructor(options: SignalingClientOptions) {
    this.http = new HttpClient(options);
    this.waitSeconds = options.waitSeconds ?? 25;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  async createSession(vmId: string, signal?: AbortSignal): Promise<CreateSessionResponse> {
    const body = await this.http.json<unknown>('/api/webrtc/session', { method: 'POST', body: { vmId }, signal });
    return parseResponse(CreateSessionResponseSchema, body, 'session');
  }

  async postOffer(sessionId: string, sdp: string, signal?: AbortSignal): Promise<void> {
    await this.http.raw(`/api/webrtc/session/${enc(sessionId)}/offer`, {
      method: 'POST',
      body: { type: 'offer', sdp },
      signal,
    });
  }

  /**
   * Long-polls until the VM's answer exists. 204 means "not yet": ask again
   * at once (the controller already held the request for `wait` seconds).
   */
  async waitForAnswer(sessionId: string, signal: AbortSignal): Promise<SessionDescription> {
    for (;;) {
      signal.throwIfAborted();
      const body = await this.http.json<unknown>(
        `/api/webrtc/session/${enc(sessionId)}/answer?wait=${this.waitSeconds}`,
        { signal },
      );
      if (body !== undefined) return parseResponse(AnswerSchema, body, 'answer');
    }
  }

  /** Trickles one local candidate; an empty `candidate` string is end-of-candidates (RFC 8838 §8.2). */
  async postCandidate(sessionId: string, candidate: BrowserCandidate, signal?: AbortSignal): Promise<void> {
    await this.http.raw(`/api/webrtc/session/${enc(sessionId)}/candidate`, {
      method: 'POST',
      body: { ...candidate, from: 'browser' },
      signal,
    });
  }

  /**
   * Long-polls the VM's candidates, passing back the server cursor each time
   * so no candidate is skipped or seen twice. Resolves when `signal` aborts;
   * rejects with the ApiError when the session is gone (404) or auth fails
   * (401/403); transient failures (network, 5xx) are retried after a pause.
   */
  async pollVmCandidates(
    sessionId: string,
    onCandidate: (candidate: StoredCandidate) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let cursor = 0;
    while (!signal.aborted) {
      try {
        const body = await this.http.json<unknown>(
          `/api/webrtc/session/${enc(sessionId)}/candidates/vm?since=${cursor}&wait=${this.waitSeconds}`,
          { signal },
        );
        if (signal.aborted) return;
        if (body === undefined) continue;
        const page = parseResponse(CandidatesResponseSchema, body, 'candidates');
        for (const candidate of page.candidates) onCandidate(candidate);
        cursor = page.cursor;
      } catch (err) {
        if (signal.aborted || isAbortError(err)) return;
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
        try {
          await sleep(this.retryDelayMs, signal);
        } catch {
          return;
        }
      }
    }
  }

  /** Ends the session; best effort, survives page unload (keepalive). */
  async deleteSession(sessionId: string): Promise<void> {
    await this.http.raw(`/api/webrtc/session/${enc(sessionId)}`, { method: 'DELETE', keepalive: true });
  }
}
