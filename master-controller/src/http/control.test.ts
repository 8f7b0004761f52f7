import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, sleep, TestController, timed } from '../test/harness.js';

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start();
  });
  afterAll(() => t.close());

  const control = (vmId: string, token: string, action: string, sessionId: string) =>
    t.call('POST', `/api/vms/${vmId}/control`, { token, body: { action, sessionId } });

  describe('control', () => {
    it('starts in agent mode; take by a control viewer moves it to user with that session as holder', async () => {
      const s = await t.offeredSession('control');
      const initial = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken });
      expect(initial.status).toBe(200);
      expect(initial.body).toEqual({ mode: 'agent', holder: null, since: expect.any(Number) });
      const r = await control(s.vmId, s.viewer, 'take', s.sessionId);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ mode: 'user', holder: s.sessionId, since: expect.any(Number) });
      expect(r.body.since).toBeGreaterThan(initial.body.since);
      const seen = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken });
      expect(seen.body).toEqual(r.body);
      // Taking again is idempotent.
      const again = await control(s.vmId, s.viewer, 'take', s.sessionId);
      expect(again.body).toEqual(r.body);
    });

    it('take is 409 control_held while another session holds control', async () => {
      const s = await t.offeredSession('control');
      const token2 = await t.viewerToken(s.vmId, 'control');
      const sid2 = await t.createSession(s.vmId, token2);
      await control(s.vmId, s.viewer, 'take', s.sessionId);
      const r = await control(s.vmId, token2, 'take', sid2);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('control_held');
      const cur = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken });
      expect(cur.body.holder).toBe(s.sessionId);
    });

    it('release by the holder returns to agent; release by a non-holder is 409 not_holder', async () => {
      const s = await t.offeredSession('control');
      const token2 = await t.viewerToken(s.vmId, 'control');
      const sid2 = await t.createSession(s.vmId, token2);
      await control(s.vmId, s.viewer, 'take', s.sessionId);
      const wrong = await control(s.vmId, token2, 'release', sid2);
      expect(wrong.status).toBe(409);
      expect(wrong.body.error.code).toBe('not_holder');
      const r = await control(s.vmId, s.viewer, 'release', s.sessionId);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it('pause and resume by the holder: paused keeps the holder, resume returns to user', async () => {
      const s = await t.offeredSession('control');
      await control(s.vmId, s.viewer, 'take', s.sessionId);
      const p = await control(s.vmId, s.viewer, 'pause', s.sessionId);
      expect(p.body).toMatchObject({ mode: 'paused', holder: s.sessionId });
      const r = await control(s.vmId, s.viewer, 'resume', s.sessionId);
      expect(r.body).toMatchObject({ mode: 'user', holder: s.sessionId });
    });

    it('the operator can pause and resume the agent, and force a release', async () => {
      const s = await t.offeredSession('control');
      const p = await control(s.vmId, t.operatorToken, 'pause', 'operator');
      expect(p.status).toBe(200);
      expect(p.body).toMatchObject({ mode: 'paused', holder: null });
      const r = await control(s.vmId, t.operatorToken, 'resume', 'operator');
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
      await control(s.vmId, s.viewer, 'take', s.sessionId);
      const rel = await control(s.vmId, t.operatorToken, 'release', 'operator');
      expect(rel.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it('a non-holder control viewer cannot pause', async () => {
      const s = await t.offeredSession('control');
      const r = await control(s.vmId, s.viewer, 'pause', s.sessionId);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('not_holder');
    });

    it('the VM can release control back to the agent', async () => {
      const s = await t.offeredSession('control');
      await control(s.vmId, s.viewer, 'take', s.sessionId);
      const r = await control(s.vmId, s.vmToken, 'release', s.sessionId);
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it('take names a session of this VM: unknown or other-VM sessions are 404 session_not_found', async () => {
      const s = await t.offeredSession('control');
      const o = await t.offeredSession('control');
      const r = await control(s.vmId, t.operatorToken, 'take', o.sessionId);
      expect(r.status).toBe(404);
      expect(r.body.error).toMatchObject({ code: 'session_not_found', field: 'sessionId' });
    });

    it('control long-poll returns at once when since is older, and waits for a change otherwise', async () => {
      const s = await t.offeredSession('control');
      const cur = (await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken })).body;
      const [old, fast] = await timed(t.call('GET', `/api/vms/${s.vmId}/control?since=0&wait=5`, { token: s.vmToken }));
      expect(old.body).toEqual(cur);
      expect(fast).toBeLessThan(300);
      const [same, slow] = await timed(
        t.call('GET', `/api/vms/${s.vmId}/control?since=${cur.since}&wait=0.4`, { token: s.vmToken }),
      );
      expect(same.body).toEqual(cur);
      expect(slow).toBeGreaterThanOrEqual(350);
    });

    it("the VM's sessions long-poll wakes on a control change and carries the new state", async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId, 'control');
      const sid = await t.createSession(vm.vmId, viewer); // no offer: not listed
      const poll = timed(t.call('GET', `/api/vms/${vm.vmId}/sessions?wait=10`, { token: vm.vmToken }));
      await sleep(100);
      await control(vm.vmId, viewer, 'take', sid);
      const [r, ms] = await poll;
      expect(r.body.sessions).toEqual([]);
      expect(r.body.control).toMatchObject({ mode: 'user', holder: sid });
      expect(ms).toBeLessThan(600);
    });
  });

  describe('snapshot fallback', () => {
    const jpeg = (n: number) => new Uint8Array([0xff, 0xd8, 0xff, 0xe0, n, 1, 2, 3]);

    it('GET asks the VM through its sessions poll and returns the JPEG it uploads', async () => {
      const s = await t.offeredSession('view');
      await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: 'v=0\r\n' },
      });
      // The agent: waits on its sessions long-poll, uploads when asked.
      const agent = (async () => {
        const r = await t.call('GET', `/api/vms/${s.vmId}/sessions?wait=10`, { token: s.vmToken });
        expect(r.body.snapshotWanted).toBe(true);
        const put = await t.call('PUT', `/api/vms/${s.vmId}/snapshot`, {
          token: s.vmToken,
          raw: jpeg(9),
          headers: { 'content-type': 'image/jpeg' },
        });
        expect(put.status).toBe(204);
      })();
      await sleep(100);
      const [r, ms] = await timed(t.call('GET', `/api/vms/${s.vmId}/snapshot`, { token: s.viewer }));
      await agent;
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/jpeg');
      expect(new Uint8Array(Buffer.from(r.text, 'latin1')).length).toBeGreaterThan(0);
      expect(ms).toBeLessThan(1000);
      // Fresh (≤ 2 s): served straight away without asking again.
      const [again, fast] = await timed(t.call('GET', `/api/vms/${s.vmId}/snapshot`, { token: t.operatorToken }));
      expect(again.status).toBe(200);
      expect(fast).toBeLessThan(300);
      // The request was delivered once: the next sessions poll does not spin on it.
      const [quiet, waited] = await timed(t.call('GET', `/api/vms/${s.vmId}/sessions?wait=0.3`, { token: s.vmToken }));
      expect(quiet.body.snapshotWanted).toBe(false);
      expect(waited).toBeGreaterThanOrEqual(250);
    });

    it('GET is 503 snapshot_unavailable when the VM sends nothing within 3 s', async () => {
      const s = await t.offeredSession('view');
      const [r, ms] = await timed(t.call('GET', `/api/vms/${s.vmId}/snapshot`, { token: s.viewer }));
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('snapshot_unavailable');
      expect(ms).toBeGreaterThanOrEqual(2900);
    });

    it('PUT refuses non-JPEG types (415) and non-JPEG bytes (400)', async () => {
      const vm = await t.createVm();
      const png = await t.call('PUT', `/api/vms/${vm.vmId}/snapshot`, {
        token: vm.vmToken,
        raw: new Uint8Array([0x89, 0x50]),
        headers: { 'content-type': 'image/png' },
      });
      expect(png.status).toBe(415);
      expect(png.body.error.code).toBe('unsupported_media_type');
      const bad = await t.call('PUT', `/api/vms/${vm.vmId}/snapshot`, {
        token: vm.vmToken,
        raw: new Uint8Array([1, 2, 3, 4]),
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(bad.status).toBe(400);
    });

    it('PUT over 2 MiB is 413 body_too_large', async () => {
      const vm = await t.createVm();
      const big = new Uint8Array(2 * 1024 * 1024 + 1);
      big.set([0xff, 0xd8, 0xff]);
      const r = await t.call('PUT', `/api/vms/${vm.vmId}/snapshot`, {
        token: vm.vmToken,
        raw: big,
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('body_too_large');
    });
  });
});
