/**
 * `@vmlive/viewer`: embed the live view and takeover of a vmlive VM.
 *
 * React: <VmliveViewer> (the screen), <TakeoverPanel> (who is in control,
 * Take / Return / Pause / Resume), <VmliveProvider> to share one session
 * between them, useVmlive() for your own controls and panel sections.
 * Any other framework: VmliveSession, the same session without a UI.
 * Without a framework: the <vmlive-viewer> element (`@vmlive/viewer/element`).
 * Styles: `import '@vmlive/viewer/style.css'`.
 */
// Extracted by the build into dist/style.css (an app imports that file; this import is not kept).
import './styles.css';

export type { StreamStats } from './connection/streamStats.js';
export type { ViewerPhase, ViewerReason, ViewerReasonCode, ViewerState } from './connection/viewerState.js';
export { describeReason } from './connection/viewerState.js';
export type { TakeoverPhase, TakeoverState } from './control/takeover.js';
export type { VmliveDebug } from './debug/debugHooks.js';
export {
  DEFAULT_DISPLAY_POLICY,
  type DisplayKind,
  type DisplayPolicyOptions,
  type DisplayReasonCode,
  type DisplayState,
  describeDisplay,
  type NetworkHint,
  VIEWER_MODES,
  type ViewerMode,
} from './display/displayPolicy.js';
export { browserNetworkHints, fixedNetworkHints, type NetworkHints } from './display/networkHints.js';
export type { SnapshotUpdate } from './display/snapshotPoller.js';
export type { ControlActionId, ControlButton, ControlView, ControlWho } from './panel/controlView.js';
export {
  InstructionsBox,
  OverrideForm,
  StepBoxOverlay,
  StepReplay,
  StepTimeline,
} from './react/RunSections.js';
export { PanelSection, type PanelSectionProps, TakeoverPanel, type TakeoverPanelProps } from './react/TakeoverPanel.js';
export { useRun, useVmlive, VmliveProvider, type VmliveSessionProps } from './react/VmliveProvider.js';
export { VmliveViewer, type VmliveViewerLook, type VmliveViewerProps } from './react/VmliveViewer.js';
export { RunFeed, type RunState } from './run/runFeed.js';
export { type StageView, stageView } from './session/stageView.js';
export {
  VmliveError,
  VmliveSession,
  type VmliveSessionEvents,
  type VmliveSessionOptions,
  type VmliveState,
} from './session/vmliveSession.js';
