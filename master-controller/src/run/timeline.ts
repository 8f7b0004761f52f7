/**
 * Run control as pure functions over a VM's RunDoc (store/run-doc.ts): the
 * routes (http/routes/run.ts) call them inside store.updateRun, which writes
 * the result atomically, so the same rules hold on the memory and Redis stores.
 * They never mutate the document they are given (the memory store hands out
 * its current one); returning it unchanged means "nothing to write".
 *
 * Every change takes the VM's next `seq`, which is what the feeds' cursors
 * count: a reader with `since` gets each item changed after it once, in its
 * latest state (an item changed twice between two reads appears once).
 */
import {
  type Instructions,
  LIMITS,
  type Override,
  type OverrideAckBody,
  type OverrideAction,
  type OverridesResponse,
  type Step,
  type StepBody,
  type StepsResponse,
} from '@vmlive/protocol';
import { ApiError } from '../errors.js';
import type { RunDoc, RunUpdate } from '../store/run-doc.js';

/** Step 0 started over a timeline that holds more than a (retried) report of that same start: a new run. */
function startsNewRun(doc: RunDoc, body: StepBody): boolean {
  if (body.index !== 0 || body.status !== 'started' || doc.steps.length === 0) return false;
  const only = doc.steps.length === 1 ? doc.steps[0] : undefined;
  return !(only && only.index === 0 && only.status === 'started' && only.action === body.action);
}

export function reportStep(doc: RunDoc, body: StepBody, now: number): RunUpdate<Step> {
  const newRun = startsNewRun(doc, body);
  const steps = newRun ? [] : doc.steps;
  const seq = doc.seq + 1;
  const prev = steps.find((s) => s.index === body.index);
  // A later report of the same step may leave out what an earlier one said (a `done` without its box).
  const step: Step = {
    index: body.index,
    action: body.action,
    status: body.status,
    ...(body.target !== undefined
      ? { target: body.target }
      : prev?.target !== undefined
        ? { target: prev.target }
        : {}),
    ...(body.detail !== undefined
      ? { detail: body.detail }
      : prev?.detail !== undefined
        ? { detail: prev.detail }
        : {}),
    ...(body.box !== undefined ? { box: body.box } : prev?.box !== undefined ? { box: prev.box } : {}),
    startedAt: prev?.startedAt ?? now,
    updatedAt: now,
    thumbnail: prev?.thumbnail ?? false,
    seq,
  };
  const next = steps.filter((s) => s.index !== body.index);
  next.push(step);
  next.sort((a, b) => a.index - b.index);
  // Bounded: the lowest indexes (the oldest steps of a long run) go first.
  const dropped = next.splice(0, Math.max(0, next.length - LIMITS.stepsKept)).map((s) => s.index);
  return {
    doc: { ...doc, run: newRun ? doc.run + 1 : doc.run, seq, steps: next },
    result: step,
    wake: ['steps'],
    dropThumbnails: newRun ? 'all' : dropped,
  };
}

export function attachThumbnail(doc: RunDoc, index: number, jpeg: Buffer, now: number): RunUpdate<Step> {
  const prev = doc.steps.find((s) => s.index === index);
  if (!prev) throw new ApiError('step_not_found', `the run has no step ${index}: report it before its thumbnail`);
  const seq = doc.seq + 1;
  const step: Step = { ...prev, thumbnail: true, updatedAt: now, seq };
  const steps = doc.steps.map((s) => (s === prev ? step : s));
  return { doc: { ...doc, seq, steps }, result: step, wake: ['steps'], thumbnail: { index, jpeg } };
}

export function setInstructions(doc: RunDoc, text: string, now: number): RunUpdate<Instructions> {
  const instructions = { text, version: doc.instructions.version + 1, updatedAt: now };
  return { doc: { ...doc, instructions }, result: instructions, wake: ['instructions'] };
}

export function queueOverride(doc: RunDoc, action: OverrideAction, now: number): RunUpdate<Override> {
  const pending = doc.overrides.filter((o) => o.status === 'queued').length;
  if (pending >= LIMITS.overridesPending) {
    throw new ApiError(
      'too_many_overrides',
      `${pending} overrides are queued and not yet acked (at most ${LIMITS.overridesPending})`,
      'action',
    );
  }
  const seq = doc.seq + 1;
  const override: Override = {
    id: `o${doc.overrideCount + 1}`,
    action,
    status: 'queued',
    createdAt: now,
    ackedAt: null,
    seq,
  };
  let overrides = [...doc.overrides, override];
  // Bounded: drop the oldest acked ones (queued ones are never dropped; there are few).
  while (overrides.length > LIMITS.overridesKept) {
    const oldestAcked = overrides.findIndex((o) => o.status !== 'queued');
    overrides = overrides.filter((_, i) => i !== oldestAcked);
  }
  return {
    doc: { ...doc, seq, overrides, overrideCount: doc.overrideCount + 1 },
    result: override,
    wake: ['overrides'],
  };
}

export function ackOverride(doc: RunDoc, id: string, ack: OverrideAckBody, now: number): RunUpdate<Override> {
  const prev = doc.overrides.find((o) => o.id === id);
  if (!prev) throw new ApiError('override_not_found', `no override ${id} on this VM`);
  if (prev.status !== 'queued') {
    // A retried ack (its reply was lost) is answered as the first one; a different result is a conflict.
    if (prev.status === ack.result) return { doc, result: prev, wake: [] };
    throw new ApiError('override_acked', `override ${id} was already acked as ${prev.status}`, 'result');
  }
  const seq = doc.seq + 1;
  const acked: Override = {
    ...prev,
    status: ack.result,
    ...(ack.detail !== undefined ? { detail: ack.detail } : {}),
    ackedAt: now,
    seq,
  };
  const overrides = doc.overrides.map((o) => (o === prev ? acked : o));
  return { doc: { ...doc, seq, overrides }, result: acked, wake: ['overrides'] };
}

/** Items changed after `since`, in change order, and the cursor for the next read. */
function since<T extends { seq: number }>(items: readonly T[], cursor: number): { items: T[]; cursor: number } {
  const out = items.filter((x) => x.seq > cursor).sort((a, b) => a.seq - b.seq);
  const last = out[out.length - 1];
  return { items: out, cursor: last ? last.seq : cursor };
}

export function stepsSince(doc: RunDoc, cursor: number): StepsResponse {
  const r = since(doc.steps, cursor);
  return { run: doc.run, steps: r.items, cursor: r.cursor };
}

export function overridesSince(doc: RunDoc, cursor: number): OverridesResponse {
  const r = since(doc.overrides, cursor);
  return { overrides: r.items, cursor: r.cursor };
}
