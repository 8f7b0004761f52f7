/**
 * <vmlive-viewer>: the viewer for pages without React. Same session, same
 * words and buttons as <VmliveViewer> + <TakeoverPanel> (stageView.ts,
 * controlView.ts), rendered with plain DOM into an open shadow root.
 *
 *   <vmlive-viewer controller-url="https://vmlive.example.com" vm-id="vm-1" token="…" mode="auto"></vmlive-viewer>
 *
 * Attributes: controller-url, vm-id, token (a change starts a new session),
 * mode (auto | live | screenshot; changes in place), fill (fill the parent
 * instead of a 16:9 box), no-panel (hide who is in control and the buttons).
 * Events (bubbling, composed CustomEvents): vmlive-state (detail: the
 * connection's ViewerState), vmlive-display (DisplayState), vmlive-control
 * (ControlView), vmlive-error (VmliveError), vmlive-notice (string).
 * Methods: take(), release(), pause(), resume(), retryLive(); property `state`.
 */

import type { ViewerState } from '../connection/viewerState.js';
import type { InputChannel } from '../control/inputSender.js';
import { InputSender } from '../control/inputSender.js';
import { attachRemoteInput } from '../control/remoteInput.js';
import { type DisplayState, VIEWER_MODES, type ViewerMode } from '../display/displayPolicy.js';
import type { ControlActionId, ControlView } from '../panel/controlView.js';
import { stageView } from '../session/stageView.js';
import { type VmliveError, VmliveSession, type VmliveState } from '../session/vmliveSession.js';
import viewerCss from '../styles.css?inline';

const SESSION_ATTRIBUTES = ['controller-url', 'vm-id', 'token'] as const;
/** A boolean attribute: present, live sessions are relay-only (iceTransportPolicy "relay"). */
const RELAY_ONLY_ATTRIBUTE = 'relay-only';

const SKELETON = `
<section class="vm-viewer" part="viewer">
  <div class="vm-toolbar" part="toolbar">
    <span class="vm-status" role="status" aria-live="polite"><span class="vm-status__dot" aria-hidden="true"></span><span class="vm-status__text">Starting</span></span>
    <span class="vm-toolbar__spacer"></span>
    <span class="vm-who" aria-live="polite"></span>
    <span class="vm-panel__actions"></span>
  </div>
  <div class="vm-stage" tabindex="0" role="application" aria-roledescription="remote screen" part="stage">
    <video class="vm-video vm-video--stale" muted autoplay playsinline disablepictureinpicture></video>
    <img class="vm-snapshot" alt="" hidden>
    <div class="vm-overlay" aria-hidden="true" hidden><span class="vm-spinner"></span><p></p></div>
    <div class="vm-snapshot-bar" hidden><span></span><button type="button" hidden>Retry live</button></div>
  </div>
  <p class="vm-notice" role="alert" hidden></p>
</section>`;

function parseMode(value: string | null): ViewerMode {
  return VIEWER_MODES.find((m) => m === value) ?? 'auto';
}

function must<T extends Element>(root: ParentNode, selector: string): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`vmlive-viewer: ${selector} missing from its template`);
  return el;
}

/** The element's own events, so `addEventListener('vmlive-display', e => e.detail.kind)` is typed. */
export interface VmliveViewerEventMap extends HTMLElementEventMap {
  'vmlive-state': CustomEvent<ViewerState>;
  'vmlive-display': CustomEvent<DisplayState>;
  'vmlive-control': CustomEvent<ControlView>;
  'vmlive-error': CustomEvent<VmliveError>;
  'vmlive-notice': CustomEvent<string>;
}

type OwnEvent = Exclude<keyof VmliveViewerEventMap, keyof HTMLElementEventMap>;

// Declaration merging: the typed overloads sit beside HTMLElement's string ones (lib.dom does the
// same for HTMLElementEventMap).
export interface VmliveViewerElement {
  addEventListener<K extends keyof VmliveViewerEventMap>(
    type: K,
    listener: (this: VmliveViewerElement, ev: VmliveViewerEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof VmliveViewerEventMap>(
    type: K,
    listener: (this: VmliveViewerElement, ev: VmliveViewerEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ): void;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only adds listener overloads.
export class VmliveViewerElement extends HTMLElement {
  static readonly observedAttributes = [...SESSION_ATTRIBUTES, RELAY_ONLY_ATTRIBUTE, 'mode', 'fill', 'no-panel'];

  private readonly root: ShadowRoot;
  private readonly parts: ReturnType<typeof VmliveViewerElement.parts>;
  private session: VmliveSession | null = null;
  private offs: Array<() => void> = [];
  private input: { channel: InputChannel; detach(): void } | null = null;
  private buttonsFor: ControlView['buttons'] | null = null;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    this.root.innerHTML = `<style>${viewerCss}</style>${SKELETON}`;
    this.parts = VmliveViewerElement.parts(this.root);
    this.parts.retry.addEventListener('click', () => this.retryLive());
    this.parts.snapshot.addEventListener('load', () => requestAnimationFrame(() => this.session?.snapshotPainted()));
  }

  private static parts(root: ShadowRoot) {
    return {
      viewer: must<HTMLElement>(root, '.vm-viewer'),
      status: must<HTMLElement>(root, '.vm-status'),
      statusText: must<HTMLElement>(root, '.vm-status__text'),
      who: must<HTMLElement>(root, '.vm-who'),
      actions: must<HTMLElement>(root, '.vm-panel__actions'),
      stage: must<HTMLElement>(root, '.vm-stage'),
      video: must<HTMLVideoElement>(root, 'video'),
      snapshot: must<HTMLImageElement>(root, '.vm-snapshot'),
      overlay: must<HTMLElement>(root, '.vm-overlay'),
      overlayText: must<HTMLElement>(root, '.vm-overlay p'),
      bar: must<HTMLElement>(root, '.vm-snapshot-bar'),
      barText: must<HTMLElement>(root, '.vm-snapshot-bar span'),
      retry: must<HTMLButtonElement>(root, '.vm-snapshot-bar button'),
      notice: must<HTMLElement>(root, '.vm-notice'),
    };
  }

  get state(): VmliveState | null {
    return this.session?.state ?? null;
  }

  take(): void {
    this.session?.take();
    this.parts.stage.focus({ preventScroll: true });
  }

  release(): void {
    this.session?.release();
  }

  pause(): void {
    this.session?.pause();
  }

  resume(): void {
    this.session?.resume();
  }

  retryLive(): void {
    this.session?.retryLive();
  }

  connectedCallback(): void {
    this.open();
  }

  disconnectedCallback(): void {
    this.close();
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value || !this.isConnected) return;
    if (name === 'mode') this.session?.setMode(parseMode(value));
    else if (name === 'fill') this.parts.viewer.classList.toggle('vm-viewer--fill', value !== null);
    else if (name === 'no-panel' && this.session) this.render(this.session.state);
    else {
      this.close();
      this.open();
    }
  }

  private open(): void {
    const [controllerUrl, vmId, token] = SESSION_ATTRIBUTES.map((a) => this.getAttribute(a));
    this.parts.viewer.classList.toggle('vm-viewer--fill', this.hasAttribute('fill'));
    if (!controllerUrl || !vmId || !token || this.session) return;
    const session = new VmliveSession({
      controllerUrl,
      vmId,
      token,
      mode: parseMode(this.getAttribute('mode')),
      iceTransportPolicy: this.hasAttribute(RELAY_ONLY_ATTRIBUTE) ? 'relay' : undefined,
    });
    this.session = session;
    this.parts.viewer.setAttribute('aria-label', `VM ${vmId}`);
    let viewer = session.state.viewer;
    this.offs = [
      session.on('state', (state) => {
        this.render(state);
        if (state.viewer !== viewer) {
          viewer = state.viewer;
          this.fire('vmlive-state', viewer);
        }
      }),
      session.on('display', (d) => this.fire('vmlive-display', d)),
      session.on('control', (c) => this.fire('vmlive-control', c)),
      session.on('error', (e) => this.fire('vmlive-error', e)),
      session.on('notice', (n) => {
        this.showNotice(n);
        this.fire('vmlive-notice', n);
      }),
      session.attachVideo(this.parts.video),
    ];
    session.start();
    this.render(session.state);
  }

  private close(): void {
    for (const off of this.offs.splice(0)) off();
    this.setInput(null);
    this.session?.dispose();
    this.session = null;
    this.buttonsFor = null;
  }

  private fire<K extends OwnEvent>(type: K, detail: VmliveViewerEventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  private render(state: VmliveState): void {
    const p = this.parts;
    const view = stageView(state);
    p.status.className = `vm-status vm-status--${view.tone}`;
    p.status.dataset.phase = state.viewer.phase;
    p.status.dataset.display = state.display.kind;
    p.statusText.textContent = view.status;
    p.stage.dataset.display = state.display.kind;
    p.stage.dataset.takeover = state.takeover.phase;
    p.stage.classList.toggle('vm-stage--control', state.control.holding);
    p.stage.setAttribute('aria-label', `Screen of VM ${state.vmId}`);
    p.video.classList.toggle('vm-video--stale', view.videoStale);
    const url = view.showSnapshot ? state.snapshot.url : null;
    p.snapshot.hidden = url === null;
    if (url !== null && p.snapshot.src !== url) p.snapshot.src = url;
    p.snapshot.alt = `Latest screenshot of VM ${state.vmId}`;
    p.overlay.hidden = view.overlay === null;
    p.overlayText.textContent = view.overlay ?? '';
    p.bar.hidden = view.bar === null;
    p.barText.textContent = view.bar?.text ?? '';
    p.retry.hidden = !view.bar?.retry;
    p.retry.disabled = view.bar?.retry === 'retrying';
    p.retry.textContent = view.bar?.retry === 'retrying' ? 'Retrying live…' : 'Retry live';
    this.renderControl(state.control);
    this.setInput(state.takeover.input);
  }

  private renderControl(view: ControlView): void {
    const p = this.parts;
    const hidden = this.hasAttribute('no-panel');
    p.who.hidden = hidden;
    p.actions.hidden = hidden;
    p.who.dataset.who = view.who ?? '';
    p.who.textContent = view.text;
    if (this.buttonsFor === view.buttons) return;
    this.buttonsFor = view.buttons;
    p.actions.replaceChildren(
      ...view.buttons.map((b) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = b.label;
        button.disabled = !b.enabled;
        if (b.title) button.title = b.title;
        button.dataset.action = b.id;
        button.addEventListener('click', () => this.act(b.id));
        return button;
      }),
    );
  }

  private act(id: ControlActionId): void {
    if (id === 'take') this.take();
    else if (id === 'release') this.release();
    else if (id === 'pause') this.pause();
    else this.resume();
  }

  private setInput(channel: InputChannel | null): void {
    if (this.input?.channel === channel) return;
    this.input?.detach();
    this.input = null;
    if (!channel) return;
    const sender = new InputSender(channel);
    const leave = () => this.parts.actions.querySelector<HTMLButtonElement>('[data-action="release"]')?.focus();
    const detach = attachRemoteInput(this.parts.stage, this.parts.video, sender, leave);
    this.input = {
      channel,
      detach() {
        sender.dispose();
        detach();
      },
    };
  }

  private showNotice(text: string): void {
    const notice = this.parts.notice;
    notice.textContent = text;
    notice.hidden = false;
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      notice.hidden = true;
    }, 5000);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vmlive-viewer': VmliveViewerElement;
  }
}
