/**
 * <TakeoverPanel>: who is in control of the VM (the automation, you, another
 * person, or paused) and the buttons this viewer's token allows (Take
 * control, Return control, Pause, Resume), with the takeover's notices.
 *
 * Built to grow: the header (who + buttons) is fixed, and whatever the app
 * puts inside the panel is rendered below it as further sections. Sections
 * are ordinary components using `useVmlive()` — the session's state and its
 * ApiClient (`session.api`) for the VM's own routes — and `<PanelSection>`
 * for the panel's look, so run-control views (a step timeline, an
 * instruction box, an override form) slot in without changing this file.
 */
import type { Recording } from '@vmlive/protocol';
import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { LEAVE_SHORTCUT_LABEL } from '../control/keyboardInput.js';
import type { ControlActionId } from '../panel/controlView.js';
import { InstructionsBox, OverrideForm, StepReplay, StepTimeline } from './RunSections.js';
import { useVmlive, useVmliveContext } from './VmliveProvider.js';

export interface TakeoverPanelProps {
  /** Further sections, below who is in control (e.g. <PanelSection>s of your own). */
  children?: ReactNode;
  className?: string;
  /** The panel's accessible name; default "Control of VM <id>". */
  label?: string;
  /** The run-control sections (steps, replay, instructions, override form); default true. */
  run?: boolean;
  /**
   * The VM's recordings (GET /api/vms/{vmId}/recordings: operator only, so your backend fetches
   * them): each step a kept segment covers links to that moment of the recording.
   */
  recordings?: readonly Recording[];
}

const NOTICE_MS = 5000;

export function TakeoverPanel({ children, className, label, run = true, recordings }: TakeoverPanelProps) {
  const { stageRef, leaveTargetRef } = useVmliveContext('TakeoverPanel');
  const { state, session } = useVmlive();
  const [notice, setNotice] = useState<string | null>(null);
  const view = state.control;

  useEffect(() => session.on('notice', setNotice), [session]);
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [notice]);

  const act = useCallback(
    (id: ControlActionId) => {
      if (id === 'take') {
        session.take();
        // Typing may start at once: the stage has focus, and input is held until the VM confirms.
        stageRef.current?.focus({ preventScroll: true });
      } else if (id === 'release') session.release();
      else if (id === 'pause') session.pause();
      else session.resume();
    },
    [session, stageRef],
  );

  const classes = ['vm-panel', className ?? ''].filter(Boolean).join(' ');
  return (
    <section className={classes} aria-label={label ?? `Control of VM ${state.vmId}`} data-who={view.who ?? ''}>
      <div className="vm-panel__header">
        <span className={`vm-who vm-who--${view.who ?? 'unknown'}`} aria-live="polite">
          {view.text}
          {view.holding && (
            <span className="vm-hint"> · click the screen to type, {LEAVE_SHORTCUT_LABEL} to leave it</span>
          )}
        </span>
        {view.buttons.length > 0 && (
          <div className="vm-panel__actions">
            {view.buttons.map((b) => (
              <button
                key={b.id}
                type="button"
                ref={
                  b.id === 'release'
                    ? (el) => {
                        leaveTargetRef.current = el;
                      }
                    : undefined
                }
                disabled={!b.enabled}
                title={b.title}
                onClick={() => act(b.id)}
              >
                {b.label}
              </button>
            ))}
          </div>
        )}
      </div>
      {notice && (
        <p className="vm-notice" role="alert">
          {notice}
        </p>
      )}
      {run && (
        <>
          <StepTimeline {...(recordings ? { recordings } : {})} />
          <StepReplay />
          <InstructionsBox />
          <OverrideForm />
        </>
      )}
      {children}
    </section>
  );
}

export interface PanelSectionProps {
  title: string;
  children?: ReactNode;
  /** Buttons or links shown beside the title. */
  actions?: ReactNode;
}

/** One section of the panel, with its title: the look extensions of <TakeoverPanel> share. */
export function PanelSection({ title, children, actions }: PanelSectionProps) {
  return (
    <section className="vm-panel__section" aria-label={title}>
      <div className="vm-panel__section-title">
        <h3>{title}</h3>
        {actions}
      </div>
      {children}
    </section>
  );
}
