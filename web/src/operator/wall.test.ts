import type { HealthSample, VmSummary } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { arrangeTiles, attentionReasons, gridMove, healthBadge, tileState } from './wall.js';

const health = (over: Partial<HealthSample> = {}): HealthSample => ({
  at: 1,
  helper: 'up',
  fps: 0,
  bitrateKbps: 0,
  cpuPercent: 1,
  rssBytes: 1,
  captureToSendMs: null,
  restarts: 0,
  peers: 0,
  lastError: null,
  snapshotsRequested: 0,
  sessions: [],
  ...over,
});

const vm = (name: string, over: Partial<VmSummary> = {}): VmSummary => ({
  vmId: `id-${name}`,
  name,
  online: true,
  lastSeenAt: 1,
  viewers: 0,
  control: { mode: 'agent', holder: null, since: 1 },
  health: health(),
  ...over,
});

describe('the wall', () => {
  it('calls a VM streaming while its helper has peers, online otherwise, offline when it stopped heartbeating', () => {
    expect(tileState(vm('a'))).toBe('online');
    expect(tileState(vm('a', { health: health({ peers: 2 }) }))).toBe('streaming');
    expect(tileState(vm('a', { online: false, health: health({ peers: 2 }) }))).toBe('offline');
  });

  it('needs attention when paused, a person holds control, the helper is restarting, or offline', () => {
    expect(attentionReasons(vm('a'))).toEqual([]);
    expect(attentionReasons(vm('a', { control: { mode: 'paused', holder: null, since: 2 } }))).toEqual(['paused']);
    expect(attentionReasons(vm('a', { control: { mode: 'user', holder: 'operator', since: 2 } }))).toEqual(['person']);
    expect(attentionReasons(vm('a', { health: health({ helper: 'down' }) }))).toEqual(['helper']);
    expect(attentionReasons(vm('a', { online: false }))).toEqual(['offline']);
  });

  it('puts the VMs that need attention first, each group by name, and filters by state and text', () => {
    const vms = [
      vm('c'),
      vm('a'),
      vm('d', { control: { mode: 'paused', holder: null, since: 2 } }),
      vm('b', { control: { mode: 'user', holder: 's1', since: 2 } }),
      vm('e', { online: false }),
    ];
    expect(arrangeTiles(vms, 'attention', 'all', '').map((v) => v.name)).toEqual(['b', 'd', 'e', 'a', 'c']);
    expect(arrangeTiles(vms, 'name', 'all', '').map((v) => v.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(arrangeTiles(vms, 'state', 'all', '').map((v) => v.name)).toEqual(['e', 'a', 'b', 'c', 'd']);
    expect(arrangeTiles(vms, 'name', 'attention', '').map((v) => v.name)).toEqual(['b', 'd', 'e']);
    expect(arrangeTiles(vms, 'name', 'offline', '').map((v) => v.name)).toEqual(['e']);
    expect(arrangeTiles(vms, 'name', 'all', 'ID-C').map((v) => v.name)).toEqual(['c']);
  });

  it('badges health: offline and a dead helper are bad, a recent error warns, a streaming VM shows fps and bitrate', () => {
    expect(healthBadge(vm('a', { online: false }), 10).level).toBe('bad');
    expect(healthBadge(vm('a', { health: health({ helper: 'down' }) }), 10).level).toBe('bad');
    const err = { at: 5, code: 'pipeline-error', message: 'x' };
    expect(healthBadge(vm('a', { health: health({ lastError: err }) }), 10)).toEqual({
      level: 'warn',
      text: 'error: pipeline-error',
    });
    expect(healthBadge(vm('a', { health: health({ lastError: err }) }), 120_000).level).toBe('ok');
    expect(healthBadge(vm('a', { health: health({ peers: 1, fps: 29.6, bitrateKbps: 800.2 }) }), 10).text).toBe(
      '30 fps · 800 kbit/s',
    );
  });

  it('moves focus with the arrow keys across rows and columns, staying inside the grid', () => {
    // 7 tiles, 3 columns: 0 1 2 / 3 4 5 / 6
    expect(gridMove('ArrowRight', 2, 7, 3)).toBe(3);
    expect(gridMove('ArrowLeft', 0, 7, 3)).toBe(0);
    expect(gridMove('ArrowDown', 1, 7, 3)).toBe(4);
    expect(gridMove('ArrowDown', 4, 7, 3)).toBe(4);
    expect(gridMove('ArrowUp', 6, 7, 3)).toBe(3);
    expect(gridMove('End', 0, 7, 3)).toBe(6);
    expect(gridMove('Enter', 0, 7, 3)).toBeNull();
  });
});
