/**
 * REST signaling for one viewer over the protocol's ApiClient: session,
 * offer, answer long-poll, trickle candidates both ways (RFC 8838 trickle ICE
 * over the controller's REST contract), and the session's end. Long-polls
 * stop when their AbortSignal fires, so closing a connection never leaves a
 * request looping. Failures are the protocol's typed errors.
 */
import {
  type ApiClient,
  ApiError,
  type CandidateBody,
  type CreateSessionResponse,
  type IceRestartResponse,
  type IceTransportPolicy,
  isAbortError,
  isErrorCode,
  routes,
  type SessionDescription,
  type StoredCandidate,
} from '@vmlive/protocol';

export type BrowserCandidate = Omit<CandidateBody, 'from'>;

export interface SignalingClientOptions {
  /** Long-poll length asked of the controller (0–30 s). */
  waitSeconds?: number;
  /** Pause before retrying a candidate poll that failed for a transient reason. */
  retryDelayMs?: number;
}

/**
 * Whether asking again may help: no answer (network, timeout), the controller
 * going away or failing, or a body that is not the controller's (a proxy in
 * between). A registry code such as `session_not_found` or `forbidden` is final.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  return !isErrorCode(err.code) || err.is('shutting_down', 'internal');
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
  private readonly waitSeconds: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly api: ApiClient,
    options: SignalingClientOptions = {},
  ) {
    this.waitSeconds = options.waitSeconds ?? 25;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /**
   * `iceTransportPolicy: 'relay'` asks the controller for a relay-only session (both sides use
   * TURN only, so the VM never learns this viewer's address); left out, the deployment's policy holds.
   */
  createSession(
    vmId: string,
    signal?: AbortSignal,
    iceTransportPolicy?: IceTransportPolicy,
  ): Promise<CreateSessionResponse> {
    const body = iceTransportPolicy ? { vmId, iceTransportPolicy } : { vmId };
    return this.api.call(routes.createSession, { body, signal });
  }

  async postOffer(sessionId: string, sdp: string, signal?: AbortSignal): Promise<void> {
    await this.api.call(routes.postOffer, { params: { id: sessionId }, body: { type: 'offer', sdp }, signal });
  }

  /**
   * Posts an ICE restart offer (RFC 8445 §9) on the answered session: the controller clears its
   * answer and the VM answers again. Resolves with the restart's candidate generation.
   */
  async postIceRestart(sessionId: string, sdp: string, signal?: AbortSignal): Promise<IceRestartResponse> {
    const reply = await this.api.call(routes.postOffer, {
      params: { id: sessionId },
      body: { type: 'offer', sdp, iceRestart: true },
      signal,
    });
    // 204 is a first offer's reply; a restart's is always 200 with its generation.
    if (!reply) throw new Error('the controller answered the ICE restart without a generation');
    return reply;
  }

  /**
   * Long-polls until the VM's answer exists. 204 means "not yet": ask again
   * at once (the controller already held the request for `wait` seconds).
   */
  async waitForAnswer(sessionId: string, signal: AbortSignal): Promise<SessionDescription> {
    for (;;) {
      signal.throwIfAborted();
      const answer = await this.api.call(routes.getAnswer, {
        params: { id: sessionId },
        query: { wait: this.waitSeconds },
        signal,
      });
      if (answer !== undefined) return answer;
    }
  }

  /** Trickles one local candidate; an empty `candidate` string is end-of-candidates (RFC 8838 §8.2). */
  async postCandidate(sessionId: string, candidate: BrowserCandidate, signal?: AbortSignal): Promise<void> {
    await this.api.call(routes.postCandidate, {
      params: { id: sessionId },
      body: { ...candidate, from: 'browser' },
      signal,
    });
  }

  /**
   * Long-polls the VM's candidates, passing back the server cursor each time
   * so no candidate is skipped or seen twice. Resolves when `signal` aborts;
   * rejects with the ApiError when the session is gone (`session_not_found`)
   * or the token is refused; transient failures (see isTransient) are retried
   * after a pause.
   */
  async pollVmCandidates(
    sessionId: string,
    onCandidate: (candidate: StoredCandidate) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let cursor = 0;
    while (!signal.aborted) {
      try {
        const page = await this.api.call(routes.getCandidates, {
          params: { id: sessionId, type: 'vm' },
          query: { since: cursor, wait: this.waitSeconds },
          signal,
        });
        if (signal.aborted) return;
        for (const candidate of page.candidates) onCandidate(candidate);
        cursor = page.cursor;
      } catch (err) {
        if (signal.aborted || isAbortError(err)) return;
        if (!isTransient(err)) throw err;
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
    await this.api.call(routes.deleteSession, { params: { id: sessionId }, keepalive: true });
  }
}
