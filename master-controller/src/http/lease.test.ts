/**
 * Control held by a viewer is a lease that lasts while the viewer shows signs
 * of life: calls on its session, or an open long-poll. Issue 11: a closed tab
 * or a killed browser must not keep control.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { forEachStore, sleep, TestController, timed } from '../test/harness.js';

forEachStore(() => {
  let t: TestController | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(config: Parameters<typeof TestController.start>[0] = {}) {
    t = await TestController.start({ holderGraceS: 1, ...config });
    return t;
  }

  const act = (c: TestController, vmId: string, token: string, action: string, sessionId?: string) =>
    c.call('POST', `/api/vms/${vmId}/control`, { token, body: { action, ...(sessionId ? { sessionId } : {}) } });

  /** Resolves with the first control state whose mode differs from `mode`, and the ms it took. */
  async function nextMode(c: TestController, vmId: string, vmToken: string, since: number) {
    return timed(c.call('GET', `/api/vms/${vmId}/control?since=${since}&wait=10`, { token: vmToken }));
  }

  describe('the control lease', () => {
    it('ends within the grace once the holder session shows no sign of life, and control returns to the automation', async () => {
      const c = await start();
      const s = await c.offeredSession('control');
      const taken = await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      expect(taken.body).toMatchObject({ mode: 'user', holder: s.sessionId });
      const [r, ms] = await nextMode(c, s.vmId, s.vmToken, taken.body.since);
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
      expect(ms).toBeGreaterThan(700);
      expect(ms).toBeLessThan(2000);
    });

    it('lasts while the holder keeps a long-poll open, and ends within the grace after its connection drops', async () => {
      const c = await start();
      const s = await c.offeredSession('control');
      const taken = await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      const abort = new AbortController();
      const open = fetch(`${c.url}/api/webrtc/session/${s.sessionId}/candidates/vm?wait=30`, {
        headers: { authorization: `Bearer ${s.viewer}` },
        signal: abort.signal,
      }).catch(() => undefined);
      await sleep(2500);
      const still = await c.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken });
      expect(still.body).toMatchObject({ mode: 'user', holder: s.sessionId });
      // The browser dies: its connection closes, nothing else is sent.
      const diedAt = Date.now();
      abort.abort();
      await open;
      const [r] = await nextMode(c, s.vmId, s.vmToken, taken.body.since);
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
      expect(Date.now() - diedAt).toBeLessThan(2000);
    });

    it('VMLIVE_ON_HOLDER_LOST=paused leaves the VM paused instead', async () => {
      const c = await start({ onHolderLost: 'paused' });
      const s = await c.offeredSession('control');
      const taken = await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      const [r] = await nextMode(c, s.vmId, s.vmToken, taken.body.since);
      expect(r.body).toMatchObject({ mode: 'paused', holder: null });
    });

    it('a reload within the grace keeps control: a new session of the same viewer token takes it over directly', async () => {
      const c = await start({ holderGraceS: 3 });
      const s = await c.offeredSession('control');
      const taken = await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      // The page unloads (its session ends) and reloads with a new session of the same token.
      await c.call('DELETE', `/api/webrtc/session/${s.sessionId}`, { token: s.viewer });
      const during = await c.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken });
      expect(during.body).toEqual(taken.body);
      const again = await c.createSession(s.vmId, s.viewer);
      const retaken = await act(c, s.vmId, s.viewer, 'take', again);
      expect(retaken.status).toBe(200);
      expect(retaken.body).toMatchObject({ mode: 'user', holder: again });
      // Never through `agent`: the next state after the first take is the retake itself.
      const [next] = await timed(
        c.call('GET', `/api/vms/${s.vmId}/control?since=${taken.body.since}`, { token: s.vmToken }),
      );
      expect(next.body).toEqual(retaken.body);
    });

    it('another viewer cannot take control during the grace, and can at once after it', async () => {
      const c = await start();
      const s = await c.offeredSession('control');
      const otherToken = await c.viewerToken(s.vmId, 'control');
      const other = await c.createSession(s.vmId, otherToken);
      const taken = await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      await c.call('DELETE', `/api/webrtc/session/${s.sessionId}`, { token: s.viewer });
      const refused = await act(c, s.vmId, otherToken, 'take', other);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('control_held');
      await nextMode(c, s.vmId, s.vmToken, taken.body.since);
      const ok = await act(c, s.vmId, otherToken, 'take', other);
      expect(ok.body).toMatchObject({ mode: 'user', holder: other });
    });

    it('an explicit release ends control at once', async () => {
      const c = await start({ holderGraceS: 30 });
      const s = await c.offeredSession('control');
      await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      const r = await act(c, s.vmId, s.viewer, 'release', s.sessionId);
      expect(r.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it("the VM agent's polls on the holder's session do not keep the lease alive", async () => {
      const c = await start();
      const s = await c.offeredSession('control');
      const taken = await act(c, s.vmId, s.viewer, 'take', s.sessionId);
      const vmPoll = c.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/browser?wait=3`, {
        token: s.vmToken,
      });
      const [r, ms] = await nextMode(c, s.vmId, s.vmToken, taken.body.since);
      expect(r.body.mode).toBe('agent');
      expect(ms).toBeLessThan(2000);
      await vmPoll;
    });

    it("the operator's own control has no lease: it lasts until released", async () => {
      const c = await start();
      const vm = await c.createVm();
      await act(c, vm.vmId, c.operatorToken, 'take');
      await sleep(1800);
      const cur = await c.call('GET', `/api/vms/${vm.vmId}/control`, { token: vm.vmToken });
      expect(cur.body).toMatchObject({ mode: 'user', holder: 'operator' });
    });
  });
});
