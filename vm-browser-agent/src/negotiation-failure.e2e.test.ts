/**
 * A viewer whose offer the helper cannot answer must learn it at once: the helper reports
 * `negotiation-failed` for that peer, the agent removes the peer and ends its session at the
 * controller. Before, the helper reported such an offer as `command-failed` (only logged), so
 * the session sat there until the agent's 15 s unanswered-peer sweep.
 *
 * Real parts: the controller (in-process, ephemeral port), WebRtcServer + HelperSupervisor +
 * HelperProcess, and the GStreamer helper on its own Xvfb.
 */
import type { HelperEvent } from '@vmlive/protocol';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDP_OFFER, TestController, timed } from '../../master-controller/src/test/harness.js';
import { ControllerClient } from './controller/controller-client.js';
import { HelperProcess } from './helper/helper-process.js';
import { HelperSupervisor } from './helper-supervisor.js';
import { startXvfb, type XvfbHandle } from './sandbox/xvfb.js';
import { WebRtcServer } from './webrtc-server.js';

const log = pino({ level: process.env.VMLIVE_TEST_LOG ?? 'warn' });

let xvfb: XvfbHandle;
let controller: TestController;
let supervisor: HelperSupervisor;
let server: WebRtcServer;
let vmId: string;
const events: HelperEvent[] = [];

beforeAll(async () => {
  xvfb = await startXvfb({ width: 640, height: 360 });
  controller = await TestController.start();
  const vm = await controller.createVm('negotiation-failure');
  vmId = vm.vmId;
  supervisor = new HelperSupervisor(
    () => new HelperProcess({ settings: { display: xvfb.display, width: 640, height: 360, nice: 0 }, logger: log }),
    log,
  );
  supervisor.on('event', (e) => events.push(e));
  server = new WebRtcServer({
    client: new ControllerClient({ baseUrl: controller.url, vmId, token: vm.vmToken }),
    supervisor,
    log,
    iceServers: [],
    heartbeatMs: 1000,
    longPollSeconds: 5,
  });
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  await controller?.close();
  await xvfb?.stop();
});

describe('a viewer offer the helper cannot answer', () => {
  it.each([
    // parses as SDP, but its video m-line offers no codec the helper can send
    ['an offer without a receivable video codec', SDP_OFFER],
    ['a garbage offer', 'this is not SDP'],
  ])('%s: the peer is removed and its session ended within 1 s', async (_name, sdp) => {
    const token = await controller.viewerToken(vmId);
    const sessionId = await controller.createSession(vmId, token);
    const posted = await controller.call('POST', `/api/webrtc/session/${sessionId}/offer`, {
      token,
      body: { type: 'offer', sdp },
    });
    expect(posted.status).toBe(204);
    // What the viewer does next: long-poll for the answer. The session's end answers it at once.
    const [answer, elapsed] = await timed(
      controller.call('GET', `/api/webrtc/session/${sessionId}/answer?wait=10`, { token }),
    );
    expect([answer.status, answer.body?.error?.code]).toEqual([404, 'session_not_found']);
    expect(elapsed).toBeLessThan(1000);
    // and the session is gone for every read, not only that poll
    const offer = await controller.call('GET', `/api/webrtc/session/${sessionId}/offer`, { token });
    expect([offer.status, offer.body?.error?.code]).toEqual([404, 'session_not_found']);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'error', peerId: sessionId, code: 'negotiation-failed' }),
    );
    expect(server.peerCount).toBe(0);
  });

  it('leaves the helper serving: it still answers and has no peer left', async () => {
    // remove-peer was sent with the session's end; give the helper's main loop a moment for it
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stats = await supervisor.helper?.getStats(null);
    expect(stats?.peers).toEqual({});
    expect(supervisor.restartCount).toBe(0);
  });
});
