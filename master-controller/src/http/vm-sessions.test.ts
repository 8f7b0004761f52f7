import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, SDP_ANSWER, SDP_OFFER, TestController, timed } from '../test/harness.js';

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start();
  });
  afterAll(() => t.close());

  async function offer(vmId: string, viewer: string): Promise<string> {
    const sessionId = await t.createSession(vmId, viewer);
    const r = await t.call('POST', `/api/webrtc/session/${sessionId}/offer`, {
      token: viewer,
      body: { type: 'offer', sdp: SDP_OFFER },
    });
    expect(r.status).toBe(204);
    return sessionId;
  }

  const poll = (vmId: string, vmToken: string, query: string) =>
    t.call('GET', `/api/vms/${vmId}/sessions?${query}`, { token: vmToken });

  describe('GET /api/vms/:vmId/sessions (the VM agent poll)', () => {
    it('hands out each offer once: a poll from the returned cursor waits instead of repeating it', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      const a = await offer(vm.vmId, viewer);
      const first = await poll(vm.vmId, vm.vmToken, 'since=0&wait=2');
      expect(first.status).toBe(200);
      expect(first.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([a]);
      expect(first.body.cursor).toBeGreaterThan(0);
      // The offer is still unanswered, but the cursor is past it: the long-poll waits out its 0.4 s.
      const [again, ms] = await timed(poll(vm.vmId, vm.vmToken, `since=${first.body.cursor}&wait=0.4`));
      expect(again.body.sessions).toEqual([]);
      expect(again.body.cursor).toBe(first.body.cursor);
      expect(ms).toBeGreaterThanOrEqual(350);
    });

    it('wakes on the next offer and returns only offers after the cursor, in order', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      await offer(vm.vmId, viewer);
      const { body: c1 } = await poll(vm.vmId, vm.vmToken, 'since=0');
      const waiting = poll(vm.vmId, vm.vmToken, `since=${c1.cursor}&wait=5`);
      const b = await offer(vm.vmId, viewer);
      const c = await offer(vm.vmId, viewer);
      const [woke, ms] = await timed(waiting);
      expect(ms).toBeLessThan(2000);
      expect(woke.body.sessions[0].sessionId).toBe(b);
      const rest = await poll(vm.vmId, vm.vmToken, `since=${woke.body.cursor}`);
      const seen = [...woke.body.sessions, ...rest.body.sessions].map((s: { sessionId: string }) => s.sessionId);
      expect(seen).toEqual([b, c]);
    });

    it('without a cursor lists every unanswered offer, and an answered one leaves the list', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      const a = await offer(vm.vmId, viewer);
      const b = await offer(vm.vmId, viewer);
      const all = await poll(vm.vmId, vm.vmToken, 'state=offered');
      expect(all.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([a, b]);
      await t.call('POST', `/api/webrtc/session/${a}/answer`, {
        token: vm.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      const left = await poll(vm.vmId, vm.vmToken, 'state=offered');
      expect(left.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([b]);
      const active = await poll(vm.vmId, vm.vmToken, 'state=active');
      expect(active.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([a]);
    });

    it('returns at once when control changed after controlSince, even if the change came before the poll', async () => {
      const vm = await t.createVm();
      const before = (await t.call('GET', `/api/vms/${vm.vmId}/control`, { token: vm.vmToken })).body;
      await t.call('POST', `/api/vms/${vm.vmId}/control`, { body: { action: 'pause' } });
      const [r, ms] = await timed(poll(vm.vmId, vm.vmToken, `controlSince=${before.since}&wait=5`));
      expect(ms).toBeLessThan(1000);
      expect(r.body.control.mode).toBe('paused');
      // Caught up: the next poll waits.
      const [, waited] = await timed(poll(vm.vmId, vm.vmToken, `controlSince=${r.body.control.since}&wait=0.4`));
      expect(waited).toBeGreaterThanOrEqual(350);
    });

    it.each([
      ['since=-1', 'since'],
      ['since=abc', 'since'],
      ['controlSince=x', 'controlSince'],
      ['state=gone', 'state'],
      ['wait=31', 'wait'],
    ])('rejects %s with 400 invalid_query naming %s', async (query, field) => {
      const vm = await t.createVm();
      const r = await poll(vm.vmId, vm.vmToken, query);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_query', field });
    });
  });

  describe('POST /api/vms/:vmId/control without a sessionId', () => {
    it('the operator pauses, resumes and releases without naming a session', async () => {
      const vm = await t.createVm();
      const p = await t.call('POST', `/api/vms/${vm.vmId}/control`, { body: { action: 'pause' } });
      expect(p.status).toBe(200);
      expect(p.body).toMatchObject({ mode: 'paused', holder: null });
      const r = await t.call('POST', `/api/vms/${vm.vmId}/control`, { body: { action: 'resume' } });
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it('the operator takes control itself (holder "operator"), a viewer cannot take it from the operator', async () => {
      const s = await t.offeredSession('control');
      const take = await t.call('POST', `/api/vms/${s.vmId}/control`, { body: { action: 'take' } });
      expect(take.body).toMatchObject({ mode: 'user', holder: 'operator' });
      const viewerTake = await t.call('POST', `/api/vms/${s.vmId}/control`, {
        token: s.viewer,
        body: { action: 'take', sessionId: s.sessionId },
      });
      expect(viewerTake.status).toBe(409);
      expect(viewerTake.body.error.code).toBe('control_held');
      const rel = await t.call('POST', `/api/vms/${s.vmId}/control`, { body: { action: 'release' } });
      expect(rel.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it('the operator takes over from a viewer that holds control', async () => {
      const s = await t.offeredSession('control');
      await t.call('POST', `/api/vms/${s.vmId}/control`, {
        token: s.viewer,
        body: { action: 'take', sessionId: s.sessionId },
      });
      const take = await t.call('POST', `/api/vms/${s.vmId}/control`, { body: { action: 'take' } });
      expect(take.body).toMatchObject({ mode: 'user', holder: 'operator' });
    });

    it('the VM releases and pauses without a sessionId, and may not take', async () => {
      const vm = await t.createVm();
      const p = await t.call('POST', `/api/vms/${vm.vmId}/control`, { token: vm.vmToken, body: { action: 'pause' } });
      expect(p.body.mode).toBe('paused');
      const take = await t.call('POST', `/api/vms/${vm.vmId}/control`, { token: vm.vmToken, body: { action: 'take' } });
      expect(take.status).toBe(403);
    });

    it('a viewer must name its session: 400 invalid_body on sessionId, and nothing changes', async () => {
      const s = await t.offeredSession('control');
      const r = await t.call('POST', `/api/vms/${s.vmId}/control`, { token: s.viewer, body: { action: 'take' } });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_body', field: 'sessionId' });
      const cur = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.viewer });
      expect(cur.body).toMatchObject({ mode: 'agent', holder: null });
    });
  });
});
