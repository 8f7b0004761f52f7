/**
 * Errors raised by HelperProcess, each with a code and whether a supervisor may retry.
 * `bad-config` maps the helper's reserved exit code (HELPER_EXIT_BAD_CONFIG = 42): restarting
 * with the same settings cannot help, so it is the one non-retryable start failure.
 */
export type HelperErrorCode =
  | 'bad-config' // settings failed validation, or the helper exited 42 (invalid settings, missing packages)
  | 'spawn-failed' // python could not be started at all
  | 'early-exit' // helper exited before `ready`
  | 'start-timeout' // no `ready` in time
  | 'not-running' // command sent while the helper is not running
  | 'invalid-command' // command failed the protocol schema (a bug in the caller)
  | 'request-timeout' // no reply to a request in time
  | 'request-failed' // the helper answered with an error (e.g. snapshot capture failed)
  | 'died'; // helper exited while a request was pending

export class HelperError extends Error {
  override readonly name = 'HelperError';
  constructor(
    readonly code: HelperErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const helperErrors = {
  badConfig: (stderrTail: string) =>
    new HelperError('bad-config', `helper rejected its configuration: ${stderrTail}`, false, { stderrTail }),
  invalidSettings: (issues: string) =>
    new HelperError('bad-config', `invalid helper settings: ${issues}`, false, { issues }),
  spawnFailed: (cause: Error) =>
    new HelperError('spawn-failed', `cannot start helper: ${cause.message}`, true, { cause: cause.message }),
  earlyExit: (code: number | null, signal: string | null, stderrTail: string) =>
    new HelperError('early-exit', `helper exited before ready (code ${code}, signal ${signal}): ${stderrTail}`, true, {
      code,
      signal,
      stderrTail,
    }),
  startTimeout: (ms: number) => new HelperError('start-timeout', `helper not ready after ${ms} ms`, true),
  notRunning: () => new HelperError('not-running', 'helper is not running', true),
  invalidCommand: (issues: string) => new HelperError('invalid-command', `invalid helper command: ${issues}`, false),
  requestTimeout: (kind: string, ms: number) =>
    new HelperError('request-timeout', `helper did not answer ${kind} within ${ms} ms`, true),
  requestFailed: (kind: string, message: string) => new HelperError('request-failed', `${kind}: ${message}`, true),
  died: (code: number | null, signal: string | null) =>
    new HelperError('died', `helper exited (code ${code}, signal ${signal})`, true, { code, signal }),
};
