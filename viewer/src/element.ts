/**
 * `@vmlive/viewer/element`: the framework-free <vmlive-viewer> custom
 * element, registered on import. No React. (`@vmlive/viewer/standalone` is the
 * same with its dependencies inlined, for a page without a bundler.)
 */
import { VmliveViewerElement } from './element/vmliveViewerElement.js';

export type { ViewerPhase, ViewerReason, ViewerReasonCode, ViewerState } from './connection/viewerState.js';
export type { DisplayKind, DisplayReasonCode, DisplayState, ViewerMode } from './display/displayPolicy.js';
export type { VmliveViewerEventMap } from './element/vmliveViewerElement.js';
export type { ControlButton, ControlView, ControlWho } from './panel/controlView.js';
export { VmliveError, type VmliveState } from './session/vmliveSession.js';
export { VmliveViewerElement };

/** Registers the element as `name` (done for "vmlive-viewer" on import). */
export function defineVmliveViewer(name = 'vmlive-viewer'): void {
  if (customElements.get(name)) return;
  // One class can back one tag name only; other names get a subclass of their own.
  customElements.define(name, name === 'vmlive-viewer' ? VmliveViewerElement : class extends VmliveViewerElement {});
}

defineVmliveViewer();
