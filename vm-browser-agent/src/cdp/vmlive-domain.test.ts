import { describe, expect, it } from 'vitest';
import { VmliveDomain } from './vmlive-domain.js';

const state = { mode: 'user' as const, holder: 'sess-1', since: 42 };
const cmd = (id: number, method: string, sessionId?: string) => ({ id, method, sessionId, params: {} });

describe('Vmlive CDP domain', () => {
  it('answers getControl and enable with the control state, on the caller’s session', () => {
    const d = new VmliveDomain();
    expect(JSON.parse(d.handle(cmd(1, 'Vmlive.getControl'), state))).toEqual({ id: 1, result: state });
    expect(JSON.parse(d.handle(cmd(2, 'Vmlive.enable', 'S1'), state))).toEqual({
      id: 2,
      sessionId: 'S1',
      result: state,
    });
  });

  it('sends controlChanged to each session that enabled it, until it disables it', () => {
    const d = new VmliveDomain();
    expect(d.changed(state)).toEqual([]);
    d.handle(cmd(1, 'Vmlive.enable'), state);
    d.handle(cmd(2, 'Vmlive.enable', 'S1'), state);
    const next = { mode: 'agent' as const, holder: null, since: 43 };
    expect(d.changed(next).map((f) => JSON.parse(f))).toEqual([
      { method: 'Vmlive.controlChanged', params: next },
      { method: 'Vmlive.controlChanged', params: next, sessionId: 'S1' },
    ]);
    d.handle(cmd(3, 'Vmlive.disable', 'S1'), state);
    expect(d.changed(next)).toHaveLength(1);
  });

  it('answers an unknown Vmlive method with -32601, like Chromium does', () => {
    const d = new VmliveDomain();
    expect(JSON.parse(d.handle(cmd(9, 'Vmlive.nope'), state))).toEqual({
      id: 9,
      error: { code: -32601, message: "'Vmlive.nope' wasn't found" },
    });
  });
});
