/**
 * The run-control sections of <TakeoverPanel>: the automation's step timeline
 * with thumbnails, a replay that scrubs them, the instruction box and the
 * override form (the last two for a control token), and the running step's
 * box drawn over the screen. They render the provider's RunFeed (useRun).
 */
import type { OverrideAction, Recording, ScreenBox } from '@vmlive/protocol';
import { type CSSProperties, type FormEvent, type RefObject, useEffect, useState } from 'react';
import { containedContentRect } from '../control/videoCoordinates.js';
import { clockLabel, recordingTimeOf } from '../run/recordingLinks.js';
import { PanelSection } from './TakeoverPanel.js';
import { useRun, useVmlive } from './VmliveProvider.js';

/**
 * `recordings`: the VM's recordings (GET /api/vms/{vmId}/recordings, operator only, so the
 * embedder's backend passes them in); a step a kept segment covers links to its moment there.
 */
export function StepTimeline({ recordings = [] }: { recordings?: readonly Recording[] }) {
  const { run } = useRun();
  return (
    <PanelSection title={`Steps (run ${run.run})`}>
      {run.steps.length === 0 ? (
        <p className="vm-hint">No steps reported yet.</p>
      ) : (
        <ol className="vm-steps" data-testid="step-timeline">
          {run.steps.map((s) => {
            const thumb = run.thumbnails.get(s.index);
            const rec = recordingTimeOf(s.startedAt, recordings);
            return (
              <li key={s.index} className={`vm-step vm-step--${s.status}`} data-index={s.index} data-status={s.status}>
                {thumb ? <img className="vm-step__thumb" src={thumb} alt={`Screen after step ${s.index}`} /> : null}
                <span className="vm-step__text">
                  {s.index}. {s.action}
                  {s.target ? ` ${s.target}` : ''} · {s.status}
                </span>
                {rec ? (
                  <a
                    className="vm-step__recording"
                    href={rec.url}
                    target="_blank"
                    rel="noreferrer"
                    data-testid="step-recording-link"
                  >
                    ▶ {clockLabel(rec.recordingS)} in the recording
                  </a>
                ) : null}
              </li>
            );
          })}
        </ol>
      )}
    </PanelSection>
  );
}

/** Scrubs the timeline's thumbnails (the run so far, as the automation saw it). */
export function StepReplay() {
  const { run } = useRun();
  const frames = run.steps.filter((s) => run.thumbnails.has(s.index));
  const [pos, setPos] = useState(0);
  const at = Math.min(pos, Math.max(0, frames.length - 1));
  const step = frames[at];
  if (!step) return null;
  return (
    <PanelSection title="Replay">
      <img
        className="vm-replay__frame"
        src={run.thumbnails.get(step.index)}
        alt={`Step ${step.index}: ${step.action}`}
      />
      <input
        type="range"
        min={0}
        max={frames.length - 1}
        value={at}
        aria-label="Step"
        onChange={(e) => setPos(Number(e.currentTarget.value))}
      />
      <p className="vm-hint" data-testid="replay-step">
        Step {step.index}: {step.action} {step.target ?? ''} · {step.status}
      </p>
    </PanelSection>
  );
}

export function InstructionsBox() {
  const { state } = useVmlive();
  const { run, feed } = useRun();
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const current = run.instructions;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (text === null) return;
    feed.setInstructions(text).then(
      () => {
        setText(null);
        setError(null);
      },
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return (
    <PanelSection title={`Instructions${current ? ` (v${current.version})` : ''}`}>
      {state.canControl ? (
        <form onSubmit={submit} className="vm-form">
          <textarea
            aria-label="Instructions"
            value={text ?? current?.text ?? ''}
            onChange={(e) => setText(e.currentTarget.value)}
            rows={3}
          />
          <button type="submit" disabled={text === null}>
            Send instructions
          </button>
          {error && <p role="alert">{error}</p>}
        </form>
      ) : (
        <p>{current?.text || 'None.'}</p>
      )}
    </PanelSection>
  );
}

const KINDS = ['type', 'click-selector', 'click-xy', 'scroll', 'navigate'] as const;
type Kind = (typeof KINDS)[number];

function actionOf(kind: Kind, a: string, b: string): OverrideAction {
  switch (kind) {
    case 'type':
      return { type: 'type', text: a };
    case 'click-selector':
      return { type: 'click', selector: a };
    case 'click-xy':
      return { type: 'click', x: Number(a), y: Number(b) };
    case 'scroll':
      return { type: 'scroll', dx: Number(a), dy: Number(b) };
    case 'navigate':
      return { type: 'navigate', url: a };
  }
}

/** Queues a manual action the automation runs (and acks) before its next step. */
export function OverrideForm() {
  const { state } = useVmlive();
  const { run, feed } = useRun();
  const [kind, setKind] = useState<Kind>('type');
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (!state.canControl) return null;
  const two = kind === 'click-xy' || kind === 'scroll';
  const submit = (e: FormEvent) => {
    e.preventDefault();
    feed.queueOverride(actionOf(kind, a, b)).then(
      () => {
        setA('');
        setB('');
        setError(null);
      },
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  const last = run.overrides.slice(-5);
  return (
    <PanelSection title="Override the next step">
      <form onSubmit={submit} className="vm-form">
        <select
          aria-label="Action"
          value={kind}
          onChange={(e) => {
            const k = KINDS.find((x) => x === e.currentTarget.value);
            if (k) setKind(k);
          }}
        >
          <option value="type">Type text</option>
          <option value="click-selector">Click element (selector)</option>
          <option value="click-xy">Click at x, y</option>
          <option value="scroll">Scroll by dx, dy</option>
          <option value="navigate">Go to URL</option>
        </select>
        <input
          aria-label={two ? (kind === 'scroll' ? 'dx' : 'x') : 'Value'}
          value={a}
          onChange={(e) => setA(e.currentTarget.value)}
        />
        {two && (
          <input aria-label={kind === 'scroll' ? 'dy' : 'y'} value={b} onChange={(e) => setB(e.currentTarget.value)} />
        )}
        <button type="submit">Queue override</button>
        {error && <p role="alert">{error}</p>}
      </form>
      {last.length > 0 && (
        <ul className="vm-overrides" data-testid="overrides">
          {last.map((o) => (
            <li key={o.id} data-id={o.id} data-status={o.status}>
              {o.action.type} · {o.status}
              {o.detail ? ` (${o.detail})` : ''}
            </li>
          ))}
        </ul>
      )}
    </PanelSection>
  );
}

/** The element the running step acts on, framed over the screen (video or screenshot) at its place. */
export function StepBoxOverlay({ videoRef }: { videoRef: RefObject<HTMLVideoElement | null> }) {
  const { run } = useRun();
  const box: ScreenBox | undefined = run.running?.box;
  const [, redraw] = useState(0);
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    const again = () => redraw((n) => n + 1);
    const ro = new ResizeObserver(again);
    ro.observe(video);
    video.addEventListener('resize', again);
    return () => {
      ro.disconnect();
      video.removeEventListener('resize', again);
    };
  }, [videoRef]);
  const video = videoRef.current;
  const running = run.running;
  if (!box || !running || !video?.videoWidth) return null;
  // Offsets within the stage: the video fills it, its frame letterboxed (object-fit: contain).
  const frame = containedContentRect(
    { left: video.offsetLeft, top: video.offsetTop, width: video.clientWidth, height: video.clientHeight },
    video.videoWidth,
    video.videoHeight,
  );
  const k = frame.width / video.videoWidth;
  const style: CSSProperties = {
    left: frame.left + box.x * k,
    top: frame.top + box.y * k,
    width: box.w * k,
    height: box.h * k,
  };
  return (
    <div className="vm-step-box" style={style} data-testid="step-box" data-index={running.index} aria-hidden="true">
      <span>{running.action}</span>
    </div>
  );
}
