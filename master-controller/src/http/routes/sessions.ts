/**
 * WebRTC signaling sessions: offer/answer exchange and trickle ICE
 * (RFC 8838) over REST, with cursors and long-polls.
 */
import {
  CandidateSide,
  type CandidatesResponse,
  type CreateSessionResponse,
  type IceRestartResponse,
  LIMITS,
  routes,
  type SessionDescription,
} from '@vmlive/protocol';
import { actorOf } from '../../audit/trail.js';
import { randomId } from '../../auth/tokens.js';
import { hasTurnServer } from '../../config.js';
import { ApiError, apiError, errors } from '../../errors.js';
import { sessionIceServers } from '../../ice/turn-credentials.js';
import { topics } from '../../store/types.js';
import { authenticate, isVmOnline, loadSession } from '../access.js';
import type { Ctx } from '../context.js';
import type { Req, Res } from '../kit.js';
import { handle, type Router } from '../route.js';
import { sessionIdParam } from '../validate.js';

export function sessionRoutes(ctx: Ctx, r: Router): void {
  const { store, config } = ctx;

  handle(r, routes.createSession, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    if (p.kind === 'vm' || p.kind === 'automation')
      throw errors.forbidden(`a ${p.kind} token cannot open a viewer session`);
    const body = input.body();
    if (p.kind === 'viewer' && p.vmId !== body.vmId) {
      throw errors.forbidden('this viewer token is for another VM', 'vmId');
    }
    const vm = await store.getVm(body.vmId);
    if (!vm) throw errors.vmNotFound(body.vmId);
    const sessionId = randomId(16);
    const now = Date.now();
    const owner = p.kind === 'viewer' ? p.tokenId : 'operator';
    const role = p.kind === 'viewer' ? p.role : 'operator';
    // A viewer may ask for relays only (not to expose its address); it cannot loosen a relay deployment.
    const iceTransportPolicy = config.iceTransportPolicy === 'relay' ? 'relay' : (body.iceTransportPolicy ?? 'all');
    if (iceTransportPolicy === 'relay' && !hasTurnServer(config)) {
      throw apiError(
        'invalid_body',
        'iceTransportPolicy relay needs a TURN server; this controller has none',
        'iceTransportPolicy',
      );
    }
    if (
      !(await store.createSession({
        sessionId,
        vmId: vm.vmId,
        owner,
        kind: 'rest',
        role,
        createdAt: now,
        iceTransportPolicy,
      }))
    ) {
      if (!(await store.getVm(body.vmId))) throw errors.vmNotFound(body.vmId);
      throw new ApiError('too_many_sessions', `the controller holds its maximum of ${config.maxSessions} sessions`);
    }
    req.log.info({ vmId: vm.vmId, sessionId, by: p.kind }, 'session created');
    const out: CreateSessionResponse = {
      sessionId,
      iceServers: sessionIceServers(config, { sessionId, createdAt: now }),
      iceTransportPolicy,
      expiresAt: now + config.sessionIdleTtlS * 1000,
      vmOnline: isVmOnline(ctx, vm, now),
    };
    res.status(201).json(out);
  });

  handle(r, routes.postOffer, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const [s, side] = await loadSession(ctx, req, p);
    if (side !== 'browser') throw errors.forbidden('only the viewer side posts the offer');
    const body = input.body();
    if (body.iceRestart === true) {
      // ICE restart (RFC 8445 §9): same session, same media, new ICE credentials; the VM answers again.
      const restarted = await store.restartIce(s.sessionId, body.sdp, Date.now());
      if (restarted === 'not_found') throw errors.sessionNotFound(s.sessionId);
      if (restarted === 'missing') {
        throw new ApiError(
          'offer_missing',
          'an ICE restart needs an answered offer; this session has none',
          'iceRestart',
        );
      }
      if (restarted === 'exists') {
        throw new ApiError('offer_exists', 'the previous offer of this session is not answered yet', 'iceRestart');
      }
      req.log.info({ sdpBytes: body.sdp.length, generation: restarted.generation }, 'ICE restart offer set');
      req.log.debug({ sdp: body.sdp }, 'offer sdp');
      res.status(200).json(restarted satisfies IceRestartResponse);
      return;
    }
    const result = await store.setOffer(s.sessionId, body.sdp, Date.now());
    if (result === 'exists') throw new ApiError('offer_exists', 'this session already has an offer');
    if (result === 'not_found') throw errors.sessionNotFound(s.sessionId);
    req.log.info({ sdpBytes: body.sdp.length }, 'offer set');
    req.debug({ sdp: body.sdp }, 'offer sdp');
    res.status(204).end();
  });

  /**
   * GET offer / GET answer: long-poll one SDP field of the session. A viewer's
   * poll is a sign of life of its session while it waits (presence.ts).
   */
  const pollSdp = (field: 'offer' | 'answer') => async (req: Req, res: Res, wait: number) => {
    const p = await authenticate(ctx, req);
    const [s, side] = await loadSession(ctx, req, p);
    const sessionId = s.sessionId;
    return ctx.polls.poll(
      res,
      [topics.session(sessionId)],
      wait * 1000,
      async () => {
        const cur = await store.getSession(sessionId);
        if (!cur) throw errors.sessionNotFound(sessionId);
        return { ready: cur[field] !== null, value: cur[field] };
      },
      side === 'browser' ? sessionId : undefined,
    );
  };
  const offerOf = pollSdp('offer');
  const answerOf = pollSdp('answer');

  handle(r, routes.getOffer, async (req, res, input) => {
    const offer = await offerOf(req, res, input.query().wait);
    if (res.headersSent) return;
    if (offer === null) throw new ApiError('offer_not_found', 'this session has no offer yet');
    res.json({ type: 'offer', sdp: offer } satisfies SessionDescription);
  });

  handle(r, routes.postAnswer, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const [s, side] = await loadSession(ctx, req, p);
    if (side !== 'vm') throw errors.forbidden('only the VM posts the answer');
    const body = input.body();
    const result = await store.setAnswer(s.sessionId, body.sdp, Date.now());
    if (result === 'exists') throw new ApiError('answer_exists', 'this session is already answered');
    if (result === 'missing') throw new ApiError('offer_missing', 'this session has no offer to answer');
    if (result === 'not_found') throw errors.sessionNotFound(s.sessionId);
    req.log.info({ sdpBytes: body.sdp.length }, 'answer set');
    req.debug({ sdp: body.sdp }, 'answer sdp');
    res.status(204).end();
  });

  handle(r, routes.getAnswer, async (req, res, input) => {
    const answer = await answerOf(req, res, input.query().wait);
    if (res.headersSent) return;
    if (answer === null) res.status(204).end();
    else res.json({ type: 'answer', sdp: answer } satisfies SessionDescription);
  });

  handle(r, routes.postCandidate, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const [s, side] = await loadSession(ctx, req, p);
    const body = input.body();
    if (body.from !== side) throw errors.forbidden(`this token posts candidates from '${side}'`, 'from');
    const result = await store.addCandidate(
      s.sessionId,
      side,
      { candidate: body.candidate, sdpMLineIndex: body.sdpMLineIndex, sdpMid: body.sdpMid ?? null },
      Date.now(),
    );
    if (result === 'not_found') throw errors.sessionNotFound(s.sessionId);
    if (result === 'limit') {
      throw new ApiError('too_many_candidates', `at most ${LIMITS.candidatesPerSide} candidates per side`, 'candidate');
    }
    // Per-candidate detail is debug (LOGGING rule: every ICE candidate at debug).
    req.debug({ side, seq: result.seq, endOfCandidates: body.candidate === '' }, 'candidate added');
    res.status(201).json(result);
  });

  handle(r, routes.getCandidates, async (req, res, input) => {
    const p = await authenticate(ctx, req);
    const sideParse = CandidateSide.safeParse(req.params.type);
    if (!sideParse.success) throw new ApiError('not_found', "candidate type must be 'vm' or 'browser'");
    const [s, side] = await loadSession(ctx, req, p);
    const { since, wait } = input.query();
    const sessionId = s.sessionId;
    const out = await ctx.polls.poll(
      res,
      [topics.session(sessionId)],
      wait * 1000,
      async () => {
        const got = await store.getCandidates(sessionId, sideParse.data, since);
        if (!got) throw errors.sessionNotFound(sessionId);
        return { ready: got.candidates.length > 0, value: got };
      },
      side === 'browser' ? sessionId : undefined,
    );
    if (!res.headersSent) res.json(out satisfies CandidatesResponse);
  });

  handle(r, routes.deleteSession, async (req, res) => {
    const p = await authenticate(ctx, req);
    const [s, side] = await loadSession(ctx, req, p);
    if (!(await store.endSession(s.sessionId, Date.now()))) throw errors.sessionNotFound(sessionIdParam(req));
    req.log.info({ by: side }, 'session ended');
    // The operator ending someone's session is a decision about a person (a holder it ends keeps
    // control for the lease grace, then the reaper records lease_expired); the sides' own ends are not.
    if (p.kind === 'operator') {
      await ctx.audit.record(s.vmId, [
        {
          type: 'session',
          at: Date.now(),
          actor: actorOf(p),
          detail: { sessionId: s.sessionId, reason: 'ended_by_operator' },
        },
      ]);
    }
    res.status(204).end();
  });
}
