/**
 * The REST contract's shapes, once: every request body, query and response is a
 * zod schema here; the TypeScript types are `z.infer` of them. The controller
 * validates requests with them, every client validates responses with them
 * (client.ts), and the OpenAPI document is generated from them (routes.ts).
 * Schemas with a `meta({id})` become named components in the OpenAPI file.
 */
import { z } from 'zod';
import { LIMITS, utf8Length } from './limits.js';

export const ViewerRole = z.enum(['view', 'control']);
export type ViewerRole = z.infer<typeof ViewerRole>;

export const CandidateSide = z.enum(['vm', 'browser']);
export type CandidateSide = z.infer<typeof CandidateSide>;

export const ControlMode = z.enum(['agent', 'user', 'paused']);
export type ControlMode = z.infer<typeof ControlMode>;

export const ControlAction = z.enum(['take', 'release', 'pause', 'resume']);
export type ControlAction = z.infer<typeof ControlAction>;

/** RTCIceTransportPolicy (W3C webrtc-pc §4.2.1): `relay` gathers and uses TURN relay candidates only. */
export const IceTransportPolicy = z.enum(['all', 'relay'], { error: 'must be all or relay' });
export type IceTransportPolicy = z.infer<typeof IceTransportPolicy>;

/** Ids minted by the controller (VMs, sessions): URL-safe, at most 64 characters. */
export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

const sdpString = z
  .string()
  .min(1, 'sdp must not be empty')
  .refine((s) => utf8Length(s) <= LIMITS.sdpBytes, `sdp exceeds ${LIMITS.sdpBytes} bytes`);

/** RTCIceServer (W3C webrtc-pc §4.2.1), as handed to viewers and to the VM side. */
export const IceServer = z
  .object({
    urls: z.union([z.string(), z.array(z.string()).min(1)]),
    username: z.string().optional(),
    credential: z.string().optional(),
  })
  .meta({ id: 'IceServer' });
export type IceServer = z.infer<typeof IceServer>;

// ---- request bodies ----

export const CreateVmBody = z.object({ name: z.string().min(1).max(128).optional() }).strict();
export type CreateVmBody = z.infer<typeof CreateVmBody>;

export const CreateViewerTokenBody = z.object({ role: ViewerRole, ttlSeconds: z.number().int().min(1) }).strict();
export type CreateViewerTokenBody = z.infer<typeof CreateViewerTokenBody>;

export const CreateAutomationTokenBody = z.object({ ttlSeconds: z.number().int().min(1) }).strict();
export type CreateAutomationTokenBody = z.infer<typeof CreateAutomationTokenBody>;

/**
 * Input events the VM's helper injected from one viewer (the control holder: nobody else's input
 * is injected), counted since its peer was added. Counts only, never which keys or where (audit.ts says why).
 */
export const InputCounts = z
  .object({
    pointer: z.number().int().min(0).meta({ description: 'pointer moves and button presses/releases' }),
    key: z.number().int().min(0).meta({ description: 'key presses and releases (which keys: never recorded)' }),
    wheel: z.number().int().min(0),
  })
  .meta({ id: 'InputCounts' });
export type InputCounts = z.infer<typeof InputCounts>;

/** Per viewer session, as the VM agent's helper sees it (the sessions list shows it). */
export const PeerHealth = z
  .object({
    sessionId: Id,
    connectionState: z.string().max(32).meta({ description: "the helper's webrtcbin connection state" }),
    bytesSent: z.number().min(0),
    input: InputCounts.optional().meta({
      description:
        'input injected from this session since its peer was added (the audit trail records the increase per heartbeat)',
    }),
  })
  .meta({ id: 'PeerHealth' });
export type PeerHealth = z.infer<typeof PeerHealth>;

/**
 * The VM agent's own Node process (`process.memoryUsage()`): what a soak needs to tell a leak in
 * its JavaScript objects (heapUsed after collections) from V8 keeping heap pages (heapTotal) and
 * from native memory (rss minus heapTotal).
 */
export const AgentProcess = z
  .object({
    rssBytes: z.number().int().min(0),
    heapUsedBytes: z.number().int().min(0).meta({ description: 'V8 heap in use, live and not yet collected' }),
    heapTotalBytes: z.number().int().min(0).meta({ description: 'V8 heap committed' }),
    externalBytes: z
      .number()
      .int()
      .min(0)
      .meta({ description: 'memory of JavaScript objects held outside the V8 heap (Buffers and ArrayBuffers)' }),
  })
  .strict()
  .meta({ id: 'AgentProcess' });
export type AgentProcess = z.infer<typeof AgentProcess>;

/**
 * What the VM agent reports about itself with each heartbeat. Null numbers: the helper is
 * down or did not answer its stats probe. The controller keeps a short ring of these per VM
 * (stamped with the time it received them) for GET /api/vms/{vmId}/health and /metrics.
 */
export const HealthReport = z
  .object({
    helper: z.enum(['up', 'down', 'unresponsive']),
    fps: z.number().min(0).nullable().meta({ description: 'frames encoded per second over the last interval' }),
    bitrateKbps: z.number().min(0).nullable().meta({ description: "the encoder's current target bitrate" }),
    cpuPercent: z.number().min(0).nullable().meta({ description: "the helper process's CPU (% of one core)" }),
    rssBytes: z.number().min(0).nullable(),
    captureToSendMs: z.number().min(0).nullable().meta({
      description:
        "the VM side of the viewers' glass-to-glass: screen changed → RTP packet sent, p50 over the helper's last 2 s, ms",
    }),
    restarts: z.number().int().min(0).meta({ description: 'helper restarts since the VM agent started' }),
    peers: z.number().int().min(0),
    lastError: z
      .object({ at: z.number().int(), code: z.string().max(64), message: z.string().max(LIMITS.healthErrorChars) })
      .nullable()
      .meta({ description: 'the latest helper error or death the VM agent saw' }),
    snapshotsRequested: z.number().int().min(0).meta({ description: 'snapshot requests the VM agent received' }),
    sessions: z.array(PeerHealth).max(LIMITS.healthPeers),
    agent: AgentProcess.optional().meta({
      description: "the VM agent's own process (absent from agents before this field)",
    }),
  })
  .strict()
  .meta({ id: 'HealthReport' });
export type HealthReport = z.infer<typeof HealthReport>;

export const HealthSample = HealthReport.extend({
  at: z.number().int().meta({ description: 'ms epoch at which the controller received it' }),
}).meta({ id: 'HealthSample' });
export type HealthSample = z.infer<typeof HealthSample>;

export const HeartbeatBody = z
  .object({
    stats: z.record(z.string(), z.unknown()).optional(),
    health: HealthReport.optional(),
    /**
     * Sessions whose peer the VM's helper reports connected (ICE consent alive, RFC 7675). A WHEP
     * player makes no call after its POST: this keeps its session from the idle TTL while it plays.
     */
    connectedSessions: z.array(z.string().min(1).max(64)).max(LIMITS.candidatesPerSide).optional(),
  })
  .strict();
export type HeartbeatBody = z.infer<typeof HeartbeatBody>;

export const CreateSessionBody = z
  .object({
    vmId: z.string().min(1).max(64),
    iceTransportPolicy: IceTransportPolicy.optional().meta({
      description:
        "relay: this session uses TURN relays only, on both sides (a viewer that must not expose its address); can tighten the deployment's policy, never loosen it",
    }),
  })
  .strict();
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

export const OfferBody = z
  .object({
    type: z.literal('offer'),
    sdp: sdpString,
    iceRestart: z.boolean().optional().meta({
      description:
        'true: an ICE restart (RFC 8445 §9, new ice-ufrag/ice-pwd per RFC 8839 §4.4.1.1.1) of an answered session: the offer replaces the previous one, the answer is cleared and the VM answers again; 200 with the new offerSeq',
    }),
  })
  .strict();
export type OfferBody = z.infer<typeof OfferBody>;

export const AnswerBody = z.object({ type: z.literal('answer'), sdp: sdpString }).strict();
export type AnswerBody = z.infer<typeof AnswerBody>;

/** An empty `candidate` string is end-of-candidates (RFC 8838 §8.2, W3C webrtc-pc §4.8.1). */
export const CandidateBody = z
  .object({
    candidate: z
      .string()
      .refine((s) => utf8Length(s) <= LIMITS.candidateBytes, `candidate exceeds ${LIMITS.candidateBytes} bytes`),
    sdpMLineIndex: z.number().int().min(0).max(255),
    sdpMid: z.string().max(64).nullable().optional(),
    from: CandidateSide,
  })
  .strict();
export type CandidateBody = z.infer<typeof CandidateBody>;

/**
 * `sessionId` names the caller's own session for a viewer (required), the
 * session to hand control to for an operator `take` (optional: without it the
 * operator holds control itself); the VM never sends it.
 */
export const ControlBody = z.object({ action: ControlAction, sessionId: Id.optional() }).strict();
export type ControlBody = z.infer<typeof ControlBody>;

// ---- queries (values arrive as strings; `wait` is seconds, cursors are integers) ----

const waitSeconds = z.coerce
  .number({ error: 'wait must be a number of seconds' })
  .min(0, 'wait must not be negative')
  .max(LIMITS.maxWaitSeconds, `wait must be between 0 and ${LIMITS.maxWaitSeconds}`)
  .default(0)
  .meta({
    description: `Long-poll: answer as soon as something new exists, else the empty answer after this many seconds (0–${LIMITS.maxWaitSeconds}, default 0 = plain poll).`,
  });

const cursor = (description: string) =>
  z.coerce
    .number({ error: 'must be a non-negative integer' })
    .int('must be a non-negative integer')
    .min(0, 'must be a non-negative integer')
    .max(Number.MAX_SAFE_INTEGER, 'is too large')
    .default(0)
    .meta({ description });

export const WaitQuery = z.object({ wait: waitSeconds });

/** `since` + `wait`: a long-poll that answers once something newer than `since` exists. */
export const sinceQuery = (description: string) => z.object({ since: cursor(description), wait: waitSeconds });

/** What the VM agent is told to record, with every reply of its sessions poll (recordings.ts). */
export const RecordingOrder = z
  .object({ recordingId: Id, segmentSeconds: z.number().int().min(1).max(3600) })
  .meta({ id: 'RecordingOrder' });
export type RecordingOrder = z.infer<typeof RecordingOrder>;

export const VmSessionsQuery = z.object({
  state: z.enum(['offered', 'active']).default('offered').meta({ description: 'offered | active' }),
  since: cursor(
    '`state=offered` only: the `cursor` of the previous reply (0 to start). Sessions are returned once each: only offers posted after the cursor.',
  ),
  controlSince: z.coerce
    .number({ error: 'must be a non-negative integer' })
    .int('must be a non-negative integer')
    .min(0, 'must be a non-negative integer')
    .optional()
    .meta({
      description:
        'Also return as soon as control.since > this (ms epoch: the `since` of the control state the caller holds); default: the state when the request arrived.',
    }),
  recording: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,64}$/, 'must be a recordingId or empty')
    .optional()
    .meta({
      description:
        'The recordingId the VM agent records now (empty: none); the long-poll also returns as soon as the order differs. Default: the order when the request arrived.',
    }),
  wait: waitSeconds,
});
export type VmSessionsQuery = z.infer<typeof VmSessionsQuery>;

export const ControlQuery = z.object({
  since: cursor('Return when control.since > this (ms epoch); default 0 (at once).'),
  wait: waitSeconds,
});

export const CandidatesQuery = z.object({
  since: cursor('cursor from the previous reply'),
  wait: waitSeconds,
});

// ---- responses ----

export const CreateVmResponse = z
  .object({ vmId: Id, vmToken: z.string().meta({ description: 'JWT; does not expire' }) })
  .meta({ id: 'CreateVmResponse' });
export type CreateVmResponse = z.infer<typeof CreateVmResponse>;

export const ControlState = z
  .object({
    mode: ControlMode,
    holder: z
      .string()
      .nullable()
      .meta({ description: "sessionId holding control (kept while paused), 'operator', or null" }),
    since: z.number().int().meta({ description: 'ms epoch of the last change; strictly increasing per VM' }),
  })
  .meta({ id: 'ControlState' });
export type ControlState = z.infer<typeof ControlState>;

export const VmSummary = z
  .object({
    vmId: Id,
    name: z.string(),
    online: z.boolean(),
    lastSeenAt: z.number().int().nullable(),
    viewers: z.number().int().meta({ description: 'live sessions' }),
    control: ControlState,
    stats: z.record(z.string(), z.unknown()).optional().meta({ description: 'stats from the last heartbeat' }),
    health: HealthSample.optional().meta({
      description: 'the latest health sample (GET /api/vms/{vmId}/health has the ring)',
    }),
  })
  .meta({ id: 'VmSummary' });
export type VmSummary = z.infer<typeof VmSummary>;

export const ListVmsResponse = z.object({ vms: z.array(VmSummary) }).meta({ id: 'ListVmsResponse' });
export type ListVmsResponse = z.infer<typeof ListVmsResponse>;

/** A minted viewer or automation token. */
export const TokenResponse = z
  .object({ token: z.string().min(1), expiresAt: z.number().int().meta({ description: 'ms epoch' }) })
  .meta({ id: 'TokenResponse' });
export type TokenResponse = z.infer<typeof TokenResponse>;

/** A JWK Set (RFC 7517 §5) of the controller's public token-signing keys. */
export const JwkSet = z
  .object({
    keys: z.array(
      z
        .object({
          kty: z.literal('EC'),
          crv: z.literal('P-256'),
          x: z.string(),
          y: z.string(),
          kid: z.string(),
          alg: z.literal('ES256'),
          use: z.literal('sig'),
        })
        .loose(),
    ),
  })
  .meta({ id: 'JwkSet' });
export type JwkSet = z.infer<typeof JwkSet>;

export const SessionDescription = z
  .object({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1) })
  .meta({ id: 'SessionDescription' });
export type SessionDescription = z.infer<typeof SessionDescription>;

export const OfferedSession = z
  .object({
    sessionId: Id,
    offer: z.object({ type: z.literal('offer'), sdp: z.string() }),
    createdAt: z.number().int(),
    iceServers: z.array(IceServer).optional().meta({
      description:
        "this session's ICE servers for the VM side: TURN credentials minted for it (added to the VM agent's own)",
    }),
    iceTransportPolicy: IceTransportPolicy.optional().meta({ description: 'relay: the VM side uses relays only' }),
    generation: z.number().int().min(0).optional().meta({
      description:
        "ICE restarts of this session (0 or absent: the first offer); more than the VM's peer has seen: the offer restarts its ICE",
    }),
  })
  .meta({ id: 'OfferedSession' });
export type OfferedSession = z.infer<typeof OfferedSession>;

export const VmSessionsResponse = z
  .object({
    sessions: z.array(OfferedSession),
    /** Pass as `since` next time (`state=offered`); unchanged when nothing new was offered. */
    cursor: z.number().int().meta({ description: 'pass as `since` next time (state=offered)' }),
    control: ControlState.meta({ description: "the VM's control state, so the VM agent learns the holder here" }),
    snapshotWanted: z
      .boolean()
      .meta({ description: 'a viewer asked for a screenshot: PUT /api/vms/{vmId}/snapshot soon' }),
    recording: RecordingOrder.nullable().optional().meta({
      description: 'what to record now (null: nothing); absent from controllers before recordings: nothing',
    }),
  })
  .meta({ id: 'VmSessionsResponse' });
export type VmSessionsResponse = z.infer<typeof VmSessionsResponse>;

export const CreateSessionResponse = z
  .object({
    sessionId: Id,
    iceServers: z.array(IceServer).meta({
      description:
        'for RTCPeerConnection: the deployment’s STUN/TURN servers, TURN with credentials minted for this session',
    }),
    iceTransportPolicy: IceTransportPolicy.default('all').meta({
      description: 'for RTCPeerConnection: relay = TURN relays only (absent from controllers before it: all)',
    }),
    expiresAt: z.number().int().meta({ description: 'ms epoch at which the session ends if left idle' }),
    vmOnline: z.boolean().meta({
      description:
        "whether the VM agent is polling or heartbeating now; when false no answer will come soon, so a viewer can say 'VM offline' at once",
    }),
  })
  .meta({ id: 'CreateSessionResponse' });
export type CreateSessionResponse = z.infer<typeof CreateSessionResponse>;

export const IceRestartResponse = z
  .object({
    offerSeq: z.number().int().meta({ description: "the restart offer's place in the VM's sessions-poll order" }),
    generation: z.number().int().min(1).meta({
      description:
        'ICE restarts of this session so far: the candidates of this restart carry it (StoredCandidate.generation)',
    }),
  })
  .meta({ id: 'IceRestartResponse' });
export type IceRestartResponse = z.infer<typeof IceRestartResponse>;

export const PostCandidateResponse = z
  .object({ seq: z.number().int(), timestamp: z.number().int().meta({ description: 'server ms epoch' }) })
  .meta({ id: 'PostCandidateResponse' });
export type PostCandidateResponse = z.infer<typeof PostCandidateResponse>;

export const StoredCandidate = z
  .object({
    candidate: z.string().meta({ description: "'' = end-of-candidates" }),
    sdpMLineIndex: z.number().int().min(0),
    sdpMid: z.string().nullable(),
    seq: z.number().int(),
    timestamp: z.number().int(),
    generation: z.number().int().min(0).optional().meta({
      description:
        "the session's ICE restarts when it was stored (0: the first negotiation); a restart drops the previous generations' candidates (absent from controllers before ICE restart: 0)",
    }),
  })
  .meta({ id: 'StoredCandidate' });
export type StoredCandidate = z.infer<typeof StoredCandidate>;

export const CandidatesResponse = z
  .object({
    candidates: z.array(StoredCandidate),
    cursor: z.number().int().meta({ description: 'pass as `since` next time' }),
  })
  .meta({ id: 'CandidatesResponse' });
export type CandidatesResponse = z.infer<typeof CandidatesResponse>;

export const Health = z
  .object({
    ok: z.boolean(),
    /** `unreachable` (ok false, status 503, with the store_unavailable error) while a shared store cannot be reached. */
    store: z.enum(['memory', 'ok', 'unreachable']),
  })
  .meta({ id: 'Health' });
export type Health = z.infer<typeof Health>;

export const VmHealthResponse = z
  .object({
    vmId: Id,
    samples: z.array(HealthSample).meta({ description: 'oldest first; at most VMLIVE_HEALTH_RING of them' }),
  })
  .meta({ id: 'VmHealthResponse' });
export type VmHealthResponse = z.infer<typeof VmHealthResponse>;

/** One viewer session of a VM, for the operator's sessions list. */
export const ViewerSession = z
  .object({
    sessionId: Id,
    role: z.enum(['view', 'control', 'operator']).meta({ description: 'the role of the token that opened it' }),
    kind: z.enum(['rest', 'whep']).meta({ description: 'rest: our viewer (REST signaling); whep: a WHEP player' }),
    since: z.number().int().meta({ description: 'ms epoch it was created' }),
    lastActivityAt: z.number().int(),
    signaling: z.enum(['new', 'offered', 'answered']),
    connectionState: z.string().nullable().meta({ description: "the helper's view, from the latest heartbeat" }),
    bytesSent: z.number().nullable().meta({ description: 'video bytes sent to it, from the latest heartbeat' }),
    holder: z.boolean().meta({ description: 'this session holds control' }),
  })
  .meta({ id: 'ViewerSession' });
export type ViewerSession = z.infer<typeof ViewerSession>;

export const ViewerSessionsResponse = z
  .object({ sessions: z.array(ViewerSession), control: ControlState })
  .meta({ id: 'ViewerSessionsResponse' });
export type ViewerSessionsResponse = z.infer<typeof ViewerSessionsResponse>;
