import type { ControlState } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { decideRetake, type RetakeInput } from './retakePolicy.js';

const ctl = (mode: ControlState['mode'], holder: string | null): ControlState => ({ mode, holder, since: 1 });
/** Held control with s1; the connection (or the page) is now on s2. */
const base: RetakeInput = { heldWith: 's1', control: ctl('user', 's1'), sessionId: 's2', live: true };

describe('taking control back with a new session', () => {
  it("takes over the old session's lease directly (a reload or reconnect within the grace)", () => {
    expect(decideRetake(base)).toBe('take');
  });

  it('takes again when control fell back to the automation after the grace', () => {
    expect(decideRetake({ ...base, control: ctl('agent', null) })).toBe('take');
  });

  it('waits until the new connection is live', () => {
    expect(decideRetake({ ...base, live: false })).toBe('wait');
    expect(decideRetake({ ...base, sessionId: null })).toBe('wait');
  });

  it('forgets the wish when someone else holds control now', () => {
    expect(decideRetake({ ...base, control: ctl('user', 'someone-else') })).toBe('forget');
    expect(decideRetake({ ...base, control: ctl('user', 'operator') })).toBe('forget');
    expect(decideRetake({ ...base, control: ctl('paused', 'someone-else') })).toBe('forget');
  });

  it('waits while the operator paused the VM (a take would resume it)', () => {
    expect(decideRetake({ ...base, control: ctl('paused', 's1') })).toBe('wait');
    expect(decideRetake({ ...base, control: ctl('paused', null) })).toBe('wait');
  });

  it('keeps still while our live session holds control', () => {
    expect(decideRetake({ ...base, sessionId: 's1' })).toBe('wait');
    expect(decideRetake({ ...base, sessionId: 's1', control: ctl('paused', 's1') })).toBe('wait');
  });

  it('forgets the wish when control was ended or taken while our session was live (no grabbing it back)', () => {
    expect(decideRetake({ ...base, sessionId: 's1', control: ctl('agent', null) })).toBe('forget');
    expect(decideRetake({ ...base, sessionId: 's1', control: ctl('user', 'operator') })).toBe('forget');
  });

  it('does nothing for a viewer that never took control or released it', () => {
    expect(decideRetake({ ...base, heldWith: null })).toBe('wait');
  });
});
