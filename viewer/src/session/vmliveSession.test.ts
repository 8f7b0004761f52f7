import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exponentialBackoff } from '../connection/reconnectPolicy.js';
import type { NetworkHint } from '../display/displayPolicy.js';
import type { NetworkHints } from '../display/networkHints.js';
import { FakeController } from '../testing/fakeController.js';
import { FakePeerConnection, FakeRTCPeerConnection } from '../testing/fakePeerConnection.js';
import { type AttachableVideo, type VmliveError, VmliveSession, type VmliveSessionOptions } from './vmliveSession.js';

const until = async (cond: () => boolean, what = 'condition') => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

/** A control token's claims, as the viewer reads them for its buttons (the controller verifies; here nothing does). */
const CONTROL_TOKEN = `h.${btoa(JSON.stringify({ role: 'control', vmId: 'vm-1' })).replace(/=+$/, '')}.s`;

let controller: FakeController;
const sessions: VmliveSession[] = [];

beforeEach(() => {
  controller = new FakeController();
  FakePeerConnection.reset();
});

afterEach(() => {
  for (const s of sessions.splice(0)) s.dispose();
});

/** Browser network hints the test can change, as `navigator.connection` would. */
function hintsFor(initial: NetworkHint): NetworkHints & { set(hint: NetworkHint): void } {
  let hint = initial;
  const listeners = new Set<(h: NetworkHint) => void>();
  return {
    current: () => hint,
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(next) {
      hint = next;
      for (const l of listeners) l(hint);
    },
  };
}

/** The slice of a <video> the session drives; `present()` is the browser showing the stream's first frame. */
function videoElement(): AttachableVideo & { present(): void } {
  let presented: (() => void) | null = null;
  return {
    srcObject: null,
    play: async () => {},
    requestVideoFrameCallback(callback) {
      presented = () =>
        callback(0, {
          expectedDisplayTime: 0,
          height: 720,
          width: 1280,
          mediaTime: 0,
          presentationTime: 0,
          presentedFrames: 1,
        });
      return 1;
    },
    addEventListener() {},
    present() {
      presented?.();
    },
  };
}

function open(options: Partial<VmliveSessionOptions> = {}): VmliveSession {
  const session = new VmliveSession({
    controllerUrl: 'http://controller.test',
    vmId: 'vm-1',
    token: CONTROL_TOKEN,
    fetch: controller.fetch,
    connection: {
      RTCPeerConnection: FakeRTCPeerConnection,
      policy: exponentialBackoff({ initialMs: 5, maxMs: 20, jitter: 0, maxAttempts: 5 }),
      statsIntervalMs: 10,
      watchdog: { stallMs: 1000, firstFrameMs: 1000 },
    },
    snapshotIntervalMs: 10,
    networkHints: hintsFor({ saveData: false, effectiveType: '4g' }),
    ...options,
  });
  sessions.push(session);
  return session;
}

const snapshots = () => controller.requestsTo('GET', '/snapshot').length;
const sessionPosts = () => controller.requestsTo('POST', '/api/webrtc/session').length;

/** The VM answers, ICE connects, frames flow, the channel opens and the helper greets (not the holder yet). */
async function goLive(session: VmliveSession, video: ReturnType<typeof videoElement>, id: string) {
  await until(() => controller.sessions.get(id)?.offer != null, `offer on ${id}`);
  controller.answer(id);
  const pc = FakePeerConnection.last;
  await until(() => pc.remoteDescription !== null, 'remote description');
  pc.ontrack?.({ receiver: {}, streams: [{ id: `stream-${id}` }], track: {} });
  pc.autoDecode = true;
  pc.setConnectionState('connected');
  const channel = pc.channels[0];
  if (!channel) throw new Error('no input channel');
  channel.open();
  channel.receive({ t: 'control', granted: false });
  video.present();
  await until(() => session.state.viewer.phase === 'connected', 'connected');
  return channel;
}

describe('ICE transport policy', () => {
  it('iceTransportPolicy relay (the relay-only prop and attribute) reaches the session request of every attempt', async () => {
    const session = open({ iceTransportPolicy: 'relay', mode: 'live' });
    session.start();
    await until(() => sessionPosts() === 1, 'a session request');
    expect(controller.requestsTo('POST', '/api/webrtc/session')[0]?.body).toEqual({
      vmId: 'vm-1',
      iceTransportPolicy: 'relay',
    });
  });
});

describe('auto mode', () => {
  it('asks for a screenshot at once, goes live at the first presented frame, then stops asking', async () => {
    const session = open();
    const video = videoElement();
    session.attachVideo(video);
    session.start();
    expect(session.state.display).toMatchObject({ kind: 'screenshots', reason: { code: 'starting' } });
    await until(() => session.state.snapshot.url !== null, 'a screenshot');
    expect(controller.requests[0]?.path).toBe('/api/vms/vm-1/snapshot'); // before signaling, not after
    await goLive(session, video, 's1');
    expect(session.state.display.kind).toBe('live');
    const asked = snapshots();
    await new Promise((r) => setTimeout(r, 60));
    expect(snapshots()).toBeLessThanOrEqual(asked + 1); // at most the one already in flight
  });

  it('falls back to screenshots on a poor link without touching the connection or the control', async () => {
    const session = open({
      // Every frame rate counts as poor here, so the fallback comes from the session's own stats.
      displayPolicy: { minFps: 1e6, warmupMs: 0, window: 3, badToFallBack: 2 },
    });
    const video = videoElement();
    session.attachVideo(video);
    session.start();
    const channel = await goLive(session, video, 's1');
    session.take();
    await until(() => session.state.takeover.phase === 'confirming', 'confirming');
    channel.receive({ t: 'control', granted: true });
    await until(() => session.state.control.holding, 'in control');
    const input = session.state.takeover.input;

    await until(() => session.state.display.kind === 'screenshots', 'screenshots');
    expect(session.state.display.reason.code).toBe('low-fps');
    expect(session.state.control).toMatchObject({ who: 'you', holding: true, text: 'You are in control' });
    expect(session.state.takeover.input).toBe(input);
    expect(FakePeerConnection.instances).toHaveLength(1);
    await until(() => session.state.snapshot.url !== null, 'screenshots again');
  });

  it('keeps live video closed while the data saver is on, and opens it when it goes off', async () => {
    const hints = hintsFor({ saveData: true, effectiveType: '4g' });
    const session = open({ networkHints: hints });
    session.start();
    expect(session.state.display).toMatchObject({ kind: 'screenshots', reason: { code: 'save-data' } });
    await until(() => snapshots() > 1, 'screenshots');
    expect(sessionPosts()).toBe(0);
    hints.set({ saveData: false, effectiveType: '4g' });
    await until(() => sessionPosts() === 1, 'a live session');
    expect(session.state.display.reason.code).toBe('starting');
  });

  it('reports a live view that failed for good as an error with its code', async () => {
    controller.createSessionFailures = ['forbidden'];
    const session = open();
    const errors: VmliveError[] = [];
    session.on('error', (e) => errors.push(e));
    session.start();
    await until(() => errors.length > 0, 'an error');
    expect(errors.map((e) => e.code)).toEqual(['forbidden']);
    expect(session.state.display).toMatchObject({ kind: 'screenshots', reason: { code: 'live-failed' } });
  });
});

describe('the other modes', () => {
  it('"screenshot" never opens a live connection; switching to "auto" does', async () => {
    const session = open({ mode: 'screenshot' });
    session.start();
    await until(() => snapshots() > 2, 'screenshots');
    expect(sessionPosts()).toBe(0);
    expect(session.state.control.buttons.find((b) => b.id === 'take')).toMatchObject({
      enabled: false,
      title: 'Control needs the live connection',
    });
    session.setMode('auto');
    await until(() => sessionPosts() === 1, 'a live session');
  });

  it('"live" asks for no screenshot at all', async () => {
    const session = open({ mode: 'live' });
    const video = videoElement();
    session.attachVideo(video);
    session.start();
    await goLive(session, video, 's1');
    expect(session.state.display.kind).toBe('live');
    expect(snapshots()).toBe(0);
  });
});
