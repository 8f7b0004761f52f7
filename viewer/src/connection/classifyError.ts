/**
 * What a failed attempt means for the viewer: try again, fail (retrying cannot
 * fix it) or end. Decided on the protocol's error classes and registry codes
 * (protocol/src/errors.ts), never on a bare HTTP status.
 */
import { ApiError } from '@vmlive/protocol';
import type { ViewerReason } from './viewerState.js';

/** The VM did not answer the offer in time. */
export class AnswerTimeout extends Error {
  override readonly name = 'AnswerTimeout';
}

export interface Verdict {
  action: 'retry' | 'fail' | 'end';
  reason: ViewerReason;
}

export function classifyError(err: unknown, context: { everConnected: boolean }): Verdict {
  if (err instanceof AnswerTimeout) return { action: 'retry', reason: { code: 'no-answer' } };
  if (!(err instanceof ApiError)) {
    // NetworkError, TimeoutError, InvalidResponseError, or a WebRTC call that threw.
    const detail = err instanceof Error ? err.message : String(err);
    return { action: 'retry', reason: { code: 'signaling-error', detail } };
  }
  const detail = err.message;
  if (err.is('unauthorized', 'token_expired')) return { action: 'fail', reason: { code: 'token-expired', detail } };
  if (err.is('forbidden')) return { action: 'fail', reason: { code: 'forbidden', detail } };
  if (err.is('vm_not_found')) {
    // Before we ever connected the VM was never there; after, it was deleted.
    return { action: context.everConnected ? 'end' : 'fail', reason: { code: 'vm-not-found' } };
  }
  if (err.is('session_not_found')) return { action: 'retry', reason: { code: 'session-ended' } };
  return { action: 'retry', reason: { code: 'signaling-error', detail } };
}
