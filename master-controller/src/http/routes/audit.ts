/**
 * The audit trail's read side (protocol audit.ts): the operator follows a VM's events with a
 * cursor, like steps and candidates — a long-poll answers as soon as an event after `since`
 * (within from/to) exists. Writers are in the control, run, sessions and VM routes and the reaper.
 */
import { routes } from '@vmlive/protocol';
import { auditPage } from '../../audit/trail.js';
import { errors } from '../../errors.js';
import { topics } from '../../store/types.js';
import { authenticate, loadVm, requireOperator } from '../access.js';
import type { Ctx } from '../context.js';
import { handle, type Router } from '../route.js';

export function auditRoutes(ctx: Ctx, r: Router): void {
  const { store } = ctx;

  handle(r, routes.getAudit, async (req, res, input) => {
    // Operator only: the trail names every viewer that acted and how much each typed (audit.ts).
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const { since, wait, from, to } = input.query();
    const vmId = vm.vmId;
    const out = await ctx.polls.poll(res, [topics.audit(vmId)], wait * 1000, async () => {
      const read = await store.getAudit(vmId, since);
      if (!read) throw errors.vmNotFound(vmId);
      const value = auditPage(read, since, from, to);
      return { ready: value.events.length > 0, value };
    });
    if (!res.headersSent) res.json(out);
  });
}
