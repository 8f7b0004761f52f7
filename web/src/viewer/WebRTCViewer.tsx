/**
 * <WebRTCViewer>: live view (and, with a control token, takeover) of one VM.
 * React only renders; the connection, state machine, stats and input logic
 * are plain modules (viewerConnection.ts and friends).
 */
import { ApiClient, ApiError, type ControlState, type InputFeedback } from '@vmlive/protocol';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ControlClient, describeHolder } from '../api/controlClient.js';
import { readTokenClaims } from '../api/tokenClaims.js';
import { InputSender } from '../control/inputSender.js';
import { LEAVE_SHORTCUT_LABEL } from '../control/keyboardInput.js';
import { attachRemoteInput } from '../control/remoteInput.js';
import { decideRetake } from '../control/retakePolicy.js';
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
}

const PHASE_LABEL: Record<ViewerPhase, string> = {
  idle: 'Starting',
  connecting: 'Connecting',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  failed: 'Failed',
  ended: 'Ended',
};

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

  const [state, setState] = useState<ViewerState | null>(null);
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [channel, setChannel] = useState<RTCDataChannel | null>(null);
  const [stats, setStats] = useState<StreamStats | null>(null);
  const [showStats, setShowStats] = useState(false);
  const [fallback, setFallback] = useState(false);
  const [hasVideo, setHasVideo] = useState(false);
  const [control, setControl] = useState<ControlState | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [fullscreen, setFullscreen] = useState(false);

  const role = useMemo(() => readTokenClaims(token)?.role ?? null, [token]);
  const controlClient = useMemo(
    () => new ControlClient(new ApiClient({ baseUrl, token }), { vmId }),
    [baseUrl, token, vmId],
  );

  // The connection: one per (baseUrl, vmId, token).
  useEffect(() => {
    const connection = new ViewerConnection({ ...optionsRef.current, baseUrl, vmId, token });
    connectionRef.current = connection;
    const debug = installDebugHooks(connection);
    debugRef.current = debug;
    const offs = [
      connection.on('state', (s) => {
        setState(s);
        onStateChangeRef.current?.(s);
      }),
      connection.on('session', setSessionId),
      connection.on('channel', setChannel),
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
      connection.on('feedback', (feedback: InputFeedback) => {
        if (feedback.t === 'rejected') setNotice(`Input rejected by the VM (${feedback.reason})`);
      }),
    ];
    // Tell the controller right away when the tab goes (keepalive DELETE).
    const onPageHide = () => connection.close();
    window.addEventListener('pagehide', onPageHide);
    connection.start();
    return () => {
      window.removeEventListener('pagehide', onPageHide);
      for (const off of offs) off();
      connection.close();
      debug.dispose();
      connectionRef.current = null;
      debugRef.current = null;
      setState(null);
      setSessionId(null);
      setChannel(null);
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
    debugRef.current?.update({ fallback, control });
  }, [fallback, control]);

  // Who holds control (long-poll). View tokens may be refused (forbidden): then we just show nothing.
  useEffect(() => {
    const abort = new AbortController();
    void controlClient.watch(setControl, abort.signal);
    return () => abort.abort();
  }, [controlClient]);

  const holding = control?.mode === 'user' && sessionId !== null && control.holder === sessionId;

  // Keep control across reconnects (see control/retakePolicy.ts).
  const wantControlRef = useRef(false);
  const mySessionsRef = useRef(new Set<string>());
  const retakenForRef = useRef<string | null>(null);
  if (sessionId) mySessionsRef.current.add(sessionId);

  // Takeover input: only while holding control and the channel is open.
  useEffect(() => {
    const stage = stageRef.current;
    const video = videoRef.current;
    if (!holding || !channel || !stage || !video) return;
    const sender = new InputSender(channel);
    const detach = attachRemoteInput(stage, video, sender, () => releaseButtonRef.current?.focus());
    return () => {
      detach();
      sender.dispose();
    };
  }, [holding, channel]);

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

  const act = useCallback(
    async (action: 'take' | 'release') => {
      if (!sessionId) return;
      if (action === 'release') wantControlRef.current = false;
      try {
        setControl(await controlClient.act(action, sessionId));
        if (action === 'take') {
          wantControlRef.current = true;
          stageRef.current?.focus({ preventScroll: true });
        }
      } catch (err) {
        if (err instanceof ApiError && err.is('control_held')) setNotice('Someone else holds control right now.');
        else if (err instanceof ApiError && err.is('not_holder')) setNotice('You no longer hold control.');
        else if (err instanceof ApiError && err.is('forbidden')) setNotice('This link does not allow control.');
        else setNotice(`Could not ${action} control: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    [controlClient, sessionId],
  );

  useEffect(() => {
    const decision = decideRetake({
      wantControl: wantControlRef.current,
      control,
      sessionId,
      live,
      mySessions: mySessionsRef.current,
    });
    if (decision === 'forget') {
      wantControlRef.current = false;
      setNotice('Another viewer took control.');
    } else if (decision === 'take' && sessionId && retakenForRef.current !== sessionId) {
      retakenForRef.current = sessionId; // one automatic try per session
      void act('take');
    }
  }, [control, sessionId, live, act]);

  const toggleFullscreen = useCallback(() => {
    const stage = stageRef.current;
    if (!stage) return;
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
    else void stage.requestFullscreen().catch(() => setNotice('Fullscreen is not available here.'));
  }, []);

  const retry = useCallback(() => connectionRef.current?.retryNow(), []);

  const holderText = control ? describeHolder(control, sessionId).text : null;
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
          (holding ? (
            <button ref={releaseButtonRef} type="button" onClick={() => void act('release')}>
              Release control
            </button>
          ) : (
            <button
              type="button"
              onClick={() => void act('take')}
              disabled={!sessionId || !live || control?.mode === 'paused'}
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
