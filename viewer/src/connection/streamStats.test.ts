import { describe, expect, it } from 'vitest';
import { FrameWatchdog } from './frameWatchdog.js';
import { summarizeStats } from './streamStats.js';

function report(t: number, inbound: Record<string, unknown>, rtt = 0.012) {
  return [
    { id: 'T', type: 'transport', selectedCandidatePairId: 'P' },
    { id: 'P', type: 'candidate-pair', currentRoundTripTime: rtt },
    { id: 'C', type: 'codec', mimeType: 'video/VP8' },
    { id: 'I', type: 'inbound-rtp', kind: 'video', codecId: 'C', timestamp: t, ...inbound },
  ];
}

describe('stream stats summary', () => {
  it('computes rates from the previous sample', () => {
    const first = summarizeStats(
      report(1000, {
        frameWidth: 1280,
        frameHeight: 720,
        framesDecoded: 100,
        bytesReceived: 100_000,
        packetsReceived: 1000,
        packetsLost: 0,
        jitterBufferDelay: 1,
        jitterBufferEmittedCount: 100,
        totalDecodeTime: 0.2,
      }),
      null,
    );
    const second = summarizeStats(
      report(3000, {
        frameWidth: 1280,
        frameHeight: 720,
        framesDecoded: 160,
        bytesReceived: 350_000,
        packetsReceived: 1990,
        packetsLost: 10,
        jitterBufferDelay: 1.6,
        jitterBufferEmittedCount: 160,
        totalDecodeTime: 0.32,
        freezeCount: 1,
        totalFreezesDuration: 0.5,
      }),
      first,
    );
    expect(second).toMatchObject({
      width: 1280,
      height: 720,
      fps: 30, // 60 frames over 2 s
      bitrateKbps: 1000, // 250 kB over 2 s
      rttMs: 12,
      lossPercent: 1, // 10 lost of 1000 in the interval
      codec: 'VP8',
      freezeCount: 1,
      freezeSeconds: 0.5,
    });
    expect(second?.jitterBufferMs).toBeCloseTo(10); // 0.6 s over 60 frames
    expect(second?.decodeMs).toBeCloseTo(2); // 0.12 s over 60 frames
  });

  it('prefers the browser-reported framesPerSecond', () => {
    expect(summarizeStats(report(1, { framesPerSecond: 29.5 }), null)?.fps).toBe(29.5);
  });

  it('is null without an inbound video stream', () => {
    expect(summarizeStats([{ id: 'x', type: 'transport' }], null)).toBeNull();
  });

  it('accepts a Map-like RTCStatsReport', () => {
    const map = new Map(report(5, { framesDecoded: 7 }).map((e) => [e.id, e]));
    expect(summarizeStats(map, null)?.framesDecoded).toBe(7);
  });
});

describe('frame watchdog', () => {
  it('stays ok while frames keep increasing', () => {
    const w = new FrameWatchdog({ stallMs: 2000, firstFrameMs: 5000 });
    w.reset(0);
    for (let t = 0; t <= 10_000; t += 1000) expect(w.sample(t * 3, t)).toBe('ok');
  });

  it('reports frames-stopped after more than stallMs without a new frame', () => {
    const w = new FrameWatchdog({ stallMs: 2000 });
    w.reset(0);
    expect(w.sample(10, 1000)).toBe('ok');
    expect(w.sample(10, 2000)).toBe('ok');
    expect(w.sample(10, 3000)).toBe('ok'); // exactly 2 s
    expect(w.sample(10, 3001)).toBe('frames-stopped');
  });

  it('gives the first frame longer, then reports no-frames', () => {
    const w = new FrameWatchdog({ stallMs: 2000, firstFrameMs: 5000 });
    w.reset(0);
    expect(w.sample(0, 4000)).toBe('ok');
    expect(w.sample(0, 5001)).toBe('no-frames');
  });

  it('starts over on reset after a reconnect', () => {
    const w = new FrameWatchdog({ stallMs: 2000 });
    w.reset(0);
    w.sample(50, 100);
    w.reset(10_000);
    expect(w.sample(5, 10_500)).toBe('ok'); // a new peer counts from zero again
  });
});
