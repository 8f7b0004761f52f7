/**
 * ICE restart over the REST session (RFC 8445 §9): a viewer whose path changed posts a new offer
 * with `iceRestart: true` on its answered session; the VM is handed the session again and answers
 * again; candidates start a new generation. Both stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cand, forEachStore, SDP_ANSWER, SDP_OFFER, TestController } from '../test/harness.js';

/** A restart offer: same media, new ICE credentials (RFC 8839 §4.4.1.1.1). */
const restartOffer = (n: number) => `${SDP_OFFER}a=ice-ufrag:r${n}\r\na=ice-pwd:restartrestartrestart${n}\r\n`;

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start();
  });
  afterAll(() => t.close());

  async function answeredSession() {
    const s = await t.offeredSession();
    const r = await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
      token: s.vmToken,
      body: { type: 'answer', sdp: SDP_ANSWER },
    });
    expect(r.status).toBe(204);
    return s;
  }

  const restart = (s: { sessionId: string; viewer: string }, sdp: string) =>
    t.call('POST', `/api/webrtc/session/${s.sessionId}/offer`, {
      token: s.viewer,
      body: { type: 'offer', sdp, iceRestart: true },
    });

  describe('ICE restart', () => {
    it('an answered session takes a restart offer: 200 with offerSeq and generation 1, the answer cleared, the VM handed the session again', async () => {
      const s = await answeredSession();
      // A fresh VM: its first offer took offerSeq 1, which is where the VM's cursor stands.
      const cursor = 1;
      const first = await t.call('GET', `/api/vms/${s.vmId}/sessions?state=offered&since=${cursor}`, {
        token: s.vmToken,
      });
      expect(first.body.sessions).toEqual([]);

      const r = await restart(s, restartOffer(1));
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ offerSeq: cursor + 1, generation: 1 });

      const answer = await t.call('GET', `/api/webrtc/session/${s.sessionId}/answer`, { token: s.viewer });
      expect(answer.status).toBe(204);
      const offer = await t.call('GET', `/api/webrtc/session/${s.sessionId}/offer`, { token: s.vmToken });
      expect(offer.body).toEqual({ type: 'offer', sdp: restartOffer(1) });

      const again = await t.call('GET', `/api/vms/${s.vmId}/sessions?state=offered&since=${cursor}`, {
        token: s.vmToken,
      });
      expect(again.body.sessions).toEqual([
        {
          sessionId: s.sessionId,
          offer: { type: 'offer', sdp: restartOffer(1) },
          createdAt: expect.any(Number),
          iceTransportPolicy: 'all',
          generation: 1,
        },
      ]);
      expect(again.body.cursor).toBe(cursor + 1);

      const reanswer = await t.call('POST', `/api/webrtc/session/${s.sessionId}/answer`, {
        token: s.vmToken,
        body: { type: 'answer', sdp: `${SDP_ANSWER}a=ice-ufrag:vm1\r\n` },
      });
      expect(reanswer.status).toBe(204);
      const got = await t.call('GET', `/api/webrtc/session/${s.sessionId}/answer`, { token: s.viewer });
      expect(got.body.sdp).toContain('a=ice-ufrag:vm1');
      // A second restart later works the same way, one generation up.
      const second = await restart(s, restartOffer(2));
      expect(second.body).toEqual({ offerSeq: cursor + 2, generation: 2 });
    });

    it('the restarting session stays in the active list, so the VM does not take it for ended', async () => {
      const s = await answeredSession();
      await restart(s, restartOffer(1));
      const active = await t.call('GET', `/api/vms/${s.vmId}/sessions?state=active`, { token: s.vmToken });
      expect(active.body.sessions.map((x: { sessionId: string }) => x.sessionId)).toEqual([s.sessionId]);
    });

    it("drops the previous generation's candidates; the same candidate posted again is stored anew with generation 1, after the cursor", async () => {
      const s = await answeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const old = await t.call('POST', `${base}/candidate`, {
        token: s.vmToken,
        body: { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' },
      });
      await t.call('POST', `${base}/candidate`, {
        token: s.viewer,
        body: { candidate: cand(2), sdpMLineIndex: 0, from: 'browser' },
      });
      const before = await t.call('GET', `${base}/candidates/vm?since=0`, { token: s.viewer });
      expect(before.body.candidates).toEqual([
        {
          candidate: cand(1),
          sdpMLineIndex: 0,
          sdpMid: null,
          seq: old.body.seq,
          timestamp: expect.any(Number),
          generation: 0,
        },
      ]);

      await restart(s, restartOffer(1));
      expect((await t.call('GET', `${base}/candidates/vm?since=0`, { token: s.viewer })).body.candidates).toEqual([]);
      expect((await t.call('GET', `${base}/candidates/browser?since=0`, { token: s.vmToken })).body.candidates).toEqual(
        [],
      );

      // A restarted libnice agent announces the very same candidate: it must reach the viewer again.
      const renewed = await t.call('POST', `${base}/candidate`, {
        token: s.vmToken,
        body: { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' },
      });
      expect(renewed.status).toBe(201);
      expect(renewed.body.seq).toBeGreaterThan(old.body.seq);
      const after = await t.call('GET', `${base}/candidates/vm?since=${before.body.cursor}`, { token: s.viewer });
      expect(after.body).toEqual({
        candidates: [
          {
            candidate: cand(1),
            sdpMLineIndex: 0,
            sdpMid: null,
            seq: renewed.body.seq,
            timestamp: expect.any(Number),
            generation: 1,
          },
        ],
        cursor: renewed.body.seq,
      });
    });

    it('a retried restart POST (same offer) gets the same reply and changes nothing', async () => {
      const s = await answeredSession();
      const first = await restart(s, restartOffer(1));
      const retried = await restart(s, restartOffer(1));
      expect(retried.status).toBe(200);
      expect(retried.body).toEqual(first.body);
      const offered = await t.call(
        'GET',
        `/api/vms/${s.vmId}/sessions?state=offered&since=${first.body.offerSeq - 1}`,
        {
          token: s.vmToken,
        },
      );
      expect(offered.body.sessions.map((x: { generation: number }) => x.generation)).toEqual([1]);
    });

    it('refuses without changing anything: a restart of an unanswered offer, the first offer again as a restart, a second offer without iceRestart', async () => {
      const s = await t.offeredSession();
      const base = `/api/webrtc/session/${s.sessionId}`;
      const unanswered = await restart(s, restartOffer(1));
      expect(unanswered.status).toBe(409);
      expect(unanswered.body.error).toMatchObject({ code: 'offer_exists', field: 'iceRestart' });
      await t.call('POST', `${base}/answer`, { token: s.vmToken, body: { type: 'answer', sdp: SDP_ANSWER } });
      const same = await restart(s, SDP_OFFER);
      expect(same.status).toBe(409);
      expect(same.body.error.code).toBe('offer_exists');
      const plain = await t.call('POST', `${base}/offer`, {
        token: s.viewer,
        body: { type: 'offer', sdp: restartOffer(1) },
      });
      expect(plain.status).toBe(409);
      expect(plain.body.error.code).toBe('offer_exists');
      expect((await t.call('GET', `${base}/offer`, { token: s.vmToken })).body.sdp).toBe(SDP_OFFER);
      expect((await t.call('GET', `${base}/answer`, { token: s.viewer })).body.sdp).toBe(SDP_ANSWER);
    });

    it("a restart wakes the VM's sessions long-poll", async () => {
      const s = await answeredSession();
      const cursor = (await t.call('GET', `/api/vms/${s.vmId}/sessions?since=0`, { token: s.vmToken })).body.cursor;
      const poll = t.call('GET', `/api/vms/${s.vmId}/sessions?since=${cursor}&wait=10`, { token: s.vmToken });
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await restart(s, restartOffer(1));
      const r = await poll;
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(r.body.sessions.map((x: { sessionId: string }) => x.sessionId)).toEqual([s.sessionId]);
    });
  });
});
