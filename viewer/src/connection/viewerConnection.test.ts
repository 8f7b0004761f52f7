import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeController } from '../testing/fakeController.js';
import { FakePeerConnection, FakeRTCPeerConnection } from '../testing/fakePeerConnection.js';
import type { IceRestartEvent } from './attempt.js';
import { exponentialBackoff } from './reconnectPolicy.js';
import { ViewerConnection, type ViewerConnectionOptions } from './viewerConnection.js';
import type { ViewerPhase, ViewerState } from './viewerState.js';

const until = async (cond: () => boolean, what = 'condition') => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

let controller: FakeController;
let connection: ViewerConnection;
let states: ViewerState[];

function connect(overrides: Partial<ViewerConnectionOptions> = {}) {
  connection = new ViewerConnection({
    baseUrl: 'http://controller.test',
    vmId: 'vm-1',
    token: 'viewer-token',
    fetch: controller.fetch,
    RTCPeerConnection: FakeRTCPeerConnection,
    policy: exponentialBackoff({ initialMs: 5, maxMs: 20, jitter: 0, maxAttempts: 5 }),
    answerTimeoutMs: 300,
    iceTimeoutMs: 300,
    disconnectGraceMs: 30,
    statsIntervalMs: 10,
    watchdog: { stallMs: 100, firstFrameMs: 200 },
    ...overrides,
  });
  connection.on('state', (s) => states.push(s));
  connection.start();
  return connection;
}

const phases = () => states.map((s) => s.phase);
const reachPhase = (phase: ViewerPhase) => until(() => connection.state.phase === phase, `phase ${phase}`);

/** Drives one attempt through answer + ICE connected, as the VM and the browser would. */
async function bringUp(sessionId: string, frames = true) {
  await until(() => controller.sessions.get(sessionId)?.offer != null, `offer on ${sessionId}`);
  controller.answer(sessionId);
  const pc = FakePeerConnection.last;
  await until(() => pc.remoteDescription !== null, 'remote description');
  if (frames) pc.framesDecoded = 1;
  pc.setConnectionState('connected');
  return pc;
}

beforeEach(() => {
  controller = new FakeController();
  FakePeerConnection.reset();
  states = [];
});

afterEach(() => {
  connection?.close();
});

describe('ViewerConnection', () => {
  it('offers a recvonly video transceiver and an ordered "input" channel with the session ICE servers, max-bundle', async () => {
    connect();
    await until(() => controller.sessions.get('s1')?.offer != null, 'offer');
    const pc = FakePeerConnection.last;
    expect(pc.config).toMatchObject({
      iceServers: [{ urls: 'stun:stun.example' }],
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    expect(pc.transceivers).toEqual([{ kind: 'video', init: { direction: 'recvonly' } }]);
    expect(pc.channels.map((c) => [c.label, c.init?.ordered])).toEqual([['input', true]]);
    expect(controller.requests[0]?.auth).toBe('Bearer viewer-token');
  });

  it('asks the controller for a relay-only session when told to, and builds the peer connection relay-only', async () => {
    connect({ iceTransportPolicy: 'relay' });
    await until(() => controller.sessions.get('s1')?.offer != null, 'offer');
    expect(controller.requestsTo('POST', '/api/webrtc/session')[0]?.body).toEqual({
      vmId: 'vm-1',
      iceTransportPolicy: 'relay',
    });
    expect(FakePeerConnection.last.config?.iceTransportPolicy).toBe('relay');
  });

  it('leaves the ICE policy to the deployment when not told: the session request names only the VM', async () => {
    connect();
    await until(() => controller.sessions.get('s1')?.offer != null, 'offer');
    expect(controller.requestsTo('POST', '/api/webrtc/session')[0]?.body).toEqual({ vmId: 'vm-1' });
    expect(FakePeerConnection.last.config?.iceTransportPolicy).toBe('all');
  });

  it('reaches connected after the answer and ICE connect, and keeps frames flowing without complaint', async () => {
    connect();
    const pc = await bringUp('s1');
    pc.autoDecode = true;
    await reachPhase('connected');
    const start = pc.framesDecoded;
    await until(() => pc.framesDecoded > start + 20, 'stats sampled 20 times');
    expect(connection.state.phase).toBe('connected');
    expect(phases()).toEqual(['connecting', 'connected']);
  });

  it('queues VM candidates that arrive before the answer and applies them after it, in order', async () => {
    connect();
    await until(() => controller.sessions.get('s1')?.offer != null, 'offer');
    controller.addVmCandidate('s1', 'candidate:a');
    controller.addVmCandidate('s1', 'candidate:b');
    await new Promise((r) => setTimeout(r, 20));
    const pc = FakePeerConnection.last;
    expect(pc.addedCandidates).toEqual([]); // the fake throws if added before the remote description
    controller.answer('s1');
    await until(() => pc.addedCandidates.length === 2, 'queued candidates applied');
    controller.addVmCandidate('s1', '');
    await until(() => pc.addedCandidates.length === 3, 'end-of-candidates');
    expect(pc.addedCandidates.map((c) => c.candidate)).toEqual(['candidate:a', 'candidate:b', '']);
  });

  it('trickles local candidates only after the offer, in gathering order, then end-of-candidates', async () => {
    connect();
    await until(() => FakePeerConnection.instances.length === 1, 'pc');
    const pc = FakePeerConnection.last;
    pc.gather('candidate:1');
    pc.gather('candidate:2');
    pc.gather(null);
    await until(() => (controller.sessions.get('s1')?.browserCandidates.length ?? 0) === 3, 'candidates posted');
    const order = controller.requests.map((r) => r.path.split('/').pop());
    expect(order.indexOf('offer')).toBeLessThan(order.indexOf('candidate'));
    expect(controller.sessions.get('s1')?.browserCandidates.map((c) => c.candidate)).toEqual([
      'candidate:1',
      'candidate:2',
      '',
    ]);
  });

  it('asks for a minimal jitter buffer on the received track', async () => {
    connect();
    await until(() => FakePeerConnection.instances.length === 1, 'pc');
    const receiver = { jitterBufferTarget: 250 as number | null };
    const streams: unknown[] = [];
    connection.on('stream', (s) => streams.push(s));
    FakePeerConnection.last.ontrack?.({ receiver, streams: [{ id: 'stream' }], track: {} });
    expect(receiver.jitterBufferTarget).toBe(0);
    expect(streams).toEqual([{ id: 'stream' }]);
  });

  it("passes on the helper's control feedback and drops channel messages that are not feedback", async () => {
    connect();
    await until(() => FakePeerConnection.instances.length === 1, 'pc');
    const seen: unknown[] = [];
    connection.on('feedback', (f) => seen.push(f));
    const channel = FakePeerConnection.last.channels[0];
    for (const data of [
      '{"t":"control","granted":"yes"}',
      'not json',
      '{"t":"rejected","reason":"elsewhere"}',
      '{"t":"rejected","reason":"not-holder"}',
      '{"t":"control","granted":true}',
    ]) {
      channel?.onmessage?.({ data });
    }
    expect(seen).toEqual([
      { t: 'rejected', reason: 'not-holder' },
      { t: 'control', granted: true },
    ]);
  });

  it('without ICE restart, on ICE failure says so, tears the attempt down and comes back on a new session', async () => {
    connect({ iceRestart: false });
    const first = await bringUp('s1');
    await reachPhase('connected');
    first.setConnectionState('failed');
    expect(connection.state).toMatchObject({ phase: 'reconnecting', reason: { code: 'ice-failed' } });
    expect(first.closed).toBe(true);
    await until(() => controller.sessions.get('s1')?.ended === true, 'old session deleted');
    await until(() => controller.sessions.has('s2'), 'new session');
    await bringUp('s2');
    await reachPhase('connected');
    expect(phases()).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('without ICE restart, treats a long "disconnected" as lost but lets a short one recover', async () => {
    connect({ iceRestart: false });
    const pc = await bringUp('s1');
    pc.autoDecode = true;
    await reachPhase('connected');
    pc.setConnectionState('disconnected');
    pc.setConnectionState('connected'); // ICE recovered before the grace period ended
    await new Promise((r) => setTimeout(r, 80));
    expect(connection.state.phase).toBe('connected');
    pc.setConnectionState('disconnected');
    await reachPhase('reconnecting');
    expect(connection.state.reason.code).toBe('ice-disconnected');
  });

  it('never sits on a frozen frame: frames that stop while connected → reconnecting "frames-stopped"', async () => {
    connect({ iceRestart: false });
    const pc = await bringUp('s1');
    await reachPhase('connected');
    pc.framesDecoded = 5; // then nothing more is decoded
    await reachPhase('reconnecting');
    expect(connection.state.reason.code).toBe('frames-stopped');
  });

  describe('ICE restart', () => {
    const restarts: IceRestartEvent[] = [];
    beforeEach(() => {
      restarts.length = 0;
    });
    const connectWithRestart = (overrides: Partial<ViewerConnectionOptions> = {}) => {
      connect({ iceRestartTimeoutMs: 300, ...overrides });
      connection.on('iceRestart', (e) => restarts.push(e));
    };

    it('on ICE failure restarts ICE on the same session: iceRestart offer, new answer, new-generation candidates only, frames resume without a new session', async () => {
      connectWithRestart();
      const pc = await bringUp('s1');
      pc.autoDecode = true;
      await reachPhase('connected');
      controller.addVmCandidate('s1', 'candidate:old');
      await until(() => pc.addedCandidates.length === 1, 'first candidate');
      pc.autoDecode = false;
      pc.setConnectionState('failed');
      expect(restarts).toEqual([{ phase: 'started', cause: 'ice-failed', restart: 1 }]);
      await until(() => controller.sessions.get('s1')?.generation === 1, 'restart offer stored');
      expect(pc.offerOptions).toEqual([undefined, { iceRestart: true }]);
      expect(controller.sessions.get('s1')?.offers).toEqual(['v=0 fake offer', 'v=0 fake offer (ice restart 1)']);
      expect(controller.requestsTo('POST', '/api/webrtc/session/s1/offer')[1]?.body).toEqual({
        type: 'offer',
        sdp: 'v=0 fake offer (ice restart 1)',
        iceRestart: true,
      });
      // Before the restart's answer: a stale VM candidate of generation 0 and a fresh one, both held.
      controller.addVmCandidate('s1', 'candidate:stale', 0, 0);
      controller.addVmCandidate('s1', 'candidate:new');
      pc.gather('candidate:mine-after-restart');
      controller.answer('s1', 'v=0 restart answer');
      await until(() => pc.remoteDescription?.sdp === 'v=0 restart answer', 'restart answer applied');
      await until(() => pc.addedCandidates.length === 2, 'the new generation candidate');
      expect(pc.addedCandidates.map((c) => c.candidate)).toEqual(['candidate:old', 'candidate:new']);
      await until(
        () =>
          controller.sessions
            .get('s1')
            ?.browserCandidates.some((c) => c.candidate === 'candidate:mine-after-restart') === true,
        'local candidate posted after the restart offer',
      );
      // A fresh long-poll of the VM's candidates from the restart's start: the one in flight may
      // ride a connection of the path that went away.
      const fromStart = controller
        .requestsTo('GET', '/api/webrtc/session/s1/candidates/vm')
        .filter((r) => r.query.get('since') === '0');
      expect(fromStart).toHaveLength(2);
      pc.setConnectionState('connected');
      pc.autoDecode = true;
      await until(() => restarts.length === 2, 'restart done');
      expect(restarts[1]).toEqual({ phase: 'done', cause: 'ice-failed', restart: 1 });
      expect(connection.sessionId).toBe('s1');
      expect(controller.sessions.has('s2')).toBe(false);
      expect(phases()).toEqual(['connecting', 'connected']);
    });

    it('restarts when frames stop while ICE still says connected', async () => {
      connectWithRestart();
      const pc = await bringUp('s1');
      await reachPhase('connected');
      pc.framesDecoded = 5;
      await until(() => restarts.length === 1, 'restart');
      expect(restarts[0]).toMatchObject({ phase: 'started', cause: 'frames-stopped' });
    });

    it('restarts after the disconnected grace, not before', async () => {
      connectWithRestart({ disconnectGraceMs: 60 });
      const pc = await bringUp('s1');
      pc.autoDecode = true;
      await reachPhase('connected');
      pc.setConnectionState('disconnected');
      await new Promise((r) => setTimeout(r, 20));
      expect(restarts).toEqual([]);
      await until(() => restarts.length === 1, 'restart');
      expect(restarts[0]).toMatchObject({ cause: 'ice-disconnected' });
    });

    it('falls back to a full reconnect on a new session when the restart brings no frames back in time', async () => {
      connectWithRestart({ iceRestartTimeoutMs: 80 });
      const first = await bringUp('s1');
      await reachPhase('connected');
      first.setConnectionState('failed');
      await until(() => controller.sessions.get('s1')?.generation === 1, 'restart offer stored');
      // The VM never answers the restart.
      await reachPhase('reconnecting');
      expect(connection.state.reason.code).toBe('ice-failed');
      expect(first.closed).toBe(true);
      await until(() => controller.sessions.has('s2'), 'new session');
      await bringUp('s2');
      await reachPhase('connected');
      expect(restarts.map((r) => r.phase)).toEqual(['started']);
    });

    it('does not restart an attempt that never connected', async () => {
      connectWithRestart();
      await until(() => controller.sessions.get('s1')?.offer != null, 'offer');
      controller.answer('s1');
      const pc = FakePeerConnection.last;
      await until(() => pc.remoteDescription !== null, 'remote description');
      pc.setConnectionState('failed');
      expect(connection.state).toMatchObject({ phase: 'reconnecting', reason: { code: 'ice-failed' } });
      expect(restarts).toEqual([]);
    });
  });

  it('reports "no-frames" when ICE connects but no frame is ever decoded', async () => {
    connect();
    await bringUp('s1', false);
    await reachPhase('reconnecting');
    expect(connection.state.reason.code).toBe('no-frames');
  });

  it('reconnects when the controller says the session is gone (session_not_found on the candidate poll)', async () => {
    connect();
    await bringUp('s1');
    await reachPhase('connected');
    controller.endSession('s1');
    await reachPhase('reconnecting');
    expect(connection.state.reason.code).toBe('session-ended');
    await until(() => controller.sessions.has('s2'), 'new session');
  });

  it('reconnects with reason "no-answer" when the VM never answers', async () => {
    connect({ answerTimeoutMs: 40 });
    await reachPhase('reconnecting');
    expect(connection.state.reason.code).toBe('no-answer');
  });

  it('says "VM offline" at once when the controller reports no agent, posts no offer, and connects once it is back', async () => {
    controller.vmOnline = false;
    connect();
    await until(() => connection.state.reason.code === 'vm-offline', 'vm-offline');
    expect(connection.state.phase).toBe('reconnecting');
    expect([...controller.sessions.values()].every((s) => s.offer === null)).toBe(true);
    controller.vmOnline = true;
    await until(() => [...controller.sessions.values()].some((s) => s.offer !== null), 'an offer once online');
    const online = [...controller.sessions.values()].find((s) => s.offer !== null);
    await bringUp(online?.id ?? '');
    await reachPhase('connected');
  });

  it('fails without retrying when the token is rejected (token_expired)', async () => {
    controller.createSessionFailures.push('token_expired');
    connect();
    await reachPhase('failed');
    expect(connection.state.reason.code).toBe('token-expired');
    await new Promise((r) => setTimeout(r, 50));
    expect(controller.requestsTo('POST', '/api/webrtc/session')).toHaveLength(1);
  });

  it('fails at once on a visibly expired JWT without calling the controller', async () => {
    const payload = btoa(JSON.stringify({ role: 'view', exp: Math.floor(Date.now() / 1000) - 10 }));
    connect({ token: `x.${payload}.y` });
    expect(connection.state).toMatchObject({ phase: 'failed', reason: { code: 'token-expired' } });
    expect(controller.requests).toHaveLength(0);
  });

  it('says "VM not found" for an unknown VM', async () => {
    controller.createSessionFailures.push('vm_not_found');
    connect();
    await reachPhase('failed');
    expect(connection.state.reason.code).toBe('vm-not-found');
  });

  it('ends with "VM not found" when the VM is deleted after it streamed', async () => {
    connect();
    await bringUp('s1');
    await reachPhase('connected');
    controller.createSessionFailures.push('vm_not_found');
    controller.endSession('s1');
    await reachPhase('ended');
    expect(connection.state.reason.code).toBe('vm-not-found');
    expect(phases()).toEqual(['connecting', 'connected', 'reconnecting', 'ended']);
  });

  it('backs off while the controller is down and gives up after the policy limit', async () => {
    for (let i = 0; i < 10; i++) controller.createSessionFailures.push('shutting_down');
    connect({ policy: exponentialBackoff({ initialMs: 5, jitter: 0, maxAttempts: 3 }) });
    await reachPhase('failed');
    expect(connection.state.reason).toMatchObject({
      code: 'gave-up',
      detail: 'Controller unreachable (shutting down)',
    });
    expect(controller.requestsTo('POST', '/api/webrtc/session')).toHaveLength(4);
    expect(phases()).toEqual(['connecting', 'reconnecting', 'reconnecting', 'reconnecting', 'failed']);
  });

  it('retryNow from failed starts a fresh attempt at once', async () => {
    controller.createSessionFailures.push('forbidden');
    connect();
    await reachPhase('failed');
    connection.retryNow();
    expect(connection.state.phase).toBe('connecting');
    await bringUp('s1');
    await reachPhase('connected');
  });

  it('close() ends the session, closes the peer and leaves no long-poll running', async () => {
    connect();
    const pc = await bringUp('s1');
    await reachPhase('connected');
    await until(() => controller.pendingLongPolls > 0, 'candidate long-poll');
    connection.close();
    expect(connection.state.phase).toBe('ended');
    expect(pc.closed).toBe(true);
    await until(() => controller.sessions.get('s1')?.ended === true, 'session deleted');
    await until(() => controller.pendingLongPolls === 0, 'long-polls stopped');
    const count = controller.requests.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(controller.requests.length).toBe(count);
  });
});
