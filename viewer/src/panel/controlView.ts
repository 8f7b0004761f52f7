/**
 * Who is in control and what this viewer may do about it, in words and
 * buttons, from the takeover's state alone. Pure, so the React
 * <TakeoverPanel> and the framework-free <vmlive-viewer> show the same thing.
 */
import type { ControlState } from '@vmlive/protocol';
import { describeHolder } from '../api/controlClient.js';
import type { TakeoverPhase, TakeoverState } from '../control/takeover.js';

/** automation / you / another person (the operator or another viewer) / paused. */
export type ControlWho = 'automation' | 'you' | 'another-person' | 'paused';

export type ControlActionId = 'take' | 'release' | 'pause' | 'resume';

export interface ControlButton {
  id: ControlActionId;
  label: string;
  enabled: boolean;
  /** Why it is disabled, for a tooltip. */
  title?: string;
}

export interface ControlView {
  phase: TakeoverPhase;
  /** null until the controller said who holds control. */
  who: ControlWho | null;
  text: string;
  /** Input goes to the VM now. */
  holding: boolean;
  control: ControlState | null;
  /** Empty for a view-only token. */
  buttons: ControlButton[];
}

export interface ControlViewInput {
  takeover: TakeoverState;
  canControl: boolean;
  /** The live connection is up: control input needs its data channel. */
  live: boolean;
}

const WHO: Record<ReturnType<typeof describeHolder>['kind'], ControlWho> = {
  agent: 'automation',
  you: 'you',
  operator: 'another-person',
  'other-viewer': 'another-person',
  paused: 'paused',
};

export function controlView({ takeover, canControl, live }: ControlViewInput): ControlView {
  const { phase, control, sessionId } = takeover;
  const holder = control ? describeHolder(control, sessionId) : null;
  const base = { phase, control, holding: phase === 'in-control' };
  const who: ControlWho | null =
    phase === 'paused' ? 'paused' : phase === 'idle' ? (holder ? WHO[holder.kind] : null) : 'you';
  return { ...base, who, text: textFor(phase, holder), buttons: canControl ? buttonsFor(takeover, live) : [] };
}

function textFor(phase: TakeoverPhase, holder: ReturnType<typeof describeHolder> | null): string {
  switch (phase) {
    case 'requesting':
    case 'confirming':
      return 'Taking control…';
    case 'in-control':
      return 'You are in control';
    case 'paused':
      return 'Paused: nothing drives the VM until it resumes; you keep control';
    case 'idle':
      if (!holder) return 'Checking who is in control…';
      return holder.kind === 'you' ? 'Returning control…' : holder.text;
  }
}

function buttonsFor({ phase, control, sessionId }: TakeoverState, live: boolean): ControlButton[] {
  const give: ControlButton = { id: 'release', label: 'Return control', enabled: true };
  switch (phase) {
    case 'confirming':
      return [give, { id: 'pause', label: 'Pause', enabled: false, title: 'Waiting for the VM to confirm' }];
    case 'in-control':
      return [give, { id: 'pause', label: 'Pause', enabled: true }];
    case 'paused':
      return [{ id: 'resume', label: 'Resume', enabled: true }, give];
    case 'requesting':
      return [{ id: 'take', label: 'Take control', enabled: false, title: 'Taking control…' }];
    case 'idle': {
      const title =
        control?.mode === 'paused'
          ? 'The operator paused this VM'
          : !live || sessionId === null
            ? 'Control needs the live connection'
            : control !== null && control.holder === sessionId
              ? 'Returning control…'
              : undefined;
      return [{ id: 'take', label: 'Take control', enabled: title === undefined, ...(title ? { title } : {}) }];
    }
  }
}
