/**
 * When to try again after a lost connection: exponential backoff with jitter
 * (so many viewers of a restarted VM do not reconnect in lockstep), capped,
 * and a limit after which the viewer says it gave up and waits for the user.
 */

export interface ReconnectPolicy {
  /** Delay before attempt number `attempt` (1 = first retry), or null to give up. */
  delayMs(attempt: number): number | null;
}

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Attempts after which to give up; Infinity never gives up. */
  maxAttempts?: number;
  /** 0 = none, 1 = delay anywhere in [d/2, d]. */
  jitter?: number;
  random?: () => number;
}

export function exponentialBackoff(options: BackoffOptions = {}): ReconnectPolicy {
  const initialMs = options.initialMs ?? 250;
  const maxMs = options.maxMs ?? 10_000;
  const factor = options.factor ?? 2;
  const maxAttempts = options.maxAttempts ?? 30;
  const jitter = options.jitter ?? 1;
  const random = options.random ?? Math.random;
  return {
    delayMs(attempt: number): number | null {
      if (attempt < 1 || attempt > maxAttempts) return null;
      const base = Math.min(maxMs, initialMs * factor ** (attempt - 1));
      // "Equal jitter": keep at least half the delay so a flapping link still backs off.
      return Math.round(base * (1 - (jitter / 2) * random()));
    },
  };
}
