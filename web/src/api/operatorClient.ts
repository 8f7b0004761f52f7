/**
 * The operator console's REST calls (operator token).
 */
import type {
  ControlState,
  CreateVmResponse,
  ListVmsResponse,
  ViewerRole,
  ViewerTokenResponse,
} from '@vmlive/protocol';
import { type FetchLike, HttpClient } from './http.js';
import {
  ControlStateSchema,
  CreateVmResponseSchema,
  ListVmsResponseSchema,
  parseResponse,
  ViewerTokenResponseSchema,
} from './responses.js';

const enc = encodeURIComponent;
export const OPERATOR_SESSION_PLACEHOLDER = 'operator';

export class OperatorClient {
  readonly http: HttpClient;
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
   * pause/resume as the operator. The contract's POST /control body needs a
   * `sessionId`, but the controller uses it only for `take` (or when a viewer
   * acts), so the operator sends the placeholder "operator" — no session is
   * created just to pause an agent.
   */
  async control(vmId: string, action: 'pause' | 'resume'): Promise<ControlState> {
    const body = await this.http.json<unknown>(`/api/vms/${enc(vmId)}/control`, {
      method: 'POST',
      body: { action, sessionId: OPERATOR_SESSION_PLACEHOLDER },
    });
    return parseResponse(ControlStateSchema, body, 'control state');
  }
}

export function viewerLink(origin: string, vmId: string, token: string): string {
  // The token goes in the fragment: browsers never send it to servers or write it to access logs.
  return `${origin.replace(/\/+$/, '')}/view?vm=${enc(vmId)}#token=${enc(token)}`;
}
