/**
 * Notices when decoded frames stop while the connection claims to be up —
 * the case where a viewer would otherwise sit on a frozen frame. Fed with
 * `framesDecoded` samples; pure apart from the clock value passed in.
 */

export interface FrameWatchdogOptions {
  /** No new frame for this long after the first one → stalled (default 1.5 s). */
  stallMs?: number;
  /** No first frame for this long after connecting → stalled. */
  firstFrameMs?: number;
}

export type WatchdogVerdict = 'ok' | 'frames-stopped' | 'no-frames';

export class FrameWatchdog {
  private readonly stallMs: number;
  private readonly firstFrameMs: number;
  private startedAt = 0;
  private lastFrames = -1;
  private lastIncreaseAt: number | null = null;

  constructor(options: FrameWatchdogOptions = {}) {
    // 1.5 s: a still screen still sends a frame every 500 ms (the helper's idle repeat), and a path
    // change shows here first (before ICE says `disconnected`), so this bounds how soon an ICE
    // restart starts; with one stats sample a second, frames stopped are noticed 1.5-2.5 s later.
    this.stallMs = options.stallMs ?? 1500;
    this.firstFrameMs = options.firstFrameMs ?? 5000;
  }

  /** Call when the connection comes up (or again after a reconnect). */
  reset(now: number): void {
    this.startedAt = now;
    this.lastFrames = -1;
    this.lastIncreaseAt = null;
  }

  sample(framesDecoded: number, now: number): WatchdogVerdict {
    if (framesDecoded > this.lastFrames) {
      if (framesDecoded > 0) this.lastIncreaseAt = now;
      this.lastFrames = framesDecoded;
    }
    if (this.lastIncreaseAt === null) {
      return now - this.startedAt > this.firstFrameMs ? 'no-frames' : 'ok';
    }
    return now - this.lastIncreaseAt > this.stallMs ? 'frames-stopped' : 'ok';
  }
}
