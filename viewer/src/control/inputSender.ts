/**
 * Sends takeover input on the `input` data channel without flooding it.
 * Pointer moves (and wheel deltas) are coalesced: at most one per animation
 * frame, latest position wins, wheel deltas summed. Anything that must not
 * be lost or reordered (button down/up, keys, text) first flushes the
 * pending move, so the VM sees the pointer where the click happened.
 * When the channel's `bufferedAmount` is over the limit, moves wait for a
 * later frame instead of queueing behind each other.
 */
import type { InputMessage } from '@vmlive/protocol';

/** The slice of RTCDataChannel this needs (so tests can pass a fake). */
export interface InputChannel {
  readonly readyState: string;
  readonly bufferedAmount: number;
  send(data: string): void;
}

export type FrameScheduler = (callback: () => void) => () => void;

export const animationFrameScheduler: FrameScheduler = (callback) => {
  if (typeof requestAnimationFrame === 'function') {
    const id = requestAnimationFrame(() => callback());
    return () => cancelAnimationFrame(id);
  }
  const id = setTimeout(callback, 16);
  return () => clearTimeout(id);
};

export interface InputSenderOptions {
  schedule?: FrameScheduler;
  /** Coalesced messages are held back while more than this many bytes are queued. */
  maxBufferedBytes?: number;
}

export class InputSender {
  private readonly schedule: FrameScheduler;
  private readonly maxBufferedBytes: number;
  private pendingMove: { x: number; y: number } | null = null;
  private pendingWheel: { x: number; y: number; dx: number; dy: number } | null = null;
  private cancelFrame: (() => void) | null = null;
  private disposed = false;

  constructor(
    private readonly channel: InputChannel,
    options: InputSenderOptions = {},
  ) {
    this.schedule = options.schedule ?? animationFrameScheduler;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024;
  }

  get isOpen(): boolean {
    return !this.disposed && this.channel.readyState === 'open';
  }

  pointerMove(x: number, y: number): void {
    this.pendingMove = { x, y };
    this.ensureFrame();
  }

  wheel(x: number, y: number, dx: number, dy: number): void {
    const w = this.pendingWheel;
    this.pendingWheel = w ? { x, y, dx: w.dx + dx, dy: w.dy + dy } : { x, y, dx, dy };
    this.ensureFrame();
  }

  /** Sends a message that must not be coalesced, after any pending move/wheel. */
  send(message: InputMessage): void {
    if (!this.isOpen) return;
    this.flushCoalesced(true);
    this.channel.send(JSON.stringify(message));
  }

  dispose(): void {
    this.disposed = true;
    this.cancelFrame?.();
    this.cancelFrame = null;
    this.pendingMove = null;
    this.pendingWheel = null;
  }

  private ensureFrame(): void {
    if (this.cancelFrame || this.disposed) return;
    this.cancelFrame = this.schedule(() => {
      this.cancelFrame = null;
      this.flushCoalesced(false);
      if (this.pendingMove || this.pendingWheel) this.ensureFrame();
    });
  }

  /** `force`: send regardless of bufferedAmount (ordering before a click matters more). */
  private flushCoalesced(force: boolean): void {
    if (!this.isOpen) {
      this.pendingMove = null;
      this.pendingWheel = null;
      return;
    }
    if (!force && this.channel.bufferedAmount > this.maxBufferedBytes) return;
    if (this.pendingMove) {
      const { x, y } = this.pendingMove;
      this.pendingMove = null;
      this.channel.send(JSON.stringify({ t: 'pointer', action: 'move', x, y } satisfies InputMessage));
    }
    if (this.pendingWheel) {
      const w = this.pendingWheel;
      this.pendingWheel = null;
      this.channel.send(JSON.stringify({ t: 'wheel', x: w.x, y: w.y, dx: w.dx, dy: w.dy } satisfies InputMessage));
    }
  }
}
