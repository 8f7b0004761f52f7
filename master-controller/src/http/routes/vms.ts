/** VM registry: operator CRUD, viewer tokens, VM heartbeat and the VM's sessions poll. */
import {
  CreateViewerTokenBody,
  CreateVmBody,
  HeartbeatBody,
  type ListVmsResponse,
  type OfferedSession,
  type VmSessionsResponse,
  type VmSummary,
} from '@vmlive/protocol';
import { Router } from 'express';
import { randomId } from '../../auth/tokens.js';
import { ApiError } from '../../errors.js';
import { topics } from '../../store/types.js';
import { authenticate, isVmOnline, loadVm, requireOperator, requireVmToken } from '../access.js';
import type { Ctx } from '../context.js';
import { parseBody, parseEnum, parseWait } from '../validate.js';

export function vmRoutes(ctx: Ctx): Router {
  const r = Router();
  const { store, config } = ctx;

  r.post('/api/vms', async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const body = parseBody(CreateVmBody, req);
    const vmId = randomId(12);
    await store.createVm({ vmId, name: body.name ?? vmId, createdAt: Date.now() });
    const vmToken = await ctx.tokens.issueVmToken(vmId);
    req.log.info({ vmId }, 'vm created');
    res.status(201).json({ vmId, vmToken });
  });

  r.get('/api/vms', async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const now = Date.now();
    const vms: VmSummary[] = [];
    for (const vm of await store.listVms()) {
      vms.push({
        vmId: vm.vmId,
        name: vm.name,
        online: isVmOnline(ctx, vm, now),
        lastSeenAt: vm.lastSeenAt,
        viewers: await store.countVmSessions(vm.vmId),
        control: vm.control,
        ...(vm.stats !== undefined ? { stats: vm.stats } : {}),
      });
    }
    res.json({ vms } satisfies ListVmsResponse);
  });

  r.delete('/api/vms/:vmId', async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    await store.deleteVm(vm.vmId);
    req.log.info('vm deleted');
    res.status(204).end();
  });

  r.post('/api/vms/:vmId/viewer-tokens', async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const body = parseBody(CreateViewerTokenBody, req);
    if (body.ttlSeconds > config.viewerTokenMaxTtlS) {
      throw new ApiError('invalid_body', `ttlSeconds must be at most ${config.viewerTokenMaxTtlS}`, 'ttlSeconds');
    }
    const out = await ctx.tokens.issueViewerToken(vm.vmId, body.role, body.ttlSeconds);
    req.log.info({ role: body.role, ttlSeconds: body.ttlSeconds }, 'viewer token issued');
    res.status(201).json(out);
  });

  r.post('/api/vms/:vmId/heartbeat', async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireVmToken(p, vm.vmId);
    const body = parseBody(HeartbeatBody, req);
    await store.touchVm(vm.vmId, Date.now(), body.stats);
    res.status(204).end();
  });

  r.get('/api/vms/:vmId/sessions', async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireVmToken(p, vm.vmId);
    const state = parseEnum(req, 'state', ['offered', 'active'] as const, 'offered');
    const waitMs = parseWait(req);
    const vmId = vm.vmId;
    await store.touchVm(vmId, Date.now());

    // "Something new": for `offered`, any waiting offer; for `active`, a change in
    // the set of active sessions. Either: a control change or a fresh snapshot request.
    let initialActive: string | null = null;
    const initialSince = vm.control.since;
    ctx.vmPolling.set(vmId, (ctx.vmPolling.get(vmId) ?? 0) + 1);
    try {
      const out = await ctx.polls.poll(res, [topics.vm(vmId)], waitMs, async () => {
        const current = await store.getVm(vmId);
        if (!current) throw new ApiError('vm_not_found', `VM ${vmId} was deleted`);
        const list = await store.listVmSessions(vmId, state);
        const now = Date.now();
        const claimed = await store.claimSnapshotRequest(vmId, now);
        const sessions: OfferedSession[] = list.map((s) => ({
          sessionId: s.sessionId,
          offer: { type: 'offer', sdp: s.offer ?? '' },
          createdAt: s.createdAt,
        }));
        let changed: boolean;
        if (state === 'offered') {
          changed = sessions.length > 0;
        } else {
          const key = list.map((s) => s.sessionId).join(',');
          if (initialActive === null) initialActive = key;
          changed = key !== initialActive;
        }
        const value: VmSessionsResponse = {
          sessions,
          control: current.control,
          snapshotWanted: claimed || current.snapshotWantedUntil > now,
        };
        return { ready: changed || claimed || current.control.since !== initialSince, value };
      });
      if (!res.headersSent) res.json(out);
    } finally {
      const n = (ctx.vmPolling.get(vmId) ?? 1) - 1;
      if (n <= 0) ctx.vmPolling.delete(vmId);
      else ctx.vmPolling.set(vmId, n);
      await store.touchVm(vmId, Date.now());
    }
  });

  return r;
}
