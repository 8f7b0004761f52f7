/**
 * <VmliveViewer>: the screen of one VM — live video or screenshots (hybrid
 * mode), the status ("Live" / "Screenshots: <reason>"), stats and
 * fullscreen, and, while this viewer holds control, mouse and keyboard input
 * to the VM. Given controllerUrl, vmId and token it runs its own session;
 * without them it shows the session of the <VmliveProvider> around it (so a
 * <TakeoverPanel> elsewhere controls the same connection). React only
 * renders: the session, its state machines and the input logic are plain
 * modules.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { InputSender } from '../control/inputSender.js';
import { LEAVE_SHORTCUT_LABEL } from '../control/keyboardInput.js';
import { attachRemoteInput } from '../control/remoteInput.js';
import { stageView } from '../session/stageView.js';
import { StepBoxOverlay } from './RunSections.js';
import { StatsOverlay } from './StatsOverlay.js';
import { useVmlive, useVmliveContext, VmliveProvider, type VmliveSessionProps } from './VmliveProvider.js';

export interface VmliveViewerLook {
  /** Fill the parent (a full-window page) instead of a 16:9 box sized by its width. */
  fill?: boolean;
  className?: string;
}

/** Either the session's props (a viewer on its own) or none (inside a <VmliveProvider>). */
export type VmliveViewerProps = VmliveViewerLook &
  (VmliveSessionProps | { controllerUrl?: undefined; vmId?: undefined; token?: undefined });

export function VmliveViewer(props: VmliveViewerProps) {
  const { fill, className, ...session } = props;
  if (session.controllerUrl === undefined) return <Screen fill={fill} className={className} />;
  return (
    <VmliveProvider {...session}>
      <Screen fill={fill} className={className} />
    </VmliveProvider>
  );
}

function Screen({ fill = false, className }: VmliveViewerLook) {
  const { stageRef, leaveTargetRef } = useVmliveContext('VmliveViewer');
  const { state, session } = useVmlive();
  const videoRef = useRef<HTMLVideoElement>(null);
  const toolbarRef = useRef<HTMLDivElement>(null);
  const [showStats, setShowStats] = useState(false);
  const [fullscreen, setFullscreen] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const view = stageView(state);
  const { vmId } = state;
  const holding = state.control.holding;

  useEffect(() => {
    const video = videoRef.current;
    return video ? session.attachVideo(video) : undefined;
  }, [session]);

  // Control input: from "Take control" on; held by the takeover until the VM confirms (InputGate).
  const input = state.takeover.input;
  useEffect(() => {
    const stage = stageRef.current;
    const video = videoRef.current;
    if (!input || !stage || !video) return;
    const sender = new InputSender(input);
    const leave = () => (leaveTargetRef.current ?? toolbarRef.current?.querySelector('button'))?.focus();
    const detach = attachRemoteInput(stage, video, sender, leave);
    return () => {
      // Stop sending before detaching: at every change of holder (and when the session ends) the
      // helper itself releases every key and button this viewer still holds down, and key-ups sent
      // now would only be rejected (not-holder).
      sender.dispose();
      detach();
    };
  }, [input, stageRef, leaveTargetRef]);

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement === stageRef.current);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, [stageRef]);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), 5000);
    return () => clearTimeout(timer);
  }, [notice]);

  const toggleFullscreen = useCallback(() => {
    const stage = stageRef.current;
    if (!stage) return;
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
    else void stage.requestFullscreen().catch(() => setNotice('Fullscreen is not available here.'));
  }, [stageRef]);

  // The screenshot is on screen one frame after it loaded (measured against the first live frame).
  const onSnapshotLoad = useCallback(() => requestAnimationFrame(() => session.snapshotPainted()), [session]);

  const classes = ['vm-viewer', fill ? 'vm-viewer--fill' : '', className ?? ''].filter(Boolean).join(' ');
  return (
    <section className={classes} aria-label={`VM ${vmId}`}>
      <div className="vm-toolbar" ref={toolbarRef}>
        <span
          className={`vm-status vm-status--${view.tone}`}
          role="status"
          aria-live="polite"
          data-phase={state.viewer.phase}
          data-display={state.display.kind}
        >
          <span className="vm-status__dot" aria-hidden="true" />
          {view.status}
        </span>
        <span className="vm-toolbar__spacer" />
        <button type="button" aria-pressed={showStats} onClick={() => setShowStats((v) => !v)}>
          Stats
        </button>
        <button type="button" aria-pressed={fullscreen} onClick={toggleFullscreen}>
          {fullscreen ? 'Exit fullscreen' : 'Fullscreen'}
        </button>
      </div>
      {/* A focusable "application" region: while you hold control, keys typed here go to the VM. */}
      <div
        ref={(el) => {
          stageRef.current = el;
        }}
        className={`vm-stage${holding ? ' vm-stage--control' : ''}`}
        data-takeover={state.takeover.phase}
        data-display={state.display.kind}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the stage receives keyboard input for the VM
        tabIndex={0}
        role="application"
        aria-roledescription="remote screen"
        aria-label={
          holding
            ? `Screen of VM ${vmId}. You have control: keyboard and mouse input go to the VM. Press ${LEAVE_SHORTCUT_LABEL} to leave.`
            : `Screen of VM ${vmId}`
        }
      >
        <video
          ref={videoRef}
          className={`vm-video${view.videoStale ? ' vm-video--stale' : ''}`}
          muted
          autoPlay
          playsInline
          disablePictureInPicture
        />
        {view.showSnapshot && state.snapshot.url && (
          // Pointer events pass through to the video below, whose frame has the VM's size: control
          // input keeps working on screenshots while the connection (and its data channel) is up.
          <img
            className="vm-snapshot"
            src={state.snapshot.url}
            alt={`Latest screenshot of VM ${vmId}`}
            onLoad={onSnapshotLoad}
          />
        )}
        {view.overlay && (
          <div className="vm-overlay" aria-hidden="true">
            <span className="vm-spinner" />
            <p>{view.overlay}</p>
          </div>
        )}
        {view.bar && (
          <div className="vm-snapshot-bar" data-testid="snapshot-bar">
            <span>{view.bar.text}</span>
            {view.bar.retry && (
              <button type="button" onClick={() => session.retryLive()} disabled={view.bar.retry === 'retrying'}>
                {view.bar.retry === 'retrying' ? 'Retrying live…' : 'Retry live'}
              </button>
            )}
          </div>
        )}
        <StepBoxOverlay videoRef={videoRef} />
        {showStats && <StatsOverlay stats={state.stats} />}
      </div>
      {notice && (
        <p className="vm-notice" role="alert">
          {notice}
        </p>
      )}
    </section>
  );
}
