/**
 * Long-poll wake-ups across processes: store topics on Redis pub/sub channels.
 *
 * Each topic is SUBSCRIBEd once per process however many long-polls wait on it
 * (reference-counted), and `subscribe` resolves only once Redis acknowledged the
 * SUBSCRIBE: the caller's read that follows cannot miss a write published after
 * it (LongPolls subscribes, then reads). Messages published while the pub/sub
 * connection was down are lost, so on reconnect every channel is subscribed
 * again and then every waiter is woken to re-read.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { storeError } from './redis-connection.js';
import type { Unsubscribe } from './types.js';

interface Channel {
  listeners: Set<() => void>;
  ready: Promise<void>;
}

export class RedisTopics {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    sub.on('message', (channel: string) => {
      const ch = this.channels.get(channel);
      if (!ch) return;
      // Copy: a woken listener usually unsubscribes while we iterate.
      for (const listener of [...ch.listeners]) listener();
    });
  }

  async subscribe(topic: string, listener: () => void): Promise<Unsubscribe> {
    const name = this.prefix + topic;
    let ch = this.channels.get(name);
    if (!ch) {
      const created: Channel = { listeners: new Set(), ready: this.sub.subscribe(name).then(() => undefined) };
      // A failed SUBSCRIBE must not stay cached for the next caller.
      created.ready.catch(() => {
        if (this.channels.get(name) === created) this.channels.delete(name);
      });
      this.channels.set(name, created);
      ch = created;
    }
    const channel = ch;
    channel.listeners.add(listener);
    try {
      await channel.ready;
    } catch (err) {
      channel.listeners.delete(listener);
      throw storeError(err);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      channel.listeners.delete(listener);
      if (channel.listeners.size === 0 && this.channels.get(name) === channel) {
        this.channels.delete(name);
        this.sub.unsubscribe(name).catch(() => undefined);
      }
    };
  }

  /** After a reconnect: subscribe every channel again, then wake everyone to re-read what they missed. */
  async restore(): Promise<void> {
    const names = [...this.channels.keys()];
    try {
      for (let i = 0; i < names.length; i += 1000) await this.sub.subscribe(...names.slice(i, i + 1000));
    } catch (err) {
      this.log.warn({ err: storeError(err).message }, 'resubscribing after a reconnect failed; waiters re-read anyway');
    }
    for (const ch of [...this.channels.values()]) for (const listener of [...ch.listeners]) listener();
  }

  /** Channels subscribed in this process (tests check nothing leaks). */
  get size(): number {
    return this.channels.size;
  }
}
