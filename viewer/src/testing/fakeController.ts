/**
 * An in-process stand-in for the controller's REST contract, as a `fetch`
 * function, for unit tests. Long-polls hang until something arrives or the
 * request is aborted, like the real ones. Test-only.
 */
import {
  CandidateBody,
  ControlBody,
  type ControlState,
  CreateSessionBody,
  ERROR_CODES,
  type ErrorCode,
  OfferBody,
  type StoredCandidate,
} from '@vmlive/protocol';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  auth: string | null;
}

interface FakeSession {
  id: string;
  offer: string | null;
  answer: string | null;
  vmCandidates: StoredCandidate[];
  browserCandidates: CandidateBody[];
  ended: boolean;
  /** ICE restarts stored so far (as the controller: a restart drops both sides' candidates). */
  generation: number;
  /** Every offer posted, in order (the first one and each restart's). */
  offers: string[];
}

type Waiter = () => void;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const empty = (status: number) => new Response(null, { status });
/** The controller's error body, with the status the registry gives the code. */
const error = (code: ErrorCode) =>
  json(ERROR_CODES[code].status, { error: { code, message: code.replace(/_/g, ' ') } });

export class FakeController {
  readonly requests: RecordedRequest[] = [];
  readonly sessions = new Map<string, FakeSession>();
  /** Make the next POST /api/webrtc/session calls fail with these codes (shifted one per call). */
  createSessionFailures: ErrorCode[] = [];
  private seq = 0;
  private nextSession = 1;
  private waiters = new Set<Waiter>();

  readonly fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = init.method ?? 'GET';
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    this.requests.push({
      method,
      path: url.pathname,
      query: url.searchParams,
      body,
      auth: new Headers(init.headers).get('authorization'),
    });
    const signal = init.signal ?? undefined;
    // A macrotask per request, as a real network has: a client that loops on a bad cursor cannot starve timers.
    await new Promise((resolve) => setTimeout(resolve, 0));
    signal?.throwIfAborted();
    return this.route(method, url, body, signal);
  };

  /** What POST /api/webrtc/session reports as `vmOnline`. */
  vmOnline = true;

  /** Whether GET /api/vms/:vmId/snapshot has a JPEG (else 503 snapshot_unavailable). */
  snapshotAvailable = true;

  /**
   * The VM's control state behind GET/POST /api/vms/:vmId/control. Every session here belongs to
   * one viewer token, so (as with the real lease) any of them may take over from another, even an
   * ended one; a holder that is not one of them (the operator, another viewer) gets control_held.
   */
  control: ControlState = { mode: 'agent', holder: null, since: 1 };
  /** Make the next POST …/control calls fail with these codes (shifted one per call). */
  controlFailures: ErrorCode[] = [];

  private async route(method: string, url: URL, body: unknown, signal?: AbortSignal): Promise<Response> {
    const parts = url.pathname.split('/').filter(Boolean); // api webrtc session :id ...
    if (parts[0] === 'api' && parts[1] === 'vms' && parts[2] && parts[3] === 'control' && !parts[4]) {
      return this.routeControl(method, url, body, signal);
    }
    if (method === 'GET' && parts[0] === 'api' && parts[1] === 'vms' && parts[2] && parts[3] === 'snapshot') {
      if (!this.snapshotAvailable) return error('snapshot_unavailable');
      // A JPEG's first bytes are enough: the viewer hands the blob to an <img> and never parses it.
      return new Response(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), {
        status: 200,
        headers: { 'content-type': 'image/jpeg', 'x-snapshot-at': String(Date.now()) },
      });
    }
    if (method === 'POST' && url.pathname === '/api/webrtc/session') {
      const failure = this.createSessionFailures.shift();
      if (failure) return error(failure);
      const { iceTransportPolicy = 'all' } = CreateSessionBody.parse(body);
      const id = `s${this.nextSession++}`;
      this.sessions.set(id, {
        id,
        offer: null,
        answer: null,
        vmCandidates: [],
        browserCandidates: [],
        ended: false,
        generation: 0,
        offers: [],
      });
      return json(201, {
        sessionId: id,
        iceServers: [{ urls: 'stun:stun.example' }],
        expiresAt: Date.now() + 60_000,
        vmOnline: this.vmOnline,
        iceTransportPolicy,
      });
    }
    if (parts[0] === 'api' && parts[1] === 'webrtc' && parts[2] === 'session' && parts[3]) {
      const session = this.sessions.get(parts[3]);
      if (!session || session.ended) return error('session_not_found');
      const tail = parts.slice(4).join('/');
      if (method === 'POST' && tail === 'offer') {
        const offer = OfferBody.parse(body);
        if (offer.iceRestart) {
          if (session.answer === null) return error(session.offer === null ? 'offer_missing' : 'offer_exists');
          session.offer = offer.sdp;
          session.offers.push(offer.sdp);
          session.answer = null;
          session.generation += 1;
          session.vmCandidates = [];
          session.browserCandidates = [];
          this.wake();
          return json(200, { offerSeq: ++this.seq, generation: session.generation });
        }
        session.offer = offer.sdp;
        session.offers.push(offer.sdp);
        return empty(204);
      }
      if (method === 'GET' && tail === 'answer') {
        await this.waitFor(() => session.answer !== null || session.ended, signal);
        if (session.ended) return error('session_not_found');
        return json(200, { type: 'answer', sdp: session.answer });
      }
      if (method === 'POST' && tail === 'candidate') {
        session.browserCandidates.push(CandidateBody.parse(body));
        return json(201, { seq: ++this.seq, timestamp: Date.now() });
      }
      if (method === 'GET' && tail === 'candidates/vm') {
        const since = Number(url.searchParams.get('since') ?? 0);
        const fresh = () => session.vmCandidates.filter((c) => c.seq > since);
        await this.waitFor(() => fresh().length > 0 || session.ended, signal);
        if (session.ended) return error('session_not_found');
        const candidates = fresh();
        return json(200, { candidates, cursor: candidates[candidates.length - 1]?.seq ?? since });
      }
      if (method === 'DELETE' && tail === '') {
        session.ended = true;
        this.wake();
        return empty(204);
      }
    }
    return error('not_found');
  }

  private async routeControl(method: string, url: URL, body: unknown, signal?: AbortSignal): Promise<Response> {
    if (method === 'GET') {
      const since = Number(url.searchParams.get('since') ?? 0);
      if (Number(url.searchParams.get('wait') ?? 0) > 0) await this.waitFor(() => this.control.since > since, signal);
      return json(200, this.control);
    }
    if (method !== 'POST') return error('not_found');
    const failure = this.controlFailures.shift();
    if (failure) return error(failure);
    const { action, sessionId } = ControlBody.parse(body);
    const { mode, holder } = this.control;
    if (action === 'take') {
      if (holder !== null && holder !== sessionId && !this.sessions.has(holder)) return error('control_held');
      if (mode !== 'user' || holder !== sessionId) this.setControl('user', sessionId ?? 'operator');
    } else if (action === 'release') {
      if (sessionId !== undefined && holder !== sessionId) return error('not_holder');
      this.setControl('agent', null);
    } else {
      this.setControl(action === 'pause' ? 'paused' : holder === null ? 'agent' : 'user', holder);
    }
    return json(200, this.control);
  }

  private waitFor(ready: () => boolean, signal?: AbortSignal): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = () => {
        if (!ready()) return;
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          this.waiters.delete(waiter);
          reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
        },
        { once: true },
      );
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  // ---- what the VM side would do ----
  answer(sessionId: string, sdp = 'v=0 fake answer'): void {
    const session = this.must(sessionId);
    session.answer = sdp;
    this.wake();
  }

  /** A VM candidate of the session's current generation, or of `generation` (a stale one). */
  addVmCandidate(sessionId: string, candidate: string, sdpMLineIndex = 0, generation?: number): StoredCandidate {
    const session = this.must(sessionId);
    const stored = {
      candidate,
      sdpMLineIndex,
      sdpMid: '0',
      seq: ++this.seq,
      timestamp: Date.now(),
      generation: generation ?? session.generation,
    };
    session.vmCandidates.push(stored);
    this.wake();
    return stored;
  }

  /** Control changes as the operator, the VM or a lease expiry would make them. */
  setControl(mode: ControlState['mode'], holder: string | null): void {
    this.control = { mode, holder, since: this.control.since + 1 };
    this.wake();
  }

  endSession(sessionId: string): void {
    this.must(sessionId).ended = true;
    this.wake();
  }

  get pendingLongPolls(): number {
    return this.waiters.size;
  }

  requestsTo(method: string, pathPart: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathPart));
  }

  private must(id: string): FakeSession {
    const session = this.sessions.get(id);
    if (!session) throw new Error(`no session ${id}`);
    return session;
  }
}
