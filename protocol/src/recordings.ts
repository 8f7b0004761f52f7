/**
 * Recordings (issue 19): per VM, on the operator's demand, the VM's helper writes the stream it
 * already encodes (no re-encode) to files of VMLIVE_RECORDING_SEGMENT_S seconds, each starting on
 * a keyframe; the VM agent uploads every finished file (a segment) to the controller, which keeps
 * them in its recording storage under a per-VM byte limit and lists them with a playable URL
 * each. A recording's time span links to the audit trail (audit.ts) of the same window: who took
 * and released control, and how much input they sent (counts, never the keys: audit.ts says why).
 *
 * Shapes and routes are defined here once; the controller (master-controller/src/recordings)
 * and the VM agent (vm-browser-agent/src/recording) use them.
 */
import { z } from 'zod';
import { AuditActor } from './audit.js';
import type { ErrorCode } from './errors.js';
import { Id } from './rest.js';
import type { Route } from './routes.js';

/** A segment file as the controller serves it: WebM (VP8) or MP4 (H.264). */
export const SegmentMediaType = z.enum(['video/webm', 'video/mp4']);
export type SegmentMediaType = z.infer<typeof SegmentMediaType>;

/** At most this many bytes per uploaded segment (60 s at 8 Mbit/s is 60 MB). */
export const SEGMENT_MAX_BYTES = 128 * 1024 * 1024;
/** A VM keeps at most this many recordings' metadata (the oldest stopped one goes first). */
export const RECORDINGS_KEPT = 100;

const epochMs = z.number().int().min(0);

export const RecordingSegmentInfo = z
  .object({
    index: z.number().int().min(0).meta({ description: 'per recording, in start order from 0' }),
    startedAt: epochMs.meta({ description: 'ms epoch of its first frame (the VM clock)' }),
    durationMs: z.number().int().min(0),
    bytes: z.number().int().min(0),
    mediaType: SegmentMediaType,
    url: z.string().meta({
      description:
        'where to play it: a signed URL valid for VMLIVE_RECORDING_URL_TTL_S, usable without a bearer token (a <video src>), with Range support',
    }),
  })
  .meta({ id: 'RecordingSegment' });
export type RecordingSegmentInfo = z.infer<typeof RecordingSegmentInfo>;

export const Recording = z
  .object({
    recordingId: Id,
    startedAt: epochMs.meta({ description: 'ms epoch at which the operator started it' }),
    stoppedAt: epochMs.nullable().meta({ description: 'null while it records' }),
    startedBy: AuditActor,
    segmentSeconds: z.number().int(),
    segments: z.array(RecordingSegmentInfo).meta({
      description:
        'uploaded segments in start order; a gap between two is what a helper crash lost (at most the segment being written) or what retention dropped',
    }),
    bytes: z.number().int().min(0).meta({ description: 'bytes of the segments kept' }),
    auditUrl: z.string().meta({
      description:
        'GET it with the operator token: the audit trail (control changes, overrides, instruction edits, input counts) from its start to its stop (or now)',
    }),
  })
  .meta({ id: 'Recording' });
export type Recording = z.infer<typeof Recording>;

export const RecordingPolicy = z
  .object({
    everyRun: z.boolean().meta({
      description:
        "record every run of the VM's automation: each new run (its first step reported, POST /api/vms/{vmId}/steps) stops the recording in progress and starts one",
    }),
    segmentSeconds: z.number().int().min(1).max(3600).optional().meta({
      description: 'segment length of those recordings (default VMLIVE_RECORDING_SEGMENT_S)',
    }),
  })
  .strict()
  .meta({ id: 'RecordingPolicy' });
export type RecordingPolicy = z.infer<typeof RecordingPolicy>;

export const RecordingsResponse = z
  .object({
    recordings: z.array(Recording).meta({ description: 'oldest first' }),
    active: Id.nullable().meta({ description: 'the recording in progress, if any' }),
    policy: RecordingPolicy,
  })
  .meta({ id: 'RecordingsResponse' });
export type RecordingsResponse = z.infer<typeof RecordingsResponse>;

export const StartRecordingBody = z
  .object({
    segmentSeconds: z.number().int().min(1).max(3600).optional().meta({
      description: 'segment length (default VMLIVE_RECORDING_SEGMENT_S); a crash loses at most one segment',
    }),
  })
  .strict();
export type StartRecordingBody = z.infer<typeof StartRecordingBody>;

export const UploadSegmentQuery = z.object({
  startedAt: z.coerce
    .number({ error: 'must be a ms epoch integer' })
    .int('must be a ms epoch integer')
    .min(0, 'must be a ms epoch integer')
    .max(Number.MAX_SAFE_INTEGER, 'is too large')
    .meta({
      description: 'ms epoch of the segment’s first frame; a retried upload with the same value is the same segment',
    }),
  durationMs: z.coerce
    .number({ error: 'must be an integer number of ms' })
    .int('must be an integer number of ms')
    .min(0, 'must not be negative')
    .max(24 * 3600 * 1000, 'must be at most a day'),
});
export type UploadSegmentQuery = z.infer<typeof UploadSegmentQuery>;

export const UploadSegmentResponse = z
  .object({
    index: z.number().int().min(0),
    stored: z.boolean().meta({ description: 'false: a retry of one already stored' }),
  })
  .meta({ id: 'UploadSegmentResponse' });
export type UploadSegmentResponse = z.infer<typeof UploadSegmentResponse>;

export const SegmentQuery = z.object({
  exp: z.coerce
    .number({ error: 'must be a ms epoch integer' })
    .int('must be a ms epoch integer')
    .min(0)
    .optional()
    .meta({ description: 'signed URL: expiry (ms epoch)' }),
  sig: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'must be a signature from a segment url')
    .optional()
    .meta({ description: 'signed URL: the signature' }),
});

const AUTH: ErrorCode[] = ['unauthorized', 'token_expired', 'forbidden'];
const BODY: ErrorCode[] = ['invalid_json', 'invalid_body', 'body_too_large', 'unsupported_media_type'];
const VM_ID = { vmId: 'VM id from POST /api/vms' };
const REC = { ...VM_ID, recordingId: 'recordingId from POST /api/vms/{vmId}/recordings' };
const route = <const R extends Route>(r: R): R => r;

export const recordingRoutes = {
  startRecording: route({
    method: 'POST',
    path: '/api/vms/:vmId/recordings',
    summary: 'Start recording the VM (operator)',
    description:
      'The VM agent learns it with its next sessions poll (which this wakes) and its helper writes segments of `segmentSeconds` from the next keyframe, viewers or not; ' +
      'the agent uploads each finished one. One recording at a time per VM: 409 recording_active while one runs.',
    callers: ['operator'],
    pathParams: VM_ID,
    body: { schema: StartRecordingBody },
    responses: [{ status: 201, description: 'The recording', schema: Recording }],
    errors: [...AUTH, ...BODY, 'vm_not_found', 'recording_active'],
  }),
  stopRecording: route({
    method: 'POST',
    path: '/api/vms/:vmId/recordings/:recordingId/stop',
    summary: 'Stop a recording (operator); stopping a stopped one changes nothing',
    description:
      'The helper finishes the segment it is writing and the agent uploads it, so the last segment appears shortly after (at most one segment length plus the upload).',
    callers: ['operator'],
    pathParams: REC,
    responses: [{ status: 200, description: 'The recording', schema: Recording }],
    errors: [...AUTH, 'vm_not_found', 'recording_not_found'],
  }),
  putRecordingPolicy: route({
    method: 'PUT',
    path: '/api/vms/:vmId/recording-policy',
    summary: 'Record every run of the VM (operator): `{everyRun, segmentSeconds?}`',
    description:
      'With `everyRun: true`, the first step of each new run (the automation reports step 0 again, or its first step ever) stops the recording in progress and starts a new one (started by `controller`). Turning it off stops nothing.',
    callers: ['operator'],
    pathParams: VM_ID,
    body: { schema: RecordingPolicy },
    responses: [{ status: 200, description: 'The policy', schema: RecordingPolicy }],
    errors: [...AUTH, ...BODY, 'vm_not_found'],
  }),
  listRecordings: route({
    method: 'GET',
    path: '/api/vms/:vmId/recordings',
    summary:
      "The VM's recordings and their segments, each with a signed URL to play it and a link to the audit trail of its time span",
    callers: ['operator'],
    pathParams: VM_ID,
    responses: [{ status: 200, description: 'Recordings, oldest first', schema: RecordingsResponse }],
    errors: [...AUTH, 'vm_not_found'],
  }),
  uploadSegment: route({
    method: 'POST',
    path: '/api/vms/:vmId/recordings/:recordingId/segments',
    summary: `Upload one finished segment (VM token; Content-Type video/webm or video/mp4, at most ${SEGMENT_MAX_BYTES / 1024 / 1024} MiB)`,
    description:
      'The body must be the file as the helper wrote it (a WebM/Matroska or an MP4 file: its magic bytes are checked). Accepted after the recording stopped too (its last segment, and leftovers a restarted helper left). ' +
      'Storing it may drop the oldest segments of this VM beyond VMLIVE_RECORDINGS_MAX_BYTES.',
    callers: ['vm'],
    pathParams: REC,
    query: UploadSegmentQuery,
    body: { mediaType: 'video/*', maxBytes: SEGMENT_MAX_BYTES },
    responses: [{ status: 201, description: 'Stored (or already stored)', schema: UploadSegmentResponse }],
    errors: [
      ...AUTH,
      'invalid_query',
      'invalid_body',
      'body_too_large',
      'unsupported_media_type',
      'vm_not_found',
      'recording_not_found',
    ],
  }),
  getSegment: route({
    method: 'GET',
    path: '/api/vms/:vmId/recordings/:recordingId/segments/:index',
    summary: 'One segment file (video/webm or video/mp4), with Range requests (RFC 9110 §14) so a <video> can seek',
    description:
      'With the operator token, or without any with the `exp` and `sig` of the segment’s `url` from the listing (valid VMLIVE_RECORDING_URL_TTL_S). ' +
      '`Range: bytes=a-b` answers 206 with Content-Range; a range past the end 416 range_not_satisfiable.',
    callers: ['operator', 'none'],
    pathParams: { ...REC, index: 'the segment index' },
    query: SegmentQuery,
    responses: [
      { status: 200, description: 'The file', mediaType: 'video/*' },
      { status: 206, description: 'The range asked for', mediaType: 'video/*' },
    ],
    errors: [
      ...AUTH,
      'invalid_query',
      'vm_not_found',
      'recording_not_found',
      'segment_not_found',
      'range_not_satisfiable',
    ],
  }),
} as const satisfies Record<string, Route>;
