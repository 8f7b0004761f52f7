/**
 * The audit trail (issue 19): per VM, what people and the controller did — control changes,
 * overrides, instruction edits, the input a person sent while holding control, sessions the
 * operator ended — in one ordered list with a cursor, so a recording's window can be read
 * alongside the video. Shapes and the route are defined here once; the stores keep the
 * events (master-controller/src/store), the routes and the reaper write them.
 *
 * What the trail never holds, and why: the keystrokes or pointer positions themselves, the text
 * of the instructions, the text an override types or the URL it opens. A person taking over a
 * VM types passwords and personal data; instructions and overrides may carry credentials for the
 * automation. The trail outlives the moment (it is exported beside recordings and read at
 * 3 a.m. by someone else), so it records that something happened, who did it and how much
 * (counts, lengths, versions), never the content. The content that must exist (the current
 * instructions, the pending overrides) stays behind the run routes and their access rules.
 */
import { z } from 'zod';
import type { ErrorCode } from './errors.js';
import { ControlMode, Id, InputCounts, sinceQuery } from './rest.js';
import type { Route } from './routes.js';
import { OverrideStatus } from './run.js';

export const AuditActor = z
  .object({
    role: z.enum(['operator', 'viewer', 'automation', 'vm', 'controller']).meta({
      description: '`controller`: the controller itself (a lease expired, a session without a lease ended)',
    }),
    sessionId: Id.optional().meta({ description: "the viewer's session it acted through" }),
    subject: z.string().max(64).optional().meta({
      description: 'the id (jti) of the viewer or automation token, never the token: which invitation link acted',
    }),
  })
  .meta({ id: 'AuditActor' });
export type AuditActor = z.infer<typeof AuditActor>;

export const AuditControlCause = z.enum(['take', 'release', 'pause', 'resume', 'lease_expired', 'session_ended']);
export type AuditControlCause = z.infer<typeof AuditControlCause>;

const ControlDetail = z.object({
  cause: AuditControlCause.meta({
    description:
      'the action asked (an operator `take` with a sessionId is a handback to that viewer), or `lease_expired` (the holder showed no sign of life for VMLIVE_LEASE_GRACE_MS), `session_ended` (a holder without a lease ended)',
  }),
  from: ControlMode,
  to: ControlMode,
  fromHolder: z.string().nullable().meta({ description: "the holder before: a session id, 'operator' or null" }),
  toHolder: z.string().nullable(),
});
const OverrideDetail = z.object({
  id: z.string(),
  action: z
    .string()
    .meta({ description: 'the override action type (click, type, scroll, navigate); never its text or URL' }),
  status: OverrideStatus.meta({ description: '`queued` when queued; `done` or `failed` when the automation acked it' }),
});
const InstructionsDetail = z.object({
  version: z.number().int(),
  chars: z.number().int().min(0).meta({ description: 'length of the new text (the text itself is not kept)' }),
});
const InputDetail = InputCounts.extend({
  sessionId: Id.meta({ description: 'the holder whose input the VM injected' }),
  since: z.number().int().meta({ description: 'ms epoch: the counts are of input injected after this, up to `at`' }),
});
const SessionDetail = z.object({ sessionId: Id, reason: z.enum(['ended_by_operator']) });

const base = {
  seq: z.number().int().min(1).meta({ description: 'per VM, increasing by 1 per event (the cursor)' }),
  at: z.number().int().meta({ description: 'ms epoch at which the controller recorded it' }),
  actor: AuditActor,
};
export const AuditEvent = z
  .discriminatedUnion('type', [
    z.object({ ...base, type: z.literal('control'), detail: ControlDetail }),
    z.object({ ...base, type: z.literal('override'), detail: OverrideDetail }),
    z.object({ ...base, type: z.literal('instructions'), detail: InstructionsDetail }),
    z.object({ ...base, type: z.literal('input'), detail: InputDetail }),
    z.object({ ...base, type: z.literal('session'), detail: SessionDetail }),
  ])
  .meta({ id: 'AuditEvent' });
export type AuditEvent = z.infer<typeof AuditEvent>;
/** An event before the store numbers it. */
export type NewAuditEvent = AuditEvent extends infer E ? (E extends AuditEvent ? Omit<E, 'seq'> : never) : never;

export const AuditResponse = z
  .object({
    events: z.array(AuditEvent).meta({ description: 'events after `since` (and within from/to), in seq order' }),
    cursor: z.number().int().meta({
      description:
        'pass as `since` next time: the last seq the controller looked at (events outside from/to are skipped, not returned later)',
    }),
    dropped: z.boolean().meta({
      description:
        'true when events after `since` were already dropped (the VM keeps the last VMLIVE_AUDIT_MAX_EVENTS)',
    }),
  })
  .meta({ id: 'AuditResponse' });
export type AuditResponse = z.infer<typeof AuditResponse>;

const epochMs = (description: string) =>
  z.coerce
    .number({ error: 'must be a ms epoch integer' })
    .int('must be a ms epoch integer')
    .min(0, 'must be a ms epoch integer')
    .max(Number.MAX_SAFE_INTEGER, 'is too large')
    .optional()
    .meta({ description });

export const AuditQuery = sinceQuery('the `cursor` of the previous reply (0 to start)')
  .extend({
    from: epochMs('only events at or after this ms epoch (e.g. a recording segment start)'),
    to: epochMs('only events at or before this ms epoch'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
    message: 'to must not be before from',
    path: ['to'],
  });
export type AuditQuery = z.infer<typeof AuditQuery>;

const AUTH: ErrorCode[] = ['unauthorized', 'token_expired', 'forbidden'];
const route = <const R extends Route>(r: R): R => r;

export const auditRoutes = {
  getAudit: route({
    method: 'GET',
    path: '/api/vms/:vmId/audit',
    summary:
      "The VM's audit trail: control changes, overrides, instruction edits, input counts; long-polls after `since`",
    description:
      'Operator only: the trail names every viewer session and token id that acted on the VM and how much input each sent, which no single viewer needs in order to act (control state and the run are on their own routes). ' +
      'Never the content: no keystrokes, no instruction text, no override text or URL. ' +
      'Each VM keeps its last VMLIVE_AUDIT_MAX_EVENTS events; they go with the VM.',
    callers: ['operator'],
    pathParams: { vmId: 'VM id from POST /api/vms' },
    query: AuditQuery,
    responses: [{ status: 200, description: 'Events after the cursor', schema: AuditResponse }],
    errors: [...AUTH, 'invalid_query', 'vm_not_found'],
  }),
} as const satisfies Record<string, Route>;
