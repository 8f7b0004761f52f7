/**
 * What the viewer's status line and stage show for a session state: pure, so
 * the React <VmliveViewer> and the <vmlive-viewer> element say the same
 * words ("Live" / "Screenshots: <reason>", or why live video is not up).
 */
import { describeReason, type ViewerPhase } from '../connection/viewerState.js';
import { describeDisplay } from '../display/displayPolicy.js';
import type { VmliveState } from './vmliveSession.js';

export type StatusTone = 'live' | 'screenshots' | 'waiting' | 'failed';

export interface StageView {
  status: string;
  tone: StatusTone;
  /** Show the latest screenshot over the video. */
  showSnapshot: boolean;
  /** The video on screen is not current (dimmed). */
  videoStale: boolean;
  /** A spinner with these words, when there is nothing to look at yet. */
  overlay: string | null;
  /** The screenshot bar: what the screenshot is, and the "Retry live" button's state (null: no button). */
  bar: { text: string; retry: 'ready' | 'retrying' | null } | null;
}

const PHASE_LABEL: Record<ViewerPhase, string> = {
  idle: 'Starting',
  connecting: 'Connecting',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  failed: 'Failed',
  ended: 'Ended',
};

export function stageView(state: VmliveState, formatTime: (ms: number) => string = localTime): StageView {
  const { viewer, display, snapshot, firstFrame, mode } = state;
  const up = viewer.phase === 'connected';
  const quiet = up || (viewer.phase === 'connecting' && viewer.reason.code === 'starting');
  const liveStatus = `${PHASE_LABEL[viewer.phase]}${quiet ? '' : ` — ${describeReason(viewer.reason)}`}`;
  const videoStale = !(display.kind === 'live' && up && firstFrame);

  if (display.kind === 'live') {
    const failed = viewer.phase === 'failed' || viewer.phase === 'ended';
    return {
      status: liveStatus,
      tone: up ? 'live' : failed ? 'failed' : 'waiting',
      showSnapshot: false,
      videoStale,
      overlay: up ? null : liveStatus,
      bar: null,
    };
  }

  const retrying = viewer.phase === 'connecting' && viewer.reason.code === 'retry';
  const canRetry = mode !== 'screenshot' && !up && viewer.phase !== 'idle' && viewer.phase !== 'ended';
  const what = snapshot.url
    ? `Screenshot of ${snapshot.at === null ? 'the VM' : formatTime(snapshot.at)}, refreshed every second.`
    : 'Waiting for a screenshot…';
  return {
    status: describeDisplay(display),
    tone: 'screenshots',
    showSnapshot: snapshot.url !== null,
    videoStale,
    // Falling back from live video, its last frame stays (dimmed) until the first screenshot arrives.
    overlay: snapshot.url === null && !firstFrame ? 'Loading the latest screenshot…' : null,
    bar: {
      text: `${what}${snapshot.error ? ` ${snapshot.error}.` : ''}`,
      retry: canRetry ? (retrying ? 'retrying' : 'ready') : null,
    },
  };
}

function localTime(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}
