/**
 * Long-poll: answer as soon as `read` reports something new, else the empty
 * answer when the wait ends. Waiters listen on store topics (which a shared
 * store feeds from every process), subscribe BEFORE reading — and wait for the
 * subscription to be active — so a write between read and wait is never
 * missed, and re-read on every wake-up.
 */
import type { Metrics } from '../metrics.js';
import type { Store, Unsubscribe } from '../store/types.js';
import type { Res } from './kit.js';
import type { Presence } from './presence.js';

export interface PollRead<T> {
  ready: boolean;
  value: T;
}

export class LongPolls {
  private readonly waiters = new Set<() => void>();
  private closing = false;

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly presence: Presence,
  ) {}

  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * @param waitMs 0 = plain poll: read once.
   * @param read called first and after every wake-up; may throw (e.g. session ended → 404).
   * @param viewerSession the viewer session this poll is a sign of life of, while it waits (presence.ts).
   */
  async poll<T>(
    res: Res,
    topicList: string[],
    waitMs: number,
    read: () => Promise<PollRead<T>>,
    viewerSession?: string,
  ): Promise<T> {
    if (waitMs <= 0 || this.closing) return (await read()).value;

    const deadline = Date.now() + waitMs;
    let notified = false;
    let aborted = false;
    let release: (() => void) | null = null;
    const wake = () => {
      notified = true;
      release?.();
    };
    const abort = () => {
      aborted = true;
      wake();
    };
    this.waiters.add(abort);
    res.raw.once('close', abort);
    this.metrics.longPollsWaiting.inc();
    const leave = viewerSession !== undefined ? this.presence.hold(viewerSession) : null;
    const unsubscribes: Unsubscribe[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      // Active before the first read (a shared store's subscribe resolves once its server acknowledged it).
      for (const t of topicList) unsubscribes.push(await this.store.subscribe(t, wake));
      for (;;) {
        notified = false;
        const r = await read();
        if (r.ready || aborted || Date.now() >= deadline) return r.value;
        if (notified) continue;
        await new Promise<void>((resolve) => {
          release = resolve;
          timer = setTimeout(resolve, deadline - Date.now());
        });
        release = null;
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
      for (const u of unsubscribes) u();
      leave?.();
      this.waiters.delete(abort);
      res.raw.off('close', abort);
      this.metrics.longPollsWaiting.dec();
    }
  }

  /** Shutdown: every waiter answers now with what it has. */
  abortAll(): void {
    this.closing = true;
    for (const abort of [...this.waiters]) abort();
  }
}
