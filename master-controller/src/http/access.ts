/**
 * Who may do what. Authentication happens once per request (tokens.ts);
 * these helpers turn a principal plus the resource into a decision.
 */
import type { CandidateSide } from '@vmlive/protocol';
import type { Principal } from '../auth/tokens.js';
import { errors } from '../errors.js';
import type { SessionRecord, VmRecord } from '../store/types.js';
import { bindLog, type Ctx } from './context.js';
import type { Req } from './kit.js';
import { sessionIdParam, vmIdParam } from './validate.js';

export async function authenticate(ctx: Ctx, req: Req): Promise<Principal> {
  const p = await ctx.tokens.authenticate(req.headers.authorization);
  req.principal = p;
  return p;
}

export function requireOperator(p: Principal): void {
  if (p.kind !== 'operator') throw errors.forbidden('needs the operator token');
}

export async function loadVm(ctx: Ctx, req: Req): Promise<VmRecord> {
  const vmId = vmIdParam(req);
  const vm = await ctx.store.getVm(vmId);
  if (!vm) throw errors.vmNotFound(vmId);
  bindLog(req, { vmId });
  return vm;
}

/** The VM's own token. */
export function requireVmToken(p: Principal, vmId: string): void {
  if (p.kind !== 'vm') throw errors.forbidden('needs a VM token');
  if (p.vmId !== vmId) throw errors.forbidden('this VM token belongs to another VM');
}

/** The caller is one of `kinds` and, unless it is the operator, its token is scoped to this VM. */
export function requireKind(p: Principal, vmId: string, kinds: readonly Principal['kind'][]): void {
  if (!kinds.includes(p.kind)) throw errors.forbidden(`a ${p.kind} token may not do this`);
  if (p.kind !== 'operator' && p.vmId !== vmId) throw errors.forbidden('this token belongs to another VM');
}

/**
 * Which side of the session the caller is: the VM's token is the `vm` side;
 * the viewer token that created the session (or the operator) is `browser`.
 * A VM token sees only its own VM's sessions; a viewer token only its own sessions.
 */
export function sessionSide(p: Principal, s: SessionRecord): CandidateSide {
  switch (p.kind) {
    case 'operator':
      return 'browser';
    case 'vm':
      if (p.vmId !== s.vmId) throw errors.forbidden('this session belongs to another VM');
      return 'vm';
    case 'viewer':
      if (p.tokenId !== s.owner) throw errors.forbidden('this session belongs to another viewer token');
      return 'browser';
    case 'automation':
      throw errors.forbidden('an automation token has no signaling sessions');
  }
}

export async function loadSession(ctx: Ctx, req: Req, p: Principal): Promise<[SessionRecord, CandidateSide]> {
  const sessionId = sessionIdParam(req);
  const s = await ctx.store.getSession(sessionId);
  if (!s) throw errors.sessionNotFound(sessionId);
  bindLog(req, { sessionId, vmId: s.vmId });
  const side = sessionSide(p, s);
  // Only the viewer side keeps a session (and its control lease) alive; the VM agent's polls do not.
  if (side === 'browser') await ctx.store.touchSession(sessionId, Date.now());
  return [s, side];
}

/**
 * Online: the VM's agent showed a sign of life within `vmOnlineS` — a heartbeat, a poll, or a
 * sessions long-poll still open (presence.ts refreshes `lastSeenAt` in the store while it waits),
 * so every controller sharing the store answers the same.
 */
export function isVmOnline(ctx: Ctx, vm: VmRecord, now: number): boolean {
  return vm.lastSeenAt !== null && now - vm.lastSeenAt <= ctx.config.vmOnlineS * 1000;
}
