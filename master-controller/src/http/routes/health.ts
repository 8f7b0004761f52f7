/**
 * What the operator console shows per VM beyond its summary: the health ring
 * (one sample per heartbeat) and the list of its viewer sessions.
 */
import { routes, type ViewerSessionsResponse, type VmHealthResponse } from '@vmlive/protocol';
import { authenticate, loadVm, requireOperator } from '../access.js';
import type { Ctx } from '../context.js';
import { handle, type Router } from '../route.js';

export function healthRoutes(ctx: Ctx, r: Router): void {
  const { store } = ctx;

  handle(r, routes.vmHealth, async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const samples = await store.getHealth(vm.vmId);
    res.json({ vmId: vm.vmId, samples } satisfies VmHealthResponse);
  });

  handle(r, routes.viewerSessions, async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const [sessions, latest] = await Promise.all([store.listVmSessions(vm.vmId, 'all'), store.getHealth(vm.vmId, 1)]);
    // The helper's view of each peer, as of the VM agent's latest heartbeat.
    const peers = new Map((latest[0]?.sessions ?? []).map((p) => [p.sessionId, p]));
    const out: ViewerSessionsResponse = {
      control: vm.control,
      sessions: sessions.map((s) => {
        const peer = peers.get(s.sessionId);
        return {
          sessionId: s.sessionId,
          role: s.role,
          kind: s.kind,
          since: s.createdAt,
          lastActivityAt: s.lastActivityAt,
          signaling: s.answer !== null ? 'answered' : s.offer !== null ? 'offered' : 'new',
          connectionState: peer?.connectionState ?? null,
          bytesSent: peer?.bytesSent ?? null,
          holder: vm.control.holder === s.sessionId,
        };
      }),
    };
    res.json(out);
  });
}
