/**
 * The audit trail's writer and its pure parts (protocol audit.ts has the shapes and says what is
 * never recorded). Events are written where control and the run change: the control route, the
 * lease reaper (server.ts), the run routes, the heartbeat (input counts) and the operator's
 * DELETE of a session. Each event is logged at info too, with its VM, never a token.
 *
 * Every control change goes through store.updateControl (routes/control.ts) or
 * store.expireLeases (the reaper); the stores' session drop also returns control when its
 * holder had no lease, which no transition produces (a session holder always holds the lease:
 * control/transitions.ts), so it is not a path that needs its own event.
 */
import type {
  AuditActor,
  AuditControlCause,
  AuditEvent,
  AuditResponse,
  ControlState,
  HealthReport,
  HealthSample,
  NewAuditEvent,
} from '@vmlive/protocol';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.js';
import type { Store } from '../store/types.js';

export class AuditTrail {
  constructor(
    private readonly store: Store,
    private readonly keep: number,
    private readonly log: Logger,
  ) {}

  /** Appends and logs; nothing for an unknown VM (deleted meanwhile: its trail went with it). */
  async record(vmId: string, events: readonly NewAuditEvent[]): Promise<AuditEvent[]> {
    if (events.length === 0) return [];
    const stored = (await this.store.appendAudit(vmId, events, this.keep)) ?? [];
    for (const e of stored) {
      this.log.info({ vmId, seq: e.seq, type: e.type, actor: e.actor, detail: e.detail }, 'audit');
    }
    return stored;
  }
}

/** Who acted, from the caller's token (its id, never the token) and the session it acted through. */
export function actorOf(p: Principal, sessionId?: string): AuditActor {
  const withSession = sessionId !== undefined ? { sessionId } : {};
  switch (p.kind) {
    case 'operator':
      return { role: 'operator', ...withSession };
    case 'vm':
      return { role: 'vm' };
    case 'viewer':
      return { role: 'viewer', subject: p.tokenId, ...withSession };
    case 'automation':
      return { role: 'automation', subject: p.tokenId };
  }
}

export const CONTROLLER: AuditActor = { role: 'controller' };

/** The control event for a change from `before` to `after`; none when nothing changed. */
export function controlEvent(
  actor: AuditActor,
  cause: AuditControlCause,
  before: Pick<ControlState, 'mode' | 'holder'>,
  after: Pick<ControlState, 'mode' | 'holder'>,
  at: number,
): NewAuditEvent[] {
  if (before.mode === after.mode && before.holder === after.holder) return [];
  return [
    {
      type: 'control',
      at,
      actor,
      detail: { cause, from: before.mode, to: after.mode, fromHolder: before.holder, toHolder: after.holder },
    },
  ];
}

/**
 * Input events per session since the previous heartbeat: the helper counts what it injected
 * per peer since the peer was added, so the increase over the previous sample is what this
 * heartbeat's window adds. A count that went down (the helper restarted, the peer was added
 * again) starts over from 0.
 */
export function inputEvents(
  previous: HealthSample | undefined,
  report: HealthReport,
  vmActor: AuditActor,
  at: number,
): NewAuditEvent[] {
  const before = new Map((previous?.sessions ?? []).map((s) => [s.sessionId, s.input]));
  const out: NewAuditEvent[] = [];
  for (const s of report.sessions) {
    const input = s.input;
    if (!input) continue;
    const prev = before.get(s.sessionId);
    const grew = (k: 'pointer' | 'key' | 'wheel') => {
      const p = prev?.[k] ?? 0;
      return input[k] >= p ? input[k] - p : input[k];
    };
    const counts = { pointer: grew('pointer'), key: grew('key'), wheel: grew('wheel') };
    if (counts.pointer + counts.key + counts.wheel === 0) continue;
    out.push({
      type: 'input',
      at,
      actor: vmActor,
      detail: { sessionId: s.sessionId, since: previous?.at ?? at, ...counts },
    });
  }
  return out;
}

/** One reply of GET …/audit: the events after `since` within [from, to], and where to go on. */
export function auditPage(
  read: { events: AuditEvent[]; lastSeq: number },
  since: number,
  from: number | undefined,
  to: number | undefined,
): AuditResponse {
  const events = read.events.filter((e) => (from === undefined || e.at >= from) && (to === undefined || e.at <= to));
  // The first kept event after `since` is not since + 1: the ones between were dropped (bounded trail).
  const firstAfter = read.events[0]?.seq ?? read.lastSeq + 1;
  return {
    events,
    cursor: Math.max(since, read.lastSeq),
    dropped: read.lastSeq > since && firstAfter > since + 1,
  };
}
