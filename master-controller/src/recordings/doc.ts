/**
 * One VM's recordings as the stores keep them: one document per VM (the recording in progress,
 * every kept recording and its segments' metadata), replaced atomically with the result of the
 * pure functions below (like the run: store/run-doc.ts), so the rules — one recording at a time,
 * retries of an upload are the same segment, retention — live in one tested place and the Redis
 * script stays a generic compare-and-set. The segment files live in RecordingStorage (storage.ts).
 */
import { AuditActor, Id, RECORDINGS_KEPT, type RecordingOrder, SegmentMediaType } from '@vmlive/protocol';
import { z } from 'zod';

export const StoredSegment = z.object({
  index: z.number().int().min(0),
  startedAt: z.number().int(),
  durationMs: z.number().int(),
  bytes: z.number().int(),
  mediaType: SegmentMediaType,
  /** Where RecordingStorage keeps the file. */
  key: z.string(),
});
export type StoredSegment = z.infer<typeof StoredSegment>;

export const StoredRecording = z.object({
  recordingId: Id,
  startedAt: z.number().int(),
  stoppedAt: z.number().int().nullable(),
  startedBy: AuditActor,
  segmentSeconds: z.number().int(),
  /** In start order. */
  segments: z.array(StoredSegment),
  /** Indexes given so far (a dropped segment's index is not reused). */
  nextIndex: z.number().int(),
});
export type StoredRecording = z.infer<typeof StoredRecording>;

export const RecordingsDoc = z.object({
  active: Id.nullable(),
  /** Record every run (PUT …/recording-policy); absent in documents written before it: off. */
  everyRun: z.object({ segmentSeconds: z.number().int() }).nullable().default(null),
  /** Oldest first, at most RECORDINGS_KEPT. */
  recordings: z.array(StoredRecording),
});
export type RecordingsDoc = z.infer<typeof RecordingsDoc>;

export const emptyRecordings = (): RecordingsDoc => ({ active: null, everyRun: null, recordings: [] });

/**
 * What a change writes: the new document (the same object = nothing to write), its result,
 * whether the VM's order changed (wakes the VM agent's sessions poll) and the storage keys the
 * change dropped (deleted from storage once the document is written).
 */
export interface RecordingsUpdate<T> {
  doc: RecordingsDoc;
  result: T;
  wake: boolean;
  dropKeys: string[];
}

const unchanged = <T>(doc: RecordingsDoc, result: T): RecordingsUpdate<T> => ({
  doc,
  result,
  wake: false,
  dropKeys: [],
});

/** The order the VM agent gets with its sessions poll. */
export function orderOf(doc: RecordingsDoc | undefined): RecordingOrder | null {
  if (!doc?.active) return null;
  const r = doc.recordings.find((x) => x.recordingId === doc.active);
  return r ? { recordingId: r.recordingId, segmentSeconds: r.segmentSeconds } : null;
}

export type StartResult = { ok: StoredRecording } | { active: string };

export function startRecording(
  doc: RecordingsDoc,
  rec: { recordingId: string; startedAt: number; startedBy: AuditActor; segmentSeconds: number },
): RecordingsUpdate<StartResult> {
  if (doc.active !== null) return unchanged(doc, { active: doc.active });
  const created: StoredRecording = { ...rec, stoppedAt: null, segments: [], nextIndex: 0 };
  const recordings = [...doc.recordings, created];
  const dropKeys: string[] = [];
  // Bounded metadata: the oldest recordings go first (their files with them).
  while (recordings.length > RECORDINGS_KEPT) {
    const gone = recordings.shift() as StoredRecording;
    dropKeys.push(...gone.segments.map((s) => s.key));
  }
  return { doc: { ...doc, active: rec.recordingId, recordings }, result: { ok: created }, wake: true, dropKeys };
}

/** Stops it (nothing changes if it is stopped already); undefined when there is no such recording. */
export function stopRecording(
  doc: RecordingsDoc,
  recordingId: string,
  now: number,
): RecordingsUpdate<StoredRecording | undefined> {
  const r = doc.recordings.find((x) => x.recordingId === recordingId);
  if (!r || r.stoppedAt !== null) return unchanged(doc, r);
  const stopped = { ...r, stoppedAt: now };
  return {
    doc: {
      ...doc,
      active: doc.active === recordingId ? null : doc.active,
      recordings: doc.recordings.map((x) => (x === r ? stopped : x)),
    },
    result: stopped,
    wake: true,
    dropKeys: [],
  };
}

export type AddSegmentResult =
  | { ok: { index: number; stored: boolean } }
  | { notFound: true }
  /** A segment with this start is stored under another key: keep that one. */
  | { duplicateOf: StoredSegment };

/**
 * Adds an uploaded segment, or finds it again (the same `startedAt` in the same recording is a
 * retried upload). Then retention: while the VM's segments exceed `maxBytes`, the oldest go (the
 * one just added last of all, so an upload is never refused for its size), and a stopped
 * recording left without segments goes with them.
 */
export function addSegment(
  doc: RecordingsDoc,
  recordingId: string,
  seg: Omit<StoredSegment, 'index'>,
  maxBytes: number,
): RecordingsUpdate<AddSegmentResult> {
  const r = doc.recordings.find((x) => x.recordingId === recordingId);
  if (!r) return unchanged(doc, { notFound: true });
  const same = r.segments.find((s) => s.startedAt === seg.startedAt);
  if (same) {
    return unchanged(doc, same.key === seg.key ? { ok: { index: same.index, stored: false } } : { duplicateOf: same });
  }
  const added: StoredSegment = { ...seg, index: r.nextIndex };
  // Kept in start order; the index is the segment's id (upload order), so a leftover a restarted
  // helper's agent uploads late still sorts by time without renaming the others.
  const segments = [...r.segments, added].sort((a, b) => a.startedAt - b.startedAt);
  let recordings = doc.recordings.map((x) => (x === r ? { ...r, segments, nextIndex: r.nextIndex + 1 } : x));
  const dropKeys: string[] = [];
  let total = recordings.reduce((n, x) => n + x.segments.reduce((m, s) => m + s.bytes, 0), 0);
  while (total > maxBytes) {
    let oldest: { rec: StoredRecording; seg: StoredSegment } | undefined;
    for (const x of recordings) {
      for (const s of x.segments) {
        if (s === added) continue;
        if (!oldest || s.startedAt < oldest.seg.startedAt) oldest = { rec: x, seg: s };
      }
    }
    if (!oldest) break;
    const { rec, seg: gone } = oldest;
    total -= gone.bytes;
    dropKeys.push(gone.key);
    recordings = recordings
      .map((x) => (x === rec ? { ...x, segments: x.segments.filter((s) => s !== gone) } : x))
      .filter((x) => x.segments.length > 0 || x.stoppedAt === null || x.recordingId === recordingId);
  }
  return {
    doc: { ...doc, recordings },
    result: { ok: { index: added.index, stored: true } },
    wake: false,
    dropKeys,
  };
}

export function setPolicy(doc: RecordingsDoc, everyRun: { segmentSeconds: number } | null): RecordingsUpdate<null> {
  return { doc: { ...doc, everyRun }, result: null, wake: false, dropKeys: [] };
}

/**
 * A new run of the automation began: with the every-run policy, the recording in progress (if any)
 * stops and a new one starts; otherwise nothing changes.
 */
export function startRunRecording(
  doc: RecordingsDoc,
  rec: { recordingId: string; startedAt: number; startedBy: AuditActor },
): RecordingsUpdate<StoredRecording | null> {
  if (!doc.everyRun) return unchanged(doc, null);
  const stopped = doc.active ? stopRecording(doc, doc.active, rec.startedAt) : unchanged(doc, undefined);
  const started = startRecording(stopped.doc, { ...rec, segmentSeconds: doc.everyRun.segmentSeconds });
  if (!('ok' in started.result)) return unchanged(doc, null);
  return { ...started, result: started.result.ok, dropKeys: [...stopped.dropKeys, ...started.dropKeys] };
}
