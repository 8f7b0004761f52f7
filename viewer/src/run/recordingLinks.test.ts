import { describe, expect, it } from 'vitest';
import { clockLabel, recordingTimeOf } from './recordingLinks.js';

const seg = (index: number, startedAt: number, durationMs = 10_000) => ({
  index,
  startedAt,
  durationMs,
  bytes: 1,
  mediaType: 'video/webm' as const,
  url: `/api/vms/v/recordings/r1/segments/${index}?exp=1&sig=x`,
});

describe('recordingTimeOf', () => {
  const recordings = [{ recordingId: 'r1', segments: [seg(0, 100_000), seg(1, 110_000)] }];

  it('links a moment to the segment that holds it, seeked there with a #t= fragment', () => {
    expect(recordingTimeOf(112_340, recordings)).toEqual({
      url: '/api/vms/v/recordings/r1/segments/1?exp=1&sig=x#t=2.3',
      offsetS: 2.3,
      recordingS: 12,
      recordingId: 'r1',
    });
    expect(recordingTimeOf(100_000, recordings)?.url).toMatch(/segments\/0\?.*#t=0$/);
  });

  it('has no link for a moment no kept segment covers (before, after, or a gap a crash left)', () => {
    expect(recordingTimeOf(99_999, recordings)).toBeNull();
    expect(recordingTimeOf(120_000, recordings)).toBeNull();
    const gap = [{ recordingId: 'r1', segments: [seg(0, 0), seg(2, 20_000)] }];
    expect(recordingTimeOf(15_000, gap)).toBeNull();
    expect(recordingTimeOf(15_000, [])).toBeNull();
  });

  it('labels seconds as m:ss', () => {
    expect(clockLabel(0)).toBe('0:00');
    expect(clockLabel(75.4)).toBe('1:15');
  });
});
