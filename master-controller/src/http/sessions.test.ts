import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cand, forEachStore, SDP_ANSWER, SDP_OFFER, sleep, TestController, timed } from '../test/harness.js';

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start();
  });
  afterAll(() => t.close());

  describe('session rows', () => {
    it('POST /api/webrtc/session returns 201 with sessionId, iceServers and expiresAt', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId, 'view');
      const before = Date.now();
      const r = await t.call('POST', '/api/webrtc/session', { token: viewer, body: { vmId: vm.vmId } });
      expect(r.status).toBe(201);
      expect(r.body.sessionId).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      expect(r.body.iceServers).toEqual([]);
      expect(r.body.expiresAt).toBeGreaterThan(before);
    });

    it('POST /api/webrtc/session says whether the VM is online: false until its agent heartbeats', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId, 'view');
      const before = await t.call('POST', '/api/webrtc/session', { token: viewer, body: { vmId: vm.vmId } });
      expect(before.body.vmOnline).toBe(false);
      const hb = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken, body: {} });
      expect(hb.status).toBe(204);
      const after = await t.call('POST', '/api/webrtc/session', { token: viewer, body: { vmId: vm.vmId } });
      expect(after.body.vmOnline).toBe(true);
    });

    it('the operator can open a session too', async () => {
      const vm = await t.createVm();
      const r = await t.call('POST', '/api/webrtc/session', { body: { vmId: vm.vmId } });
      expect(r.status).toBe(201);
    });

    it('offer: POST 204, second POST 409 offer_exists, GET by the VM returns it', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      const sid = await t.createSession(vm.vmId, viewer);
      const none = await t.call('GET', `/api/webrtc/session/${sid}/offer`, { token: vm.vmToken });
      expect(none.status).toBe(404);
      expect(none.body.error.code).toBe('offer_not_found');
      const post = await t.call('POST', `/api/webrtc/session/${sid}/offer`, {
        token: viewer,
        body: { type: 'offer', sdp: SDP_OFFER },
      });
      expect(post.status).toBe(204);
      const again = await t.call('POST', `/api/webrtc/session/${sid}/offer`, {
        token: viewer,
        body: { type: 'offer', sdp: 'v=0\r\n' },
      });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('offer_exists');
      const got = await t.call('GET', `/api/webrtc/session/${sid}/offer`, { token: vm.vmToken });
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ type: 'offer', sdp: SDP_OFFER });
    });

    it('answer: 204 none yet, VM posts 204, a retried identical POST 204, another answer 409 answer_exists, viewer GET 200', async () => {
      const s = await t.offeredSession();
      const none = await t.call('GET', `/api/webrtc/session/${s.sessionId}/answer`, { token: s.viewer });
      expect(none.status).toBe(204);
      const post = await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      expect(post.status).toBe(204);
      const retried = await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      expect(retried.status).toBe(204);
      const again = await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_OFFER },
      });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('answer_exists');
      const got = await t.call('GET', `/api/webrtc/session/${s.sessionId}/answer`, { token: s.viewer });
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ type: 'answer', sdp: SDP_ANSWER });
    });

    it('an answer before any offer is 409 offer_missing', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      const sid = await t.createSession(vm.vmId, viewer);
      const r = await t.call('POST', `/api/webrtc/session/${sid}/answer`, {
        token: vm.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('offer_missing');
    });

    it('candidates: 201 {seq,timestamp}; each side reads the other side in order with a cursor', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const a = await t.call('POST', `${base}/candidate`, {
        token: s.viewer,
        body: { candidate: cand(1), sdpMLineIndex: 0, sdpMid: '0', from: 'browser' },
      });
      expect(a.status).toBe(201);
      expect(a.body).toEqual({ seq: 1, timestamp: expect.any(Number) });
      const b = await t.call('POST', `${base}/candidate`, {
        token: s.vmToken,
        body: { candidate: cand(2), sdpMLineIndex: 0, from: 'vm' },
      });
      expect(b.body.seq).toBe(2);
      const c = await t.call('POST', `${base}/candidate`, {
        token: s.viewer,
        body: { candidate: '', sdpMLineIndex: 0, sdpMid: null, from: 'browser' },
      });
      expect(c.body.seq).toBe(3);

      const fromBrowser = await t.call('GET', `${base}/candidates/browser?since=0`, { token: s.vmToken });
      expect(fromBrowser.status).toBe(200);
      expect(fromBrowser.body).toEqual({
        candidates: [
          { candidate: cand(1), sdpMLineIndex: 0, sdpMid: '0', seq: 1, timestamp: a.body.timestamp, generation: 0 },
          // An empty candidate is end-of-candidates and is relayed like any other.
          { candidate: '', sdpMLineIndex: 0, sdpMid: null, seq: 3, timestamp: c.body.timestamp, generation: 0 },
        ],
        cursor: 3,
      });
      const fromVm = await t.call('GET', `${base}/candidates/vm`, { token: s.viewer });
      expect(fromVm.body.candidates.map((x: { seq: number }) => x.seq)).toEqual([2]);
      expect(fromVm.body.candidates[0].sdpMid).toBeNull();
      expect(fromVm.body.cursor).toBe(2);

      const after = await t.call('GET', `${base}/candidates/browser?since=3`, { token: s.vmToken });
      expect(after.body).toEqual({ candidates: [], cursor: 3 });
      const partial = await t.call('GET', `${base}/candidates/browser?since=1`, { token: s.vmToken });
      expect(partial.body.candidates.map((x: { seq: number }) => x.seq)).toEqual([3]);
    });

    it('stops a side at 256 candidates with 409 too_many_candidates, the other side unaffected', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      for (let i = 0; i < 256; i++) {
        const r = await t.call('POST', `${base}/candidate`, {
          token: s.viewer,
          body: { candidate: cand(i), sdpMLineIndex: 0, from: 'browser' },
        });
        expect(r.status).toBe(201);
      }
      const over = await t.call('POST', `${base}/candidate`, {
        token: s.viewer,
        body: { candidate: cand(999), sdpMLineIndex: 0, from: 'browser' },
      });
      expect(over.status).toBe(409);
      expect(over.body.error.code).toBe('too_many_candidates');
      const vmSide = await t.call('POST', `${base}/candidate`, {
        token: s.vmToken,
        body: { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' },
      });
      expect(vmSide.status).toBe(201);
      const all = await t.call('GET', `${base}/candidates/browser`, { token: s.vmToken });
      expect(all.body.candidates).toHaveLength(256);
    });

    it('DELETE ends the session: 204, then every call on it is 404 session_not_found', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const del = await t.call('DELETE', base, { token: s.vmToken });
      expect(del.status).toBe(204);
      for (const [method, path, token] of [
        ['GET', `${base}/offer`, s.vmToken],
        ['GET', `${base}/answer`, s.viewer],
        ['GET', `${base}/candidates/vm`, s.viewer],
        ['DELETE', base, s.viewer],
      ] as const) {
        const r = await t.call(method, path, { token });
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.body.error.code).toBe('session_not_found');
      }
    });

    it('the viewer may DELETE its own session as well', async () => {
      const s = await t.offeredSession();
      expect((await t.call('DELETE', `/api/webrtc/session/${s.sessionId}`, { token: s.viewer })).status).toBe(204);
    });

    it('GET /api/vms/:vmId/sessions lists offered sessions, then active ones once answered', async () => {
      const s = await t.offeredSession();
      const offered = await t.call('GET', `/api/vms/${s.vmId}/sessions?state=offered`, { token: s.vmToken });
      expect(offered.status).toBe(200);
      expect(offered.body.sessions).toEqual([
        {
          sessionId: s.sessionId,
          offer: { type: 'offer', sdp: SDP_OFFER },
          createdAt: expect.any(Number),
          iceTransportPolicy: 'all',
          generation: 0,
        },
      ]);
      expect(offered.body.control).toEqual({ mode: 'agent', holder: null, since: expect.any(Number) });
      const dflt = await t.call('GET', `/api/vms/${s.vmId}/sessions`, { token: s.vmToken });
      expect(dflt.body.sessions).toHaveLength(1);
      await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      const after = await t.call('GET', `/api/vms/${s.vmId}/sessions`, { token: s.vmToken });
      expect(after.body.sessions).toEqual([]);
      const active = await t.call('GET', `/api/vms/${s.vmId}/sessions?state=active`, { token: s.vmToken });
      expect(active.body.sessions.map((x: { sessionId: string }) => x.sessionId)).toEqual([s.sessionId]);
    });

    it('sessions without an offer are not listed', async () => {
      const vm = await t.createVm();
      await t.createSession(vm.vmId, await t.viewerToken(vm.vmId));
      const r = await t.call('GET', `/api/vms/${vm.vmId}/sessions`, { token: vm.vmToken });
      expect(r.body.sessions).toEqual([]);
    });
  });

  describe('long-polls', () => {
    it('candidates long-poll wakes promptly on the write that satisfies it', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const poll = timed(t.call('GET', `${base}/candidates/browser?since=0&wait=10`, { token: s.vmToken }));
      await sleep(100);
      const wrote = performance.now();
      await t.call('POST', `${base}/candidate`, {
        token: s.viewer,
        body: { candidate: cand(7), sdpMLineIndex: 0, from: 'browser' },
      });
      const [r] = await poll;
      const wake = performance.now() - wrote;
      expect(r.status).toBe(200);
      expect(r.body.candidates.map((c: { candidate: string }) => c.candidate)).toEqual([cand(7)]);
      expect(wake).toBeLessThan(500);
    });

    it('a candidate from the other side does not answer a long-poll on this side', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const poll = timed(t.call('GET', `${base}/candidates/browser?wait=0.6`, { token: s.vmToken }));
      await sleep(50);
      await t.call('POST', `${base}/candidate`, {
        token: s.vmToken,
        body: { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' },
      });
      const [r, ms] = await poll;
      expect(r.body).toEqual({ candidates: [], cursor: 0 });
      expect(ms).toBeGreaterThanOrEqual(550);
    });

    it('an empty long-poll returns the empty answer after wait=S', async () => {
      const s = await t.offeredSession();
      const [r, ms] = await timed(
        t.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/vm?since=0&wait=0.5`, { token: s.viewer }),
      );
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ candidates: [], cursor: 0 });
      expect(ms).toBeGreaterThanOrEqual(450);
      expect(ms).toBeLessThan(2000);
    });

    it('offer long-poll wakes on the offer, and is 404 offer_not_found at timeout', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      const sid = await t.createSession(vm.vmId, viewer);
      const [none, ms] = await timed(t.call('GET', `/api/webrtc/session/${sid}/offer?wait=0.3`, { token: vm.vmToken }));
      expect(none.status).toBe(404);
      expect(none.body.error.code).toBe('offer_not_found');
      expect(ms).toBeGreaterThanOrEqual(250);
      const poll = timed(t.call('GET', `/api/webrtc/session/${sid}/offer?wait=10`, { token: vm.vmToken }));
      await sleep(100);
      await t.call('POST', `/api/webrtc/session/${sid}/offer`, {
        token: viewer,
        body: { type: 'offer', sdp: SDP_OFFER },
      });
      const [r, total] = await poll;
      expect(r.status).toBe(200);
      expect(r.body.sdp).toBe(SDP_OFFER);
      expect(total).toBeLessThan(100 + 500);
    });

    it('answer long-poll wakes on the answer, and returns 204 at timeout', async () => {
      const s = await t.offeredSession();
      const [empty, ms] = await timed(
        t.call('GET', `/api/webrtc/session/${s.sessionId}/answer?wait=0.3`, { token: s.viewer }),
      );
      expect(empty.status).toBe(204);
      expect(ms).toBeGreaterThanOrEqual(250);
      const poll = timed(t.call('GET', `/api/webrtc/session/${s.sessionId}/answer?wait=10`, { token: s.viewer }));
      await sleep(100);
      await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      const [r, total] = await poll;
      expect(r.status).toBe(200);
      expect(r.body.sdp).toBe(SDP_ANSWER);
      expect(total).toBeLessThan(100 + 500);
    });

    it("the VM's sessions long-poll wakes when an offer arrives", async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      const sid = await t.createSession(vm.vmId, viewer);
      const poll = timed(t.call('GET', `/api/vms/${vm.vmId}/sessions?state=offered&wait=10`, { token: vm.vmToken }));
      await sleep(100);
      await t.call('POST', `/api/webrtc/session/${sid}/offer`, {
        token: viewer,
        body: { type: 'offer', sdp: SDP_OFFER },
      });
      const [r, ms] = await poll;
      expect(r.body.sessions.map((x: { sessionId: string }) => x.sessionId)).toEqual([sid]);
      expect(ms).toBeLessThan(600);
    });

    it('the active-sessions long-poll wakes when an active session ends', async () => {
      const s = await t.offeredSession();
      await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: SDP_ANSWER },
      });
      const poll = timed(t.call('GET', `/api/vms/${s.vmId}/sessions?state=active&wait=10`, { token: s.vmToken }));
      await sleep(100);
      await t.call('DELETE', `/api/webrtc/session/${s.sessionId}`, { token: s.viewer });
      const [r, ms] = await poll;
      expect(r.body.sessions).toEqual([]);
      expect(ms).toBeLessThan(600);
    });

    it('a long-poll on a session that ends is answered at once with 404 session_not_found', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const polls = [
        timed(t.call('GET', `${base}/candidates/browser?wait=10`, { token: s.vmToken })),
        timed(t.call('GET', `${base}/answer?wait=10`, { token: s.viewer })),
      ];
      await sleep(100);
      await t.call('DELETE', base, { token: s.viewer });
      for (const [r, ms] of await Promise.all(polls)) {
        expect(r.status).toBe(404);
        expect(r.body.error.code).toBe('session_not_found');
        expect(ms).toBeLessThan(600);
      }
    });

    it('plain polling with wait=0 returns at once', async () => {
      const s = await t.offeredSession();
      const [r, ms] = await timed(
        t.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/vm?since=0&wait=0`, { token: s.viewer }),
      );
      expect(r.status).toBe(200);
      expect(ms).toBeLessThan(200);
    });

    it('a retried candidate POST (same candidate again) returns the stored seq and stores nothing new', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const body = { candidate: cand(7), sdpMLineIndex: 0, sdpMid: '0', from: 'browser' };
      const first = await t.call('POST', `${base}/candidate`, { token: s.viewer, body });
      const again = await t.call('POST', `${base}/candidate`, { token: s.viewer, body });
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      const got = await t.call('GET', `${base}/candidates/browser?since=0`, { token: s.vmToken });
      expect(got.body.candidates).toHaveLength(1);
      const other = await t.call('POST', `${base}/candidate`, { token: s.viewer, body: { ...body, sdpMid: '1' } });
      expect(other.body.seq).toBeGreaterThan(first.body.seq);
    });

    it('no candidate is lost or duplicated with concurrent writers and a cursor-following reader', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const writers = 8;
      const perWriter = 30; // 240 ≤ 256 per side
      const seen: string[] = [];
      let cursor = 0;
      let done = false;
      const reader = (async () => {
        while (!done || seen.length < writers * perWriter) {
          const r = await t.call('GET', `${base}/candidates/browser?since=${cursor}&wait=2`, { token: s.vmToken });
          expect(r.status).toBe(200);
          for (const c of r.body.candidates) {
            expect(c.seq).toBeGreaterThan(cursor);
            seen.push(c.candidate);
          }
          expect(r.body.cursor).toBeGreaterThanOrEqual(cursor);
          cursor = r.body.cursor;
          if (done && r.body.candidates.length === 0) break;
        }
      })();
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < perWriter; i++) {
            const r = await t.call('POST', `${base}/candidate`, {
              token: s.viewer,
              body: { candidate: cand(w * 1000 + i), sdpMLineIndex: 0, from: 'browser' },
            });
            expect(r.status).toBe(201);
          }
        }),
      );
      done = true;
      await reader;
      const expected = Array.from({ length: writers }, (_, w) =>
        Array.from({ length: perWriter }, (_, i) => cand(w * 1000 + i)),
      ).flat();
      expect(seen).toHaveLength(expected.length);
      expect(new Set(seen)).toEqual(new Set(expected));
      // Each writer's own candidates keep their order.
      for (let w = 0; w < writers; w++) {
        const mine = seen.filter((c) => expected.slice(w * perWriter, (w + 1) * perWriter).includes(c));
        expect(mine).toEqual(expected.slice(w * perWriter, (w + 1) * perWriter));
      }
    });

    it('waiting long-polls show in the metric and leave nothing behind when answered', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const polls = Array.from({ length: 5 }, () => t.call('GET', `${base}/candidates/vm?wait=5`, { token: s.viewer }));
      await sleep(150);
      expect(await t.metric('vmlive_longpolls_waiting')).toBeGreaterThanOrEqual(5);
      await t.call('POST', `${base}/candidate`, {
        token: s.vmToken,
        body: { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' },
      });
      for (const r of await Promise.all(polls)) expect(r.body.candidates).toHaveLength(1);
      await sleep(20);
      expect(await t.metric('vmlive_longpolls_waiting')).toBe(0);
    });
  });
});
