/**
 * The operator console's REST calls (operator token), over the protocol's ApiClient.
 */
import {
  type ApiClient,
  type ControlAction,
  type ControlState,
  type CreateVmResponse,
  type ListVmsResponse,
  routes,
  type TokenResponse,
  type ViewerRole,
  type ViewerSessionsResponse,
  type VmHealthResponse,
} from '@vmlive/protocol';

const enc = encodeURIComponent;

export class OperatorClient {
  constructor(private readonly api: ApiClient) {}

  listVms(signal?: AbortSignal): Promise<ListVmsResponse> {
    return this.api.call(routes.listVms, { signal });
  }

  createVm(name?: string): Promise<CreateVmResponse> {
    return this.api.call(routes.createVm, { body: name ? { name } : {} });
  }

  async deleteVm(vmId: string): Promise<void> {
    await this.api.call(routes.deleteVm, { params: { vmId } });
  }

  mintViewerToken(vmId: string, role: ViewerRole, ttlSeconds: number): Promise<TokenResponse> {
    return this.api.call(routes.createViewerToken, { params: { vmId }, body: { role, ttlSeconds } });
  }

  /**
   * Pause or resume the agent, take control over (holder "operator"), or end whoever's control
   * (back to the automation). The operator acts without a session: only viewers name theirs.
   */
  control(vmId: string, action: ControlAction): Promise<ControlState> {
    return this.api.call(routes.postControl, { params: { vmId }, body: { action } });
  }

  health(vmId: string, signal?: AbortSignal): Promise<VmHealthResponse> {
    return this.api.call(routes.vmHealth, { params: { vmId }, signal });
  }

  viewerSessions(vmId: string, signal?: AbortSignal): Promise<ViewerSessionsResponse> {
    return this.api.call(routes.viewerSessions, { params: { vmId }, signal });
  }

  /** Ends any viewer session of any VM (the operator is the browser side of every session). */
  async endSession(sessionId: string): Promise<void> {
    await this.api.call(routes.deleteSession, { params: { id: sessionId } });
  }

  /** The VM's latest screenshot: the controller serves its cached one or asks the VM once for everyone. */
  async snapshot(vmId: string, signal?: AbortSignal): Promise<Blob> {
    const out = await this.api.call(routes.getSnapshot, { params: { vmId }, signal });
    return out.blob;
  }
}

export function viewerLink(origin: string, vmId: string, token: string): string {
  // The token goes in the fragment: browsers never send it to servers or write it to access logs.
  return `${origin.replace(/\/+$/, '')}/view?vm=${enc(vmId)}#token=${enc(token)}`;
}
