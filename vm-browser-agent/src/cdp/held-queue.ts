/**
 * One connection's held commands, in arrival order, bounded in count and
 * bytes, with the hold timeout: the oldest held command is answered with an
 * error once it has waited `maxAgeMs` (one timer, armed for the head only,
 * because arrival order is age order).
 */
import type { Command } from './cdp-message.js';
import type { MethodClass } from './hold-policy.js';

export interface HeldCommand {
  readonly command: Command;
  readonly cls: MethodClass;
  /** The automation's original frame, forwarded unchanged on release. */
  readonly raw: Buffer;
  readonly heldAt: number;
}

export interface HeldQueueOptions {
  maxAgeMs: number;
  maxCount: number;
  maxBytes: number;
  /**
   * Called with the commands leaving the head of the queue on a timeout:
   * changes that waited maxAgeMs (to be answered with an error) and the reads
   * that were queued only to keep the order behind them (to be forwarded now).
   */
  onExpire: (items: HeldCommand[]) => void;
  now?: () => number;
}

export class HeldQueue {
  private items: HeldCommand[] = [];
  private head = 0;
  private byteCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: HeldQueueOptions) {
    this.now = opts.now ?? Date.now;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** When the oldest held command arrived, or undefined when empty. */
  get oldestAt(): number | undefined {
    return this.items[this.head]?.heldAt;
  }

  /** Why one more frame of `bytes` cannot be held, or null when it can. */
  refusal(bytes: number): string | null {
    if (this.length >= this.opts.maxCount) return `${this.opts.maxCount} commands already held`;
    if (this.byteCount + bytes > this.opts.maxBytes) return `${this.opts.maxBytes} bytes already held`;
    return null;
  }

  push(command: Command, cls: MethodClass, raw: Buffer): void {
    this.items.push({ command, cls, raw, heldAt: this.now() });
    this.byteCount += raw.length;
    if (this.timer === undefined) this.arm();
  }

  /** Everything held, in order; the queue is empty afterwards. */
  takeAll(): HeldCommand[] {
    const out = this.items.slice(this.head);
    this.reset();
    return out;
  }

  clear(): void {
    this.reset();
  }

  private reset(): void {
    this.items = [];
    this.head = 0;
    this.byteCount = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const oldest = this.oldestAt;
    if (oldest === undefined) return;
    const delay = Math.max(0, oldest + this.opts.maxAgeMs - this.now());
    this.timer = setTimeout(() => this.expire(), delay);
    // A held command must not keep the VM agent's process alive on shutdown.
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.now();
    const out: HeldCommand[] = [];
    for (;;) {
      const item = this.items[this.head];
      if (!item) break;
      if (item.cls !== 'read' && item.heldAt + this.opts.maxAgeMs > now) break;
      out.push(item);
      this.byteCount -= item.raw.length;
      this.head++;
    }
    // Compact now and then so a long hold does not keep answered frames alive.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.length === 0) this.reset();
    else this.arm();
    if (out.length) this.opts.onExpire(out);
  }
}
