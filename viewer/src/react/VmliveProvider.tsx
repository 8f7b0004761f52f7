/**
 * <VmliveProvider>: one VmliveSession for everything below it, so a
 * <VmliveViewer> and a <TakeoverPanel> placed anywhere in an app's layout
 * share one connection, one takeover and one hybrid-mode choice.
 * `useVmlive()` gives any component below it (the panel's future sections
 * among them) the session's state, its actions and its ApiClient.
 */

import type { IceTransportPolicy } from '@vmlive/protocol';
import {
  createContext,
  type ReactNode,
  type RefObject,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import type { ViewerState } from '../connection/viewerState.js';
import type { DisplayState, ViewerMode } from '../display/displayPolicy.js';
import type { ControlView } from '../panel/controlView.js';
import { RunFeed, type RunState } from '../run/runFeed.js';
import {
  type VmliveError,
  VmliveSession,
  type VmliveSessionOptions,
  type VmliveState,
} from '../session/vmliveSession.js';

export interface VmliveSessionProps {
  /** Controller origin, e.g. "https://vmlive.example.com". */
  controllerUrl: string;
  vmId: string;
  /** Viewer token (role view or control). */
  token: string;
  /** "auto" (default): screenshot first, live when it shows, screenshots when live fails or the link is poor. */
  mode?: ViewerMode;
  /** `relay`: live sessions use TURN relays only, so the VM never sees this viewer's address. A change starts a new session. */
  iceTransportPolicy?: IceTransportPolicy;
  /** The live connection's state changed (phase and reason). */
  onState?(state: ViewerState): void;
  /** Switched between live video and screenshots (with the reason). */
  onDisplay?(display: DisplayState): void;
  /** Who is in control, or this viewer's part in it, changed. */
  onControl?(control: ControlView): void;
  /** The live view failed for good (token expired or refused, VM not found, gave up reconnecting). */
  onError?(error: VmliveError): void;
  /** A sentence for the user: a take refused, input not sent, control lost. */
  onNotice?(text: string): void;
  /** Advanced and test seams (timeouts, policy thresholds, fetch). */
  sessionOptions?: Omit<VmliveSessionOptions, 'controllerUrl' | 'vmId' | 'token' | 'mode'>;
}

interface VmliveContextValue {
  session: VmliveSession;
  /** The VM's run control (steps, instructions, overrides), followed while the provider lives. */
  run: RunFeed;
  /** The viewer's stage: "Take control" focuses it, so typing goes to the VM at once. */
  stageRef: RefObject<HTMLElement | null>;
  /** Where the leave shortcut moves focus to (the panel's "Return control"). */
  leaveTargetRef: RefObject<HTMLElement | null>;
}

const VmliveContext = createContext<VmliveContextValue | null>(null);

export function VmliveProvider({ children, ...props }: VmliveSessionProps & { children?: ReactNode }) {
  const { controllerUrl, vmId, token, iceTransportPolicy, mode = 'auto' } = props;
  const [session, setSession] = useState<{ session: VmliveSession; run: RunFeed } | null>(null);
  const stageRef = useRef<HTMLElement | null>(null);
  const leaveTargetRef = useRef<HTMLElement | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  // One session per (controller, VM, token). A layout effect, so the first paint already has it.
  useLayoutEffect(() => {
    const { sessionOptions, mode: initialMode } = propsRef.current;
    const s = new VmliveSession({
      ...sessionOptions,
      controllerUrl,
      vmId,
      token,
      iceTransportPolicy,
      mode: initialMode,
    });
    let viewer = s.state.viewer;
    const offs = [
      s.on('state', (state) => {
        if (state.viewer === viewer) return;
        viewer = state.viewer;
        propsRef.current.onState?.(viewer);
      }),
      s.on('display', (d) => propsRef.current.onDisplay?.(d)),
      s.on('control', (c) => propsRef.current.onControl?.(c)),
      s.on('error', (e) => propsRef.current.onError?.(e)),
      s.on('notice', (n) => propsRef.current.onNotice?.(n)),
    ];
    const run = new RunFeed(s.api, vmId);
    setSession({ session: s, run });
    s.start();
    run.start(s.canControl);
    return () => {
      for (const off of offs) off();
      run.dispose();
      s.dispose();
      setSession(null);
    };
  }, [controllerUrl, vmId, token, iceTransportPolicy]);

  useEffect(() => {
    session?.session.setMode(mode);
  }, [session, mode]);

  if (!session) return null;
  return (
    <VmliveContext.Provider value={{ session: session.session, run: session.run, stageRef, leaveTargetRef }}>
      {children}
    </VmliveContext.Provider>
  );
}

/** The provider's parts, for the package's components. */
export function useVmliveContext(component: string): VmliveContextValue {
  const value = useContext(VmliveContext);
  if (!value) throw new Error(`<${component}> must be inside a <VmliveProvider>`);
  return value;
}

/**
 * The session's state (re-rendering on every change) and the session itself,
 * for custom controls and panel sections: `session.take()`, `session.api.call(...)`.
 */
export function useVmlive(): { state: VmliveState; session: VmliveSession } {
  const { session } = useVmliveContext('useVmlive');
  const state = useSyncExternalStore(
    (onChange) => session.on('state', onChange),
    () => session.state,
  );
  return { state, session };
}

/** The VM's run control as it changes: the step timeline, its thumbnails, overrides, instructions. */
export function useRun(): { run: RunState; feed: RunFeed } {
  const { run: feed } = useVmliveContext('useRun');
  const run = useSyncExternalStore(
    (onChange) => feed.subscribe(onChange),
    () => feed.current,
  );
  return { run, feed };
}
