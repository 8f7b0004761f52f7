/**
 * Every route of the controller's REST contract, once: method, path, who may
 * call it, its query, body and response schemas and the error codes it can
 * answer. The controller registers its handlers against these entries, the
 * client (client.ts) builds and validates its calls from them, and the OpenAPI
 * document is generated from them (master-controller/src/openapi.ts), so the
 * three cannot drift.
 */
import type { z } from 'zod';
import { auditRoutes } from './audit.js';
import type { ErrorCode } from './errors.js';
import { LIMITS } from './limits.js';
import { recordingRoutes } from './recordings.js';
import {
  AnswerBody,
  CandidateBody,
  CandidatesQuery,
  CandidatesResponse,
  ControlBody,
  ControlQuery,
  ControlState,
  CreateAutomationTokenBody,
  CreateSessionBody,
  CreateSessionResponse,
  CreateViewerTokenBody,
  CreateVmBody,
  CreateVmResponse,
  Health,
  HeartbeatBody,
  IceRestartResponse,
  JwkSet,
  ListVmsResponse,
  OfferBody,
  PostCandidateResponse,
  SessionDescription,
  TokenResponse,
  ViewerSessionsResponse,
  VmHealthResponse,
  VmSessionsQuery,
  VmSessionsResponse,
  WaitQuery,
} from './rest.js';
import { runRoutes } from './run-routes.js';

export type Caller = 'operator' | 'vm' | 'viewer' | 'automation' | 'none';
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A success response: JSON validated by `schema`, a binary body of `mediaType`, or no body. */
export type ResponseSpec =
  | { status: number; description: string; schema: z.ZodType; mediaType?: never }
  | { status: number; description: string; mediaType: string; schema?: never }
  | { status: number; description: string; schema?: never; mediaType?: never };

/** A request body: JSON validated by `schema`, or raw bytes of `mediaType`. */
export type BodySpec =
  | { schema: z.ZodType; mediaType?: never }
  | { mediaType: string; maxBytes: number; schema?: never };

export interface Route {
  readonly method: Method;
  /** Express-style path: `:name` segments are path parameters. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly callers: readonly Caller[];
  readonly pathParams?: Readonly<Record<string, string>>;
  readonly query?: z.ZodObject;
  readonly body?: BodySpec;
  readonly responses: readonly ResponseSpec[];
  /** Besides `shutting_down`, `store_unavailable` and `internal`, which any route may answer. */
  readonly errors: readonly ErrorCode[];
}

const AUTH: ErrorCode[] = ['unauthorized', 'token_expired', 'forbidden'];
const BODY: ErrorCode[] = ['invalid_json', 'invalid_body', 'body_too_large', 'unsupported_media_type'];
const VM_ID = { vmId: 'VM id from POST /api/vms' };
const SESSION_ID = { id: 'sessionId from POST /api/webrtc/session' };
const WHEP_SESSION_ID = { id: 'the WHEP session: the last segment of the Location of POST /whep/vms/{vmId}' };
const json = <S extends z.ZodType>(schema: S) => ({ schema });

const route = <const R extends Route>(r: R): R => r;

/** POST …/<kind>-tokens by the operator: one token scoped to the VM. */
const mintToken = <const P extends string, B extends z.ZodType>(
  path: P,
  summary: string,
  body: B,
  description: string,
) =>
  route({
    method: 'POST',
    path,
    summary,
    description,
    callers: ['operator'],
    pathParams: VM_ID,
    body: json(body),
    responses: [{ status: 201, description: 'The token', schema: TokenResponse }],
    errors: [...AUTH, ...BODY, 'vm_not_found'],
  });

export const routes = {
  createVm: route({
    method: 'POST',
    path: '/api/vms',
    summary: 'Register a VM',
    callers: ['operator'],
    body: json(CreateVmBody),
    responses: [{ status: 201, description: 'The VM and its token', schema: CreateVmResponse }],
    errors: [...AUTH, ...BODY],
  }),
  listVms: route({
    method: 'GET',
    path: '/api/vms',
    summary: 'List VMs with online state, viewer count, control and last heartbeat stats',
    callers: ['operator'],
    responses: [{ status: 200, description: 'All VMs', schema: ListVmsResponse }],
    errors: AUTH,
  }),
  deleteVm: route({
    method: 'DELETE',
    path: '/api/vms/:vmId',
    summary: 'Delete a VM; its sessions end and their long-polls are answered',
    callers: ['operator'],
    pathParams: VM_ID,
    responses: [{ status: 204, description: 'Deleted' }],
    errors: [...AUTH, 'vm_not_found'],
  }),
  createViewerToken: mintToken(
    '/api/vms/:vmId/viewer-tokens',
    'Mint a viewer token scoped to this VM',
    CreateViewerTokenBody,
    'ttlSeconds is an integer from 1 to VMLIVE_VIEWER_TOKEN_MAX_TTL_S (default 86400).',
  ),
  createAutomationToken: mintToken(
    '/api/vms/:vmId/automation-tokens',
    "Mint an automation token for this VM's CDP gateway",
    CreateAutomationTokenBody,
    "For an automation (Playwright, Puppeteer, an MCP browser server) that drives the VM's browser through the VM agent's CDP gateway from outside the VM. " +
      'The gateway verifies it offline against GET /.well-known/jwks.json. With it the automation may also long-poll GET /api/vms/{vmId}/control. ' +
      'ttlSeconds is an integer from 1 to VMLIVE_VIEWER_TOKEN_MAX_TTL_S.',
  ),
  heartbeat: route({
    method: 'POST',
    path: '/api/vms/:vmId/heartbeat',
    summary: 'The VM is alive; stats are shown in GET /api/vms',
    description: 'A VM is online while it heartbeated or polled within VMLIVE_VM_ONLINE_S (default 15 s).',
    callers: ['vm'],
    pathParams: VM_ID,
    body: json(HeartbeatBody),
    responses: [{ status: 204, description: 'Recorded' }],
    errors: [...AUTH, ...BODY, 'vm_not_found'],
  }),
  vmHealth: route({
    method: 'GET',
    path: '/api/vms/:vmId/health',
    summary: "The VM's recent health: the ring of its last heartbeats' health reports",
    description:
      'Encoder fps and bitrate, helper CPU and RSS, restarts, peers and the last error, one sample per heartbeat (VMLIVE_HEARTBEAT_MS at the VM agent), ' +
      'at most VMLIVE_HEALTH_RING samples (the oldest is dropped first). Empty until the VM agent heartbeats with a health report.',
    callers: ['operator'],
    pathParams: VM_ID,
    responses: [{ status: 200, description: 'Samples, oldest first', schema: VmHealthResponse }],
    errors: [...AUTH, 'vm_not_found'],
  }),
  viewerSessions: route({
    method: 'GET',
    path: '/api/vms/:vmId/viewer-sessions',
    summary: "The VM's viewer sessions for the operator: role, since, connection state, bytes, the holder marked",
    description:
      'Connection state and bytes come from the latest heartbeat (null before the VM agent reported the session). ' +
      'End any of them with DELETE /api/webrtc/session/{id}; take over with POST /api/vms/{vmId}/control.',
    callers: ['operator'],
    pathParams: VM_ID,
    responses: [{ status: 200, description: 'Sessions, oldest first, and control', schema: ViewerSessionsResponse }],
    errors: [...AUTH, 'vm_not_found'],
  }),
  vmSessions: route({
    method: 'GET',
    path: '/api/vms/:vmId/sessions',
    summary: "The VM's sessions and control state (the VM agent's main long-poll)",
    description:
      "`state=offered` (default): sessions whose offer was posted after `since` (the previous reply's `cursor`) and that have no answer yet, each handed out once; " +
      'with `wait`, returns as soon as one exists. `state=active`: answered sessions that have not ended; with `wait`, returns when that set changes. ' +
      'Either way the long-poll also returns when control.since passes `controlSince`, or when a viewer asks for a snapshot ' +
      '(`snapshotWanted: true`, reported once per request). Polling counts as a heartbeat.',
    callers: ['vm'],
    pathParams: VM_ID,
    query: VmSessionsQuery,
    responses: [{ status: 200, description: 'Sessions, the next cursor, and control', schema: VmSessionsResponse }],
    errors: [...AUTH, 'invalid_query', 'vm_not_found'],
  }),
  getControl: route({
    method: 'GET',
    path: '/api/vms/:vmId/control',
    summary: 'Control state; long-polls until it changes after `since`',
    description:
      "Any token of this VM (VM, viewer of either role, automation) or the operator. The automation's way to wait for the mode without polling the page.",
    callers: ['vm', 'viewer', 'automation', 'operator'],
    pathParams: VM_ID,
    query: ControlQuery,
    responses: [{ status: 200, description: 'Control state', schema: ControlState }],
    errors: [...AUTH, 'invalid_query', 'vm_not_found'],
  }),
  postControl: route({
    method: 'POST',
    path: '/api/vms/:vmId/control',
    summary: 'Take, release, pause or resume control',
    description:
      'A control viewer acts through one of its own sessions on this VM and must name it in `sessionId`: take gives it control (mode `user`; 409 control_held if another session holds it); ' +
      'release, pause and resume need it to be the holder (else 409 not_holder). A `view` token may not change control. ' +
      'The operator needs no `sessionId`: take without one makes the operator the holder (`holder: "operator"`), take with one hands control to that session of this VM; ' +
      'release returns control to the automation, pause sets mode `paused` (holder kept), resume returns to `user` if there is a holder, else `agent`. ' +
      'The VM may release, pause and resume, never take. When the holder session ends, control returns to `agent` (a paused VM stays paused).',
    callers: ['viewer', 'vm', 'operator'],
    pathParams: VM_ID,
    body: json(ControlBody),
    responses: [{ status: 200, description: 'The new control state', schema: ControlState }],
    errors: [...AUTH, ...BODY, 'vm_not_found', 'session_not_found', 'control_held', 'not_holder'],
  }),
  getSnapshot: route({
    method: 'GET',
    path: '/api/vms/:vmId/snapshot',
    summary: 'Latest screenshot (fallback for viewers that cannot connect)',
    description:
      'Served at once from the controller if the VM uploaded one within VMLIVE_SNAPSHOT_MAX_AGE_MS (default 2 s); otherwise asks the VM (its sessions poll gets snapshotWanted: true) and waits up to 3 s. ' +
      'Concurrent requests for one VM share one ask, so the VM is asked at most once per that interval however many consoles watch. ' +
      'The `X-Snapshot-At` header is the capture time (ms epoch).',
    callers: ['viewer', 'operator'],
    pathParams: VM_ID,
    responses: [{ status: 200, description: 'JPEG image', mediaType: 'image/jpeg' }],
    errors: [...AUTH, 'vm_not_found', 'snapshot_unavailable'],
  }),
  putSnapshot: route({
    method: 'PUT',
    path: '/api/vms/:vmId/snapshot',
    summary: `Upload a screenshot (Content-Type image/jpeg, at most ${LIMITS.snapshotBytes / 1024 / 1024} MiB)`,
    callers: ['vm'],
    pathParams: VM_ID,
    body: { mediaType: 'image/jpeg', maxBytes: LIMITS.snapshotBytes },
    responses: [{ status: 204, description: 'Stored' }],
    errors: [...AUTH, 'vm_not_found', 'invalid_body', 'body_too_large', 'unsupported_media_type'],
  }),
  createSession: route({
    method: 'POST',
    path: '/api/webrtc/session',
    summary: 'Open a signaling session with a VM',
    description:
      'A viewer token opens sessions on its own VM only; the session belongs to that token. expiresAt is when the session ends if idle (any call on it resets the VMLIVE_SESSION_IDLE_TTL_S clock).',
    callers: ['viewer', 'operator'],
    body: json(CreateSessionBody),
    responses: [{ status: 201, description: 'The session', schema: CreateSessionResponse }],
    errors: [...AUTH, ...BODY, 'vm_not_found', 'too_many_sessions'],
  }),
  postOffer: route({
    method: 'POST',
    path: '/api/webrtc/session/:id/offer',
    summary: `The viewer's SDP offer (≤ ${LIMITS.sdpBytes / 1024} KiB)`,
    callers: ['viewer', 'operator'],
    pathParams: SESSION_ID,
    description:
      'The first offer: 204. With `iceRestart: true` on an answered session (ICE restart, RFC 8445 §9): the offer replaces the answered one, the answer is cleared, ' +
      "the session's `generation` goes up and both sides' earlier candidates are dropped; 200 with the new offerSeq and generation, and the VM's sessions poll (state=offered) hands the session out again. " +
      'The same offer posted again is a retry (same reply, nothing changes). Another offer without `iceRestart`: 409 offer_exists; a restart while the previous offer is unanswered: 409 offer_exists; before any offer: 409 offer_missing.',
    body: json(OfferBody),
    responses: [
      { status: 204, description: 'Stored' },
      { status: 200, description: 'ICE restart stored', schema: IceRestartResponse },
    ],
    errors: [...AUTH, ...BODY, 'session_not_found', 'offer_exists', 'offer_missing'],
  }),
  getOffer: route({
    method: 'GET',
    path: '/api/webrtc/session/:id/offer',
    summary: 'Read (or long-poll for) the offer',
    description: 'With `wait`, returns as soon as the offer exists, else 404 offer_not_found at S.',
    callers: ['vm', 'viewer', 'operator'],
    pathParams: SESSION_ID,
    query: WaitQuery,
    responses: [{ status: 200, description: 'The offer', schema: SessionDescription }],
    errors: [...AUTH, 'invalid_query', 'session_not_found', 'offer_not_found'],
  }),
  postAnswer: route({
    method: 'POST',
    path: '/api/webrtc/session/:id/answer',
    summary: `The VM's SDP answer (≤ ${LIMITS.sdpBytes / 1024} KiB)`,
    callers: ['vm'],
    pathParams: SESSION_ID,
    body: json(AnswerBody),
    responses: [{ status: 204, description: 'Stored' }],
    errors: [...AUTH, ...BODY, 'session_not_found', 'answer_exists', 'offer_missing'],
  }),
  getAnswer: route({
    method: 'GET',
    path: '/api/webrtc/session/:id/answer',
    summary: 'Read (or long-poll for) the answer',
    description: 'If the session ends while waiting, the long-poll is answered at once with 404 session_not_found.',
    callers: ['viewer', 'operator', 'vm'],
    pathParams: SESSION_ID,
    query: WaitQuery,
    responses: [
      { status: 200, description: 'The answer', schema: SessionDescription },
      { status: 204, description: 'No answer yet' },
    ],
    errors: [...AUTH, 'invalid_query', 'session_not_found'],
  }),
  postCandidate: route({
    method: 'POST',
    path: '/api/webrtc/session/:id/candidate',
    summary: 'Add a trickle ICE candidate (RFC 8838); an empty candidate string is end-of-candidates',
    description: `\`from\` must be \`vm\` for the VM token and \`browser\` for the viewer/operator (else 403). At most ${LIMITS.candidatesPerSide} per side; candidate ≤ ${LIMITS.candidateBytes} bytes.`,
    callers: ['vm', 'viewer', 'operator'],
    pathParams: SESSION_ID,
    body: json(CandidateBody),
    responses: [
      { status: 201, description: 'Server sequence number and timestamp (ms)', schema: PostCandidateResponse },
    ],
    errors: [...AUTH, ...BODY, 'session_not_found', 'too_many_candidates'],
  }),
  getCandidates: route({
    method: 'GET',
    path: '/api/webrtc/session/:id/candidates/:type',
    summary: 'Candidates posted by one side after a cursor',
    description:
      '`since` is the `cursor` of the previous reply (0 to start), a per-session server sequence number: no candidate is skipped or returned twice. ' +
      'With `wait`, returns as soon as one exists. If the session ends while waiting: 404 session_not_found at once.',
    callers: ['vm', 'viewer', 'operator'],
    pathParams: { ...SESSION_ID, type: "whose candidates: 'vm' or 'browser'" },
    query: CandidatesQuery,
    responses: [{ status: 200, description: 'Candidates and the next cursor', schema: CandidatesResponse }],
    errors: [...AUTH, 'invalid_query', 'session_not_found', 'not_found'],
  }),
  deleteSession: route({
    method: 'DELETE',
    path: '/api/webrtc/session/:id',
    summary: 'End a session (either side); its long-polls are answered with 404',
    callers: ['vm', 'viewer', 'operator'],
    pathParams: SESSION_ID,
    responses: [{ status: 204, description: 'Ended' }],
    errors: [...AUTH, 'session_not_found'],
  }),
  ...runRoutes,
  ...auditRoutes,
  ...recordingRoutes,
  whepOffer: route({
    method: 'POST',
    path: '/whep/vms/:vmId',
    summary: `WHEP endpoint: a player's SDP offer (application/sdp, ≤ ${LIMITS.sdpBytes / 1024} KiB) → 201 with the answer`,
    description:
      "draft-ietf-wish-whep: any WHEP player watches the VM with one POST. The offer opens a view-only session (the viewer token's, limits as POST /api/webrtc/session; it never gets control). " +
      "The answer (application/sdp) carries all of the VM's ICE candidates and a=end-of-candidates, so players that do not trickle work. " +
      'Headers: `Location` (the WHEP session, for PATCH and DELETE), `ETag` (the ICE session), one `Link: <url>; rel="ice-server"` per STUN/TURN server (TURN with username and credential). ' +
      'OPTIONS answers 200 with `Accept-Post: application/sdp`.',
    callers: ['viewer', 'operator'],
    pathParams: VM_ID,
    body: { mediaType: 'application/sdp', maxBytes: LIMITS.sdpBytes },
    responses: [{ status: 201, description: 'The SDP answer', mediaType: 'application/sdp' }],
    errors: [
      ...AUTH,
      'invalid_sdp',
      'body_too_large',
      'unsupported_media_type',
      'vm_not_found',
      'vm_offline',
      'offer_unsupported',
      'too_many_sessions',
      'answer_timeout',
      'method_not_allowed',
    ],
  }),
  whepPatch: route({
    method: 'PATCH',
    path: '/whep/sessions/:id',
    summary: "WHEP session: the player's trickle ICE candidates (application/trickle-ice-sdpfrag, RFC 8840)",
    description:
      '`If-Match` must be the `ETag` of the POST (428 without, 412 when it differs). An ICE restart (`If-Match: *`, or a new ice-ufrag) is answered 422 ice_restart_unsupported and the session keeps its ICE session. ' +
      'Candidates the VM cannot use are dropped silently; 204 without an ETag.',
    callers: ['viewer', 'operator'],
    pathParams: WHEP_SESSION_ID,
    body: { mediaType: 'application/trickle-ice-sdpfrag', maxBytes: LIMITS.sdpBytes },
    responses: [{ status: 204, description: 'Candidates added' }],
    errors: [
      ...AUTH,
      'session_not_found',
      'unsupported_media_type',
      'body_too_large',
      'invalid_sdp',
      'precondition_required',
      'precondition_failed',
      'ice_restart_unsupported',
      'too_many_candidates',
      'method_not_allowed',
    ],
  }),
  whepDelete: route({
    method: 'DELETE',
    path: '/whep/sessions/:id',
    summary: 'WHEP session: end it (the VM removes its peer); any If-Match is ignored',
    callers: ['viewer', 'operator'],
    pathParams: WHEP_SESSION_ID,
    responses: [{ status: 200, description: 'Ended' }],
    errors: [...AUTH, 'session_not_found'],
  }),
  whepGetEndpoint: route({
    method: 'GET',
    path: '/whep/vms/:vmId',
    summary: 'WHEP endpoint: 204, no content (the draft defines no representation)',
    callers: ['viewer', 'operator'],
    pathParams: VM_ID,
    responses: [{ status: 204, description: 'No content' }],
    errors: [...AUTH, 'vm_not_found'],
  }),
  whepGetSession: route({
    method: 'GET',
    path: '/whep/sessions/:id',
    summary: 'WHEP session: 204 while it lives, no content',
    callers: ['viewer', 'operator'],
    pathParams: WHEP_SESSION_ID,
    responses: [{ status: 204, description: 'No content' }],
    errors: [...AUTH, 'session_not_found'],
  }),
  jwks: route({
    method: 'GET',
    path: '/.well-known/jwks.json',
    summary: "The controller's public token-signing keys (JWK Set, RFC 7517 §5)",
    description:
      'VM, viewer and automation tokens are ES256 JWTs signed with the current key; retired keys stay listed until their tokens expire. Verify offline with any JOSE library.',
    callers: ['none'],
    responses: [{ status: 200, description: 'The key set', schema: JwkSet }],
    errors: [],
  }),
  openapi: route({
    method: 'GET',
    path: '/api/openapi.json',
    summary: 'This document',
    callers: ['none'],
    responses: [{ status: 200, description: 'OpenAPI 3.1', mediaType: 'application/json' }],
    errors: [],
  }),
  healthz: route({
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness, and whether the store is reachable',
    description:
      'With VMLIVE_STORE=redis://…: 503 `{ok:false, store:"unreachable", error:{code:"store_unavailable",message}}` while Redis cannot be reached (API calls then answer 503 store_unavailable); 200 again once it is back, without a restart.',
    callers: ['none'],
    responses: [
      { status: 200, description: 'ok (`store` is `memory`, or `ok` for a reachable shared store)', schema: Health },
    ],
    errors: ['store_unavailable'],
  }),
  metrics: route({
    method: 'GET',
    path: '/metrics',
    summary:
      'Prometheus metrics: vmlive_sessions, vmlive_longpolls_waiting, vmlive_http_request_duration_seconds{method,route,status}, per VM vmlive_vm_*{vm}',
    description:
      'Per VM (label `vm` = vmId, for at most VMLIVE_METRICS_MAX_VMS VMs, the oldest registered first; the rest counted in vmlive_vm_metrics_omitted): ' +
      'vmlive_vm_online, vmlive_vm_encoder_fps, vmlive_vm_encoder_bitrate_kbps, vmlive_vm_helper_cpu_percent, vmlive_vm_helper_rss_bytes, vmlive_vm_helper_restarts, vmlive_vm_peers, vmlive_vm_helper_up, vmlive_vm_agent_rss_bytes, vmlive_vm_agent_heap_used_bytes, vmlive_vm_agent_heap_total_bytes, from the latest health sample.',
    callers: ['none'],
    responses: [{ status: 200, description: 'Prometheus text format', mediaType: 'text/plain' }],
    errors: [],
  }),
} as const satisfies Record<string, Route>;

export type RouteName = keyof typeof routes;

/** `:name` segments of an Express-style path. */
export type PathParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/** Fills `:name` segments (URL-encoded). */
export function buildPath(path: string, params: Readonly<Record<string, string>>): string {
  return path.replace(/:(\w+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`path parameter ${name} missing for ${path}`);
    return encodeURIComponent(v);
  });
}
