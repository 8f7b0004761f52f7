/**
 * One viewer session as seen from the VM: relays the helper's answer and local
 * candidates to the controller (in order, per session) and long-polls the
 * browser's trickled candidates with the server cursor (issue 2: `since` is the
 * previous `cursor`, so a candidate is never skipped or repeated).
 */
import type { IceServer } from '@vmlive/protocol';
import type { Logger } from 'pino';
import { type ControllerClient, ControllerError } from './controller/controller-client.js';
import { Backoff, sleep } from './util/backoff.js';

export type PeerEndReason = 'session-ended' | 'helper-died' | 'connection-failed' | 'answer-rejected' | 'shutdown';

export interface PeerLinkDeps {
  client: ControllerClient;
  log: Logger;
  longPollSeconds: number;
  /** Feeds one browser candidate to the helper. */
  onRemoteCandidate(candidate: string, sdpMLineIndex: number): void;
  /** The link ended on its own (session gone); the server removes the peer. */
  onGone(reason: PeerEndReason): void;
}

export class PeerLink {
  readonly createdAt = Date.now();
  answered = false;
  connectedAt: number | undefined;
  private readonly abort = new AbortController();
  private outbound: Promise<void> = Promise.resolve();
  private cursor = 0;

  constructor(
    readonly sessionId: string,
    readonly iceServers: IceServer[],
    private readonly deps: PeerLinkDeps,
  ) {}

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  startCandidatePolling(): void {
    void this.pollBrowserCandidates();
  }

  sendAnswer(sdp: string): void {
    this.enqueue(async () => {
      await this.deps.client.postAnswer(this.sessionId, sdp, this.abort.signal);
      this.answered = true;
      this.deps.log.info('answer posted');
    });
  }

  sendCandidate(candidate: string, sdpMLineIndex: number): void {
    this.enqueue(() => this.deps.client.postCandidate(this.sessionId, { candidate, sdpMLineIndex }, this.abort.signal));
  }

  close(): void {
    this.abort.abort();
  }

  /** Outbound writes run one after another so end-of-candidates stays last. */
  private enqueue(op: () => Promise<void>): void {
    this.outbound = this.outbound.then(async () => {
      if (this.closed) return;
      const backoff = new Backoff(100, 2000);
      for (let attempt = 0; attempt < 5 && !this.closed; attempt++) {
        try {
          await op();
          return;
        } catch (err) {
          if (this.closed) return;
          if (err instanceof ControllerError && err.status === 409) {
            this.deps.log.warn({ err: err.message }, 'answer rejected: session already answered');
            this.deps.onGone('answer-rejected');
            return;
          }
          if (err instanceof ControllerError && (err.isGone || err.isAuth || err.status === 400)) {
            this.deps.log.info({ status: err.status, code: err.code }, 'session no longer accepts writes');
            this.deps.onGone('session-ended');
            return;
          }
          this.deps.log.warn({ err: describe(err), attempt }, 'controller write failed; retrying');
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
          this.deps.log.debug({ seq: c.seq, endOfCandidates: c.candidate === '' }, 'browser candidate');
          this.deps.onRemoteCandidate(c.candidate, c.sdpMLineIndex);
        }
        this.cursor = res.cursor;
      } catch (err) {
        if (this.closed) return;
        if (err instanceof ControllerError && (err.isGone || err.isAuth)) {
          this.deps.log.info({ status: err.status, code: err.code }, 'session ended at the controller');
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
