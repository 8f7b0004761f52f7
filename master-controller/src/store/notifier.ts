/**
 * In-process topic notifier. A shared store would feed the same `publish`
 * from its pub/sub channel so waiters in every process wake.
 */
import type { Unsubscribe } from './types.js';

export class MemoryNotifier {
  private readonly listeners = new Map<string, Set<() => void>>();

  subscribe(topic: string, listener: () => void): Unsubscribe {
    let set = this.listeners.get(topic);
    if (!set) {
      set = new Set();
      this.listeners.set(topic, set);
    }
    set.add(listener);
    return () => {
      const s = this.listeners.get(topic);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.listeners.delete(topic);
    };
  }

  publish(topic: string): void {
    const set = this.listeners.get(topic);
    if (!set) return;
    // Copy: a listener usually unsubscribes while we iterate.
    for (const listener of [...set]) listener();
  }

  /** Topics with at least one listener (tests use it to check nothing leaks). */
  get size(): number {
    return this.listeners.size;
  }
}
