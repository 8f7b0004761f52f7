/**
 * WHEP (draft-ietf-wish-whep-02): any WHEP player watches a VM with one POST.
 *
 * The player is the offerer and the VM's helper the answerer, as in our REST
 * contract, so a WHEP session is one of the same signaling sessions (store,
 * limits, tokens, the VM agent's sessions poll) with kind `whep`: the POST
 * creates it with the offer, waits for the VM's answer and candidates, and
 * answers with all of them (the draft lets the server send no candidate
 * after the answer). It differs in two rules: it never holds control (a
 * player has no input channel; control.ts refuses it), and it makes no call
 * after the POST, so the VM's heartbeat keeps it alive while its peer is
 * connected (vms.ts) — the draft's liveness is ICE consent (RFC 7675), which
 * the helper watches (peer-lost after VMLIVE_PEER_SILENCE_MS).
 */
import { LIMITS, routes } from '@vmlive/protocol';
import { type Principal, randomId } from '../../auth/tokens.js';
import { ApiError, errors } from '../../errors.js';
import { sessionIceServers } from '../../ice/turn-credentials.js';
import { type SessionRecord, topics } from '../../store/types.js';
import { answerUfrag, answerWithCandidates, checkOffer, parseSdpFrag } from '../../whep/sdp.js';
import { authenticate, isVmOnline, loadSession, loadVm, requireKind } from '../access.js';
import type { Ctx } from '../context.js';
import type { Req, Res } from '../kit.js';
import { handle, type Router } from '../route.js';

/** How long the POST waits for the VM's answer (the helper answers in ~50-300 ms when idle). */
const ANSWER_WAIT_MS = 10_000;
/** After the answer, how long it waits for the VM's end-of-candidates (host candidates: a few ms; STUN/TURN: up to this). */
const GATHER_WAIT_MS = 3000;
/** Retry-After (s) of a 409 vm_offline or 503 answer_timeout. */
const RETRY_AFTER_S = 5;

const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';

function contentType(req: Req): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function bodyText(req: Req, what: string): string {
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError('invalid_sdp', `the body has no ${what}`);
  return body.toString('utf8');
}

/** The WHEP session URL (relative: behind a proxy the player resolves it against what it called). */
export const whepSessionPath = (sessionId: string) => `/whep/sessions/${sessionId}`;

/**
 * ETag of the ICE session (draft §4.4.1: "a unique strong entity-tag identifying the ICE
 * session"): the answer's ice-ufrag, which is what changes with an ICE session. Derived from the
 * stored answer, so every controller sharing the store gives the same.
 */
const etagOf = (answer: string) => `"${answerUfrag(answer)}"`;

/** RFC 9110 §13.1.1: If-Match is "*" or a list of entity-tags, compared strongly (a weak W/ tag never matches). */
function ifMatch(header: string): '*' | string[] {
  if (header.trim() === '*') return '*';
  return header
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && !t.startsWith('W/'));
}

/**
 * One Link per STUN/TURN URL, as WHIP (RFC 9725 §4.6) defines and the draft (§4.7) reuses:
 * `<url>; rel="ice-server"`, with `username`, `credential` and `credential-type: "password"`
 * for TURN (the session's coturn REST credential, turn-credentials.ts).
 */
function iceServerLinks(ctx: Ctx, session: { sessionId: string; createdAt: number }): string[] {
  const links: string[] = [];
  for (const server of sessionIceServers(ctx.config, session)) {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    for (const url of urls) {
      let link = `<${url}>; rel="ice-server"`;
      if (server.username !== undefined && server.credential !== undefined) {
        link += `; username=${JSON.stringify(server.username)}; credential=${JSON.stringify(server.credential)}; credential-type="password"`;
      }
      links.push(link);
    }
  }
  return links;
}

export function whepRoutes(ctx: Ctx, r: Router): void {
  const { store, config } = ctx;

  /** A WHEP session of the caller: a REST session is not a WHEP resource (404). */
  const loadWhep = async (req: Req): Promise<SessionRecord> => {
    const p = await authenticate(ctx, req);
    const [s, side] = await loadSession(ctx, req, p);
    if (s.kind !== 'whep') throw errors.sessionNotFound(s.sessionId);
    if (side !== 'browser') throw errors.forbidden('only the player that opened it may use a WHEP session');
    return s;
  };

  const endQuietly = (sessionId: string) => store.endSession(sessionId, Date.now()).catch(() => false);

  handle(r, routes.whepOffer, async (req, res) => {
    const p: Principal = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['viewer', 'operator']);
    // Draft §4.2: "If the HTTP POST to the WHEP endpoint has a content type different than
    // application/sdp or the SDP is malformed, the WHEP endpoint MUST reject the HTTP POST
    // request with an appropriate 4XX error response."
    if (contentType(req) !== SDP) throw new ApiError('unsupported_media_type', `send the offer as ${SDP}`);
    const offer = bodyText(req, 'SDP offer');
    checkOffer(offer);
    const now = Date.now();
    if (!isVmOnline(ctx, vm, now)) {
      // Draft §4.2: an endpoint that requires a live publisher "SHALL return a 409 Conflict
      // response … with a Retry-After header": a VM whose agent is not polling streams nothing.
      res.setHeader('Retry-After', String(RETRY_AFTER_S));
      throw new ApiError('vm_offline', 'the VM is not online; nothing to play yet');
    }
    const sessionId = randomId(16);
    const owner = p.kind === 'viewer' ? p.tokenId : 'operator';
    // A WHEP player only ever views (the draft has no control), whatever its token's role.
    const role = p.kind === 'viewer' ? 'view' : 'operator';
    if (!(await store.createSession({ sessionId, vmId: vm.vmId, owner, kind: 'whep', role, createdAt: now }))) {
      if (!(await store.getVm(vm.vmId))) throw errors.vmNotFound(vm.vmId);
      throw new ApiError('too_many_sessions', `the controller holds its maximum of ${config.maxSessions} sessions`);
    }
    const log = req.log.child({ sessionId, vmId: vm.vmId });
    if ((await store.setOffer(sessionId, offer, now)) !== 'ok') throw errors.sessionNotFound(sessionId);
    log.info({ by: p.kind, sdpBytes: offer.length }, 'whep offer');
    log.debug({ sdp: offer }, 'whep offer sdp');

    const answer = await ctx.polls.poll(
      res,
      [topics.session(sessionId)],
      ANSWER_WAIT_MS,
      async () => {
        const s = await store.getSession(sessionId);
        return { ready: !s || s.answer !== null, value: s ? s.answer : undefined };
      },
      sessionId,
    );
    if (res.raw.destroyed) {
      await endQuietly(sessionId); // the player went away while the VM answered
      return;
    }
    if (answer === undefined) {
      // The VM agent ends a session whose offer its helper rejected (negotiation-failed).
      throw new ApiError('offer_unsupported', 'the VM could not answer this offer');
    }
    if (answer === null) {
      await endQuietly(sessionId);
      res.setHeader('Retry-After', String(RETRY_AFTER_S));
      throw new ApiError('answer_timeout', `the VM did not answer within ${ANSWER_WAIT_MS / 1000} s`);
    }
    const gathered = await waitForGathering(ctx, res, sessionId);
    if (!gathered) throw errors.sessionNotFound(sessionId);
    const complete = gathered.some((c) => c.candidate === '');
    const body = answerWithCandidates(answer, gathered, complete);
    log.info({ candidates: gathered.filter((c) => c.candidate !== '').length, complete }, 'whep answered');
    res.status(201).set({ Location: whepSessionPath(sessionId), ETag: etagOf(answer), 'Content-Type': SDP });
    const links = iceServerLinks(ctx, { sessionId, createdAt: now });
    if (links.length > 0) res.setHeader('Link', links);
    res.send(body);
  });

  handle(r, routes.whepPatch, async (req, res) => {
    const s = await loadWhep(req);
    // Draft §4.4.1: "If the HTTP PATCH to the WHEP session has a content type different than
    // application/trickle-ice-sdpfrag or the SDP fragment is malformed, the WHEP session MUST
    // reject the HTTP PATCH with an appropriate 4XX error response."
    if (contentType(req) !== SDPFRAG) throw new ApiError('unsupported_media_type', `send the fragment as ${SDPFRAG}`);
    // Draft §4.4.1: "Missing or outdated ETags in the PATCH requests … with a 428 Precondition
    // Required response for a missing entity tag, and a 412 Precondition Failed response for a
    // non-matching entity tag."
    const header = req.headers['if-match'];
    if (header === undefined)
      throw new ApiError('precondition_required', 'If-Match (the ETag of the POST) is required');
    const tags = ifMatch(header);
    // Draft §4.4.3: "A WHEP player sending a PATCH request for performing ICE restart MUST contain
    // an If-Match header field with a field-value '*'", and §4.4.1: a session that supports
    // Trickle ICE but not ICE restarts "MUST return a 422 Unprocessable Content error response
    // for the HTTP PATCH requests that are not supported". Per §4.4.3 the current ICE session is
    // kept ("MUST NOT terminate the session immediately and keep the existing ICE session").
    const restartRefused = () =>
      new ApiError('ice_restart_unsupported', 'this WHEP session takes trickle candidates only, not ICE restarts');
    if (tags === '*') throw restartRefused();
    if (s.answer === null || !tags.includes(etagOf(s.answer))) {
      throw new ApiError('precondition_failed', 'If-Match does not name the current ICE session');
    }
    const frag = parseSdpFrag(bodyText(req, 'trickle-ice-sdpfrag'));
    const offer = checkOffer(s.offer ?? '');
    // Draft §4.4.3: "any WHEP session receiving an updated ice-pwd and ice-ufrag attributes MUST
    // consider the request as performing an ICE restart".
    if (frag.ufrag !== undefined && frag.ufrag !== offer.ufrag) throw restartRefused();
    const toAdd = frag.candidates.map((c) => {
      // Draft §4.4.2: with max-bundle the fragment carries the first bundled section only;
      // a mid we do not know (or none) means that one.
      const index = c.mid === null ? -1 : offer.mids.indexOf(c.mid);
      return { candidate: c.candidate, sdpMLineIndex: Math.max(index, 0), sdpMid: c.mid };
    });
    if (frag.endOfCandidates) toAdd.push({ candidate: '', sdpMLineIndex: 0, sdpMid: offer.mids[0] ?? null });
    for (const c of toAdd) {
      if (c.candidate.length > LIMITS.candidateBytes) continue; // draft §4.4.2: discard what we cannot use
      const result = await store.addCandidate(s.sessionId, 'browser', c, Date.now());
      if (result === 'not_found') throw errors.sessionNotFound(s.sessionId);
      if (result === 'limit') {
        throw new ApiError('too_many_candidates', `at most ${LIMITS.candidatesPerSide} candidates per side`);
      }
    }
    req.debug({ candidates: frag.candidates.length, end: frag.endOfCandidates }, 'whep candidates');
    // Draft §4.4.2: "it MUST return a 204 No Content response without a body and MUST NOT include
    // an ETag header in the response".
    res.status(204).end();
  });

  handle(r, routes.whepDelete, async (req, res) => {
    // Draft §4.4.1: "WHEP sessions MUST ignore any entity-tag value sent … as in the HTTP DELETE request."
    const s = await loadWhep(req);
    if (!(await store.endSession(s.sessionId, Date.now()))) throw errors.sessionNotFound(s.sessionId);
    req.log.info('whep session ended by the player');
    // Draft §3: "WHEP session: Responds with a 200 OK to confirm the session termination."
    res.status(200).end();
  });

  // Draft §4.1: "Those HTTP resources do not have any representation defined in this
  // specification, so the WHEP endpoints and sessions MUST return a 2XX successful response with
  // no content when a GET request is received."
  handle(r, routes.whepGetEndpoint, async (req, res) => {
    const p = await authenticate(ctx, req);
    const vm = await loadVm(ctx, req);
    requireKind(p, vm.vmId, ['viewer', 'operator']);
    res.status(204).end();
  });
  handle(r, routes.whepGetSession, async (req, res) => {
    await loadWhep(req);
    res.status(204).end();
  });
}

/**
 * The VM's candidates once it reported end-of-candidates, or what it has after GATHER_WAIT_MS;
 * undefined when the session ended meanwhile.
 */
async function waitForGathering(ctx: Ctx, res: Res, sessionId: string) {
  return ctx.polls.poll(
    res,
    [topics.session(sessionId)],
    GATHER_WAIT_MS,
    async () => {
      const got = await ctx.store.getCandidates(sessionId, 'vm', 0);
      if (!got) return { ready: true, value: undefined };
      return { ready: got.candidates.some((c) => c.candidate === ''), value: got.candidates };
    },
    sessionId,
  );
}
