/**
 * Signs of life that are open long-polls rather than calls, written to the
 * store so that every controller sharing it sees them:
 *
 * - A viewer session with a browser-side long-poll open in this process is
 *   touched once a second (idle TTL and control lease), so a viewer that keeps
 *   a long-poll open keeps its session and its control, and one whose browser
 *   died (the connection closed) stops refreshing them at once.
 * - A VM with a sessions long-poll open in this process has its `lastSeenAt`
 *   refreshed every third of VMLIVE_VM_ONLINE_S, so it stays online for every
 *   controller while it waits, and goes offline within VMLIVE_VM_ONLINE_S of
 *   this process dying.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';

class Held {
  private readonly open = new Map<string, number>();

  hold(id: string, onRelease: () => void): () => void {
    this.open.set(id, (this.open.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.open.get(id) ?? 1) - 1;
      if (n <= 0) this.open.delete(id);
      else this.open.set(id, n);
      onRelease();
    };
  }

  get size(): number {
    return this.open.size;
  }

  keys(): IterableIterator<string> {
    return this.open.keys();
  }

  clear(): void {
    this.open.clear();
  }
}

export class Presence {
  private readonly sessions = new Held();
  private readonly vms = new Held();
  private readonly timers: NodeJS.Timeout[];

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    opts: { sessionIntervalMs?: number; vmIntervalMs: number },
  ) {
    this.timers = [
      setInterval(() => this.refreshSessions(), opts.sessionIntervalMs ?? 1000),
      setInterval(() => this.refreshVms(), opts.vmIntervalMs),
    ];
    for (const t of this.timers) t.unref();
  }

  /** A browser-side long-poll on `sessionId` starts; call the result when it ends. */
  hold(sessionId: string): () => void {
    // The end of a poll is a sign of life too (the viewer asks again at once).
    return this.sessions.hold(sessionId, () => {
      void this.store.touchSession(sessionId, Date.now()).catch(() => undefined);
    });
  }

  /** The VM's sessions long-poll starts; call the result when it ends. */
  holdVm(vmId: string): () => void {
    return this.vms.hold(vmId, () => {
      void this.store.touchVm(vmId, Date.now()).catch(() => undefined);
    });
  }

  get size(): number {
    return this.sessions.size;
  }

  /** One batched store call per tick, however many viewers wait (a shared store's round trips stay flat). */
  private refreshSessions(): void {
    if (this.sessions.size === 0) return;
    this.store
      .touchSessions([...this.sessions.keys()], Date.now())
      .catch((err: unknown) => this.log.debug({ err }, 'presence refresh failed'));
  }

  private refreshVms(): void {
    const now = Date.now();
    for (const vmId of this.vms.keys()) {
      this.store.touchVm(vmId, now).catch((err: unknown) => this.log.debug({ err }, 'VM presence refresh failed'));
    }
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.sessions.clear();
    this.vms.clear();
  }
}
