/**
 * Recordings (protocol recordings.ts): the operator starts and stops them, the VM agent uploads
 * finished segments, the operator (or a signed URL, for a `<video src>`) plays them with Range
 * requests. Metadata in the store (recordings/doc.ts), files in RecordingStorage.
 */
import {
  buildPath,
  type Recording,
  type RecordingPolicy,
  type RecordingsResponse,
  routes,
  SegmentMediaType,
  type UploadSegmentResponse,
} from '@vmlive/protocol';
import { actorOf } from '../../audit/trail.js';
import { randomId } from '../../auth/tokens.js';
import { ApiError } from '../../errors.js';
import {
  addSegment,
  type RecordingsDoc,
  type RecordingsUpdate,
  type StoredRecording,
  setPolicy,
  startRecording,
  stopRecording,
} from '../../recordings/doc.js';
import { authenticate, loadVm, requireOperator, requireVmToken } from '../access.js';
import type { Ctx } from '../context.js';
import type { Req } from '../kit.js';
import { handle, type Router } from '../route.js';

const EXTENSION: Record<SegmentMediaType, string> = { 'video/webm': 'webm', 'video/mp4': 'mp4' };

/** The file's own signature: WebM/Matroska opens with the EBML magic, MP4 with an `ftyp` box. */
function looksLike(type: SegmentMediaType, b: Buffer): boolean {
  if (type === 'video/webm') return b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3;
  return b.length >= 8 && b.toString('latin1', 4, 8) === 'ftyp';
}

function recordingIdParam(req: Req): string {
  const id = req.params.recordingId ?? '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new ApiError('recording_not_found', `no recording ${id}`);
  return id;
}

/**
 * `Range: bytes=…` (RFC 9110 §14.1.2) as one inclusive byte range of a `size`-byte file; null to
 * send the whole file: no Range, or one this server ignores (several ranges, another unit, bad
 * syntax; §14.2: "A server MAY ignore the Range header field"). 'unsatisfiable' when it starts past the end.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    // suffix-range: the last N bytes (§14.1.2)
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid range-spec: ignored
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

const policyOf = (doc: RecordingsDoc): RecordingPolicy =>
  doc.everyRun ? { everyRun: true, segmentSeconds: doc.everyRun.segmentSeconds } : { everyRun: false };

export function recordingRoutes(ctx: Ctx, r: Router): void {
  const { store, config } = ctx;
  // Read per request (not here): the route table is also built without them (openapi.test.ts).
  const storageOf = () => ctx.recordings.storage;
  const signerOf = () => ctx.recordings.signer;

  /** Deletes what a change dropped, after the document no longer points at it. */
  const dropFiles = async (vmId: string, u: RecordingsUpdate<unknown>) => {
    if (u.dropKeys.length === 0) return;
    await storageOf().delete(u.dropKeys);
    ctx.logger.info({ vmId, segments: u.dropKeys.length }, 'recording segments dropped (retention)');
  };

  const view = (vmId: string, rec: StoredRecording, now: number): Recording => {
    const exp = now + config.recordingUrlTtlS * 1000;
    const audit = new URLSearchParams({ from: String(rec.startedAt) });
    if (rec.stoppedAt !== null) audit.set('to', String(rec.stoppedAt));
    return {
      recordingId: rec.recordingId,
      startedAt: rec.startedAt,
      stoppedAt: rec.stoppedAt,
      startedBy: rec.startedBy,
      segmentSeconds: rec.segmentSeconds,
      segments: rec.segments.map((s) => ({
        index: s.index,
        startedAt: s.startedAt,
        durationMs: s.durationMs,
        bytes: s.bytes,
        mediaType: s.mediaType,
        url: signerOf().sign(
          buildPath(routes.getSegment.path, { vmId, recordingId: rec.recordingId, index: String(s.index) }),
          exp,
        ),
      })),
      bytes: rec.segments.reduce((n, s) => n + s.bytes, 0),
      auditUrl: `${buildPath(routes.getAudit.path, { vmId })}?${audit}`,
    };
  };

  handle(r, routes.startRecording, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    requireOperator(p);
    const vm = await loadVm(ctx, req);
    const body = input.body() ?? {};
    const now = Date.now();
    const rec = {
      recordingId: randomId(12),
      startedAt: now,
      startedBy: actorOf(p),
      segmentSeconds: body.segmentSeconds ?? config.recordingSegmentS,
    };
    const u = await store.updateRecordings(vm.vmId, (doc) => startRecording(doc, rec));
    if (!u) throw new ApiError('vm_not_found', `no VM ${vm.vmId}`);
    if ('active' in u.result) {
      throw new ApiError('recording_active', `the VM is recording already (${u.result.active}); stop it first`);
    }
    await dropFiles(vm.vmId, u);
    req.log.info({ recordingId: rec.recordingId, segmentSeconds: rec.segmentSeconds }, 'recording started');
    res.status(201).json(view(vm.vmId, u.result.ok, now));
  });

  handle(r, routes.stopRecording, async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const recordingId = recordingIdParam(req);
    const now = Date.now();
    const u = await store.updateRecordings(vm.vmId, (doc) => stopRecording(doc, recordingId, now));
    if (!u) throw new ApiError('vm_not_found', `no VM ${vm.vmId}`);
    if (!u.result) throw new ApiError('recording_not_found', `no recording ${recordingId}`);
    if (u.wake) req.log.info({ recordingId }, 'recording stopped');
    res.json(view(vm.vmId, u.result, now));
  });

  handle(r, routes.putRecordingPolicy, async (req, res, input) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const body = input.body();
    const everyRun = body.everyRun ? { segmentSeconds: body.segmentSeconds ?? config.recordingSegmentS } : null;
    const u = await store.updateRecordings(vm.vmId, (doc) => setPolicy(doc, everyRun));
    if (!u) throw new ApiError('vm_not_found', `no VM ${vm.vmId}`);
    req.log.info({ everyRun: body.everyRun }, 'recording policy');
    res.json(policyOf(u.doc) satisfies RecordingPolicy);
  });

  handle(r, routes.listRecordings, async (req, res) => {
    requireOperator(await authenticate(ctx, req));
    const vm = await loadVm(ctx, req);
    const doc = await store.getRecordings(vm.vmId);
    if (!doc) throw new ApiError('vm_not_found', `no VM ${vm.vmId}`);
    const now = Date.now();
    res.json({
      recordings: doc.recordings.map((x) => view(vm.vmId, x, now)),
      active: doc.active,
      policy: policyOf(doc),
    } satisfies RecordingsResponse);
  });

  handle(r, routes.uploadSegment, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireVmToken(p, vm.vmId);
    const recordingId = recordingIdParam(req);
    const q = input.query();
    const parsedType = SegmentMediaType.safeParse(req.headers['content-type']?.split(';')[0]?.trim().toLowerCase());
    if (!parsedType.success)
      throw new ApiError('unsupported_media_type', 'Content-Type must be video/webm or video/mp4');
    const type = parsedType.data;
    const data = req.body;
    if (!Buffer.isBuffer(data) || !looksLike(type, data)) {
      throw new ApiError('invalid_body', `the body is not a ${type === 'video/webm' ? 'WebM' : 'MP4'} file`);
    }
    // Known before the file is written, so a refused upload stores nothing.
    const before = await store.getRecordings(vm.vmId);
    if (!before) throw new ApiError('vm_not_found', `no VM ${vm.vmId}`);
    if (!before.recordings.some((x) => x.recordingId === recordingId)) {
      throw new ApiError('recording_not_found', `no recording ${recordingId}`);
    }
    // A deterministic key: a retried upload writes the same file again, and the document (written
    // after the file, so it never names a missing one) finds the segment by its start.
    const key = `${vm.vmId}/${recordingId}/${q.startedAt}.${EXTENSION[type]}`;
    await storageOf().put(key, data);
    const seg = { startedAt: q.startedAt, durationMs: q.durationMs, bytes: data.length, mediaType: type, key };
    const u = await store.updateRecordings(vm.vmId, (doc) =>
      addSegment(doc, recordingId, seg, config.recordingsMaxBytes),
    );
    if (!u || 'notFound' in u.result) {
      // Deleted meanwhile (the VM, or retention took the recording): nothing may point at the file.
      await storageOf().delete([key]);
      throw u
        ? new ApiError('recording_not_found', `no recording ${recordingId}`)
        : new ApiError('vm_not_found', `no VM ${vm.vmId}`);
    }
    if ('duplicateOf' in u.result) {
      // Same start, another type: the first upload stands.
      if (u.result.duplicateOf.key !== key) await storageOf().delete([key]);
      res.status(201).json({ index: u.result.duplicateOf.index, stored: false } satisfies UploadSegmentResponse);
      return;
    }
    await dropFiles(vm.vmId, u);
    req.log.info(
      {
        recordingId,
        index: u.result.ok.index,
        bytes: data.length,
        durationMs: q.durationMs,
        stored: u.result.ok.stored,
      },
      'recording segment stored',
    );
    res.status(201).json(u.result.ok satisfies UploadSegmentResponse);
  });

  handle(r, routes.getSegment, async (req, res, input) => {
    const vmId = req.params.vmId ?? '';
    const recordingId = recordingIdParam(req);
    const index = req.params.index ?? '';
    if (req.headers.authorization !== undefined) {
      requireOperator(await authenticate(ctx, req));
    } else {
      const { exp, sig } = input.query();
      if (exp === undefined || sig === undefined) {
        throw new ApiError('unauthorized', 'needs the operator token or a signed segment url (exp and sig)');
      }
      const path = buildPath(routes.getSegment.path, { vmId, recordingId, index });
      if (!signerOf().verify(path, exp, sig, Date.now())) {
        throw new ApiError(
          exp < Date.now() ? 'token_expired' : 'unauthorized',
          'the signed segment url is expired or not valid',
        );
      }
    }
    const vm = await loadVm(ctx, req);
    const doc = await store.getRecordings(vm.vmId);
    const rec = doc?.recordings.find((x) => x.recordingId === recordingId);
    if (!rec) throw new ApiError('recording_not_found', `no recording ${recordingId}`);
    const seg = /^\d{1,9}$/.test(index) ? rec.segments.find((s) => s.index === Number(index)) : undefined;
    if (!seg) throw new ApiError('segment_not_found', `no segment ${index}`);
    const size = await storageOf().size(seg.key);
    if (size === undefined) throw new ApiError('segment_not_found', `segment ${index} is gone from storage`);
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      throw new ApiError('range_not_satisfiable', `the segment has ${size} bytes`);
    }
    // Immutable once stored; cached privately (it needed a grant).
    res.set({ 'Content-Type': seg.mediaType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'private, max-age=3600' });
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range) res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    if (req.method === 'HEAD' || size === 0) {
      res.setHeader('Content-Length', String(end - start + 1));
      res.end();
      return;
    }
    res.stream(storageOf().read(seg.key, start, end), end - start + 1, (err) =>
      req.log.warn({ err: err.message, recordingId, index: seg.index }, 'segment read failed'),
    );
  });
}
