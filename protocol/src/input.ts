/**
 * Takeover input sent by a viewer on the WebRTC data channel labelled `input`.
 * Coordinates are normalized to the video frame (0..1) so the viewer never
 * needs to know the VM's screen size. The Python helper validates against
 * these very schemas, generated into its contract.json (helper-contract.ts).
 */
import { z } from 'zod';

export const INPUT_CHANNEL_LABEL = 'input';

const unit = z.number().min(0).max(1);
export const Modifiers = z
  .object({ shift: z.boolean(), ctrl: z.boolean(), alt: z.boolean(), meta: z.boolean() })
  .partial();
export type Modifiers = z.infer<typeof Modifiers>;

export const PointerInput = z.object({
  t: z.literal('pointer'),
  action: z.enum(['move', 'down', 'up']),
  x: unit,
  y: unit,
  /** DOM MouseEvent.button: 0 left, 1 middle, 2 right */
  button: z.number().int().min(0).max(4).optional(),
});
export const WheelInput = z.object({
  t: z.literal('wheel'),
  x: unit,
  y: unit,
  /** DOM WheelEvent deltas in pixels (deltaMode 0) */
  dx: z.number().finite(),
  dy: z.number().finite(),
});
export const KeyInput = z.object({
  t: z.literal('key'),
  action: z.enum(['down', 'up']),
  key: z.string().min(1).max(32),
  code: z.string().max(32),
  mods: Modifiers.optional(),
});
export const TextInput = z.object({ t: z.literal('text'), text: z.string().min(1).max(4096) });

export const InputMessage = z.discriminatedUnion('t', [PointerInput, WheelInput, KeyInput, TextInput]);
export type InputMessage = z.infer<typeof InputMessage>;
export type PointerInput = z.infer<typeof PointerInput>;
export type WheelInput = z.infer<typeof WheelInput>;
export type KeyInput = z.infer<typeof KeyInput>;
export type TextInput = z.infer<typeof TextInput>;

/** Messages the helper sends back to a viewer on the same channel. */
export const ControlFeedback = z.object({ t: z.literal('control'), granted: z.boolean() });
export const RejectedFeedback = z.object({
  t: z.literal('rejected'),
  reason: z.enum(['not-holder', 'invalid']),
  detail: z.string().optional(),
});
export const InputFeedback = z.discriminatedUnion('t', [ControlFeedback, RejectedFeedback]);
export type InputFeedback = z.infer<typeof InputFeedback>;
