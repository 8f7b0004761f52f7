/**
 * The audit trail over HTTP (issue 19): who may read it, every control path writing its event,
 * the run's and the input's events carrying counts and lengths but never content, the cursor
 * (concurrent writers, nothing lost or repeated, long-poll wake-up), from/to, bad queries, the bound.
 */
import type { AuditEvent, HealthReport } from '@vmlive/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, SDP_ANSWER, sleep, TestController, timed } from '../test/harness.js';

const report = (sessions: HealthReport['sessions']): HealthReport => ({
  helper: 'up',
  fps: 30,
  bitrateKbps: 800,
  cpuPercent: 10,
  rssBytes: 90_000_000,
  captureToSendMs: null,
  restarts: 0,
  peers: sessions.length,
  lastError: null,
  snapshotsRequested: 0,
  sessions,
});

/** A viewer token's id (jti), which the trail names as the actor's subject. */
const jti = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti as string;

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    // A 1 s grace: the lease-expiry case waits for the reaper.
    t = await TestController.start({ holderGraceS: 1 });
  });
  afterAll(() => t.close());

  const audit = async (vmId: string, query = '', token = t.operatorToken) =>
    t.call('GET', `/api/vms/${vmId}/audit${query}`, { token });
  const events = async (vmId: string, query = ''): Promise<AuditEvent[]> => {
    const r = await audit(vmId, query);
    expect(r.status).toBe(200);
    return r.body.events;
  };
  const control = (vmId: string, token: string, action: string, sessionId?: string) =>
    t.call('POST', `/api/vms/${vmId}/control`, { token, body: { action, ...(sessionId ? { sessionId } : {}) } });
  const controlDetails = async (vmId: string) =>
    (await events(vmId)).filter((e) => e.type === 'control').map((e) => ({ actor: e.actor, ...e.detail }));

  describe('who may read it', () => {
    it('the operator only: no token 401; viewer (either role), automation and VM tokens 403; unknown VM 404', async () => {
      const vm = await t.createVm();
      const automation = (await t.call('POST', `/api/vms/${vm.vmId}/automation-tokens`, { body: { ttlSeconds: 60 } }))
        .body.token as string;
      expect((await audit(vm.vmId, '', null as unknown as string)).status).toBe(401);
      for (const token of [
        await t.viewerToken(vm.vmId, 'control'),
        await t.viewerToken(vm.vmId, 'view'),
        automation,
        vm.vmToken,
      ]) {
        const r = await audit(vm.vmId, '', token);
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      expect((await audit('nope')).status).toBe(404);
      expect((await audit(vm.vmId)).body).toEqual({ events: [], cursor: 0, dropped: false });
    });
  });

  describe('every control path writes its event', () => {
    it('a viewer take, pause, resume and release, with the holder session and token id; no event for a no-op', async () => {
      const s = await t.offeredSession('control');
      const viewer = { role: 'viewer', sessionId: s.sessionId, subject: jti(s.viewer) };
      const taken = await control(s.vmId, s.viewer, 'take', s.sessionId);
      await control(s.vmId, s.viewer, 'take', s.sessionId); // already held: nothing changes
      await control(s.vmId, s.viewer, 'pause', s.sessionId);
      await control(s.vmId, s.viewer, 'resume', s.sessionId);
      await control(s.vmId, s.viewer, 'release', s.sessionId);
      const all = await events(s.vmId);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(all[0]?.at).toBe(taken.body.since);
      expect(await controlDetails(s.vmId)).toEqual([
        { actor: viewer, cause: 'take', from: 'agent', to: 'user', fromHolder: null, toHolder: s.sessionId },
        { actor: viewer, cause: 'pause', from: 'user', to: 'paused', fromHolder: s.sessionId, toHolder: s.sessionId },
        { actor: viewer, cause: 'resume', from: 'paused', to: 'user', fromHolder: s.sessionId, toHolder: s.sessionId },
        { actor: viewer, cause: 'release', from: 'user', to: 'agent', fromHolder: s.sessionId, toHolder: null },
      ]);
    });

    it('the operator takes over from a viewer, hands control back to its session, and the VM pauses and resumes', async () => {
      const s = await t.offeredSession('control');
      await control(s.vmId, s.viewer, 'take', s.sessionId);
      await control(s.vmId, t.operatorToken, 'take');
      await control(s.vmId, t.operatorToken, 'take', s.sessionId);
      await control(s.vmId, s.viewer, 'release', s.sessionId);
      await control(s.vmId, s.vmToken, 'pause');
      await control(s.vmId, s.vmToken, 'resume');
      const op = { role: 'operator' };
      const details = await controlDetails(s.vmId);
      expect(details.slice(1)).toEqual([
        { actor: op, cause: 'take', from: 'user', to: 'user', fromHolder: s.sessionId, toHolder: 'operator' },
        { actor: op, cause: 'take', from: 'user', to: 'user', fromHolder: 'operator', toHolder: s.sessionId },
        expect.objectContaining({ cause: 'release', toHolder: null }),
        { actor: { role: 'vm' }, cause: 'pause', from: 'agent', to: 'paused', fromHolder: null, toHolder: null },
        { actor: { role: 'vm' }, cause: 'resume', from: 'paused', to: 'agent', fromHolder: null, toHolder: null },
      ]);
    });

    it('the operator ends the holder session; the lease expires after the grace and the controller records it', async () => {
      const s = await t.offeredSession('control');
      const taken = await control(s.vmId, s.viewer, 'take', s.sessionId);
      const cursor = (await audit(s.vmId)).body.cursor as number;
      const endedAt = Date.now();
      expect((await t.call('DELETE', `/api/webrtc/session/${s.sessionId}`)).status).toBe(204);
      // Long-polls wake on each event: the operator's end at once, the reaper's after the grace (1 s, swept every 500 ms).
      const got: AuditEvent[] = [];
      let since = cursor;
      while (got.length < 2) {
        const r = await audit(s.vmId, `?since=${since}&wait=10`);
        expect(r.body.events.length).toBeGreaterThan(0);
        got.push(...r.body.events);
        since = r.body.cursor;
      }
      console.log(
        `audit: lease_expired recorded ${(got[1]?.at ?? 0) - endedAt} ms after the operator ended the holder (grace 1 s)`,
      );
      expect(got.map((e) => [e.type, e.actor, e.detail])).toEqual([
        ['session', { role: 'operator' }, { sessionId: s.sessionId, reason: 'ended_by_operator' }],
        [
          'control',
          { role: 'controller' },
          { cause: 'lease_expired', from: 'user', to: 'agent', fromHolder: s.sessionId, toHolder: null },
        ],
      ]);
      expect(got[1]?.at).toBeGreaterThan(taken.body.since);
    });
  });

  describe('the run and the input: counts and lengths, never content', () => {
    it('instruction edits, overrides queued and acked (a retried ack once), with who did it', async () => {
      const vm = await t.createVm();
      const automation = (await t.call('POST', `/api/vms/${vm.vmId}/automation-tokens`, { body: { ttlSeconds: 60 } }))
        .body.token as string;
      const viewer = await t.viewerToken(vm.vmId, 'control');
      const secret = 'log in as bob with hunter2';
      await t.call('PUT', `/api/vms/${vm.vmId}/instructions`, { body: { text: secret } });
      const q = await t.call('POST', `/api/vms/${vm.vmId}/overrides`, {
        token: viewer,
        body: { action: { type: 'type', text: 'hunter2' } },
      });
      expect(q.status).toBe(201);
      for (let i = 0; i < 2; i++) {
        const ack = await t.call('POST', `/api/vms/${vm.vmId}/overrides/${q.body.id}/ack`, {
          token: automation,
          body: { result: 'done' },
        });
        expect(ack.status).toBe(200);
      }
      const r = await audit(vm.vmId);
      expect(r.text).not.toContain('hunter2');
      expect(r.body.events.map((e: AuditEvent) => [e.type, e.actor, e.detail])).toEqual([
        ['instructions', { role: 'operator' }, { version: 1, chars: secret.length }],
        ['override', { role: 'viewer', subject: jti(viewer) }, { id: q.body.id, action: 'type', status: 'queued' }],
        [
          'override',
          { role: 'automation', subject: jti(automation) },
          { id: q.body.id, action: 'type', status: 'done' },
        ],
      ]);
    });

    it("the input a holder sent, per heartbeat: the increase of the helper's counts, none when nothing was sent", async () => {
      const s = await t.offeredSession('control');
      await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      const beat = (input?: { pointer: number; key: number; wheel: number }) =>
        t.call('POST', `/api/vms/${s.vmId}/heartbeat`, {
          token: s.vmToken,
          body: {
            health: report([
              { sessionId: s.sessionId, connectionState: 'connected', bytesSent: 1, ...(input ? { input } : {}) },
            ]),
          },
        });
      expect((await beat({ pointer: 10, key: 4, wheel: 1 })).status).toBe(204);
      await beat({ pointer: 10, key: 4, wheel: 1 });
      await beat({ pointer: 25, key: 4, wheel: 3 });
      await beat(); // an agent that does not count
      await beat({ pointer: 2, key: 0, wheel: 0 }); // the helper restarted: counts start over
      const input = (await events(s.vmId)).filter((e) => e.type === 'input');
      expect(input.map((e) => ({ actor: e.actor, ...e.detail, since: undefined }))).toEqual([
        { actor: { role: 'vm' }, sessionId: s.sessionId, pointer: 10, key: 4, wheel: 1, since: undefined },
        { actor: { role: 'vm' }, sessionId: s.sessionId, pointer: 15, key: 0, wheel: 2, since: undefined },
        { actor: { role: 'vm' }, sessionId: s.sessionId, pointer: 2, key: 0, wheel: 0, since: undefined },
      ]);
      for (const e of input) expect(e.detail.since).toBeLessThanOrEqual(e.at);
    });
  });

  describe('the cursor', () => {
    it('concurrent writers: every event once, in seq order, whoever follows the cursor', async () => {
      const vm = await t.createVm();
      const writers = Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? t.call('POST', `/api/vms/${vm.vmId}/overrides`, { body: { action: { type: 'scroll', dx: 0, dy: i } } })
          : t.call('PUT', `/api/vms/${vm.vmId}/instructions`, { body: { text: `v${i}` } }),
      );
      const seen: number[] = [];
      let cursor = 0;
      let writing = true;
      const follower = (async () => {
        while (writing || seen.length < 30) {
          const r = await audit(vm.vmId, `?since=${cursor}&wait=1`);
          seen.push(...r.body.events.map((e: AuditEvent) => e.seq));
          cursor = r.body.cursor;
          if (!writing && r.body.events.length === 0) break;
        }
      })();
      const replies = await Promise.all(writers);
      writing = false;
      await follower;
      expect(replies.every((r) => r.status === 200 || r.status === 201)).toBe(true);
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const versions = (await events(vm.vmId))
        .filter((e) => e.type === 'instructions')
        .map((e) => e.detail.version)
        .sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('a long-poll wakes on a new event; from/to select a window, and the cursor moves past what they skip', async () => {
      const vm = await t.createVm();
      const first = await t.call('PUT', `/api/vms/${vm.vmId}/instructions`, { body: { text: 'a' } });
      const poll = timed(audit(vm.vmId, '?since=1&wait=10'));
      await sleep(300);
      await t.call('PUT', `/api/vms/${vm.vmId}/instructions`, { body: { text: 'bb' } });
      const [woken, ms] = await poll;
      expect(ms).toBeLessThan(5000);
      expect(woken.body.events.map((e: AuditEvent) => e.seq)).toEqual([2]);
      const second = woken.body.events[0] as AuditEvent;
      expect((await events(vm.vmId, `?from=${second.at}`)).map((e) => e.seq)).toEqual([2]);
      expect((await events(vm.vmId, `?to=${first.body.updatedAt}`)).map((e) => e.seq)).toEqual([1]);
      const skipped = await audit(vm.vmId, `?from=${second.at + 1}`);
      expect(skipped.body).toEqual({ events: [], cursor: 2, dropped: false });
    });

    it('malformed query parameters are 400 invalid_query naming the field, and change nothing', async () => {
      const vm = await t.createVm();
      await t.call('PUT', `/api/vms/${vm.vmId}/instructions`, { body: { text: 'a' } });
      for (const [q, field] of [
        ['?since=-1', 'since'],
        ['?since=abc', 'since'],
        ['?since=1.5', 'since'],
        ['?wait=31', 'wait'],
        ['?wait=x', 'wait'],
        ['?from=yesterday', 'from'],
        ['?to=-5', 'to'],
        ['?from=10&to=5', 'to'],
      ] as const) {
        const r = await audit(vm.vmId, q);
        expect(r.status, q).toBe(400);
        expect(r.body.error.code).toBe('invalid_query');
        expect(r.body.error.field, q).toBe(field);
      }
      expect((await events(vm.vmId)).map((e) => e.seq)).toEqual([1]);
    });
  });
});

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start({ auditMaxEvents: 10 });
  });
  afterAll(() => t.close());

  it('keeps the last VMLIVE_AUDIT_MAX_EVENTS per VM, says when a cursor fell behind, and goes with the VM', async () => {
    const vm = await t.createVm();
    for (let i = 0; i < 15; i++) await t.call('PUT', `/api/vms/${vm.vmId}/instructions`, { body: { text: `v${i}` } });
    const r = await t.call('GET', `/api/vms/${vm.vmId}/audit`);
    expect(r.body.events.map((e: AuditEvent) => e.seq)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(r.body).toMatchObject({ cursor: 15, dropped: true });
    expect((await t.call('GET', `/api/vms/${vm.vmId}/audit?since=5`)).body.dropped).toBe(false);
    expect((await t.call('DELETE', `/api/vms/${vm.vmId}`)).status).toBe(204);
    expect((await t.call('GET', `/api/vms/${vm.vmId}/audit`)).status).toBe(404);
  });
});
