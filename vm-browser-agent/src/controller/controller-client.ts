/**
 * The VM side of the controller's REST contract: the protocol's ApiClient
 * (one client for every caller, responses validated where they enter) bound
 * to this VM's id and token. Failures are the protocol's typed errors
 * (ApiError with a registry code, NetworkError, TimeoutError, AbortedError).
 */
import {
  ApiClient,
  ApiError,
  type CandidateBody,
  type CandidatesResponse,
  type FetchLike,
  type HealthReport,
  routes,
  type SegmentMediaType,
  type UploadSegmentResponse,
  type VmSessionsResponse,
} from '@vmlive/protocol';

export interface ControllerClientOptions {
  baseUrl: string;
  vmId: string;
  token: string;
  /** Added to a long-poll's wait before the request itself is abandoned. */
  slackMs?: number;
  fetch?: FetchLike;
}

export interface SessionsPoll {
  state: 'offered' | 'active';
  /** `cursor` of the previous `offered` reply. */
  since?: number;
  /** `since` of the control state the caller holds. */
  controlSince?: number;
  /** The recording the VM agent records now ('' none): the poll returns when the order differs. */
  recording?: string;
  waitSeconds: number;
}

export class ControllerClient {
  private readonly api: ApiClient;
  private readonly vm: { vmId: string };

  constructor(private readonly opts: ControllerClientOptions) {
    this.api = new ApiClient({
      baseUrl: opts.baseUrl,
      token: opts.token,
      slackMs: opts.slackMs ?? 10_000,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    this.vm = { vmId: opts.vmId };
  }

  get vmId(): string {
    return this.opts.vmId;
  }

  listSessions(poll: SessionsPoll, signal?: AbortSignal): Promise<VmSessionsResponse> {
    return this.api.call(routes.vmSessions, {
      params: this.vm,
      query: {
        state: poll.state,
        since: poll.since,
        controlSince: poll.controlSince,
        recording: poll.recording,
        wait: poll.waitSeconds,
      },
      signal,
    });
  }

  async postAnswer(sessionId: string, sdp: string, signal?: AbortSignal): Promise<void> {
    await this.api.call(routes.postAnswer, { params: { id: sessionId }, body: { type: 'answer', sdp }, signal });
  }

  async postCandidate(sessionId: string, c: Omit<CandidateBody, 'from'>, signal?: AbortSignal): Promise<void> {
    await this.api.call(routes.postCandidate, { params: { id: sessionId }, body: { ...c, from: 'vm' }, signal });
  }

  browserCandidates(
    sessionId: string,
    since: number,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<CandidatesResponse> {
    return this.api.call(routes.getCandidates, {
      params: { id: sessionId, type: 'browser' },
      query: { since, wait: waitSeconds },
      signal,
    });
  }

  /** Ends a session; one that is already gone counts as ended. */
  async deleteSession(sessionId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.api.call(routes.deleteSession, { params: { id: sessionId }, signal });
    } catch (err) {
      if (isGone(err)) return;
      throw err;
    }
  }

  async heartbeat(
    stats: Record<string, unknown>,
    health: HealthReport,
    connectedSessions: string[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.api.call(routes.heartbeat, { params: this.vm, body: { stats, health, connectedSessions }, signal });
  }

  /** Uploads one finished recording segment; a retry of a stored one is answered `stored: false`. */
  uploadSegment(
    recordingId: string,
    segment: { startedAt: number; durationMs: number; mediaType: SegmentMediaType },
    data: Buffer,
    signal?: AbortSignal,
  ): Promise<UploadSegmentResponse> {
    return this.api.call(routes.uploadSegment, {
      params: { ...this.vm, recordingId },
      query: { startedAt: segment.startedAt, durationMs: segment.durationMs },
      body: new Blob([new Uint8Array(data)], { type: segment.mediaType }),
      // a 60 s segment is megabytes: give a slow uplink time
      timeoutMs: 120_000,
      signal,
    });
  }

  async putSnapshot(jpeg: Buffer, signal?: AbortSignal): Promise<void> {
    await this.api.call(routes.putSnapshot, { params: this.vm, body: new Uint8Array(jpeg), signal });
  }
}

/** The session (or VM) no longer exists at the controller: stop using it. */
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.is('session_not_found', 'vm_not_found');
}

/** The controller refuses our token for this resource: retrying cannot help. */
export function isAuthFailure(err: unknown): boolean {
  return err instanceof ApiError && err.is('unauthorized', 'token_expired', 'forbidden');
}
