/**
 * One embedded view of one VM, without any UI framework: the live
 * connection (ViewerConnection), the takeover on it (Takeover), the
 * screenshot poller and hybrid mode's choice between them (displayPolicy.ts).
 * The React components and the <vmlive-viewer> element only render its
 * state and call its actions, so both behave the same.
 *
 * Switching between live video and screenshots never touches the connection
 * or the takeover: the connection keeps running under the screenshots (it is
 * how the policy learns that live video is good again, and it carries control
 * input), so control and the panel's state survive every switch. It is opened
 * the first time live video is wanted (not in mode "screenshot", nor in auto
 * while the browser asks to save data) and closed only by dispose().
 */
import { ApiClient, type FetchLike, type IceTransportPolicy } from '@vmlive/protocol';
import { ControlClient } from '../api/controlClient.js';
import { readTokenClaims } from '../api/tokenClaims.js';
import type { StreamStats } from '../connection/streamStats.js';
import { ViewerConnection, type ViewerConnectionOptions } from '../connection/viewerConnection.js';
import { describeReason, type ViewerReasonCode, type ViewerState } from '../connection/viewerState.js';
import { sessionStorageOrNull, tabControlMemory } from '../control/controlMemory.js';
import { Takeover, type TakeoverOptions, type TakeoverState } from '../control/takeover.js';
import { installDebugHooks } from '../debug/debugHooks.js';
import {
  DEFAULT_DISPLAY_POLICY,
  type DisplayInput,
  type DisplayMemory,
  type DisplayPolicyOptions,
  type DisplayState,
  initialDisplay,
  nextDisplay,
  type ViewerMode,
  wantsLive,
} from '../display/displayPolicy.js';
import { browserNetworkHints, type NetworkHints } from '../display/networkHints.js';
import { SnapshotPoller, type SnapshotUpdate } from '../display/snapshotPoller.js';
import { type ControlView, controlView } from '../panel/controlView.js';

export interface VmliveSessionOptions {
  /** Controller origin, e.g. "https://vmlive.example.com" (the /api/... paths are appended). */
  controllerUrl: string;
  vmId: string;
  /** Viewer token (role view or control); the operator token also works for viewing. */
  token: string;
  /** Default "auto". */
  mode?: ViewerMode;
  /**
   * `relay`: every live session this viewer opens is relay-only (TURN on both sides, so the VM and
   * the path to it never see this viewer's address). Default: the deployment's policy.
   */
  iceTransportPolicy?: IceTransportPolicy;
  /** Seams for tests and development. */
  fetch?: FetchLike;
  connection?: Partial<Omit<ViewerConnectionOptions, 'baseUrl' | 'vmId' | 'token' | 'fetch'>>;
  takeover?: Pick<TakeoverOptions, 'grantTimeoutMs' | 'heldInputWindowMs'>;
  displayPolicy?: Partial<DisplayPolicyOptions>;
  networkHints?: NetworkHints;
  snapshotIntervalMs?: number;
  /** Install `window.__vmlive` (default true). */
  debugHooks?: boolean;
}

export interface VmliveState {
  vmId: string;
  mode: ViewerMode;
  /** The live connection. */
  viewer: ViewerState;
  /** What is shown, live video or screenshots, and why. */
  display: DisplayState;
  /** The latest screenshot (a blob: URL), while screenshots are shown. */
  snapshot: SnapshotUpdate;
  takeover: TakeoverState;
  control: ControlView;
  /** The token allows taking control (role `control`). */
  canControl: boolean;
  stats: StreamStats | null;
  /** A frame of the current live stream has been presented. */
  firstFrame: boolean;
}

/** The live view failed for good (a token or a VM problem, or reconnecting gave up). */
export class VmliveError extends Error {
  override readonly name = 'VmliveError';
  constructor(
    readonly code: ViewerReasonCode,
    message: string,
  ) {
    super(message);
  }
}

export interface VmliveSessionEvents {
  state: VmliveState;
  display: DisplayState;
  control: ControlView;
  error: VmliveError;
  /** A sentence for the user (a take refused, input dropped, control lost). */
  notice: string;
}

type Listener<T> = (value: T) => void;

/** What attachVideo uses of a <video> element. */
export type AttachableVideo = Pick<
  HTMLVideoElement,
  'srcObject' | 'play' | 'requestVideoFrameCallback' | 'addEventListener'
>;

/** After "gave up reconnecting", try live again this often while screenshots stand in for it. */
const RETRY_AFTER_GAVE_UP_MS = 30_000;

export class VmliveSession {
  readonly vmId: string;
  readonly api: ApiClient;
  readonly canControl: boolean;
  private readonly connection: ViewerConnection;
  private readonly takeover: Takeover;
  private readonly poller: SnapshotPoller;
  private readonly hints: NetworkHints;
  private readonly policy: DisplayPolicyOptions;
  private readonly debug: ReturnType<typeof installDebugHooks> | null;
  private readonly listeners: { [K in keyof VmliveSessionEvents]: Set<Listener<VmliveSessionEvents[K]>> } = {
    state: new Set(),
    display: new Set(),
    control: new Set(),
    error: new Set(),
    notice: new Set(),
  };
  private readonly offs: Array<() => void> = [];
  private memory: DisplayMemory;
  private _state: VmliveState;
  private polling = false;
  private started = false;
  private disposed = false;
  private recheckTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly timings = { snapshotPaintedAt: null as number | null, firstFramePaintedAt: null as number | null };

  constructor(options: VmliveSessionOptions) {
    const { controllerUrl: baseUrl, vmId, token } = options;
    this.vmId = vmId;
    this.api = new ApiClient({ baseUrl, token, fetch: options.fetch });
    this.canControl = readTokenClaims(token)?.role === 'control';
    this.connection = new ViewerConnection({
      ...options.connection,
      baseUrl,
      vmId,
      token,
      iceTransportPolicy: options.iceTransportPolicy ?? options.connection?.iceTransportPolicy,
      fetch: options.fetch,
    });
    this.takeover = new Takeover({
      ...options.takeover,
      control: new ControlClient(this.api, { vmId }),
      connection: this.connection,
      canControl: this.canControl,
      memory: tabControlMemory(sessionStorageOrNull(), vmId),
    });
    this.poller = new SnapshotPoller({ api: this.api, vmId, intervalMs: options.snapshotIntervalMs }, (update) =>
      this.set({ snapshot: { ...update } }),
    );
    this.hints = options.networkHints ?? browserNetworkHints();
    this.policy = { ...DEFAULT_DISPLAY_POLICY, ...options.displayPolicy };
    const mode = options.mode ?? 'auto';
    this.memory = initialDisplay(this.displayInput(mode, false), Date.now(), this.policy);
    this.debug = options.debugHooks === false ? null : installDebugHooks(this.connection);
    const takeover = this.takeover.state;
    this._state = {
      vmId,
      mode,
      viewer: this.connection.state,
      display: this.memory.display,
      snapshot: { url: null, at: null, error: null },
      takeover,
      control: controlView({ takeover, canControl: this.canControl, live: false }),
      canControl: this.canControl,
      stats: null,
      firstFrame: false,
    };
  }

  get state(): VmliveState {
    return this._state;
  }

  on<K extends keyof VmliveSessionEvents>(event: K, listener: Listener<VmliveSessionEvents[K]>): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Starts watching control and, as the mode wants, screenshots and the live connection. */
  start(): void {
    if (this.started || this.disposed) return;
    this.started = true;
    const c = this.connection;
    this.offs.push(
      c.on('state', (viewer) => this.onViewerState(viewer)),
      c.on('stats', (stats) => {
        this.set({ stats });
        this.feed({ type: 'sample', sample: stats });
      }),
      c.on('stream', () => this.set({ firstFrame: false })),
      this.takeover.on('state', (takeover) => this.set({ takeover })),
      this.takeover.on('notice', (text) => this.emit('notice', text)),
      this.hints.watch(() => this.inputChanged()),
    );
    // Tell the controller right away when the tab goes (keepalive DELETE): a closed tab ends its
    // session at once; a reload takes control back within the controller's grace (controlMemory.ts).
    if (typeof window !== 'undefined') {
      const onPageHide = () => this.dispose();
      window.addEventListener('pagehide', onPageHide);
      this.offs.push(() => window.removeEventListener('pagehide', onPageHide));
    }
    // The screenshot's request goes first: it is what the user sees first, and the control and
    // signaling long-polls that follow each hold one of the browser's few connections to the controller.
    this.applyDisplay();
    this.takeover.start();
    this.maybeStartLive();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const off of this.offs.splice(0)) off();
    this.clearTimer('recheckTimer');
    this.clearTimer('retryTimer');
    this.takeover.dispose();
    this.connection.close();
    this.poller.stop();
    this.debug?.dispose();
  }

  setMode(mode: ViewerMode): void {
    if (mode === this._state.mode) return;
    this.set({ mode });
    this.inputChanged();
  }

  take(): void {
    this.takeover.take();
  }

  /** Hands control back to the automation. */
  release(): void {
    this.takeover.release();
  }

  pause(): void {
    this.takeover.pause();
  }

  resume(): void {
    this.takeover.resume();
  }

  /** The "Retry live" button: a new live attempt now. */
  retryLive(): void {
    this.connection.retryNow();
  }

  /** Raw W3C stats of the current peer connection (for a stats view). */
  getRawStats(): Promise<RTCStatsReport | null> {
    return this.connection.getRawStats();
  }

  /**
   * Shows the live stream in `video` (kept across reconnects) and learns from
   * it when a frame has been presented, which is when auto mode goes live.
   */
  attachVideo(video: AttachableVideo): () => void {
    let frameFor: MediaStream | null = null;
    const show = (stream: MediaStream | null) => {
      // Keep the last frame on screen while reconnecting; replace it as soon as a new stream exists.
      if (!stream || video.srcObject === stream) return;
      video.srcObject = stream;
      void video.play().catch(() => {});
      frameFor = null;
      const presented = () => {
        if (video.srcObject !== stream || frameFor === stream || this.disposed) return;
        frameFor = stream;
        this.timings.firstFramePaintedAt ??= performance.now();
        this.set({ firstFrame: true });
      };
      // requestVideoFrameCallback fires when a frame is handed to the compositor; 'loadeddata' where it is missing.
      if (typeof video.requestVideoFrameCallback === 'function') {
        // Every presented frame of this stream, for the glass-to-glass meter (one callback per frame).
        const each: VideoFrameRequestCallback = (_now, metadata) => {
          if (video.srcObject !== stream || this.disposed) return;
          presented();
          this.connection.framePresented(metadata);
          video.requestVideoFrameCallback(each);
        };
        video.requestVideoFrameCallback(each);
      } else video.addEventListener('loadeddata', presented, { once: true });
    };
    show(this.connection.stream);
    return this.connection.on('stream', show);
  }

  /** The renderer painted a screenshot (measured: snapshot-first paint vs the first live frame). */
  snapshotPainted(): void {
    this.timings.snapshotPaintedAt ??= performance.now();
    this.debug?.update({ timings: { ...this.timings } });
  }

  private onViewerState(viewer: ViewerState): void {
    this.set({ viewer });
    this.clearTimer('retryTimer');
    if (viewer.phase === 'failed') {
      this.emit('error', new VmliveError(viewer.reason.code, describeReason(viewer.reason)));
      if (viewer.reason.code === 'gave-up') {
        this.retryTimer = setTimeout(() => this.connection.retryNow(), RETRY_AFTER_GAVE_UP_MS);
      }
    }
  }

  private displayInput(mode: ViewerMode, firstFrame: boolean): DisplayInput {
    const viewer = this.connection.state;
    return { mode, phase: viewer.phase, viewerReason: viewer.reason, firstFrame, hint: this.hints.current() };
  }

  private inputChanged(): void {
    this.feed({ type: 'input', input: this.displayInput(this._state.mode, this._state.firstFrame) });
    this.maybeStartLive();
  }

  private maybeStartLive(): void {
    if (!this.started || this.disposed || this.connection.state.phase !== 'idle') return;
    if (wantsLive(this._state.mode, this.hints.current())) this.connection.start();
  }

  private feed(event: Parameters<typeof nextDisplay>[1]): void {
    if (this.disposed) return;
    this.memory = nextDisplay(this.memory, event, Date.now(), this.policy);
    this.applyDisplay();
    if (this.memory.display !== this._state.display) this.set({ display: this.memory.display });
  }

  /** Acts on the policy's answer: the poller runs while screenshots are shown; the next wake-up is set. */
  private applyDisplay(): void {
    const { display, recheckAt } = this.memory;
    this.clearTimer('recheckTimer');
    if (recheckAt !== null) {
      this.recheckTimer = setTimeout(() => this.feed({ type: 'tick' }), Math.max(0, recheckAt - Date.now()));
    }
    const screenshots = display.kind === 'screenshots';
    if (this.started && screenshots !== this.polling) {
      this.polling = screenshots;
      if (screenshots) this.poller.start();
      else this.poller.stop(); // live: the VM need not encode a JPEG a second for us
    }
  }

  private set(patch: Partial<VmliveState>): void {
    if (this.disposed) return;
    const prev = this._state;
    const next = { ...prev, ...patch };
    if (next.viewer !== prev.viewer || next.firstFrame !== prev.firstFrame || next.mode !== prev.mode) {
      const input = this.displayInput(next.mode, next.firstFrame);
      this.memory = nextDisplay(this.memory, { type: 'input', input }, Date.now(), this.policy);
      this.applyDisplay();
      next.display = this.memory.display;
    }
    const live = next.viewer.phase === 'connected';
    if (next.takeover !== prev.takeover || live !== (prev.viewer.phase === 'connected')) {
      next.control = controlView({ takeover: next.takeover, canControl: this.canControl, live });
    }
    this._state = next;
    this.debug?.update({
      control: next.takeover.control,
      takeover: next.takeover.phase,
      mode: next.mode,
      display: next.display,
      fallback: next.display.kind === 'screenshots',
      timings: { ...this.timings },
    });
    this.emit('state', next);
    if (next.display !== prev.display) this.emit('display', next.display);
    if (next.control !== prev.control) this.emit('control', next.control);
  }

  private emit<K extends keyof VmliveSessionEvents>(event: K, value: VmliveSessionEvents[K]): void {
    if (this.disposed) return;
    for (const listener of this.listeners[event]) listener(value);
  }

  private clearTimer(which: 'recheckTimer' | 'retryTimer'): void {
    const timer = this[which];
    if (timer !== null) clearTimeout(timer);
    this[which] = null;
  }
}
