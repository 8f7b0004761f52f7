import { describe, expect, it } from 'vitest';
import { describeReason, initialViewerState, transition, type ViewerState } from './viewerState.js';

const t0 = 1_000;
const connecting = (): ViewerState => transition(initialViewerState(t0), { type: 'start' }, t0);

describe('viewer state machine', () => {
  it('starts connecting with reason "starting"', () => {
    const s = connecting();
    expect(s.phase).toBe('connecting');
    expect(s.reason.code).toBe('starting');
  });

  it('becomes connected when media flows and resets the attempt count', () => {
    let s = connecting();
    s = transition(s, { type: 'lost', reason: { code: 'ice-failed' } }, 2_000);
    expect(s.attempt).toBe(1);
    s = transition(s, { type: 'connected' }, 3_000);
    expect(s).toMatchObject({ phase: 'connected', attempt: 0, since: 3_000 });
  });

  it('goes to reconnecting with the reason when a live connection is lost', () => {
    let s = transition(connecting(), { type: 'connected' }, 2_000);
    s = transition(s, { type: 'lost', reason: { code: 'frames-stopped' } }, 5_000);
    expect(s.phase).toBe('reconnecting');
    expect(describeReason(s.reason)).toBe('Video frames stopped');
    expect(s.attempt).toBe(1);
  });

  it('counts consecutive failed attempts while reconnecting', () => {
    let s = connecting();
    for (let i = 0; i < 3; i++) s = transition(s, { type: 'lost', reason: { code: 'no-answer' } }, 2_000 + i);
    expect(s).toMatchObject({ phase: 'reconnecting', attempt: 3 });
  });

  it('fails on a fatal reason from any live phase and keeps that reason', () => {
    const s = transition(connecting(), { type: 'fatal', reason: { code: 'token-expired' } }, 2_000);
    expect(s.phase).toBe('failed');
    expect(describeReason(s.reason)).toBe('Token expired or invalid');
  });

  it('ignores losses once failed (no background reconnect after a fatal error)', () => {
    const failed = transition(connecting(), { type: 'fatal', reason: { code: 'forbidden' } }, 2_000);
    expect(transition(failed, { type: 'lost', reason: { code: 'ice-failed' } }, 3_000)).toBe(failed);
  });

  it('retry from failed goes back to connecting with a fresh attempt count', () => {
    const failed = transition(connecting(), { type: 'fatal', reason: { code: 'gave-up' } }, 2_000);
    const s = transition(failed, { type: 'retry' }, 3_000);
    expect(s).toMatchObject({ phase: 'connecting', attempt: 0, reason: { code: 'retry' } });
  });

  it('retry is a no-op while connected', () => {
    const live = transition(connecting(), { type: 'connected' }, 2_000);
    expect(transition(live, { type: 'retry' }, 3_000)).toBe(live);
  });

  it('ended is terminal', () => {
    const ended = transition(connecting(), { type: 'close' }, 2_000);
    expect(ended).toMatchObject({ phase: 'ended', reason: { code: 'closed' } });
    for (const event of [
      { type: 'start' },
      { type: 'connected' },
      { type: 'retry' },
      { type: 'lost', reason: { code: 'ice-failed' } },
      { type: 'fatal', reason: { code: 'forbidden' } },
    ] as const) {
      expect(transition(ended, event, 3_000)).toBe(ended);
    }
  });

  it('does not report connected before it was started', () => {
    const idle = initialViewerState(t0);
    expect(transition(idle, { type: 'connected' }, 2_000)).toBe(idle);
  });

  it('includes the detail in the description', () => {
    expect(describeReason({ code: 'signaling-error', detail: 'ECONNREFUSED' })).toBe(
      'Controller unreachable (ECONNREFUSED)',
    );
  });
});
