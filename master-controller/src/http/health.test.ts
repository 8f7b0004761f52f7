import type { HealthReport } from '@vmlive/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, SDP_ANSWER, TestController } from '../test/harness.js';

const AGENT = { rssBytes: 80_000_000, heapUsedBytes: 17_000_000, heapTotalBytes: 25_000_000, externalBytes: 3_000_000 };

const report = (over: Partial<HealthReport> = {}): HealthReport => ({
  helper: 'up',
  fps: 29.5,
  bitrateKbps: 812.4,
  cpuPercent: 14.2,
  rssBytes: 91_000_000,
  captureToSendMs: 9.5,
  restarts: 1,
  peers: 0,
  lastError: null,
  snapshotsRequested: 0,
  sessions: [],
  agent: AGENT,
  ...over,
});

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start({ healthRing: 3, metricsMaxVms: 2 });
  });
  afterAll(() => t.close());

  describe('health ring', () => {
    it('keeps the last VMLIVE_HEALTH_RING heartbeat reports, stamped on receipt, and lists the latest with the VM', async () => {
      const vm = await t.createVm('ringed');
      for (let i = 0; i < 5; i++) {
        const hb = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, {
          token: vm.vmToken,
          body: { health: report({ peers: i }) },
        });
        expect(hb.status).toBe(204);
      }
      const h = await t.call('GET', `/api/vms/${vm.vmId}/health`);
      expect(h.status).toBe(200);
      expect(h.body.vmId).toBe(vm.vmId);
      expect(h.body.samples.map((s: HealthReport) => s.peers)).toEqual([2, 3, 4]);
      expect(h.body.samples[2]).toEqual({ ...report({ peers: 4 }), at: expect.any(Number) });
      const listed = (await t.call('GET', '/api/vms')).body.vms.find((v: { vmId: string }) => v.vmId === vm.vmId);
      expect(listed.health).toEqual(h.body.samples[2]);
    });

    it('refuses a malformed health report and anyone but the operator reading the ring', async () => {
      const vm = await t.createVm();
      const bad = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, {
        token: vm.vmToken,
        body: { health: { ...report(), fps: -1 } },
      });
      expect(bad.status).toBe(400);
      const badAgent = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, {
        token: vm.vmToken,
        body: { health: report({ agent: { ...AGENT, heapTotalBytes: -1 } }) },
      });
      expect(badAgent.status).toBe(400);
      expect(JSON.stringify(badAgent.body)).toContain('heapTotalBytes');
      expect((await t.call('GET', `/api/vms/${vm.vmId}/health`)).body.samples).toEqual([]);
      // An agent from before the `agent` field is still heard.
      const { agent: _, ...older } = report();
      const old = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken, body: { health: older } });
      expect(old.status).toBe(204);
      expect((await t.call('GET', `/api/vms/${vm.vmId}/health`, { token: vm.vmToken })).status).toBe(403);
      expect((await t.call('GET', '/api/vms/nope/health')).status).toBe(404);
    });

    it('/metrics has per-VM series for at most VMLIVE_METRICS_MAX_VMS VMs and counts the rest', async () => {
      const r = await t.call('GET', '/metrics', { token: null });
      const vmsNow = (await t.call('GET', '/api/vms')).body.vms as Array<{ vmId: string }>;
      const series = r.text.split('\n').filter((l) => l.startsWith('vmlive_vm_online{'));
      expect(series).toHaveLength(2);
      expect(await t.metric('vmlive_vm_metrics_omitted')).toBe(vmsNow.length - 2);
      // The oldest VM ("ringed") heartbeated its report: its fps and restarts are there.
      const first = vmsNow[0]?.vmId;
      expect(r.text).toContain(`vmlive_vm_encoder_fps{vm="${first}"} 29.5`);
      expect(r.text).toContain(`vmlive_vm_capture_to_send_ms{vm="${first}"} 9.5`);
      expect(r.text).toContain(`vmlive_vm_helper_restarts{vm="${first}"} 1`);
      expect(r.text).toContain(`vmlive_vm_agent_rss_bytes{vm="${first}"} 80000000`);
      expect(r.text).toContain(`vmlive_vm_agent_heap_used_bytes{vm="${first}"} 17000000`);
      expect(r.text).toContain(`vmlive_vm_agent_heap_total_bytes{vm="${first}"} 25000000`);
    });
  });

  describe('viewer sessions', () => {
    it("lists a VM's sessions with role, signaling, the helper's view of them and the holder; the operator ends any", async () => {
      const s = await t.offeredSession('control');
      const viewOnly = await t.createSession(s.vmId, await t.viewerToken(s.vmId, 'view'));
      const take = await t.call('POST', `/api/vms/${s.vmId}/control`, {
        token: s.viewer,
        body: { action: 'take', sessionId: s.sessionId },
      });
      expect(take.status).toBe(200);
      await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      await t.call('POST', `/api/vms/${s.vmId}/heartbeat`, {
        token: s.vmToken,
        body: {
          health: report({
            peers: 1,
            sessions: [{ sessionId: s.sessionId, connectionState: 'connected', bytesSent: 4096 }],
          }),
        },
      });
      const r = await t.call('GET', `/api/vms/${s.vmId}/viewer-sessions`);
      expect(r.status).toBe(200);
      expect(r.body.control).toMatchObject({ mode: 'user', holder: s.sessionId });
      expect(r.body.sessions).toEqual([
        {
          sessionId: s.sessionId,
          role: 'control',
          kind: 'rest',
          since: expect.any(Number),
          lastActivityAt: expect.any(Number),
          signaling: 'answered',
          connectionState: 'connected',
          bytesSent: 4096,
          holder: true,
        },
        {
          sessionId: viewOnly,
          role: 'view',
          kind: 'rest',
          since: expect.any(Number),
          lastActivityAt: expect.any(Number),
          signaling: 'new',
          connectionState: null,
          bytesSent: null,
          holder: false,
        },
      ]);
      expect((await t.call('DELETE', `/api/webrtc/session/${viewOnly}`)).status).toBe(204);
      const after = await t.call('GET', `/api/vms/${s.vmId}/viewer-sessions`);
      expect(after.body.sessions.map((x: { sessionId: string }) => x.sessionId)).toEqual([s.sessionId]);
      expect((await t.call('GET', `/api/vms/${s.vmId}/viewer-sessions`, { token: s.viewer })).status).toBe(403);
    });
  });
});
