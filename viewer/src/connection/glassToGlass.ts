/**
 * Glass-to-glass latency of live frames, for any page the VM shows: the time from the VM capturing
 * a frame to this browser presenting it.
 *
 * - The capture time comes from the abs-capture-time RTP header extension
 *   (http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time), which the VM's helper writes
 *   on the first packet of every frame when the offer asks for it: the wall-clock time of the
 *   capture, 64-bit NTP. Chromium does not offer it by default; `negotiateCaptureTime` turns it on
 *   through the header extension control API (W3C webrtc-extensions,
 *   `RTCRtpTransceiver.setHeaderExtensionsToNegotiate`). Chromium then reports it per
 *   synchronization source as `captureTimestamp` (NTP ms, webrtc-extensions
 *   "RTCRtpContributingSource extensions"), for the frame with that `rtpTimestamp`.
 * - The presentation time is `requestVideoFrameCallback`'s `expectedDisplayTime` for the frame with
 *   the same RTP timestamp.
 *
 * The two are on different machines' clocks: `clockOffsetMs` (VM clock − this clock) corrects for
 * that where known, and is 0 by default, so the figure assumes NTP-synced clocks (as any one-way
 * delay does; Chromium as a receive-only peer gets no RTT from RTCP to estimate the sender's NTP
 * offset, so its `estimatedPlayoutTimestamp` stays unset here). On one machine it is exact.
 */

export const ABS_CAPTURE_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';
/** NTP time (since 1900) − Unix time (since 1970), ms (RFC 5905 section 6). */
const NTP_UNIX_OFFSET_MS = 2_208_988_800_000;
/** Samples older than this leave the summary. */
const WINDOW_MS = 10_000;
const MAX_SAMPLES = 1_000;

interface HeaderExtension {
  uri: string;
  direction: string;
}
interface HeaderExtensionControl {
  getHeaderExtensionsToNegotiate?: () => HeaderExtension[];
  setHeaderExtensionsToNegotiate?: (extensions: HeaderExtension[]) => void;
}

/** Asks the VM for capture times on this (receiving) transceiver; false where the browser cannot. */
export function negotiateCaptureTime(transceiver: RTCRtpTransceiver): boolean {
  const control = transceiver as unknown as HeaderExtensionControl;
  if (!control.getHeaderExtensionsToNegotiate || !control.setHeaderExtensionsToNegotiate) return false;
  try {
    const extensions = control.getHeaderExtensionsToNegotiate();
    if (!extensions.some((e) => e.uri === ABS_CAPTURE_TIME_URI)) return false;
    control.setHeaderExtensionsToNegotiate(
      extensions.map((e) => (e.uri === ABS_CAPTURE_TIME_URI ? { ...e, direction: 'recvonly' } : e)),
    );
    return true;
  } catch {
    return false; // InvalidModificationError on a browser that lists but cannot enable it
  }
}

/** What the meter needs of a presented frame (`VideoFrameCallbackMetadata`). */
export interface PresentedFrame {
  expectedDisplayTime: number;
  rtpTimestamp?: number;
}

/** What the meter needs of `RTCRtpReceiver.getSynchronizationSources()` entries. */
export interface CaptureSource {
  rtpTimestamp: number;
  captureTimestamp?: number;
}

export interface GlassToGlass {
  p50Ms: number;
  p95Ms: number;
  /** frames measured in the last 10 s */
  samples: number;
}

export class GlassToGlassMeter {
  private readonly at: number[] = [];
  private readonly ms: number[] = [];

  constructor(
    /** performance.timeOrigin: turns a performance-clock time into Unix ms */
    private readonly timeOrigin: number,
    private readonly clockOffsetMs = 0,
  ) {}

  /** One presented frame; the sources are the receiver's at that moment. Returns the sample, if any. */
  frame(frame: PresentedFrame, sources: readonly CaptureSource[]): number | null {
    if (frame.rtpTimestamp === undefined) return null;
    const source = sources.find((s) => s.rtpTimestamp === frame.rtpTimestamp);
    if (source?.captureTimestamp === undefined) return null;
    const capturedUnix = source.captureTimestamp - NTP_UNIX_OFFSET_MS - this.clockOffsetMs;
    const presentedUnix = this.timeOrigin + frame.expectedDisplayTime;
    const ms = presentedUnix - capturedUnix;
    // A capture "in the future" or minutes old is a clock that is not synced, not a latency.
    if (!(ms >= 0 && ms < 60_000)) return null;
    this.at.push(frame.expectedDisplayTime);
    this.ms.push(ms);
    if (this.at.length > MAX_SAMPLES) {
      this.at.shift();
      this.ms.shift();
    }
    return ms;
  }

  /** p50/p95 of the frames presented in the last 10 s before `now` (performance clock). */
  summary(now: number): GlassToGlass | null {
    while (this.at.length > 0 && (this.at[0] as number) < now - WINDOW_MS) {
      this.at.shift();
      this.ms.shift();
    }
    if (this.ms.length === 0) return null;
    const sorted = [...this.ms].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { p50Ms: pick(0.5), p95Ms: pick(0.95), samples: sorted.length };
  }
}
