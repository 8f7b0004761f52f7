import type { ControlState } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import type { TakeoverPhase } from '../control/takeover.js';
import { controlView } from './controlView.js';

const at = (mode: ControlState['mode'], holder: string | null): ControlState => ({ mode, holder, since: 1 });
const view = (
  phase: TakeoverPhase,
  control: ControlState | null,
  opts: { canControl?: boolean; live?: boolean } = {},
) =>
  controlView({
    takeover: { phase, control, sessionId: 's1', input: null },
    canControl: opts.canControl ?? true,
    live: opts.live ?? true,
  });
const buttons = (v: ReturnType<typeof view>) => v.buttons.map((b) => `${b.label}${b.enabled ? '' : ' (disabled)'}`);

describe('who is in control, in words and buttons', () => {
  it.each([
    ['idle', at('agent', null), 'automation', 'The automation is in control', ['Take control']],
    ['idle', at('user', 'operator'), 'another-person', 'The operator is in control', ['Take control']],
    ['idle', at('user', 's2'), 'another-person', 'Another viewer is in control', ['Take control']],
    ['idle', at('paused', null), 'paused', 'The automation is paused by the operator', ['Take control (disabled)']],
    ['requesting', at('agent', null), 'you', 'Taking control…', ['Take control (disabled)']],
    ['confirming', at('user', 's1'), 'you', 'Taking control…', ['Return control', 'Pause (disabled)']],
    ['in-control', at('user', 's1'), 'you', 'You are in control', ['Return control', 'Pause']],
    ['paused', at('paused', 's1'), 'paused', expect.stringMatching(/^Paused/), ['Resume', 'Return control']],
  ] as const)('%s with %o: %s', (phase, control, who, text, labels) => {
    const v = view(phase, control);
    expect(v).toMatchObject({ who, text, holding: phase === 'in-control' });
    expect(buttons(v)).toEqual(labels);
  });

  it('says it is still asking before the controller answered', () => {
    expect(view('idle', null)).toMatchObject({ who: null, text: 'Checking who is in control…' });
  });

  it('shows no buttons for a view-only token', () => {
    expect(view('idle', at('agent', null), { canControl: false }).buttons).toEqual([]);
  });

  it('explains why "Take control" is disabled without the live connection, and while returning', () => {
    expect(view('idle', at('agent', null), { live: false }).buttons[0]).toMatchObject({
      enabled: false,
      title: 'Control needs the live connection',
    });
    const returning = view('idle', at('user', 's1'));
    expect(returning.text).toBe('Returning control…');
    expect(returning.buttons[0]).toMatchObject({ enabled: false, title: 'Returning control…' });
  });
});
