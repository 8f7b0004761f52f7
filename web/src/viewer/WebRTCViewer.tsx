/**
 * <WebRTCViewer>: live view (and, with a control token, takeover) of one VM.
 * React only renders; the connection, state machine, stats and input logic
 * are plain modules (viewerConnection.ts and friends).
 */
import { ApiClient, type ControlState } from '@vmlive/protocol';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ControlClient, describeHolder } from '../api/controlClient.js';
import { readTokenClaims } from '../api/tokenClaims.js';
import { sessionStorageOrNull, tabControlMemory } from '../control/controlMemory.js';
import { InputSender } from '../control/inputSender.js';
import { LEAVE_SHORTCUT_LABEL } from '../control/keyboardInput.js';
import { attachRemoteInput } from '../control/remoteInput.js';
import { Takeover, type TakeoverOptions, type TakeoverPhase, type TakeoverState } from '../control/takeover.js';
import { installDebugHooks } from '../debug/debugHooks.js';
import { SnapshotFallback } from './SnapshotFallback.js';
import { StatsOverlay } from './StatsOverlay.js';
import type { StreamStats } from './streamStats.js';
import { ViewerConnection, type ViewerConnectionOptions } from './viewerConnection.js';
import { describeReason, type ViewerPhase, type ViewerState } from './viewerState.js';

export interface WebRTCViewerProps {
  /** Controller base URL, e.g. "https://vmlive.example.com" (no trailing /api). */
  baseUrl: string;
  vmId: string;
  /** Viewer token (role view or control) or the operator token. */
  token: string;
  onStateChange?: (state: ViewerState) => void;
  /** Show the screenshot fallback when not live for this long (ms); 0 disables. Default 8000. */
  autoFallbackMs?: number;
  /** Fill the parent (full-window page) instead of a 16:9 box sized by width. */
  fill?: boolean;
  /** Test/dev seams passed to ViewerConnection (e.g. RTCPeerConnection, timeouts). */
  connectionOptions?: Partial<Omit<ViewerConnectionOptions, 'baseUrl' | 'vmId' | 'token'>>;
  /** Test/dev seams passed to Takeover (e.g. the grant timeout). */
  takeoverOptions?: Pick<TakeoverOptions, 'grantTimeoutMs' | 'heldInputWindowMs'>;
}

const PHASE_LABEL: Record<ViewerPhase, string> = {
  idle: 'Starting',
  connecting: 'Connecting',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  failed: 'Failed',
  ended: 'Ended',
};

/** Who holds control, in words, as this viewer sees it. */
function holderTextFor(phase: TakeoverPhase, control: ControlState, sessionId: string | null): string {
  switch (phase) {
    case 'requesting':
    case 'confirming':
      return 'Taking control…';
    case 'in-control':
      return 'You are in control';
    case 'paused':
      return 'Paused by the operator; your control resumes with the VM';
    case 'idle': {
      const holder = describeHolder(control, sessionId);
      return holder.kind === 'you' ? 'Releasing control…' : holder.text;
    }
  }
}

export function WebRTCViewer(props: WebRTCViewerProps) {
  const { baseUrl, vmId, token, autoFallbackMs = 8000, fill = false } = props;
  const stageRef = useRef<HTMLDivElement>(null);
  const videoRef = useRef<HTMLVideoElement>(null);
  const releaseButtonRef = useRef<HTMLButtonElement>(null);
  const connectionRef = useRef<ViewerConnection | null>(null);
  const debugRef = useRef<ReturnType<typeof installDebugHooks> | null>(null);
  const onStateChangeRef = useRef(props.onStateChange);
  onStateChangeRef.current = props.onStateChange;
  const optionsRef = useRef(props.connectionOptions);
  const takeoverOptionsRef = useRef(props.takeoverOptions);
  const takeoverRef = useRef<Takeover | null>(null);

  const [state, setState] = useState<ViewerState | null>(null);
  const [takeover, setTakeover] = useState<TakeoverState | null>(null);
  const [stats, setStats] = useState<StreamStats | null>(null);
  const [showStats, setShowStats] = useState(false);
  const [fallback, setFallback] = useState(false);
  const [hasVideo, setHasVideo] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [fullscreen, setFullscreen] = useState(false);

  const role = useMemo(() => readTokenClaims(token)?.role ?? null, [token]);

  // The connection and the takeover on it: one per (baseUrl, vmId, token).
  useEffect(() => {
    const connection = new ViewerConnection({ ...optionsRef.current, baseUrl, vmId, token });
    connectionRef.current = connection;
    const takeover = new Takeover({
      ...takeoverOptionsRef.current,
      control: new ControlClient(new ApiClient({ baseUrl, token }), { vmId }),
      connection,
      canControl: readTokenClaims(token)?.role === 'control',
      memory: tabControlMemory(sessionStorageOrNull(), vmId),
    });
    takeoverRef.current = takeover;
    const debug = installDebugHooks(connection);
    debugRef.current = debug;
    const offs = [
      connection.on('state', (s) => {
        setState(s);
        onStateChangeRef.current?.(s);
      }),
      takeover.on('state', (t) => {
        setTakeover(t);
        debug.update({ control: t.control, takeover: t.phase });
      }),
      takeover.on('notice', setNotice),
      connection.on('stats', setStats),
      connection.on('stream', (stream) => {
        // Keep the last frame on screen while reconnecting (dimmed, with the reason on top);
        // replace it as soon as a new stream exists.
        const video = videoRef.current;
        if (stream && video && video.srcObject !== stream) {
          video.srcObject = stream;
          void video.play().catch(() => {});
        }
      }),
    ];
    // Tell the controller right away when the tab goes (keepalive DELETE): a closed tab ends its
    // session at once; a reload takes control back within the controller's grace (controlMemory.ts).
    const onPageHide = () => {
      takeover.dispose();
      connection.close();
    };
    window.addEventListener('pagehide', onPageHide);
    takeover.start();
    connection.start();
    return () => {
      window.removeEventListener('pagehide', onPageHide);
      for (const off of offs) off();
      takeover.dispose();
      connection.close();
      debug.dispose();
      connectionRef.current = null;
      takeoverRef.current = null;
      debugRef.current = null;
      setState(null);
      setTakeover(null);
    };
  }, [baseUrl, vmId, token]);

  const phase = state?.phase ?? 'idle';
  const live = phase === 'connected';
  const failed = phase === 'failed' || phase === 'ended';

  // Screenshot fallback: when not live for `autoFallbackMs`, or at once when failed.
  useEffect(() => {
    if (live) {
      setFallback(false);
      return;
    }
    if (failed) {
      setFallback(true);
      return;
    }
    if (!autoFallbackMs) return;
    const timer = setTimeout(() => setFallback(true), autoFallbackMs);
    return () => clearTimeout(timer);
  }, [live, failed, autoFallbackMs]);

  useEffect(() => {
    debugRef.current?.update({ fallback });
  }, [fallback]);

  const control = takeover?.control ?? null;
  const sessionId = takeover?.sessionId ?? null;
  const phaseOfControl = takeover?.phase ?? 'idle';
  const holding = phaseOfControl === 'in-control';
  // Ours at the controller (input held or flowing, or paused by the operator): the button releases it.
  const ours = phaseOfControl === 'confirming' || phaseOfControl === 'in-control' || phaseOfControl === 'paused';

  // Takeover input: from "Take control" on; held by the takeover until the VM confirms (InputGate).
  const input = takeover?.input ?? null;
  useEffect(() => {
    const stage = stageRef.current;
    const video = videoRef.current;
    if (!input || !stage || !video) return;
    const sender = new InputSender(input);
    const detach = attachRemoteInput(stage, video, sender, () => releaseButtonRef.current?.focus());
    return () => {
      // Stop sending before detaching: at every change of holder (and when the session ends) the
      // helper itself releases every key and button this viewer still holds down, and key-ups sent
      // now would only be rejected (not-holder).
      sender.dispose();
      detach();
    };
  }, [input]);

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement === stageRef.current);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, []);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), 5000);
    return () => clearTimeout(timer);
  }, [notice]);

  const takeControl = useCallback(() => {
    takeoverRef.current?.take();
    // Typing may start at once: the stage has focus, and input is held until the VM confirms.
    stageRef.current?.focus({ preventScroll: true });
  }, []);
  const releaseControl = useCallback(() => takeoverRef.current?.release(), []);

  const toggleFullscreen = useCallback(() => {
    const stage = stageRef.current;
    if (!stage) return;
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
    else void stage.requestFullscreen().catch(() => setNotice('Fullscreen is not available here.'));
  }, []);

  const retry = useCallback(() => connectionRef.current?.retryNow(), []);

  const holderText = control ? holderTextFor(phaseOfControl, control, sessionId) : null;
  const quiet = live || (phase === 'connecting' && state?.reason.code === 'starting');
  const statusText = state ? `${PHASE_LABEL[phase]}${quiet ? '' : ` — ${describeReason(state.reason)}`}` : 'Starting';

  return (
    <section className={`vm-viewer${fill ? ' vm-viewer--fill' : ''}`} aria-label={`VM ${vmId}`}>
      <div className="vm-toolbar">
        <span className={`vm-status vm-status--${phase}`} role="status" aria-live="polite" data-phase={phase}>
          <span className="vm-status__dot" aria-hidden="true" />
          {statusText}
        </span>
        {holderText && (
          <span className="vm-holder" aria-live="polite">
            {holderText}
            {holding && (
              <span className="vm-hint"> · click the screen to type, {LEAVE_SHORTCUT_LABEL} to leave it</span>
            )}
          </span>
        )}
        <span className="vm-toolbar__spacer" />
        {role === 'control' &&
          (ours ? (
            <button ref={releaseButtonRef} type="button" onClick={releaseControl}>
              Release control
            </button>
          ) : (
            <button
              type="button"
              onClick={takeControl}
              disabled={!sessionId || !live || control?.mode === 'paused' || phaseOfControl === 'requesting'}
              title={control?.mode === 'paused' ? 'The operator paused this VM' : undefined}
            >
              Take control
            </button>
          ))}
        <button type="button" aria-pressed={showStats} onClick={() => setShowStats((v) => !v)}>
          Stats
        </button>
        <button type="button" aria-pressed={fullscreen} onClick={toggleFullscreen}>
          {fullscreen ? 'Exit fullscreen' : 'Fullscreen'}
        </button>
      </div>
      {/* A focusable "application" region: while you hold control, keys typed here go to the VM. */}
      <div
        ref={stageRef}
        className={`vm-stage${holding ? ' vm-stage--control' : ''}`}
        data-takeover={phaseOfControl}
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
          className={`vm-video${live && hasVideo ? '' : ' vm-video--stale'}`}
          muted
          autoPlay
          playsInline
          disablePictureInPicture
          onPlaying={() => setHasVideo(true)}
        />
        {!live && !fallback && (
          <div className="vm-overlay" aria-hidden="true">
            <span className="vm-spinner" />
            <p>{statusText}</p>
          </div>
        )}
        {fallback && (
          <SnapshotFallback
            baseUrl={baseUrl}
            vmId={vmId}
            token={token}
            message={
              !state || quiet || state.reason.code === 'retry'
                ? 'Live video has not started yet'
                : `Live video unavailable — ${describeReason(state.reason)}`
            }
            onRetry={retry}
            retrying={phase === 'connecting' && state?.reason.code === 'retry'}
          />
        )}
        {showStats && <StatsOverlay stats={stats} />}
      </div>
      {notice && (
        <p className="vm-notice" role="alert">
          {notice}
        </p>
      )}
    </section>
  );
}
