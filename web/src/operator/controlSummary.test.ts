import type { ControlState } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { controlActions, controlHolderText, relativeTime } from './controlSummary.js';

const at = (mode: ControlState['mode'], holder: string | null): ControlState => ({ mode, holder, since: 1 });

describe("the console's control column", () => {
  it.each([
    [at('agent', null), 'Automation'],
    [at('user', 'operator'), 'Operator'],
    [at('user', 'Zx8_k2Lq9mNbV'), 'Viewer Zx8_k2Lq'],
    [at('paused', null), 'Paused'],
    [at('paused', 'Zx8_k2Lq9mNbV'), 'Paused (held by viewer Zx8_k2Lq)'],
    [at('paused', 'operator'), 'Paused (held by the operator)'],
  ] as const)('%o → %s', (state, text) => {
    expect(controlHolderText(state)).toBe(text);
  });

  it('says since when in relative words, never in the future', () => {
    const now = 10_000_000;
    expect(relativeTime(now + 2000, now)).toBe('just now');
    expect(relativeTime(now - 4000, now)).toBe('just now');
    expect(relativeTime(now - 42_000, now)).toBe('42 s ago');
    expect(relativeTime(now - 3 * 60_000 - 5000, now)).toBe('3 min ago');
    expect(relativeTime(now - 5 * 3_600_000, now)).toBe('5 h ago');
    expect(relativeTime(now - 2 * 86_400_000, now)).toBe('2 d ago');
  });

  it('offers "End control" while anyone holds it and "Take over" unless the operator already does', () => {
    expect(controlActions(at('agent', null))).toEqual({ endControl: false, takeOver: true });
    expect(controlActions(at('user', 's1'))).toEqual({ endControl: true, takeOver: true });
    expect(controlActions(at('user', 'operator'))).toEqual({ endControl: true, takeOver: false });
    expect(controlActions(at('paused', 's1'))).toEqual({ endControl: false, takeOver: true });
  });
});
