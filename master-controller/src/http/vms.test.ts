import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, sleep, TestController, timed } from '../test/harness.js';

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start({ vmOnlineS: 1 });
  });
  afterAll(() => t.close());

  describe('VM rows', () => {
    it('POST /api/vms returns 201 {vmId, vmToken}; the name defaults to the id', async () => {
      const named = await t.call('POST', '/api/vms', { body: { name: 'chrome-1' } });
      expect(named.status).toBe(201);
      expect(Object.keys(named.body).sort()).toEqual(['vmId', 'vmToken']);
      const unnamed = await t.call('POST', '/api/vms');
      expect(unnamed.status).toBe(201);
      const list = await t.call('GET', '/api/vms');
      const byId = new Map(list.body.vms.map((v: { vmId: string }) => [v.vmId, v]));
      expect(byId.get(named.body.vmId)).toMatchObject({ name: 'chrome-1' });
      expect(byId.get(unnamed.body.vmId)).toMatchObject({ name: unnamed.body.vmId });
    });

    it('GET /api/vms lists vmId, name, online, lastSeenAt, viewers, control', async () => {
      const vm = await t.createVm('listed');
      const r = await t.call('GET', '/api/vms');
      expect(r.status).toBe(200);
      expect(r.body.vms.find((v: { vmId: string }) => v.vmId === vm.vmId)).toEqual({
        vmId: vm.vmId,
        name: 'listed',
        online: false,
        lastSeenAt: null,
        viewers: 0,
        control: { mode: 'agent', holder: null, since: expect.any(Number) },
      });
    });

    it('a heartbeat returns 204, makes the VM online with its stats, and it goes offline after the window', async () => {
      const vm = await t.createVm();
      const hb = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, {
        token: vm.vmToken,
        body: { stats: { fps: 30, viewers: 1 } },
      });
      expect(hb.status).toBe(204);
      const find = async () =>
        (await t.call('GET', '/api/vms')).body.vms.find((v: { vmId: string }) => v.vmId === vm.vmId);
      const online = await find();
      expect(online.online).toBe(true);
      expect(online.lastSeenAt).toBeGreaterThan(Date.now() - 5000);
      expect(online.stats).toEqual({ fps: 30, viewers: 1 });
      await sleep(1200);
      expect((await find()).online).toBe(false);
    });

    it('a heartbeat with no body is fine', async () => {
      const vm = await t.createVm();
      expect((await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken })).status).toBe(204);
    });

    it('a VM counts as online while its sessions long-poll is open', async () => {
      const vm = await t.createVm();
      const poll = t.call('GET', `/api/vms/${vm.vmId}/sessions?wait=2`, { token: vm.vmToken });
      await sleep(1300);
      const listed = (await t.call('GET', '/api/vms')).body.vms.find((v: { vmId: string }) => v.vmId === vm.vmId);
      expect(listed.online).toBe(true);
      await poll;
    });

    it('viewers counts the live sessions of the VM', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId, 'view');
      await t.createSession(vm.vmId, viewer);
      await t.createSession(vm.vmId, viewer);
      const listed = (await t.call('GET', '/api/vms')).body.vms.find((v: { vmId: string }) => v.vmId === vm.vmId);
      expect(listed.viewers).toBe(2);
    });

    it('POST viewer-tokens returns 201 {token, expiresAt} within ttlSeconds', async () => {
      const vm = await t.createVm();
      const before = Date.now();
      const r = await t.call('POST', `/api/vms/${vm.vmId}/viewer-tokens`, { body: { role: 'view', ttlSeconds: 60 } });
      expect(r.status).toBe(201);
      expect(typeof r.body.token).toBe('string');
      expect(r.body.expiresAt).toBeGreaterThanOrEqual(before + 59_000);
      expect(r.body.expiresAt).toBeLessThanOrEqual(Date.now() + 61_000);
    });

    it('ttlSeconds above the configured maximum is 400 invalid_body on ttlSeconds', async () => {
      const vm = await t.createVm();
      const r = await t.call('POST', `/api/vms/${vm.vmId}/viewer-tokens`, {
        body: { role: 'view', ttlSeconds: 86401 },
      });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_body', field: 'ttlSeconds' });
    });

    it('DELETE /api/vms/:vmId returns 204, ends its sessions, and answers their long-polls', async () => {
      const s = await t.offeredSession();
      const poll = timed(t.call('GET', `/api/webrtc/session/${s.sessionId}/answer?wait=10`, { token: s.viewer }));
      const vmPoll = timed(t.call('GET', `/api/vms/${s.vmId}/sessions?state=active&wait=10`, { token: s.vmToken }));
      await sleep(100);
      const del = await t.call('DELETE', `/api/vms/${s.vmId}`);
      expect(del.status).toBe(204);
      const [r, ms] = await poll;
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('session_not_found');
      expect(ms).toBeLessThan(600);
      const [v] = await vmPoll;
      expect(v.status).toBe(404);
      expect(v.body.error.code).toBe('vm_not_found');
      const list = await t.call('GET', '/api/vms');
      expect(list.body.vms.some((x: { vmId: string }) => x.vmId === s.vmId)).toBe(false);
      expect((await t.call('DELETE', `/api/vms/${s.vmId}`)).status).toBe(404);
      const hb = await t.call('POST', `/api/vms/${s.vmId}/heartbeat`, { token: s.vmToken });
      expect(hb.status).toBe(404);
    });

    it('unknown vmIds are 404 vm_not_found', async () => {
      for (const [method, path] of [
        ['DELETE', '/api/vms/nope'],
        ['POST', '/api/vms/nope/viewer-tokens'],
        ['GET', '/api/vms/nope/control'],
      ] as const) {
        const r = await t.call(method, path, { body: method === 'POST' ? { role: 'view', ttlSeconds: 5 } : undefined });
        expect(r.status, path).toBe(404);
        expect(r.body.error.code).toBe('vm_not_found');
      }
      const r = await t.call('POST', '/api/webrtc/session', { body: { vmId: 'nope' } });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('vm_not_found');
    });
  });

  describe('service endpoints', () => {
    it('/healthz is 200 without a token', async () => {
      const r = await t.call('GET', '/healthz', { token: null });
      expect(r.status).toBe(200);
    });

    it('/metrics serves Prometheus text with sessions, long-polls and request latency by route', async () => {
      const r = await t.call('GET', '/metrics', { token: null });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/plain');
      expect(r.text).toMatch(/^vmlive_sessions \d+$/m);
      expect(r.text).toMatch(/^vmlive_longpolls_waiting \d+$/m);
      expect(r.text).toMatch(/vmlive_http_request_duration_seconds_bucket\{.*route="\/api\/vms".*\}/);
    });

    it('unknown routes are 404 JSON not_found', async () => {
      for (const path of ['/api/nothing', '/api/webrtc/session/x/y', '/nothing']) {
        const r = await t.call('GET', path);
        expect(r.status, path).toBe(404);
        expect(r.body.error.code).toBe('not_found');
      }
    });

    it('every response carries a request id', async () => {
      const r = await t.call('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
      expect(r.headers.get('x-request-id')).toBe('abc-123');
    });
  });
});
