import { ApiClient } from '@vmlive/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SnapshotPoller, type SnapshotUpdate } from './snapshotPoller.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('snapshot fallback poller', () => {
  it('fetches with the bearer header every interval and revokes the previous blob URL', async () => {
    vi.useFakeTimers();
    const calls: Array<{ url: string; auth: string }> = [];
    const fetch = async (url: string, init?: RequestInit) => {
      calls.push({ url, auth: new Headers(init?.headers).get('authorization') ?? '' });
      return new Response(new Uint8Array([0xff, 0xd8, 0xff]), {
        status: 200,
        headers: { 'content-type': 'image/jpeg' },
      });
    };
    let n = 0;
    const revoked: string[] = [];
    const updates: SnapshotUpdate[] = [];
    const poller = new SnapshotPoller(
      {
        api: new ApiClient({ baseUrl: 'http://c', token: 'tok', fetch }),
        vmId: 'vm 1',
        intervalMs: 1000,
        createObjectURL: () => `blob:${++n}`,
        revokeObjectURL: (u) => revoked.push(u),
      },
      (u) => updates.push({ ...u }),
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toEqual({ url: 'http://c/api/vms/vm%201/snapshot', auth: 'Bearer tok' });
    expect(updates.map((u) => u.url)).toEqual(['blob:1', 'blob:2', 'blob:3']);
    expect(revoked).toEqual(['blob:1', 'blob:2']);
    poller.stop();
    expect(revoked).toEqual(['blob:1', 'blob:2', 'blob:3']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(3);
  });

  it('keeps the last frame and says why when the VM has no snapshot (503)', async () => {
    vi.useFakeTimers();
    let ok = true;
    const fetch = async () =>
      ok
        ? new Response(new Uint8Array([1]), { status: 200 })
        : new Response(JSON.stringify({ error: { code: 'snapshot_unavailable', message: 'no' } }), { status: 503 });
    const updates: SnapshotUpdate[] = [];
    const poller = new SnapshotPoller(
      {
        api: new ApiClient({ baseUrl: 'http://c', token: 't', fetch }),
        vmId: 'v',
        createObjectURL: () => 'blob:x',
        revokeObjectURL: () => {},
      },
      (u) => updates.push({ ...u }),
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    ok = false;
    await vi.advanceTimersByTimeAsync(1000);
    poller.stop();
    expect(updates.at(-1)).toMatchObject({ url: 'blob:x', error: 'Snapshot unavailable (VM not capturing)' });
  });
});
