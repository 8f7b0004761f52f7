import { ApiClient } from '@vmlive/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../api/controlClient.js';
import { exponentialBackoff } from '../connection/reconnectPolicy.js';
import { ViewerConnection } from '../connection/viewerConnection.js';
import { FakeController } from '../testing/fakeController.js';
import { type FakeDataChannel, FakePeerConnection, FakeRTCPeerConnection } from '../testing/fakePeerConnection.js';
import { type ControlMemory, memoryOnly } from './controlMemory.js';
import { InputSender } from './inputSender.js';
import { Takeover, type TakeoverOptions, type TakeoverPhase } from './takeover.js';

const until = async (cond: () => boolean, what = 'condition') => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

const GRANT_TIMEOUT_MS = 200;
const click = { t: 'pointer', action: 'down', x: 0.5, y: 0.5, button: 0 } as const;

let controller: FakeController;
/** One viewer page: its connection, its takeover, what it said. */
interface Page {
  connection: ViewerConnection;
  takeover: Takeover;
  phases: TakeoverPhase[];
  notices: string[];
  close(): void;
}
const pages: Page[] = [];

function openPage(memory: ControlMemory, overrides: Partial<TakeoverOptions> = {}): Page {
  const connection = new ViewerConnection({
    baseUrl: 'http://controller.test',
    vmId: 'vm-1',
    token: 'viewer-token',
    fetch: controller.fetch,
    RTCPeerConnection: FakeRTCPeerConnection,
    policy: exponentialBackoff({ initialMs: 5, maxMs: 20, jitter: 0, maxAttempts: 5 }),
    statsIntervalMs: 10,
    watchdog: { stallMs: 1000, firstFrameMs: 1000 },
    // These pages reconnect on a new session when the peer fails (what takeover must survive);
    // an ICE restart keeps the session, channel and control, and is tested with the connection.
    iceRestart: false,
  });
  const api = new ApiClient({ baseUrl: 'http://controller.test', token: 'viewer-token', fetch: controller.fetch });
  const takeover = new Takeover({
    control: new ControlClient(api, { vmId: 'vm-1', waitSeconds: 5, retryDelayMs: 10 }),
    connection,
    canControl: true,
    memory,
    grantTimeoutMs: GRANT_TIMEOUT_MS,
    ...overrides,
  });
  const page: Page = {
    connection,
    takeover,
    phases: [],
    notices: [],
    close() {
      takeover.dispose();
      connection.close();
    },
  };
  takeover.on('state', (s) => {
    if (page.phases.at(-1) !== s.phase) page.phases.push(s.phase);
  });
  takeover.on('notice', (n) => page.notices.push(n));
  takeover.start();
  connection.start();
  pages.push(page);
  return page;
}

/** Answer, ICE connected, frames, the channel open, and the helper's greeting on it (not the holder yet). */
async function goLive(page: Page, sessionId: string): Promise<FakeDataChannel> {
  await until(() => controller.sessions.get(sessionId)?.offer != null, `offer on ${sessionId}`);
  controller.answer(sessionId);
  const pc = FakePeerConnection.last;
  await until(() => pc.remoteDescription !== null, 'remote description');
  pc.autoDecode = true;
  pc.setConnectionState('connected');
  const channel = pc.channels[0];
  if (!channel) throw new Error('no input channel');
  channel.open();
  channel.receive({ t: 'control', granted: controller.control.holder === sessionId });
  await until(() => page.connection.state.phase === 'connected', 'connected');
  return channel;
}

const phaseIs = (page: Page, phase: TakeoverPhase) =>
  until(() => page.takeover.state.phase === phase, `takeover phase ${phase}`);
const takes = () => controller.requestsTo('POST', '/control').map((r) => r.body);

function senderFor(page: Page): InputSender {
  const input = page.takeover.state.input;
  if (!input) throw new Error('no input channel while taking control');
  return new InputSender(input, { schedule: () => () => {} });
}

beforeEach(() => {
  controller = new FakeController();
  FakePeerConnection.reset();
});

afterEach(() => {
  for (const page of pages.splice(0)) page.close();
});

describe('taking control: the VM must confirm before input flows', () => {
  it('says "confirming" when the controller made us the holder, and "in control" only on the helper\'s grant', async () => {
    const page = openPage(memoryOnly());
    const channel = await goLive(page, 's1');
    page.takeover.take();
    await phaseIs(page, 'confirming');
    expect(controller.control).toMatchObject({ mode: 'user', holder: 's1' });

    // Input made now is held, not sent: the helper would reject it (not-holder).
    const sender = senderFor(page);
    sender.send(click);
    expect(channel.sent).toEqual([]);

    channel.receive({ t: 'control', granted: true });
    expect(page.takeover.state.phase).toBe('in-control');
    expect(channel.sentMessages).toEqual([click]); // flushed on the grant, in order
    sender.send({ ...click, action: 'up' });
    expect(channel.sentMessages).toEqual([click, { ...click, action: 'up' }]);
    expect(page.phases).toEqual(['idle', 'requesting', 'confirming', 'in-control']);
    expect(page.notices).toEqual([]);
  });

  it('holds input from the click on "Take control" on, even before the controller answers', async () => {
    const page = openPage(memoryOnly());
    const channel = await goLive(page, 's1');
    page.takeover.take();
    expect(page.takeover.state.phase).toBe('requesting');
    senderFor(page).send(click);
    // The helper may confirm before the controller's reply reaches us: the grant is kept.
    channel.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');
    expect(channel.sentMessages).toEqual([click]);
  });

  it('drops input held longer than the window instead of sending it late, and says so', async () => {
    let now = 1000;
    const page = openPage(memoryOnly(), { heldInputWindowMs: 500, now: () => now });
    const channel = await goLive(page, 's1');
    page.takeover.take();
    await phaseIs(page, 'confirming');
    senderFor(page).send(click);
    now += 600;
    channel.receive({ t: 'control', granted: true });
    expect(page.takeover.state.phase).toBe('in-control');
    expect(channel.sent).toEqual([]);
    expect(page.notices).toEqual([
      'Input made before the VM confirmed your control was too old to send and was dropped (1 event).',
    ]);
  });

  it('hands control back with a clear message when the VM never confirms, and drops the held input', async () => {
    const page = openPage(memoryOnly());
    const channel = await goLive(page, 's1');
    page.takeover.take();
    await phaseIs(page, 'confirming');
    senderFor(page).send(click);
    await until(() => controller.control.mode === 'agent', 'control released');
    await phaseIs(page, 'idle');
    expect(page.notices).toEqual([
      'The VM did not confirm your control within 0.2 s, so it was handed back to the agent; input made meanwhile was not sent (1 event). Try again.',
    ]);
    expect(takes()).toEqual([
      { action: 'take', sessionId: 's1' },
      { action: 'release', sessionId: 's1' },
    ]);
    // A grant that comes after all changes nothing: the controller says the agent has control.
    channel.receive({ t: 'control', granted: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(page.takeover.state.phase).toBe('idle');
    expect(channel.sent).toEqual([]);
  });

  it('stops input at once when the helper withdraws the grant, then follows the controller', async () => {
    const page = openPage(memoryOnly());
    const channel = await goLive(page, 's1');
    page.takeover.take();
    channel.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');
    const sender = senderFor(page);

    // The helper heard of the operator's take before our control long-poll did.
    channel.receive({ t: 'control', granted: false });
    expect(page.takeover.state.phase).toBe('confirming');
    sender.send(click);
    expect(channel.sent).toEqual([]);

    controller.setControl('user', 'operator');
    await phaseIs(page, 'idle');
    expect(page.takeover.state.input).toBeNull();
    expect(page.notices).toEqual([
      'The operator took control.',
      'Input made before the VM confirmed your control was not sent (1 event).',
    ]);
    expect(channel.sent).toEqual([]);
  });

  it('does not grab control back when the operator ends it while our session is live', async () => {
    const memory = memoryOnly();
    const page = openPage(memory);
    const channel = await goLive(page, 's1');
    page.takeover.take();
    channel.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');
    expect(memory.load()).toBe('s1');

    controller.setControl('agent', null);
    channel.receive({ t: 'control', granted: false });
    await phaseIs(page, 'idle');
    await new Promise((r) => setTimeout(r, 30));
    expect(takes()).toEqual([{ action: 'take', sessionId: 's1' }]);
    expect(page.notices).toEqual(['Your control ended; the automation is in control again.']);
    expect(memory.load()).toBeNull();
  });

  it('pauses input while the operator pauses the VM and resumes it on the next grant', async () => {
    const page = openPage(memoryOnly());
    const channel = await goLive(page, 's1');
    page.takeover.take();
    channel.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');
    controller.setControl('paused', 's1');
    channel.receive({ t: 'control', granted: false });
    await phaseIs(page, 'paused');
    expect(page.takeover.state.input).toBeNull();
    controller.setControl('user', 's1');
    await phaseIs(page, 'confirming');
    channel.receive({ t: 'control', granted: true });
    expect(page.takeover.state.phase).toBe('in-control');
  });

  it('the holder pauses and resumes through its own session, keeping control; others may not', async () => {
    const page = openPage(memoryOnly());
    const channel = await goLive(page, 's1');
    page.takeover.pause(); // not the holder: nothing is asked
    expect(takes()).toEqual([]);
    page.takeover.take();
    channel.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');
    page.takeover.pause();
    await phaseIs(page, 'paused');
    expect(controller.control).toMatchObject({ mode: 'paused', holder: 's1' });
    expect(page.takeover.state.input).toBeNull();
    page.takeover.resume();
    await until(() => controller.control.mode === 'user', 'resumed');
    expect(takes()).toEqual([
      { action: 'take', sessionId: 's1' },
      { action: 'pause', sessionId: 's1' },
      { action: 'resume', sessionId: 's1' },
    ]);
    await phaseIs(page, 'in-control'); // the helper's grant still stands on this channel
    expect(page.notices).toEqual([]);
  });
});

describe('keeping control across a reconnect and a reload', () => {
  it('after a reconnect, takes over with the new session, starting un-granted on the new channel', async () => {
    const page = openPage(memoryOnly());
    const first = await goLive(page, 's1');
    page.takeover.take();
    first.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');

    FakePeerConnection.last.setConnectionState('failed');
    expect(page.takeover.state).toMatchObject({ phase: 'idle', input: null });
    await until(() => controller.sessions.has('s2'), 'new session');
    // The old session's lease still holds control (the controller keeps it for the grace).
    expect(controller.control.holder).toBe('s1');
    const second = await goLive(page, 's2');
    await until(() => controller.control.holder === 's2', 'taken over by s2');
    await phaseIs(page, 'confirming'); // the old channel's grant does not count for the new one
    second.receive({ t: 'control', granted: true });
    await phaseIs(page, 'in-control');
    expect(takes()).toEqual([
      { action: 'take', sessionId: 's1' },
      { action: 'take', sessionId: 's2' },
    ]);
    expect(page.notices).toEqual([]);
  });

  it('a reloaded page takes control straight from its previous session (remembered for the tab)', async () => {
    const tab = memoryOnly();
    const before = openPage(tab);
    const channel = await goLive(before, 's1');
    before.takeover.take();
    channel.receive({ t: 'control', granted: true });
    await phaseIs(before, 'in-control');
    before.close(); // pagehide: the session is deleted, its lease outlives it for the grace
    await until(() => controller.sessions.get('s1')?.ended === true, 's1 deleted');

    const after = openPage(tab);
    await goLive(after, 's2');
    await until(() => controller.control.holder === 's2', 'taken over by s2');
    FakePeerConnection.last.channels[0]?.receive({ t: 'control', granted: true });
    await phaseIs(after, 'in-control');
    expect(takes()).toEqual([
      { action: 'take', sessionId: 's1' },
      { action: 'take', sessionId: 's2' },
    ]);
  });

  it('a reloaded page leaves control alone when someone else took it meanwhile', async () => {
    const tab = memoryOnly();
    tab.save('s0');
    controller.setControl('user', 'operator');
    const page = openPage(tab);
    await goLive(page, 's1');
    await until(() => tab.load() === null, 'wish forgotten');
    expect(takes()).toEqual([]);
    expect(page.notices).toEqual(['The operator took control.']);
  });

  it('a view-only page never takes control, whatever the tab remembers', async () => {
    const tab = memoryOnly();
    tab.save('s0');
    controller.setControl('user', 's0');
    const page = openPage(tab, { canControl: false });
    await goLive(page, 's1');
    page.takeover.take();
    await new Promise((r) => setTimeout(r, 30));
    expect(takes()).toEqual([]);
    expect(page.takeover.state.phase).toBe('idle');
  });

  it('says who refused a take and drops the input made meanwhile', async () => {
    controller.setControl('user', 'someone-else');
    const page = openPage(memoryOnly());
    await goLive(page, 's1');
    page.takeover.take();
    senderFor(page).send(click);
    await phaseIs(page, 'idle');
    expect(page.notices).toEqual([
      'Someone else holds control right now. Input made meanwhile was not sent (1 event).',
    ]);
  });
});
