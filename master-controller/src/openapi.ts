/**
 * Builds the OpenAPI 3.1 document from the protocol's zod schemas and the
 * error registry, so the contract is written once. `openapi.json` at the
 * package root is this output (regenerate: `npm run openapi -w master-controller`;
 * openapi.test.ts fails when it is stale, a route is undocumented or an
 * error code is missing).
 */
import { writeFileSync } from 'node:fs';
import {
  AnswerBody,
  CandidateBody,
  ControlBody,
  CreateSessionBody,
  CreateViewerTokenBody,
  CreateVmBody,
  HeartbeatBody,
  LIMITS,
  OfferBody,
} from '@vmlive/protocol';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.js';

type Json = Record<string, unknown>;
type Auth = 'operator' | 'vm' | 'viewer' | 'none';

interface Op {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  description?: string;
  who: Auth[];
  params?: Json[];
  body?: Json;
  bodyType?: string;
  ok: [number, string, Json?, string?];
  extraOk?: Array<[number, string, Json?]>;
  errors: ErrorCode[];
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const schema = (s: z.ZodType): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
};
const path = (name: string, description: string): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
});
const query = (name: string, description: string, s: Json): Json => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: s,
});
const WAIT = query(
  'wait',
  `Long-poll: answer as soon as something new exists, else the empty answer after this many seconds (0–${LIMITS.maxWaitSeconds}, default 0 = plain poll).`,
  { type: 'number', minimum: 0, maximum: LIMITS.maxWaitSeconds, default: 0 },
);
const VM_ID = path('vmId', 'VM id from POST /api/vms');
const SESSION_ID = path('id', 'sessionId from POST /api/webrtc/session');
const AUTH_ERRORS: ErrorCode[] = ['unauthorized', 'token_expired', 'forbidden'];
const BODY_ERRORS: ErrorCode[] = ['invalid_json', 'invalid_body', 'body_too_large', 'unsupported_media_type'];

const OPS: Op[] = [
  {
    method: 'post',
    path: '/api/vms',
    summary: 'Register a VM',
    who: ['operator'],
    body: schema(CreateVmBody),
    ok: [201, 'The VM and its token', ref('CreateVmResponse')],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS],
  },
  {
    method: 'get',
    path: '/api/vms',
    summary: 'List VMs with online state, viewer count, control and last heartbeat stats',
    who: ['operator'],
    ok: [200, 'All VMs', ref('ListVmsResponse')],
    errors: AUTH_ERRORS,
  },
  {
    method: 'delete',
    path: '/api/vms/{vmId}',
    summary: 'Delete a VM; its sessions end and their long-polls are answered',
    who: ['operator'],
    params: [VM_ID],
    ok: [204, 'Deleted'],
    errors: [...AUTH_ERRORS, 'vm_not_found'],
  },
  {
    method: 'post',
    path: '/api/vms/{vmId}/viewer-tokens',
    summary: 'Mint a viewer token scoped to this VM',
    description: 'ttlSeconds is an integer from 1 to VMLIVE_VIEWER_TOKEN_MAX_TTL_S (default 86400).',
    who: ['operator'],
    params: [VM_ID],
    body: schema(CreateViewerTokenBody),
    ok: [201, 'The token', ref('ViewerTokenResponse')],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'vm_not_found'],
  },
  {
    method: 'post',
    path: '/api/vms/{vmId}/heartbeat',
    summary: 'The VM is alive; stats are shown in GET /api/vms',
    description: 'A VM is online while it heartbeated or polled within VMLIVE_VM_ONLINE_S (default 15 s).',
    who: ['vm'],
    params: [VM_ID],
    body: schema(HeartbeatBody),
    ok: [204, 'Recorded'],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'vm_not_found'],
  },
  {
    method: 'get',
    path: '/api/vms/{vmId}/sessions',
    summary: "The VM's sessions and control state (the agent's main long-poll)",
    description:
      '`state=offered` (default): sessions with an offer and no answer yet; with `wait`, returns at once when any exist. ' +
      '`state=active`: answered sessions that have not ended; with `wait`, returns when that set changes. ' +
      'Either way the long-poll also returns when the control state changes or when a viewer asks for a snapshot ' +
      '(`snapshotWanted: true`; reported once per request so the poll does not spin). Polling counts as a heartbeat.',
    who: ['vm'],
    params: [
      VM_ID,
      query('state', 'offered | active', { type: 'string', enum: ['offered', 'active'], default: 'offered' }),
      WAIT,
    ],
    ok: [200, 'Sessions and control', ref('VmSessionsResponse')],
    errors: [...AUTH_ERRORS, 'invalid_query', 'vm_not_found'],
  },
  {
    method: 'get',
    path: '/api/vms/{vmId}/control',
    summary: 'Control state; long-polls until it changes after `since`',
    description: 'Any token of this VM (VM, viewer of either role) or the operator.',
    who: ['vm', 'viewer', 'operator'],
    params: [
      VM_ID,
      query('since', 'Return when control.since > this (ms epoch); default 0 (at once).', {
        type: 'integer',
        minimum: 0,
      }),
      WAIT,
    ],
    ok: [200, 'Control state', ref('ControlState')],
    errors: [...AUTH_ERRORS, 'invalid_query', 'vm_not_found'],
  },
  {
    method: 'post',
    path: '/api/vms/{vmId}/control',
    summary: 'Take, release, pause or resume control',
    description:
      'take (control viewer through its own session, or operator naming a session of this VM): mode `user`, holder = sessionId; 409 control_held if another session holds it. ' +
      'release: back to `agent` (holder, operator or VM). pause: mode `paused`, holder kept (holder or operator or VM). ' +
      'resume: back to `user` if there is a holder, else `agent`. A viewer acts only as the holder of its own session (else 409 not_holder); ' +
      'a `view` token and the VM may not take. For operator and VM, sessionId is only read by take. When the holder session ends, control returns to `agent`.',
    who: ['viewer', 'vm', 'operator'],
    params: [VM_ID],
    body: schema(ControlBody),
    ok: [200, 'The new control state', ref('ControlState')],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'vm_not_found', 'session_not_found', 'control_held', 'not_holder'],
  },
  {
    method: 'get',
    path: '/api/vms/{vmId}/snapshot',
    summary: 'Latest screenshot (fallback for viewers that cannot connect)',
    description:
      'Served at once if the VM uploaded one in the last 2 s; otherwise asks the VM (its sessions poll gets snapshotWanted: true) and waits up to 3 s.',
    who: ['viewer', 'operator'],
    params: [VM_ID],
    ok: [200, 'JPEG image', { type: 'string', contentMediaType: 'image/jpeg' }, 'image/jpeg'],
    errors: [...AUTH_ERRORS, 'vm_not_found', 'snapshot_unavailable'],
  },
  {
    method: 'put',
    path: '/api/vms/{vmId}/snapshot',
    summary: 'Upload a screenshot (Content-Type image/jpeg, at most 2 MiB)',
    who: ['vm'],
    params: [VM_ID],
    body: { type: 'string', contentMediaType: 'image/jpeg', maxLength: LIMITS.snapshotBytes },
    bodyType: 'image/jpeg',
    ok: [204, 'Stored'],
    errors: [...AUTH_ERRORS, 'vm_not_found', 'invalid_body', 'body_too_large', 'unsupported_media_type'],
  },
  {
    method: 'post',
    path: '/api/webrtc/session',
    summary: 'Open a signaling session with a VM',
    description:
      'A viewer token opens sessions on its own VM only; the session belongs to that token. expiresAt is when the session ends if idle (any call on it resets the VMLIVE_SESSION_IDLE_TTL_S clock).',
    who: ['viewer', 'operator'],
    body: schema(CreateSessionBody),
    ok: [201, 'The session', ref('CreateSessionResponse')],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'vm_not_found', 'too_many_sessions'],
  },
  {
    method: 'post',
    path: '/api/webrtc/session/{id}/offer',
    summary: "The viewer's SDP offer (≤ 64 KiB)",
    who: ['viewer', 'operator'],
    params: [SESSION_ID],
    body: schema(OfferBody),
    ok: [204, 'Stored'],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'session_not_found', 'offer_exists'],
  },
  {
    method: 'get',
    path: '/api/webrtc/session/{id}/offer',
    summary: 'Read (or long-poll for) the offer',
    description: 'With `wait`, returns as soon as the offer exists, else 404 offer_not_found at S.',
    who: ['vm', 'viewer', 'operator'],
    params: [SESSION_ID, WAIT],
    ok: [200, 'The offer', ref('SessionDescription')],
    errors: [...AUTH_ERRORS, 'invalid_query', 'session_not_found', 'offer_not_found'],
  },
  {
    method: 'post',
    path: '/api/webrtc/session/{id}/answer',
    summary: "The VM's SDP answer (≤ 64 KiB)",
    who: ['vm'],
    params: [SESSION_ID],
    body: schema(AnswerBody),
    ok: [204, 'Stored'],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'session_not_found', 'answer_exists', 'offer_missing'],
  },
  {
    method: 'get',
    path: '/api/webrtc/session/{id}/answer',
    summary: 'Read (or long-poll for) the answer',
    description: 'If the session ends while waiting, the long-poll is answered at once with 404 session_not_found.',
    who: ['viewer', 'operator', 'vm'],
    params: [SESSION_ID, WAIT],
    ok: [200, 'The answer', ref('SessionDescription')],
    extraOk: [[204, 'No answer yet']],
    errors: [...AUTH_ERRORS, 'invalid_query', 'session_not_found'],
  },
  {
    method: 'post',
    path: '/api/webrtc/session/{id}/candidate',
    summary: 'Add a trickle ICE candidate (RFC 8838); an empty candidate string is end-of-candidates',
    description:
      '`from` must be `vm` for the VM token and `browser` for the viewer/operator (else 403). At most 256 per side; candidate ≤ 1 KiB.',
    who: ['vm', 'viewer', 'operator'],
    params: [SESSION_ID],
    body: schema(CandidateBody),
    ok: [201, 'Server sequence number and timestamp (ms)', ref('PostCandidateResponse')],
    errors: [...AUTH_ERRORS, ...BODY_ERRORS, 'session_not_found', 'too_many_candidates'],
  },
  {
    method: 'get',
    path: '/api/webrtc/session/{id}/candidates/{type}',
    summary: 'Candidates posted by one side after a cursor',
    description:
      '`since` is the `cursor` of the previous reply (0 to start), a per-session server sequence number: no candidate is skipped or returned twice. ' +
      'With `wait`, returns as soon as one exists. If the session ends while waiting: 404 session_not_found at once.',
    who: ['vm', 'viewer', 'operator'],
    params: [
      SESSION_ID,
      {
        name: 'type',
        in: 'path',
        required: true,
        description: 'whose candidates',
        schema: { type: 'string', enum: ['vm', 'browser'] },
      },
      query('since', 'cursor from the previous reply', { type: 'integer', minimum: 0, default: 0 }),
      WAIT,
    ],
    ok: [200, 'Candidates and the next cursor', ref('CandidatesResponse')],
    errors: [...AUTH_ERRORS, 'invalid_query', 'session_not_found', 'not_found'],
  },
  {
    method: 'delete',
    path: '/api/webrtc/session/{id}',
    summary: 'End a session (either side); its long-polls are answered with 404',
    who: ['vm', 'viewer', 'operator'],
    params: [SESSION_ID],
    ok: [204, 'Ended'],
    errors: [...AUTH_ERRORS, 'session_not_found'],
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    who: ['none'],
    ok: [200, 'OpenAPI 3.1', { type: 'object' }],
    errors: [],
  },
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    who: ['none'],
    ok: [200, 'ok', { type: 'object', properties: { ok: { const: true } } }],
    errors: [],
  },
  {
    method: 'get',
    path: '/metrics',
    summary:
      'Prometheus metrics: vmlive_sessions, vmlive_longpolls_waiting, vmlive_http_request_duration_seconds{method,route,status}',
    who: ['none'],
    ok: [200, 'Prometheus text format', { type: 'string' }, 'text/plain'],
    errors: [],
  },
];

const CONTROL_STATE: Json = {
  type: 'object',
  required: ['mode', 'holder', 'since'],
  properties: {
    mode: { type: 'string', enum: ['agent', 'user', 'paused'] },
    holder: { type: ['string', 'null'], description: 'sessionId holding control (kept while paused), or null' },
    since: { type: 'integer', description: 'ms epoch of the last change; strictly increasing per VM' },
  },
};

const SCHEMAS: Record<string, Json> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: ref('ErrorCode'),
          message: { type: 'string' },
          field: { type: 'string', description: 'the offending body field or query parameter' },
        },
      },
    },
  },
  ErrorCode: {
    type: 'string',
    enum: Object.keys(ERROR_CODES),
    description: Object.entries(ERROR_CODES)
      .map(([code, e]) => `- \`${code}\` (${e.status}): ${e.description}`)
      .join('\n'),
  },
  CreateVmResponse: {
    type: 'object',
    required: ['vmId', 'vmToken'],
    properties: { vmId: { type: 'string' }, vmToken: { type: 'string', description: 'HS256 JWT; does not expire' } },
  },
  ControlState: CONTROL_STATE,
  ListVmsResponse: {
    type: 'object',
    required: ['vms'],
    properties: {
      vms: {
        type: 'array',
        items: {
          type: 'object',
          required: ['vmId', 'name', 'online', 'lastSeenAt', 'viewers', 'control'],
          properties: {
            vmId: { type: 'string' },
            name: { type: 'string' },
            online: { type: 'boolean' },
            lastSeenAt: { type: ['integer', 'null'] },
            viewers: { type: 'integer', description: 'live sessions' },
            control: ref('ControlState'),
            stats: { type: 'object', description: 'extension: stats from the last heartbeat' },
          },
        },
      },
    },
  },
  ViewerTokenResponse: {
    type: 'object',
    required: ['token', 'expiresAt'],
    properties: { token: { type: 'string' }, expiresAt: { type: 'integer', description: 'ms epoch' } },
  },
  VmSessionsResponse: {
    type: 'object',
    required: ['sessions', 'control'],
    properties: {
      sessions: {
        type: 'array',
        items: {
          type: 'object',
          required: ['sessionId', 'offer', 'createdAt'],
          properties: {
            sessionId: { type: 'string' },
            offer: ref('SessionDescription'),
            createdAt: { type: 'integer' },
          },
        },
      },
      control: ref('ControlState'),
      snapshotWanted: { type: 'boolean', description: 'extension: PUT a snapshot soon' },
    },
  },
  CreateSessionResponse: {
    type: 'object',
    required: ['sessionId', 'iceServers', 'expiresAt', 'vmOnline'],
    properties: {
      sessionId: { type: 'string' },
      iceServers: { type: 'array', items: { type: 'object', description: 'RTCIceServer from VMLIVE_ICE_SERVERS' } },
      expiresAt: { type: 'integer', description: 'ms epoch at which the session ends if left idle' },
      vmOnline: {
        type: 'boolean',
        description:
          "whether the VM's agent is polling or heartbeating now; when false no answer will come soon, so a viewer can say 'VM offline' at once",
      },
    },
  },
  SessionDescription: {
    type: 'object',
    required: ['type', 'sdp'],
    properties: { type: { type: 'string', enum: ['offer', 'answer'] }, sdp: { type: 'string' } },
  },
  PostCandidateResponse: {
    type: 'object',
    required: ['seq', 'timestamp'],
    properties: { seq: { type: 'integer' }, timestamp: { type: 'integer', description: 'server ms epoch' } },
  },
  CandidatesResponse: {
    type: 'object',
    required: ['candidates', 'cursor'],
    properties: {
      candidates: {
        type: 'array',
        items: {
          type: 'object',
          required: ['candidate', 'sdpMLineIndex', 'sdpMid', 'seq', 'timestamp'],
          properties: {
            candidate: { type: 'string', description: "'' = end-of-candidates" },
            sdpMLineIndex: { type: 'integer' },
            sdpMid: { type: ['string', 'null'] },
            seq: { type: 'integer' },
            timestamp: { type: 'integer' },
          },
        },
      },
      cursor: { type: 'integer', description: 'pass as `since` next time' },
    },
  },
};

function operation(op: Op): Json {
  const responses: Json = {};
  const [status, description, body, mediaType] = op.ok;
  responses[String(status)] = body
    ? { description, content: { [mediaType ?? 'application/json']: { schema: body } } }
    : { description };
  for (const [s, d, b] of op.extraOk ?? []) {
    responses[String(s)] = b ? { description: d, content: { 'application/json': { schema: b } } } : { description: d };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  const codes: ErrorCode[] = [...new Set<ErrorCode>([...op.errors, 'shutting_down', 'internal'])];
  if (op.who[0] === 'none') codes.splice(0, codes.length, 'shutting_down', 'internal');
  for (const code of codes) {
    const s = ERROR_CODES[code].status;
    byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  }
  for (const [s, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(s)] = {
      description: list.map((c) => `\`${c}\``).join(', '),
      content: { 'application/json': { schema: ref('Error') } },
    };
  }
  return {
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    'x-callers': op.who,
    security: op.who[0] === 'none' ? [] : [{ bearer: [] }],
    ...(op.params ? { parameters: op.params } : {}),
    ...(op.body
      ? { requestBody: { required: true, content: { [op.bodyType ?? 'application/json']: { schema: op.body } } } }
      : {}),
    responses,
    'x-error-codes': codes,
  };
}

export function buildOpenApi(): Json {
  const paths: Record<string, Json> = {};
  for (const op of OPS) {
    paths[op.path] ??= {};
    (paths[op.path] as Json)[op.method] = operation(op);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'vmlive master controller',
      version: '0.1.0',
      description:
        'WebRTC signaling between viewers and browser VMs over REST with long-polls. ' +
        'Every /api call (except this document) needs `Authorization: Bearer <token>`: the operator token, a VM token, or a viewer token (role view|control, one VM, an expiry). ' +
        `Limits: SDP ≤ ${LIMITS.sdpBytes} bytes, candidate ≤ ${LIMITS.candidateBytes} bytes, ≤ ${LIMITS.candidatesPerSide} candidates per side per session, JSON body ≤ ${LIMITS.jsonBodyBytes} bytes. ` +
        'Errors are `{error:{code,message,field?}}`; the codes and their statuses are in components.schemas.ErrorCode. CORS allows any origin.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'operator token or JWT' } },
      schemas: SCHEMAS,
    },
    paths,
  };
}

// `tsx master-controller/src/openapi.ts --write` regenerates openapi.json.
if (process.argv[1]?.endsWith('openapi.ts') && process.argv.includes('--write')) {
  const out = new URL('../openapi.json', import.meta.url);
  writeFileSync(out, `${JSON.stringify(buildOpenApi(), null, 2)}\n`);
  process.stdout.write(`wrote ${out.pathname}\n`);
}
