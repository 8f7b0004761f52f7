/**
 * Run control: the automation reports its steps (and their thumbnails) and
 * reads instructions and overrides; viewers and the operator follow the
 * timeline, edit the instructions and queue overrides. The rules are the pure
 * functions of run/timeline.ts, applied atomically by store.updateRun.
 */
import { LIMITS, routes } from '@vmlive/protocol';
import { actorOf, CONTROLLER } from '../../audit/trail.js';
import { type Principal, randomId } from '../../auth/tokens.js';
import { ApiError, errors } from '../../errors.js';
import { startRunRecording } from '../../recordings/doc.js';
import {
  ackOverride,
  attachThumbnail,
  overridesSince,
  queueOverride,
  reportStep,
  setInstructions,
  stepsSince,
} from '../../run/timeline.js';
import type { RunDoc, RunUpdate } from '../../store/run-doc.js';
import { topics } from '../../store/types.js';
import { authenticate, loadVm, requireKind } from '../access.js';
import type { Ctx } from '../context.js';
import type { Req } from '../kit.js';
import { handle, type Router } from '../route.js';

/** Readers: viewers of either role, the operator and the automation, each of this VM. */
const READERS = ['viewer', 'operator', 'automation'] as const;

/** Viewers change the run only with a control token. */
function requireControlViewerOrOperator(p: Principal, vmId: string): void {
  requireKind(p, vmId, ['viewer', 'operator']);
  if (p.kind === 'viewer' && p.role !== 'control') throw errors.forbidden('a view token cannot direct the automation');
}

function stepIndexParam(req: Req): number {
  const raw = req.params.index ?? '';
  const index = /^\d{1,6}$/.test(raw) ? Number(raw) : -1;
  if (index < 0 || index >= LIMITS.stepIndexMax) throw new ApiError('step_not_found', `no step ${raw}`);
  return index;
}

function overrideIdParam(req: Req): string {
  const id = req.params.id ?? '';
  if (!/^o\d{1,15}$/.test(id)) throw new ApiError('override_not_found', `no override ${id}`);
  return id;
}

export function runRoutes(ctx: Ctx, r: Router): void {
  const { store } = ctx;

  /** Applies a change to the VM's run; a VM deleted meanwhile is 404. */
  const update = async <T extends object>(vmId: string, change: (doc: RunDoc) => RunUpdate<T>): Promise<T> => {
    const out = await store.updateRun(vmId, change);
    if (out === undefined) throw errors.vmNotFound(vmId);
    return out;
  };
  const current = async (vmId: string): Promise<RunDoc> => {
    const doc = await store.getRun(vmId);
    if (!doc) throw errors.vmNotFound(vmId);
    return doc;
  };

  /** The every-run recording policy (recordings/doc.ts): a new run gets a recording of its own. */
  const recordRun = async (vmId: string, now: number) => {
    const u = await store.updateRecordings(vmId, (doc) =>
      startRunRecording(doc, { recordingId: randomId(12), startedAt: now, startedBy: CONTROLLER }),
    );
    if (u?.result) ctx.logger.info({ vmId, recordingId: u.result.recordingId }, 'recording started for a new run');
    if (u && u.dropKeys.length > 0) await ctx.recordings.storage.delete(u.dropKeys);
  };

  handle(r, routes.postStep, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['automation']);
    const body = input.body();
    const now = Date.now();
    let newRun = false;
    const step = await update(vm.vmId, (doc) => {
      const u = reportStep(doc, body, now);
      // A new run: step 0 again over a timeline, or the VM's very first step.
      newRun = u.doc.run !== doc.run || doc.seq === 0;
      return u;
    });
    req.debug({ index: step.index, status: step.status, action: step.action }, 'step');
    if (newRun) await recordRun(vm.vmId, now);
    res.json(step);
  });

  handle(r, routes.getSteps, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, READERS);
    const { since, wait } = input.query();
    const vmId = vm.vmId;
    const out = await ctx.polls.poll(res, [topics.run(vmId, 'steps')], wait * 1000, async () => {
      const value = stepsSince(await current(vmId), since);
      return { ready: value.steps.length > 0, value };
    });
    if (!res.headersSent) res.json(out);
  });

  handle(r, routes.putStepThumbnail, async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['automation']);
    const index = stepIndexParam(req);
    if (req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== 'image/jpeg') {
      throw new ApiError('unsupported_media_type', 'Content-Type must be image/jpeg');
    }
    const jpeg = req.body;
    // JPEG SOI marker + the first segment marker.
    if (!Buffer.isBuffer(jpeg) || jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) {
      throw new ApiError('invalid_body', 'the body is not a JPEG image', 'thumbnail');
    }
    // Copied: the request's buffer may be a slice of a larger one that the store would keep alive.
    const copy = Buffer.from(jpeg);
    await update(vm.vmId, (doc) => attachThumbnail(doc, index, copy, Date.now()));
    res.status(204).end();
  });

  handle(r, routes.getStepThumbnail, async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, READERS);
    const index = stepIndexParam(req);
    const jpeg = await store.getThumbnail(vm.vmId, index);
    if (!jpeg) throw new ApiError('step_not_found', `step ${index} has no thumbnail`);
    // A step's thumbnail may be replaced, so caches must revalidate; it is private to token holders.
    res.set({ 'Content-Type': 'image/jpeg', 'Cache-Control': 'private, no-cache' });
    res.send(jpeg);
  });

  handle(r, routes.putInstructions, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireControlViewerOrOperator(p, vm.vmId);
    const { text } = input.body();
    const out = await update(vm.vmId, (doc) => setInstructions(doc, text, Date.now()));
    req.log.info({ version: out.version, by: p.kind, chars: text.length }, 'instructions');
    // The length and version, never the text: instructions may carry what the automation needs to log in (audit.ts).
    await ctx.audit.record(vm.vmId, [
      {
        type: 'instructions',
        at: out.updatedAt ?? Date.now(),
        actor: actorOf(p),
        detail: { version: out.version, chars: text.length },
      },
    ]);
    res.json(out);
  });

  handle(r, routes.getInstructions, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, READERS);
    const { since, wait } = input.query();
    const vmId = vm.vmId;
    const out = await ctx.polls.poll(res, [topics.run(vmId, 'instructions')], wait * 1000, async () => {
      const value = (await current(vmId)).instructions;
      return { ready: value.version > since, value };
    });
    if (!res.headersSent) res.json(out);
  });

  handle(r, routes.postOverride, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireControlViewerOrOperator(p, vm.vmId);
    const { action } = input.body();
    const out = await update(vm.vmId, (doc) => queueOverride(doc, action, Date.now()));
    req.log.info({ id: out.id, type: action.type, by: p.kind }, 'override queued');
    await ctx.audit.record(vm.vmId, [
      {
        type: 'override',
        at: out.createdAt,
        actor: actorOf(p),
        detail: { id: out.id, action: action.type, status: 'queued' },
      },
    ]);
    res.status(201).json(out);
  });

  handle(r, routes.getOverrides, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, READERS);
    const { since, wait } = input.query();
    const vmId = vm.vmId;
    const out = await ctx.polls.poll(res, [topics.run(vmId, 'overrides')], wait * 1000, async () => {
      const value = overridesSince(await current(vmId), since);
      return { ready: value.overrides.length > 0, value };
    });
    if (!res.headersSent) res.json(out);
  });

  handle(r, routes.ackOverride, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['automation']);
    const id = overrideIdParam(req);
    const body = input.body();
    // A retried ack changes nothing (the same answer as the first): it is not a second event.
    let acked = false;
    const out = await update(vm.vmId, (doc) => {
      const u = ackOverride(doc, id, body, Date.now());
      acked = u.doc !== doc;
      return u;
    });
    req.log.info({ id, result: out.status }, 'override acked');
    if (acked)
      await ctx.audit.record(vm.vmId, [
        {
          type: 'override',
          at: out.ackedAt ?? Date.now(),
          actor: actorOf(p),
          detail: { id, action: out.action.type, status: out.status },
        },
      ]);
    res.json(out);
  });
}
