/**
 * The run-control routes (shapes in run.ts), part of the one route table:
 * routes.ts spreads them into `routes`, so the controller, ApiClient and the
 * OpenAPI document see them like every other entry.
 */
import type { ErrorCode } from './errors.js';
import { LIMITS } from './limits.js';
import { sinceQuery } from './rest.js';
import type { Route } from './routes.js';
import {
  Instructions,
  InstructionsBody,
  Override,
  OverrideAckBody,
  OverrideBody,
  OverridesResponse,
  Step,
  StepBody,
  StepsResponse,
} from './run.js';

const AUTH: ErrorCode[] = ['unauthorized', 'token_expired', 'forbidden'];
const BODY: ErrorCode[] = ['invalid_json', 'invalid_body', 'body_too_large', 'unsupported_media_type'];
const VM_ID = { vmId: 'VM id from POST /api/vms' };
const STEP = { ...VM_ID, index: 'the step index, as reported' };
const OVERRIDE = { ...VM_ID, id: 'the override id from POST /api/vms/{vmId}/overrides' };
const route = <const R extends Route>(r: R): R => r;

const STEPS_QUERY = sinceQuery(
  'the `cursor` of the previous reply (0 to start): every step changed after it is returned once, in its latest state',
);
const OVERRIDES_QUERY = sinceQuery('the `cursor` of the previous reply (0 to start)');
const INSTRUCTIONS_QUERY = sinceQuery(
  'the `version` the caller holds: with `wait`, answer once a newer version exists (0: at once)',
);

export const runRoutes = {
  postStep: route({
    method: 'POST',
    path: '/api/vms/:vmId/steps',
    summary: "Report a step of the automation's run (started, done, failed)",
    description:
      'Steps are kept by `index`; reporting an index again updates it (status, box, detail). Step 0 `started` when the timeline already has steps starts a new run (`run` + 1, an empty timeline). ' +
      `A run keeps the ${LIMITS.stepsKept} highest indexes (older steps and their thumbnails are dropped). \`box\` is the target's place on the VM screen (pixels): viewers draw it over the video while the step runs.`,
    callers: ['automation'],
    pathParams: VM_ID,
    body: { schema: StepBody },
    responses: [{ status: 200, description: 'The step as stored', schema: Step }],
    errors: [...AUTH, ...BODY, 'vm_not_found'],
  }),
  getSteps: route({
    method: 'GET',
    path: '/api/vms/:vmId/steps',
    summary: "The run's step timeline; long-polls for changes after `since`",
    callers: ['viewer', 'operator', 'automation'],
    pathParams: VM_ID,
    query: STEPS_QUERY,
    responses: [{ status: 200, description: 'Steps changed after the cursor', schema: StepsResponse }],
    errors: [...AUTH, 'invalid_query', 'vm_not_found'],
  }),
  putStepThumbnail: route({
    method: 'PUT',
    path: '/api/vms/:vmId/steps/:index/thumbnail',
    summary: `A step's thumbnail (Content-Type image/jpeg, at most ${LIMITS.thumbnailBytes / 1024} KiB)`,
    description:
      'The step must be reported first (else 404 step_not_found). The step changes (`thumbnail: true`, a new seq).',
    callers: ['automation'],
    pathParams: STEP,
    body: { mediaType: 'image/jpeg', maxBytes: LIMITS.thumbnailBytes },
    responses: [{ status: 204, description: 'Stored' }],
    errors: [...AUTH, 'vm_not_found', 'step_not_found', 'invalid_body', 'body_too_large', 'unsupported_media_type'],
  }),
  getStepThumbnail: route({
    method: 'GET',
    path: '/api/vms/:vmId/steps/:index/thumbnail',
    summary: "A step's thumbnail JPEG",
    callers: ['viewer', 'operator', 'automation'],
    pathParams: STEP,
    responses: [{ status: 200, description: 'JPEG image', mediaType: 'image/jpeg' }],
    errors: [...AUTH, 'vm_not_found', 'step_not_found'],
  }),
  putInstructions: route({
    method: 'PUT',
    path: '/api/vms/:vmId/instructions',
    summary: `Replace the automation's instructions (≤ ${LIMITS.instructionsBytes / 1024} KiB of UTF-8); the version goes up by one`,
    callers: ['viewer', 'operator'],
    description: 'A control viewer token or the operator.',
    pathParams: VM_ID,
    body: { schema: InstructionsBody },
    responses: [{ status: 200, description: 'The new instructions and version', schema: Instructions }],
    errors: [...AUTH, ...BODY, 'vm_not_found'],
  }),
  getInstructions: route({
    method: 'GET',
    path: '/api/vms/:vmId/instructions',
    summary: 'The current instructions; long-polls until the version passes `since`',
    description: 'The automation waits here for new instructions; viewers read them for the panel.',
    callers: ['automation', 'viewer', 'operator'],
    pathParams: VM_ID,
    query: INSTRUCTIONS_QUERY,
    responses: [{ status: 200, description: 'Instructions', schema: Instructions }],
    errors: [...AUTH, 'invalid_query', 'vm_not_found'],
  }),
  postOverride: route({
    method: 'POST',
    path: '/api/vms/:vmId/overrides',
    summary: 'Queue a manual action for the automation to run before its next step',
    description:
      `A control viewer token or the operator. At most ${LIMITS.overridesPending} queued (not yet acked) per VM, else 409 too_many_overrides; ` +
      `the VM keeps the last ${LIMITS.overridesKept} (acked ones are dropped first).`,
    callers: ['viewer', 'operator'],
    pathParams: VM_ID,
    body: { schema: OverrideBody },
    responses: [{ status: 201, description: 'The queued override', schema: Override }],
    errors: [...AUTH, ...BODY, 'vm_not_found', 'too_many_overrides'],
  }),
  getOverrides: route({
    method: 'GET',
    path: '/api/vms/:vmId/overrides',
    summary: 'Overrides queued or acked after `since`; long-polls',
    description: 'The automation runs those with status `queued`; viewers follow their acks.',
    callers: ['automation', 'viewer', 'operator'],
    pathParams: VM_ID,
    query: OVERRIDES_QUERY,
    responses: [{ status: 200, description: 'Overrides changed after the cursor', schema: OverridesResponse }],
    errors: [...AUTH, 'invalid_query', 'vm_not_found'],
  }),
  ackOverride: route({
    method: 'POST',
    path: '/api/vms/:vmId/overrides/:id/ack',
    summary: 'The automation ran an override (done) or could not (failed)',
    description: 'The same ack again is answered as the first (a retried POST); another result is 409 override_acked.',
    callers: ['automation'],
    pathParams: OVERRIDE,
    body: { schema: OverrideAckBody },
    responses: [{ status: 200, description: 'The acked override', schema: Override }],
    errors: [...AUTH, ...BODY, 'vm_not_found', 'override_not_found', 'override_acked'],
  }),
} as const satisfies Record<string, Route>;
