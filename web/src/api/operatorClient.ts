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
}

export function viewerLink(origin: string, vmId: string, token: string): string {
  // The token goes in the fragment: browsers never send it to servers or write it to access logs.
  return `${origin.replace(/\/+$/, '')}/view?vm=${enc(vmId)}#token=${enc(token)}`;
}
