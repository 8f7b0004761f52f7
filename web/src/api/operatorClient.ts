/**
 * The operator console's REST calls (operator token).
 */
import type {
  ControlAction,
  ControlState,
  CreateVmResponse,
  ListVmsResponse,
  ViewerRole,
  ViewerTokenResponse,
} from '@vmlive/protocol';
import { type FetchLike, HttpClient } from './http.js';
import {
  ControlStateSchema,
  CreateSessionResponseSchema,
  CreateVmResponseSchema,
  ListVmsResponseSchema,
  parseResponse,
  ViewerTokenResponseSchema,
} from './responses.js';

const enc = encodeURIComponent;

export class OperatorClient {
  readonly http: HttpClient;
  /** The operator's own session per VM, used as `sessionId` for pause/resume. */
  private readonly ownSessions = new Map<string, string>();

  constructor(options: { baseUrl: string; token: string; fetch?: FetchLike }) {
    this.http = new HttpClient(options);
  }

  async listVms(signal?: AbortSignal): Promise<ListVmsResponse> {
    return parseResponse(ListVmsResponseSchema, await this.http.json<unknown>('/api/vms', { signal }), 'VM list');
  }

  async createVm(name?: string): Promise<CreateVmResponse> {
    const body = await this.http.json<unknown>('/api/vms', { method: 'POST', body: name ? { name } : {} });
    return parseResponse(CreateVmResponseSchema, body, 'new VM');
  }

  async deleteVm(vmId: string): Promise<void> {
    await this.http.raw(`/api/vms/${enc(vmId)}`, { method: 'DELETE' });
    this.ownSessions.delete(vmId);
  }

  async mintViewerToken(vmId: string, role: ViewerRole, ttlSeconds: number): Promise<ViewerTokenResponse> {
    const body = await this.http.json<unknown>(`/api/vms/${enc(vmId)}/viewer-tokens`, {
      method: 'POST',
      body: { role, ttlSeconds },
    });
    return parseResponse(ViewerTokenResponseSchema, body, 'viewer token');
  }

  async endSession(sessionId: string): Promise<void> {
    await this.http.raw(`/api/webrtc/session/${enc(sessionId)}`, { method: 'DELETE' });
  }

  /**
   * pause/resume: the contract's POST /control needs a `sessionId`, so the
   * operator uses a session of its own (created with the operator token, no
   * offer ever posted) and keeps reusing it; if it expired, one new one is made.
   */
  async control(vmId: string, action: ControlAction): Promise<ControlState> {
    for (let tries = 0; ; tries++) {
      const sessionId = await this.ownSession(vmId);
      try {
        const body = await this.http.json<unknown>(`/api/vms/${enc(vmId)}/control`, {
          method: 'POST',
          body: { action, sessionId },
        });
        return parseResponse(ControlStateSchema, body, 'control state');
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (tries === 0 && status === 404) {
          this.ownSessions.delete(vmId);
          continue;
        }
        throw err;
      }
    }
  }

  private async ownSession(vmId: string): Promise<string> {
    const known = this.ownSessions.get(vmId);
    if (known) return known;
    const body = await this.http.json<unknown>('/api/webrtc/session', { method: 'POST', body: { vmId } });
    const { sessionId } = parseResponse(CreateSessionResponseSchema, body, 'session');
    this.ownSessions.set(vmId, sessionId);
    return sessionId;
  }
}

export function viewerLink(origin: string, vmId: string, token: string): string {
  // The token goes in the fragment: browsers never send it to servers or write it to access logs.
  return `${origin.replace(/\/+$/, '')}/view?vm=${enc(vmId)}#token=${enc(token)}`;
}
