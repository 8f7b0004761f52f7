/**
 * One VM's run control as the stores keep it: one document per VM (steps,
 * instructions, overrides and the VM's change counter) plus the steps'
 * thumbnails beside it. The stores replace it atomically with the result of a
 * pure function of run/timeline.ts (like control: updateControl), so the rules
 * live in one tested place and the Redis script stays a generic compare-and-set.
 * The schema is what the Redis store validates the document with when it reads it.
 */
import { Instructions, Override, Step } from '@vmlive/protocol';
import { z } from 'zod';

export const RunDoc = z.object({
  /** 1 for the first run; +1 each time step 0 starts again over a timeline. */
  run: z.number().int(),
  /** The last sequence number given to a change (steps and overrides share it: one cursor space). */
  seq: z.number().int(),
  /** In index order, at most LIMITS.stepsKept. */
  steps: z.array(Step),
  instructions: Instructions,
  /** In queue order, at most LIMITS.overridesKept. */
  overrides: z.array(Override),
  /** Overrides ever queued on this VM (their ids are o1, o2, …). */
  overrideCount: z.number().int(),
});
export type RunDoc = z.infer<typeof RunDoc>;

export const emptyRun = (): RunDoc => ({
  run: 1,
  seq: 0,
  steps: [],
  instructions: { text: '', version: 0, updatedAt: null },
  overrides: [],
  overrideCount: 0,
});

export type RunTopic = 'steps' | 'instructions' | 'overrides';

/**
 * What a run change writes: the new document (the same object = nothing to write), the
 * topics to wake, a thumbnail to store and the thumbnails to drop ('all' for a new run).
 */
export interface RunUpdate<T> {
  doc: RunDoc;
  result: T;
  wake: RunTopic[];
  thumbnail?: { index: number; jpeg: Buffer };
  dropThumbnails?: number[] | 'all';
}
