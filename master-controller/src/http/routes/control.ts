/** Control handover between the VM's agent and a viewer, and the screenshot fallback. */
import { type ControlState, routes } from '@vmlive/protocol';
import { actorOf, controlEvent } from '../../audit/trail.js';
import { applyControl, type ControlActor } from '../../control/transitions.js';
import { ApiError, errors } from '../../errors.js';
import { topics } from '../../store/types.js';
import { authenticate, loadVm, requireKind, requireVmToken } from '../access.js';
import type { Ctx } from '../context.js';
import { handle, type Router } from '../route.js';

/** How long GET waits for the VM to upload one. */
const SNAPSHOT_WAIT_MS = 3000;

export function controlRoutes(ctx: Ctx, r: Router): void {
  const { store } = ctx;

  handle(r, routes.getControl, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['operator', 'vm', 'viewer', 'automation']);
    if (p.kind === 'vm') await store.touchVm(vm.vmId, Date.now());
    const { since, wait } = input.query();
    const vmId = vm.vmId;
    const out = await ctx.polls.poll(res, [topics.vm(vmId)], wait * 1000, async () => {
      const cur = await store.getVm(vmId);
      if (!cur) throw errors.vmNotFound(vmId);
      return { ready: cur.control.since > since, value: cur.control };
    });
    if (!res.headersSent) res.json(out satisfies ControlState);
  });

  handle(r, routes.postControl, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['operator', 'vm', 'viewer']);
    const body = input.body();
    if (p.kind === 'viewer' && p.role !== 'control') throw errors.forbidden('a view token cannot change control');

    const sessionOnThisVm = async (sessionId: string) => {
      const s = await store.getSession(sessionId);
      if (!s || s.vmId !== vm.vmId) throw new ApiError('session_not_found', 'no such session on this VM', 'sessionId');
      // A WHEP player views, never controls (issue 19): it has no input channel, and its token's
      // role does not change that. Neither it nor the operator on its behalf may make it the holder.
      if (s.kind === 'whep') throw errors.forbidden('a WHEP session can view, never control', 'sessionId');
      return s;
    };
    // A viewer acts through one of its own sessions on this VM. The operator names a session
    // only to hand control to it; without one it holds control itself. The VM names none.
    let actor: ControlActor;
    if (p.kind === 'viewer') {
      if (body.sessionId === undefined) {
        throw new ApiError('invalid_body', 'sessionId is required for a viewer token', 'sessionId');
      }
      const s = await sessionOnThisVm(body.sessionId);
      if (s.owner !== p.tokenId) throw errors.forbidden('this session belongs to another viewer token', 'sessionId');
      await store.touchSession(s.sessionId, Date.now());
      actor = { kind: 'viewer', sessionId: s.sessionId, owner: s.owner };
    } else if (p.kind === 'operator') {
      const s = body.action === 'take' && body.sessionId !== undefined ? await sessionOnThisVm(body.sessionId) : null;
      actor = s ? { kind: 'operator', session: { sessionId: s.sessionId, owner: s.owner } } : { kind: 'operator' };
    } else {
      actor = { kind: 'vm' };
    }
    // The state the written transition was applied to: updateControl may re-apply after a lost
    // race (Redis CAS), and the last application is the one stored.
    let before: ControlState = vm.control;
    const next = await store.updateControl(vm.vmId, (cur) => {
      before = cur.control;
      return applyControl(cur, body.action, actor, Date.now());
    });
    req.log.info({ action: body.action, by: p.kind, mode: next.mode, holder: next.holder }, 'control');
    const who = actorOf(p, actor.kind === 'viewer' ? actor.sessionId : undefined);
    await ctx.audit.record(vm.vmId, controlEvent(who, body.action, before, next, next.since));
    res.json(next satisfies ControlState);
  });

  handle(r, routes.getSnapshot, async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['operator', 'viewer']);
    const vmId = vm.vmId;
    const askedAt = Date.now();
    // The cache: however many consoles ask, the VM is asked at most once per snapshotMaxAgeMs
    // (concurrent askers while a request is pending join it: requestSnapshot announces it once).
    const fresh = (at: number) => at >= askedAt - ctx.config.snapshotMaxAgeMs;
    const existing = await store.getSnapshot(vmId);
    let snap = existing && fresh(existing.at) ? existing : undefined;
    if (!snap) {
      await store.requestSnapshot(vmId, askedAt + SNAPSHOT_WAIT_MS, askedAt);
      snap = await ctx.polls.poll(res, [topics.snapshot(vmId)], SNAPSHOT_WAIT_MS, async () => {
        const s = await store.getSnapshot(vmId);
        const ok = s !== undefined && fresh(s.at);
        return { ready: ok, value: ok ? s : undefined };
      });
    }
    if (res.headersSent) return;
    if (!snap) throw new ApiError('snapshot_unavailable', 'the VM sent no snapshot in time');
    res.set({ 'Content-Type': 'image/jpeg', 'Cache-Control': 'no-store', 'X-Snapshot-At': String(snap.at) });
    res.send(snap.jpeg);
  });

  handle(r, routes.putSnapshot, async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireVmToken(p, vm.vmId);
    if (req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== 'image/jpeg') {
      throw new ApiError('unsupported_media_type', 'Content-Type must be image/jpeg');
    }
    const jpeg = req.body;
    // JPEG SOI marker + the first segment marker.
    if (!Buffer.isBuffer(jpeg) || jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) {
      throw new ApiError('invalid_body', 'the body is not a JPEG image');
    }
    await store.putSnapshot(vm.vmId, jpeg, Date.now());
    await store.touchVm(vm.vmId, Date.now());
    req.debug({ bytes: jpeg.length }, 'snapshot stored');
    res.status(204).end();
  });
}
