import { describe, expect, it } from 'vitest';
import { ABS_CAPTURE_TIME_URI, GlassToGlassMeter, negotiateCaptureTime } from './glassToGlass.js';

const NTP_UNIX_OFFSET_MS = 2_208_988_800_000;
const ORIGIN = 1_796_000_000_000; // performance.timeOrigin, Unix ms

/** A frame presented at `shownAt` (performance clock) that the VM captured `latency` ms earlier. */
function frame(rtpTimestamp: number, shownAt: number, latency: number) {
  return {
    frame: { expectedDisplayTime: shownAt, rtpTimestamp },
    sources: [{ rtpTimestamp, captureTimestamp: ORIGIN + shownAt - latency + NTP_UNIX_OFFSET_MS }],
  };
}

describe('glass-to-glass meter', () => {
  it('measures capture (abs-capture-time, NTP ms) to presentation for the frame with the same RTP timestamp', () => {
    const meter = new GlassToGlassMeter(ORIGIN);
    const f = frame(1000, 5000, 42);
    expect(meter.frame(f.frame, f.sources)).toBeCloseTo(42, 6);
    // The receiver's source already moved on to another frame: nothing is measured.
    expect(meter.frame({ expectedDisplayTime: 5016, rtpTimestamp: 2500 }, f.sources)).toBeNull();
    // No capture time (the VM did not write the extension).
    expect(meter.frame({ expectedDisplayTime: 5033, rtpTimestamp: 4000 }, [{ rtpTimestamp: 4000 }])).toBeNull();
  });

  it('corrects by the VM clock offset and drops what an unsynced clock makes impossible', () => {
    const meter = new GlassToGlassMeter(ORIGIN, 500); // the VM's clock runs 500 ms ahead
    const ahead = frame(1, 1000, 30 - 500); // captured 30 ms before shown, stamped 500 ms later
    expect(meter.frame(ahead.frame, ahead.sources)).toBeCloseTo(30, 6);
    const unsynced = new GlassToGlassMeter(ORIGIN);
    const future = frame(2, 1000, -200);
    expect(unsynced.frame(future.frame, future.sources)).toBeNull();
  });

  it('summarises the last 10 s as p50 and p95', () => {
    const meter = new GlassToGlassMeter(ORIGIN);
    for (let i = 0; i < 100; i++) {
      const f = frame(i, 1000 + i * 16, i < 95 ? 20 + (i % 10) : 200);
      meter.frame(f.frame, f.sources);
    }
    expect(meter.summary(2600)).toEqual({ p50Ms: 25, p95Ms: 200, samples: 100 });
    // 10 s later only frames presented since then count.
    expect(meter.summary(1000 + 99 * 16 + 10_000 - 1)).toEqual({ p50Ms: 200, p95Ms: 200, samples: 1 });
    expect(meter.summary(100_000)).toBeNull();
  });
});

describe('negotiating capture times', () => {
  it('turns abs-capture-time on where the browser offers header extension control', () => {
    let set: { uri: string; direction: string }[] = [];
    const transceiver = {
      getHeaderExtensionsToNegotiate: () => [
        { uri: 'urn:ietf:params:rtp-hdrext:toffset', direction: 'sendrecv' },
        { uri: ABS_CAPTURE_TIME_URI, direction: 'stopped' },
      ],
      setHeaderExtensionsToNegotiate: (e: { uri: string; direction: string }[]) => {
        set = e;
      },
    } as unknown as RTCRtpTransceiver;
    expect(negotiateCaptureTime(transceiver)).toBe(true);
    expect(set).toEqual([
      { uri: 'urn:ietf:params:rtp-hdrext:toffset', direction: 'sendrecv' },
      { uri: ABS_CAPTURE_TIME_URI, direction: 'recvonly' },
    ]);
  });

  it('says no where the browser has no such control or no such extension', () => {
    expect(negotiateCaptureTime({} as RTCRtpTransceiver)).toBe(false);
    const none = { getHeaderExtensionsToNegotiate: () => [], setHeaderExtensionsToNegotiate: () => {} };
    expect(negotiateCaptureTime(none as unknown as RTCRtpTransceiver)).toBe(false);
  });
});
