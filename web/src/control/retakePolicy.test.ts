import type { ControlState } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { decideRetake, type RetakeInput } from './retakePolicy.js';

const ctl = (mode: ControlState['mode'], holder: string | null): ControlState => ({ mode, holder, since: 1 });
const base: RetakeInput = {
  wantControl: true,
  control: ctl('agent', null),
  sessionId: 's2',
  live: true,
  mySessions: new Set(['s1', 's2']),
};

describe('taking control back after a reconnect', () => {
  it('takes again when control fell back to the agent after our old session ended', () => {
    expect(decideRetake(base)).toBe('take');
  });

  it('waits until the new connection is live', () => {
    expect(decideRetake({ ...base, live: false })).toBe('wait');
    expect(decideRetake({ ...base, sessionId: null })).toBe('wait');
  });

  it('forgets the wish when another viewer took control meanwhile', () => {
    expect(decideRetake({ ...base, control: ctl('user', 'someone-else') })).toBe('forget');
    expect(decideRetake({ ...base, control: ctl('user', 'operator') })).toBe('forget');
  });

  it('waits while the old session still holds it or the operator paused the agent', () => {
    expect(decideRetake({ ...base, control: ctl('user', 's1') })).toBe('wait');
    expect(decideRetake({ ...base, control: ctl('paused', 's1') })).toBe('wait');
    expect(decideRetake({ ...base, control: ctl('paused', null) })).toBe('wait');
  });

  it('does nothing for a viewer that never took control or released it', () => {
    expect(decideRetake({ ...base, wantControl: false })).toBe('wait');
  });
});
