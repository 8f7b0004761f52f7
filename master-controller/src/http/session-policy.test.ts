/** Per-session relay policy: asked for in POST /api/webrtc/session, kept by the store, handed to the VM side. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, SDP_OFFER, TestController } from '../test/harness.js';

forEachStore(() => {
  describe('a session that asks for relays only', () => {
    let t: TestController;
    beforeAll(async () => {
      t = await TestController.start({
        turnUrls: ['turn:turn.example.com:3478?transport=udp'],
        turnSecret: 'a-test-secret-of-enough-length',
        turnTtlS: 3600,
      });
    });
    afterAll(() => t.close());

    it('gets relay on both sides while another session of the same VM keeps all', async () => {
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId, 'view');
      const relay = await t.call('POST', '/api/webrtc/session', {
        token: viewer,
        body: { vmId: vm.vmId, iceTransportPolicy: 'relay' },
      });
      const plain = await t.call('POST', '/api/webrtc/session', { token: viewer, body: { vmId: vm.vmId } });
      expect(relay.status).toBe(201);
      expect(relay.body.iceTransportPolicy).toBe('relay');
      expect(plain.body.iceTransportPolicy).toBe('all');
      for (const s of [relay.body.sessionId, plain.body.sessionId]) {
        await t.call('POST', `/api/webrtc/session/${s}/offer`, {
          token: viewer,
          body: { type: 'offer', sdp: SDP_OFFER },
        });
      }
      const listed = await t.call('GET', `/api/vms/${vm.vmId}/sessions?state=offered`, { token: vm.vmToken });
      const policy = Object.fromEntries(
        listed.body.sessions.map((x: { sessionId: string; iceTransportPolicy: string }) => [
          x.sessionId,
          x.iceTransportPolicy,
        ]),
      );
      expect(policy).toEqual({ [relay.body.sessionId]: 'relay', [plain.body.sessionId]: 'all' });
    });

    it('cannot loosen a relay-only deployment', async () => {
      const strict = await TestController.start({
        turnUrls: ['turn:turn.example.com:3478?transport=udp'],
        turnSecret: 'a-test-secret-of-enough-length',
        turnTtlS: 3600,
        iceTransportPolicy: 'relay',
      });
      try {
        const vm = await strict.createVm();
        const r = await strict.call('POST', '/api/webrtc/session', {
          token: await strict.viewerToken(vm.vmId, 'view'),
          body: { vmId: vm.vmId, iceTransportPolicy: 'all' },
        });
        expect(r.status).toBe(201);
        expect(r.body.iceTransportPolicy).toBe('relay');
      } finally {
        await strict.close();
      }
    });
  });

  it('relay on a controller without any TURN server is refused: 400 invalid_body naming the field', async () => {
    const t = await TestController.start();
    try {
      const vm = await t.createVm();
      const r = await t.call('POST', '/api/webrtc/session', {
        token: await t.viewerToken(vm.vmId, 'view'),
        body: { vmId: vm.vmId, iceTransportPolicy: 'relay' },
      });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_body');
      expect(r.body.error.field).toBe('iceTransportPolicy');
    } finally {
      await t.close();
    }
  });
});
