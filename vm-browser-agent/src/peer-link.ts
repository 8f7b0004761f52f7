/**
 * One viewer session as seen from the VM: relays the helper's answer and local
 * candidates to the controller (in order, per session) and long-polls the
 * browser's trickled candidates with the server cursor (`since` is the
 * previous `cursor`, so a candidate is never skipped or repeated).
 *
 * What a failed write means is decided on the error's registry code
 * (protocol/src/errors.ts), per operation, in `answerFailure` and
 * `candidateFailure` below; anything that is not a controller answer
 * (network, timeout, 5xx) is retried.
 */
import { ApiError, type IceServer, type StoredCandidate } from '@vmlive/protocol';
import type { Logger } from 'pino';
import { type ControllerClient, isAuthFailure, isGone } from './controller/controller-client.js';
import { Backoff, sleep } from './util/backoff.js';

/**
 * Why the VM stopped serving a viewer. `viewer-gone`: the helper noticed the
 * viewer stopped answering (helper `peer-lost`: silence, or its data channel
 * association ended).
 */
export type PeerEndReason =
  | 'session-ended'
  | 'helper-died'
  | 'connection-failed'
  | 'answer-rejected'
  | 'viewer-gone'
  | 'shutdown';

/** What to do after a write failed: try again, give this one write up, or end the peer. */
export type WriteVerdict =
  | { action: 'retry' }
  | { action: 'drop'; why: string }
  | { action: 'end'; reason: PeerEndReason };

const RETRY: WriteVerdict = { action: 'retry' };

/** The answer could not be stored. */
export function answerFailure(err: unknown): WriteVerdict {
  if (isGone(err) || isAuthFailure(err)) return { action: 'end', reason: 'session-ended' };
  if (err instanceof ApiError) {
    // answer_exists / offer_missing: another answer won or the session is not ours to answer;
    // invalid_body / body_too_large: ours will never be accepted. Either way no answer of ours reaches the viewer.
    if (err.is('answer_exists', 'offer_missing', 'invalid_body', 'body_too_large', 'invalid_json')) {
      return { action: 'end', reason: 'answer-rejected' };
    }
  }
  return RETRY;
}

/** One local candidate could not be stored. */
export function candidateFailure(err: unknown): WriteVerdict {
  if (isGone(err) || isAuthFailure(err)) return { action: 'end', reason: 'session-ended' };
  if (err instanceof ApiError) {
    // The session goes on: ICE uses the candidates already posted.
    if (err.is('too_many_candidates')) return { action: 'drop', why: 'candidate limit reached' };
    if (err.is('invalid_body', 'body_too_large', 'invalid_json')) return { action: 'drop', why: err.message };
  }
  return RETRY;
}

export interface PeerLinkDeps {
  client: ControllerClient;
  log: Logger;
  longPollSeconds: number;
  /** Feeds one browser candidate to the helper. */
  onRemoteCandidate(candidate: string, sdpMLineIndex: number): void;
  /** The link ended on its own (session gone, answer refused); the server removes the peer. */
  onGone(reason: PeerEndReason): void;
}

export class PeerLink {
  readonly createdAt = Date.now();
  answered = false;
  connectedAt: number | undefined;
  private readonly abort = new AbortController();
  private outbound: Promise<void> = Promise.resolve();
  private cursor = 0;
  private candidatesCapped = false;
  /** ICE restarts the helper was given for this session (the controller's `generation`). */
  private _generation = 0;
  /** Browser candidates of a restart the helper has not been given yet (the restart offer is still on its way). */
  private readonly ahead: StoredCandidate[] = [];

  constructor(
    readonly sessionId: string,
    readonly iceServers: IceServer[],
    private readonly deps: PeerLinkDeps,
  ) {}

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  get generation(): number {
    return this._generation;
  }

  /**
   * The helper was given this session's ICE restart `generation`: browser candidates of it that
   * came first (its candidates poll can see them before the sessions poll hands out the restart
   * offer) go to the helper now, after the restart, where they join the new checklist.
   */
  restarted(generation: number): void {
    this._generation = generation;
    this.candidatesCapped = false;
    const held = this.ahead.splice(0);
    for (const c of held) this.deliver(c);
  }

  /** Feeds one browser candidate to the helper, by generation: older ones are stale, newer ones wait for their restart. */
  private deliver(c: StoredCandidate): void {
    const generation = c.generation ?? 0;
    if (generation < this._generation) return;
    if (generation > this._generation) {
      this.ahead.push(c);
      return;
    }
    this.deps.onRemoteCandidate(c.candidate, c.sdpMLineIndex);
  }

  startCandidatePolling(): void {
    void this.pollBrowserCandidates();
  }

  sendAnswer(sdp: string): void {
    this.enqueue('answer', answerFailure, async () => {
      await this.deps.client.postAnswer(this.sessionId, sdp, this.abort.signal);
      this.answered = true;
      this.deps.log.info('answer posted');
    });
  }

  sendCandidate(candidate: string, sdpMLineIndex: number): void {
    if (this.candidatesCapped) return;
    this.enqueue('candidate', candidateFailure, async () => {
      if (this.candidatesCapped) return;
      await this.deps.client.postCandidate(this.sessionId, { candidate, sdpMLineIndex }, this.abort.signal);
    });
  }

  close(): void {
    this.abort.abort();
  }

  /** Outbound writes run one after another so end-of-candidates stays last. */
  private enqueue(what: string, verdictOf: (err: unknown) => WriteVerdict, op: () => Promise<void>): void {
    this.outbound = this.outbound.then(async () => {
      if (this.closed) return;
      const backoff = new Backoff(100, 2000);
      for (let attempt = 0; attempt < 5 && !this.closed; attempt++) {
        try {
          await op();
          return;
        } catch (err) {
          if (this.closed) return;
          const verdict = verdictOf(err);
          const code = err instanceof ApiError ? err.code : undefined;
          if (verdict.action === 'end') {
            this.deps.log.info({ what, code, reason: verdict.reason }, 'controller refused the write; ending the peer');
            this.deps.onGone(verdict.reason);
            return;
          }
          if (verdict.action === 'drop') {
            if (code === 'too_many_candidates') this.candidatesCapped = true;
            this.deps.log.warn({ what, code, why: verdict.why }, 'controller refused the write; dropped');
            return;
          }
          this.deps.log.warn({ what, err: describe(err), attempt }, 'controller write failed; retrying');
          await sleep(backoff.next(), this.abort.signal);
        }
      }
    });
  }

  private async pollBrowserCandidates(): Promise<void> {
    const backoff = new Backoff(200, 5000);
    while (!this.closed) {
      try {
        const res = await this.deps.client.browserCandidates(
          this.sessionId,
          this.cursor,
          this.deps.longPollSeconds,
          this.abort.signal,
        );
        backoff.reset();
        for (const c of res.candidates) {
          this.deps.log.debug(
            { seq: c.seq, generation: c.generation ?? 0, endOfCandidates: c.candidate === '' },
            'browser candidate',
          );
          this.deliver(c);
        }
        this.cursor = res.cursor;
      } catch (err) {
        if (this.closed) return;
        if (isGone(err) || isAuthFailure(err)) {
          this.deps.log.info(
            { code: err instanceof ApiError ? err.code : undefined },
            'session ended at the controller',
          );
          this.deps.onGone('session-ended');
          return;
        }
        const delay = backoff.next();
        this.deps.log.warn({ err: describe(err), delayMs: delay }, 'candidate poll failed; backing off');
        await sleep(delay, this.abort.signal);
      }
    }
  }
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
