/**
 * Which viewer sessions have a browser-side long-poll open in this process.
 * An open long-poll is the viewer's sign of life between its calls: once a
 * second each such session is touched in the store (idle TTL and control
 * lease), so a viewer that keeps a long-poll open keeps its session and its
 * control, and one whose browser died (the connection closed) stops
 * refreshing them at once. Touching through the store works unchanged when
 * several controllers share one.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';

export class Presence {
  private readonly open = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.refresh(), intervalMs);
    this.timer.unref();
  }

  /** A browser-side long-poll on `sessionId` starts; call the result when it ends. */
  hold(sessionId: string): () => void {
    this.open.set(sessionId, (this.open.get(sessionId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.open.get(sessionId) ?? 1) - 1;
      if (n <= 0) this.open.delete(sessionId);
      else this.open.set(sessionId, n);
      // The end of a poll is a sign of life too (the viewer asks again at once).
      void this.store.touchSession(sessionId, Date.now()).catch(() => undefined);
    };
  }

  get size(): number {
    return this.open.size;
  }

  private refresh(): void {
    const now = Date.now();
    for (const sessionId of this.open.keys()) {
      this.store
        .touchSession(sessionId, now)
        .catch((err: unknown) => this.log.warn({ err }, 'presence refresh failed'));
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.open.clear();
  }
}
