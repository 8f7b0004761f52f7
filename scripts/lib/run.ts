/**
 * One measurement run on an open viewer: wait for the first decoded frame,
 * skip a warm-up, then collect samples for a fixed window (or until enough
 * samples), calling hooks at the window's edges so callers can read byte and
 * CPU counters over exactly the same interval.
 */
import type { Drained, Sample, ViewerHandle } from './viewers.js';

export interface RunOptions {
  warmupMs: number;
  /** measure for this long after the warm-up… */
  durationMs?: number;
  /** …or until this many samples (when durationMs is not set) */
  minSamples?: number;
  /** no decoded frame within this → error */
  firstFrameTimeoutMs: number;
  /** hard bound on the whole run */
  timeoutMs: number;
  tickMs?: number;
  onWindowStart?: () => void | Promise<void>;
  onWindowEnd?: () => void | Promise<void>;
  /** every tick, with what was drained and whether the window is open */
  onTick?: (d: Drained, inWindow: boolean) => void | Promise<void>;
}

export interface RunResult {
  samples: Sample[];
  /** the REST viewer's latency meter (abs-capture-time → presented) over the window, ms */
  meter: number[];
  windowMs: number;
  firstDecodedWall: number;
  /** performance.now() in the page of the first decoded frame */
  firstDecodedAt: number;
  ttffMs: number | null;
  rejected: Record<string, number>;
  errors: string[];
  timedOut: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NoFrameError extends Error {
  override name = 'NoFrameError';
}

export async function runWindow(viewer: ViewerHandle, opts: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const tick = opts.tickMs ?? 250;
  const samples: Sample[] = [];
  const meter: number[] = [];
  const errors: string[] = [];
  let first: { wall: number; perf: number } | null = null;
  let windowStart: number | null = null;
  let ttffMs: number | null = null;
  let rejected: Record<string, number> = {};
  let timedOut = false;
  for (;;) {
    await sleep(tick);
    const d = await viewer.drain();
    errors.push(...d.errors);
    rejected = d.rejected;
    if (d.ttffMs != null) ttffMs = d.ttffMs;
    const now = Date.now();
    if (!first) {
      if (d.firstDecodedWall != null && d.firstDecodedAt != null)
        first = { wall: d.firstDecodedWall, perf: d.firstDecodedAt };
      else if (now - t0 > opts.firstFrameTimeoutMs) {
        throw new NoFrameError(
          `no frame decoded within ${opts.firstFrameTimeoutMs} ms (frames observed: ${d.observed}, rejected: ${JSON.stringify(d.rejected)}${errors.length ? `, errors: ${errors.join('; ')}` : ''})`,
        );
      }
    }
    if (first && windowStart === null && now >= first.wall + opts.warmupMs) {
      windowStart = now;
      await opts.onWindowStart?.();
      await opts.onTick?.(d, false);
      continue;
    }
    const inWindow = windowStart !== null;
    if (inWindow) {
      samples.push(...d.samples.filter((s) => s.at >= (windowStart as number)));
      meter.push(...(d.glassToGlass ?? []).filter((s) => s.at >= (windowStart as number)).map((s) => s.ms));
    }
    await opts.onTick?.(d, inWindow);
    if (windowStart !== null) {
      const done =
        opts.durationMs !== undefined
          ? now - windowStart >= opts.durationMs
          : samples.length >= (opts.minSamples ?? 500);
      if (done) break;
    }
    if (now - t0 > opts.timeoutMs) {
      timedOut = true;
      break;
    }
  }
  const windowMs = windowStart === null ? 0 : Date.now() - windowStart;
  if (windowStart !== null) await opts.onWindowEnd?.();
  return {
    samples,
    meter,
    windowMs,
    firstDecodedWall: first?.wall ?? 0,
    firstDecodedAt: first?.perf ?? 0,
    ttffMs,
    rejected,
    errors,
    timedOut,
  };
}
