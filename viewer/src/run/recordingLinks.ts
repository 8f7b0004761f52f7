/**
 * Where a moment of the run is in a recording (protocol recordings.ts): the segment whose span
 * holds it, and that segment's URL with a Media Fragments temporal fragment (W3C Media Fragments
 * URI 1.0, §4.2.1: `#t=<npt seconds>`), which a `<video src>` (or the browser's own player) opens
 * and seeks to. The signed segment URLs need no token, so a link is enough.
 */
import type { Recording } from '@vmlive/protocol';

export interface RecordingTime {
  url: string;
  /** Seconds into the segment. */
  offsetS: number;
  /** Seconds into the whole recording (for a label). */
  recordingS: number;
  recordingId: string;
}

type Recordings = ReadonlyArray<Pick<Recording, 'recordingId' | 'segments'>>;

/** The recording time of `at` (ms epoch), or null when no kept segment covers it. */
export function recordingTimeOf(at: number, recordings: Recordings): RecordingTime | null {
  for (const r of recordings) {
    const first = r.segments[0];
    for (const s of r.segments) {
      if (at < s.startedAt || at >= s.startedAt + s.durationMs) continue;
      const offsetS = Math.round((at - s.startedAt) / 100) / 10;
      const sep = s.url.includes('#') ? '&' : '#';
      return {
        url: `${s.url}${sep}t=${offsetS}`,
        offsetS,
        recordingS: Math.round((at - (first?.startedAt ?? s.startedAt)) / 1000),
        recordingId: r.recordingId,
      };
    }
  }
  return null;
}

/** `m:ss` of a number of seconds. */
export function clockLabel(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
