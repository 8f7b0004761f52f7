/**
 * The `input` channel as the takeover input code sees it. The controller
 * answers a `take` before the VM has heard of the new holder (the VM agent
 * learns it on its long-poll and tells the helper), and until then the helper
 * rejects input (`{"t":"rejected","reason":"not-holder"}`). So input made
 * between "Take control" and the helper's `{"t":"control","granted":true}` is
 * held here, in order, and sent the moment the grant arrives: the first click
 * after "Take control" lands instead of being rejected.
 *
 * Held input is only worth sending while it is fresh: if the grant comes more
 * than `windowMs` after the first held message (or more than `maxHeld`
 * messages were held), the whole batch is dropped — never a part of it, so no
 * key-down is sent without what followed it — and the caller says so. Whatever
 * is held when the gate closes (take refused, timeout, channel lost) is
 * dropped the same way.
 */
import type { InputChannel } from './inputSender.js';

export interface InputGateOptions {
  /** Held input older than this when the grant arrives is dropped, not sent late. */
  windowMs?: number;
  /** At most this many messages are held (pointer moves are already coalesced per frame). */
  maxHeld?: number;
  now?: () => number;
}

export class InputGate implements InputChannel {
  private readonly windowMs: number;
  private readonly maxHeld: number;
  private readonly now: () => number;
  private held: string[] = [];
  private firstHeldAt = 0;
  /** Messages refused because `maxHeld` were already held (the batch is then incomplete). */
  private overflowed = 0;
  private passing = false;

  constructor(
    private readonly channel: InputChannel,
    options: InputGateOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 2000;
    this.maxHeld = options.maxHeld ?? 256;
    this.now = options.now ?? Date.now;
  }

  get readyState(): string {
    return this.channel.readyState;
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  /** True once the VM confirmed control: messages go straight to the channel. */
  get open(): boolean {
    return this.passing;
  }

  /** How many messages are waiting for the grant. */
  get heldCount(): number {
    return this.held.length;
  }

  send(data: string): void {
    if (this.passing) {
      this.channel.send(data);
      return;
    }
    if (this.held.length >= this.maxHeld) {
      this.overflowed++;
      return;
    }
    if (this.held.length === 0) this.firstHeldAt = this.now();
    this.held.push(data);
  }

  /** The VM confirmed control: sends what was held (if fresh) and lets input through. Returns how many were dropped. */
  grant(): number {
    if (this.passing) return 0;
    const stale = this.overflowed > 0 || (this.held.length > 0 && this.now() - this.firstHeldAt > this.windowMs);
    const dropped = this.held.length + this.overflowed;
    const held = this.takeHeld();
    this.passing = true;
    if (stale || this.channel.readyState !== 'open') return dropped;
    for (const data of held) this.channel.send(data);
    return 0;
  }

  /** Control is not (or no longer) confirmed: holds input again and drops what was held. Returns how many. */
  close(): number {
    this.passing = false;
    const dropped = this.held.length + this.overflowed;
    this.takeHeld();
    return dropped;
  }

  private takeHeld(): string[] {
    const held = this.held;
    this.held = [];
    this.overflowed = 0;
    return held;
  }
}
