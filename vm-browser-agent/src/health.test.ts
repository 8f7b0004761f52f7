import { HealthReport, type HelperEvent } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { HealthTracker } from './health.js';

type Stats = Extract<HelperEvent, { type: 'stats' }>;

const peer = (bytesSent: number, connectionState = 'connected', input = { pointer: 0, key: 0, wheel: 0 }) => ({
  bytesSent,
  packetsSent: 1,
  roundTripTime: null,
  nackCount: 0,
  pliCount: 0,
  firCount: 0,
  packetsLost: null,
  bitrateKbps: null,
  connectionState,
  layer: 'full' as const,
  queueDelayMs: null,
  input,
});

const stats: Stats = {
  type: 'stats',
  peerId: null,
  requestId: 1,
  encoder: {
    codec: 'vp8',
    width: 640,
    height: 360,
    fps: 29.8,
    bitrateKbps: 750.5,
    framesEncoded: 100,
    keyframesForced: 1,
    running: true,
    captureToSendMs: 8.5,
  },
  peers: { s1: peer(5000, 'connected', { pointer: 12, key: 5, wheel: 2 }), gone: peer(10) },
  process: { cpuPercent: 22.5, rssBytes: 123_000_000 },
};

describe('the health report', () => {
  it("carries the helper's numbers, only the peers the agent still has, its restarts, last error and snapshot asks", () => {
    const h = new HealthTracker(() => ({ rss: 80e6, heapUsed: 17e6, heapTotal: 25e6, external: 3e6 }));
    h.noteSnapshotRequest();
    h.noteSnapshotRequest();
    h.noteError('pipeline-error', 'x'.repeat(500), 42);
    const r = h.report('up', stats, 3, new Map([['s1', {}]]));
    expect(HealthReport.parse(r)).toEqual(r);
    expect(r).toMatchObject({
      helper: 'up',
      fps: 29.8,
      bitrateKbps: 750.5,
      cpuPercent: 22.5,
      rssBytes: 123_000_000,
      captureToSendMs: 8.5,
      restarts: 3,
      peers: 1,
      snapshotsRequested: 2,
      agent: { rssBytes: 80e6, heapUsedBytes: 17e6, heapTotalBytes: 25e6, externalBytes: 3e6 },
      sessions: [
        { sessionId: 's1', connectionState: 'connected', bytesSent: 5000, input: { pointer: 12, key: 5, wheel: 2 } },
      ],
    });
    expect(r.lastError).toEqual({ at: 42, code: 'pipeline-error', message: 'x'.repeat(200) });
  });

  it('reports null numbers while the helper is down, still valid for the controller', () => {
    const r = new HealthTracker().report('down', null, 0, new Map());
    expect(HealthReport.parse(r)).toEqual(r);
    expect([r.fps, r.bitrateKbps, r.cpuPercent, r.rssBytes, r.sessions]).toEqual([null, null, null, null, []]);
  });

  it("carries the agent's own memory whatever the helper's state, read from this process by default", () => {
    const r = new HealthTracker().report('down', null, 0, new Map());
    const a = r.agent;
    expect(a && a.rssBytes > a.heapTotalBytes && a.heapTotalBytes >= a.heapUsedBytes && a.heapUsedBytes > 0).toBe(true);
  });
});
