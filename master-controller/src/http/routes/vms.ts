/** VM registry: operator CRUD, viewer tokens, VM heartbeat and the VM's sessions poll. */
import { type ListVmsResponse, routes, type VmSessionsResponse, type VmSummary } from '@vmlive/protocol';
import { actorOf, inputEvents } from '../../audit/trail.js';
import { randomId } from '../../auth/tokens.js';
import { ApiError } from '../../errors.js';
import { sessionIceServers } from '../../ice/turn-credentials.js';
import { orderOf } from '../../recordings/doc.js';
import { topics } from '../../store/types.js';
import { authenticate, isVmOnline, loadVm, requireOperator, requireVmToken } from '../access.js';
import type { Ctx } from '../context.js';
import { handle, type Router } from '../route.js';

export function vmRoutes(ctx: Ctx, r: Router): void {
  const { store, config } = ctx;

  handle(r, routes.createVm, async (req, res, input) => {
    requireOperator(await authenticate(ctx, req));
    const body = input.body();
    const vmId = randomId(12);
    await store.createVm({ vmId, name: body.name ?? vmId, createdAt: Date.now() });
    const vmToken = await ctx.tokens.issueVmToken(vmId);
    req.log.info({ vmId }, 'vm created');
    res.status(201).json({ vmId, vmToken });
  });

  handle(r, routes.listVms, async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const now = Date.now();
    const vms: VmSummary[] = [];
    for (const vm of await store.listVms()) {
      const [health] = await store.getHealth(vm.vmId, 1);
      vms.push({
        vmId: vm.vmId,
        name: vm.name,
        online: isVmOnline(ctx, vm, now),
        lastSeenAt: vm.lastSeenAt,
        viewers: await store.countVmSessions(vm.vmId),
        control: vm.control,
        ...(vm.stats !== undefined ? { stats: vm.stats } : {}),
        ...(health ? { health } : {}),
      });
    }
    res.json({ vms } satisfies ListVmsResponse);
  });

  handle(r, routes.deleteVm, async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    await store.deleteVm(vm.vmId);
    // Its recordings go with it: the metadata went with the VM in the store, the files here.
    await ctx.recordings.storage.deletePrefix(vm.vmId);
    req.log.info('vm deleted');
    res.status(204).end();
  });

  handle(r, routes.createViewerToken, async (req, res, input) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const body = input.body();
    if (body.ttlSeconds > config.viewerTokenMaxTtlS) {
      throw new ApiError('invalid_body', `ttlSeconds must be at most ${config.viewerTokenMaxTtlS}`, 'ttlSeconds');
    }
    const out = await ctx.tokens.issueViewerToken(vm.vmId, body.role, body.ttlSeconds);
    req.log.info({ role: body.role, ttlSeconds: body.ttlSeconds }, 'viewer token issued');
    res.status(201).json(out);
  });

  handle(r, routes.createAutomationToken, async (req, res, input) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const body = input.body();
    if (body.ttlSeconds > config.viewerTokenMaxTtlS) {
      throw new ApiError('invalid_body', `ttlSeconds must be at most ${config.viewerTokenMaxTtlS}`, 'ttlSeconds');
    }
    const out = await ctx.tokens.issueAutomationToken(vm.vmId, body.ttlSeconds);
    req.log.info({ ttlSeconds: body.ttlSeconds }, 'automation token issued');
    res.status(201).json(out);
  });

  handle(r, routes.heartbeat, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireVmToken(p, vm.vmId);
    const body = input.body();
    const now = Date.now();
    await store.touchVm(vm.vmId, now, body.stats);
    if (body.health) {
      // Input counts are cumulative per peer: what this heartbeat adds is the increase over the last
      // sample, which is read only when some peer has counted input (a watched VM's heartbeat is not).
      const counted = body.health.sessions.some((s) => s.input && s.input.pointer + s.input.key + s.input.wheel > 0);
      const [previous] = counted ? await store.getHealth(vm.vmId, 1) : [];
      await store.addHealth(vm.vmId, { ...body.health, at: now }, config.healthRing);
      if (counted) await ctx.audit.record(vm.vmId, inputEvents(previous, body.health, actorOf(p), now));
    }
    // A WHEP player's only sign of life is its media connection (routes/whep.ts): the VM's report
    // that its peer is connected. REST viewers keep their sessions alive themselves (issue 11:
    // the VM's calls never do), so only this VM's WHEP sessions are touched.
    const whep: string[] = [];
    for (const sessionId of body.connectedSessions ?? []) {
      const s = await store.getSession(sessionId);
      if (s?.kind === 'whep' && s.vmId === vm.vmId) whep.push(sessionId);
    }
    if (whep.length > 0) await store.touchSessions(whep, now);
    res.status(204).end();
  });

  handle(r, routes.vmSessions, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireVmToken(p, vm.vmId);
    const q = input.query();
    const vmId = vm.vmId;
    await store.touchVm(vmId, Date.now());

    // "Something new": for `offered`, an offer posted after the cursor; for `active`, a change in
    // the set of active sessions. Either: control changed after `controlSince` (default: the
    // state at the start of this request) or a fresh snapshot request.
    let initialActive: string | null = null;
    const controlSince = q.controlSince ?? vm.control.since;
    // The recording the agent records (the query), else the order when the request arrived.
    let heldRecording: string | null = q.recording ?? null;
    // While it waits, the open poll keeps the VM online for every controller (presence.ts).
    const leave = q.wait > 0 ? ctx.presence.holdVm(vmId) : null;
    try {
      const out = await ctx.polls.poll(res, [topics.vm(vmId)], q.wait * 1000, async () => {
        const current = await store.getVm(vmId);
        if (!current) throw new ApiError('vm_not_found', `VM ${vmId} was deleted`);
        const list = await store.listVmSessions(vmId, q.state, q.since);
        const now = Date.now();
        const claimed = await store.claimSnapshotRequest(vmId, now);
        const recording = orderOf(await store.getRecordings(vmId));
        const recordingId = recording?.recordingId ?? '';
        heldRecording ??= recordingId;
        let changed: boolean;
        let cursor = q.since;
        if (q.state === 'offered') {
          changed = list.length > 0;
          for (const s of list) cursor = Math.max(cursor, s.offerSeq);
        } else {
          const key = list.map((s) => s.sessionId).join(',');
          if (initialActive === null) initialActive = key;
          changed = key !== initialActive;
        }
        const value: VmSessionsResponse = {
          sessions: list.map((s) => ({
            sessionId: s.sessionId,
            offer: { type: 'offer', sdp: s.offer ?? '' },
            createdAt: s.createdAt,
            ...(config.turnUrls.length ? { iceServers: sessionIceServers(config, s) } : {}),
            iceTransportPolicy: s.iceTransportPolicy,
            generation: s.generation,
          })),
          cursor,
          control: current.control,
          snapshotWanted: claimed || current.snapshotWantedUntil > now,
          recording,
        };
        const recordingChanged = recordingId !== heldRecording;
        return { ready: changed || claimed || current.control.since > controlSince || recordingChanged, value };
      });
      if (!res.headersSent) res.json(out);
    } finally {
      // Ending the poll is a sign of life too (holdVm's release touches the VM).
      leave?.();
    }
  });
}
