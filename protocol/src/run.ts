/**
 * Run control: the automation's step timeline, the instructions a person
 * gives it, and the manual actions (overrides) a person queues for it. The
 * controller keeps these per VM (master-controller/src/run/), the automation
 * client (`@vmlive/automation`) writes steps and reads instructions and
 * overrides, the viewer's <TakeoverPanel> reads steps and writes the rest.
 *
 * Steps and overrides are change feeds with one cursor, like candidates: every
 * change (a step reported, its status or thumbnail updated, an override queued
 * or acked) gives the item the VM's next sequence number, and a read with
 * `since` returns each item changed after it once, in its latest state.
 */
import { z } from 'zod';
import { LIMITS, utf8Length } from './limits.js';

const text = (max: number, what: string) => z.string().max(max, `${what} exceeds ${max} characters`);

/** VM screen pixels (the video's pixels). */
const coord = z.number().finite().min(-LIMITS.stepIndexMax).max(LIMITS.stepIndexMax);
const extent = z.number().finite().min(0).max(LIMITS.stepIndexMax);

/** A rectangle on the VM's screen, in VM screen pixels: what the viewer draws over the video. */
export const ScreenBox = z.object({ x: coord, y: coord, w: extent, h: extent }).strict().meta({ id: 'ScreenBox' });
export type ScreenBox = z.infer<typeof ScreenBox>;

export const StepStatus = z.enum(['started', 'done', 'failed']);
export type StepStatus = z.infer<typeof StepStatus>;

export const StepBody = z
  .object({
    index: z
      .number()
      .int('index must be an integer')
      .min(0, 'index must not be negative')
      .max(LIMITS.stepIndexMax - 1, `index must be below ${LIMITS.stepIndexMax}`),
    action: z.string().min(1, 'action must not be empty').max(LIMITS.stepActionChars),
    target: text(LIMITS.stepTargetChars, 'target').optional(),
    detail: text(LIMITS.stepDetailChars, 'detail').optional(),
    status: StepStatus,
    box: ScreenBox.optional(),
  })
  .strict()
  .meta({ id: 'StepBody' });
export type StepBody = z.infer<typeof StepBody>;

export const Step = z
  .object({
    index: z.number().int(),
    action: z.string(),
    target: z.string().optional(),
    detail: z.string().optional(),
    status: StepStatus,
    box: ScreenBox.optional(),
    startedAt: z.number().int().meta({ description: 'ms epoch of the first report of this step' }),
    updatedAt: z.number().int().meta({ description: 'ms epoch of the last change (status or thumbnail)' }),
    thumbnail: z.boolean().meta({ description: 'GET …/steps/{index}/thumbnail serves a JPEG' }),
    seq: z.number().int().meta({ description: 'the VM sequence number of this change (cursor)' }),
  })
  .meta({ id: 'Step' });
export type Step = z.infer<typeof Step>;

export const StepsResponse = z
  .object({
    run: z
      .number()
      .int()
      .meta({ description: 'the run number: a new run (step 0 started again) starts an empty timeline' }),
    steps: z.array(Step).meta({ description: 'steps changed after `since`, in change order' }),
    cursor: z.number().int().meta({ description: 'pass as `since` next time' }),
  })
  .meta({ id: 'StepsResponse' });
export type StepsResponse = z.infer<typeof StepsResponse>;

export const InstructionsBody = z
  .object({
    text: z
      .string()
      .refine(
        (s) => utf8Length(s) <= LIMITS.instructionsBytes,
        `text exceeds ${LIMITS.instructionsBytes} bytes (UTF-8)`,
      ),
  })
  .strict()
  .meta({ id: 'InstructionsBody' });
export type InstructionsBody = z.infer<typeof InstructionsBody>;

export const Instructions = z
  .object({
    text: z.string(),
    version: z.number().int().meta({ description: '0 before any PUT; +1 per PUT' }),
    updatedAt: z.number().int().nullable().meta({ description: 'ms epoch of the last PUT' }),
  })
  .meta({ id: 'Instructions' });
export type Instructions = z.infer<typeof Instructions>;

const ACTION_SHAPES =
  '{type:"click",x,y} | {type:"click",selector} | {type:"type",text} | {type:"scroll",dx,dy} | {type:"navigate",url}';

// A plain union: zod's discriminated union cannot hold two `click` shapes. Its one error names the shapes.
export const OverrideAction = z
  .union(
    [
      z.object({ type: z.literal('click'), x: coord, y: coord }).strict(),
      z.object({ type: z.literal('click'), selector: z.string().min(1).max(LIMITS.overrideSelectorChars) }).strict(),
      z.object({ type: z.literal('type'), text: z.string().min(1).max(LIMITS.overrideTextChars) }).strict(),
      z.object({ type: z.literal('scroll'), dx: coord, dy: coord }).strict(),
      z
        .object({
          type: z.literal('navigate'),
          url: z
            .string()
            .max(LIMITS.overrideUrlChars)
            .refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), 'url must be an http(s) URL'),
        })
        .strict(),
    ],
    { error: `action must be one of ${ACTION_SHAPES} (within the limits of docs/api.md)` },
  )
  .meta({
    id: 'OverrideAction',
    description:
      'click at x,y (VM screen pixels, like a step box) or on a CSS selector; type text into the focused element; scroll by dx,dy CSS pixels; navigate to an http(s) URL',
  });
export type OverrideAction = z.infer<typeof OverrideAction>;

export const OverrideBody = z.object({ action: OverrideAction }).strict().meta({ id: 'OverrideBody' });
export type OverrideBody = z.infer<typeof OverrideBody>;

export const OverrideStatus = z.enum(['queued', 'done', 'failed']);
export type OverrideStatus = z.infer<typeof OverrideStatus>;

export const Override = z
  .object({
    id: z.string(),
    action: OverrideAction,
    status: OverrideStatus,
    detail: z.string().optional().meta({ description: "the automation's note with its ack" }),
    createdAt: z.number().int(),
    ackedAt: z.number().int().nullable(),
    seq: z.number().int().meta({ description: 'the VM sequence number of this change (cursor)' }),
  })
  .meta({ id: 'Override' });
export type Override = z.infer<typeof Override>;

export const OverridesResponse = z
  .object({
    overrides: z.array(Override).meta({ description: 'overrides queued or acked after `since`, in change order' }),
    cursor: z.number().int().meta({ description: 'pass as `since` next time' }),
  })
  .meta({ id: 'OverridesResponse' });
export type OverridesResponse = z.infer<typeof OverridesResponse>;

export const OverrideAckBody = z
  .object({ result: z.enum(['done', 'failed']), detail: text(LIMITS.stepDetailChars, 'detail').optional() })
  .strict()
  .meta({ id: 'OverrideAckBody' });
export type OverrideAckBody = z.infer<typeof OverrideAckBody>;
