/**
 * The agent against a real controller (in-process, ephemeral port) with a
 * scripted helper: checks the REST choreography — offers picked up, answers and
 * candidates relayed in order with the cursor, control forwarded, sessions of
 * a dead helper ended, snapshots served. The real helper is covered by the
 * e2e suites.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AgentHarness, type Api, ScriptedHelper, startAgentHarness, until } from './testing/agent-harness.js';

let h: AgentHarness<ScriptedHelper>;
let helpers: ScriptedHelper[];
let api: Api;
let vmId: string;

beforeEach(async () => {
  h = await startAgentHarness({ makeHelper: () => new ScriptedHelper() });
  ({ helpers, api, vmId } = h);
});

afterEach(() => h.stop());

const viewerSession = (role: 'view' | 'control' = 'control') => h.viewerSession(role);
const server = {
  get peerCount() {
    return h.server.peerCount;
  },
};

describe('webrtc-server against a real controller', () => {
  it('answers an offer and relays candidates both ways in order, without duplicates', async () => {
    const { token, sessionId } = await viewerSession();
    // A candidate trickled before the offer must still reach the helper.
    await api(
      'POST',
      `/api/webrtc/session/${sessionId}/candidate`,
      { candidate: 'candidate:b0 1 UDP 1 127.0.0.1 1 typ host', sdpMLineIndex: 0, from: 'browser' },
      token,
    );
    expect(
      (await api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\nOFFER\r\n' }, token))
        .status,
    ).toBe(204);

    const answer = await api('GET', `/api/webrtc/session/${sessionId}/answer?wait=5`, undefined, token);
    expect(answer.status).toBe(200);
    expect(answer.body.sdp).toContain(`s=${sessionId}`);

    const helper = helpers[0] as ScriptedHelper;
    expect(helper.commands('add-peer').map((c) => c.peerId)).toEqual([sessionId]);
    expect(helper.commands('remote-description')[0]?.sdp).toBe('v=0\r\nOFFER\r\n');

    for (let i = 1; i <= 5; i++) {
      await api(
        'POST',
        `/api/webrtc/session/${sessionId}/candidate`,
        { candidate: `candidate:b${i} 1 UDP 1 127.0.0.1 ${i} typ host`, sdpMLineIndex: 0, from: 'browser' },
        token,
      );
    }
    const remote = await until(() => {
      const got = helper.commands('remote-candidate').filter((c) => c.peerId === sessionId);
      return got.length >= 6 && got;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(helper.commands('remote-candidate').map((c) => c.candidate)).toEqual(remote.map((c) => c.candidate));
    expect(remote.map((c) => c.candidate.split(' ')[0])).toEqual([
      'candidate:b0',
      'candidate:b1',
      'candidate:b2',
      'candidate:b3',
      'candidate:b4',
      'candidate:b5',
    ]);

    const vmCands = await until(async () => {
      const r = await api('GET', `/api/webrtc/session/${sessionId}/candidates/vm?since=0`, undefined, token);
      return r.body.candidates.length === 3 && r.body.candidates;
    });
    expect(vmCands.map((c: { candidate: string }) => c.candidate)).toEqual([
      'candidate:1 1 UDP 1 127.0.0.1 5000 typ host',
      'candidate:2 1 UDP 1 127.0.0.1 5001 typ host',
      '',
    ]);
  });

  it('hands an ICE restart to the same peer: restart-ice before its candidates, the new answer and the same candidates again reach the viewer', async () => {
    const { token, sessionId } = await viewerSession();
    const base = `/api/webrtc/session/${sessionId}`;
    await api('POST', `${base}/offer`, { type: 'offer', sdp: 'v=0\r\na=ice-ufrag:v0\r\n' }, token);
    await api('GET', `${base}/answer?wait=5`, undefined, token);
    await until(
      async () => (await api('GET', `${base}/candidates/vm?since=0`, undefined, token)).body.candidates.length === 3,
    );

    const restart = await api(
      'POST',
      `${base}/offer`,
      { type: 'offer', sdp: 'v=0\r\na=ice-ufrag:v1\r\n', iceRestart: true },
      token,
    );
    expect(restart.status).toBe(200);
    // Trickled at once: the agent's candidates poll may see it before its sessions poll sees the restart.
    await api(
      'POST',
      `${base}/candidate`,
      { candidate: 'candidate:n1 1 UDP 1 127.0.0.1 7 typ host', sdpMLineIndex: 0, from: 'browser' },
      token,
    );
    const answer = await api('GET', `${base}/answer?wait=5`, undefined, token);
    expect(answer.status).toBe(200);
    expect(answer.body.sdp).toContain('a=ice-ufrag:restart1');

    const helper = helpers[0] as ScriptedHelper;
    await until(() => helper.commands('remote-candidate').some((c) => c.candidate.startsWith('candidate:n1')));
    const sent = helper.received.map((c) => c.type);
    expect(sent.filter((t) => t === 'add-peer')).toHaveLength(1);
    expect(sent.filter((t) => t === 'restart-ice')).toHaveLength(1);
    expect(sent.indexOf('restart-ice')).toBeLessThan(
      helper.received.findIndex((c) => c.type === 'remote-candidate' && c.candidate.startsWith('candidate:n1')),
    );
    expect(helper.commands('restart-ice')[0]?.sdp).toBe('v=0\r\na=ice-ufrag:v1\r\n');

    const vmCands = await until(async () => {
      const r = await api('GET', `${base}/candidates/vm?since=0`, undefined, token);
      return r.body.candidates.length === 3 && r.body.candidates;
    });
    expect(vmCands.map((c: { generation: number }) => c.generation)).toEqual([1, 1, 1]);
    expect(server.peerCount).toBe(1);
  });

  it('forwards the control holder to the helper when a viewer takes and releases control', async () => {
    const { token, sessionId } = await viewerSession('control');
    await api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, token);
    const take = await api('POST', `/api/vms/${vmId}/control`, { action: 'take', sessionId }, token);
    expect(take.status).toBe(200);
    const helper = helpers[0] as ScriptedHelper;
    await until(() => helper.commands('set-control-holder').some((c) => c.peerId === sessionId));
    await api('POST', `/api/vms/${vmId}/control`, { action: 'release', sessionId }, token);
    await until(() => helper.commands('set-control-holder').at(-1)?.peerId === null);
  });

  it('removes the peer from the helper when the viewer ends its session', async () => {
    const { token, sessionId } = await viewerSession();
    await api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, token);
    await api('GET', `/api/webrtc/session/${sessionId}/answer?wait=5`, undefined, token);
    expect(server.peerCount).toBe(1);
    expect((await api('DELETE', `/api/webrtc/session/${sessionId}`, undefined, token)).status).toBe(204);
    const helper = helpers[0] as ScriptedHelper;
    await until(() => helper.commands('remove-peer').some((c) => c.peerId === sessionId));
    expect(server.peerCount).toBe(0);
  });

  it('removes a peer the helper reports gone and ends its session, so the VM counts no viewer', async () => {
    const { token, sessionId } = await viewerSession();
    await api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, token);
    await api('GET', `/api/webrtc/session/${sessionId}/answer?wait=5`, undefined, token);
    const viewers = async () =>
      (await api('GET', '/api/vms')).body.vms.find((v: { vmId: string }) => v.vmId === vmId).viewers;
    expect(await viewers()).toBe(1);
    const helper = helpers[0] as ScriptedHelper;
    helper.event({ type: 'peer-lost', peerId: sessionId, reason: 'silent', silentMs: 5012 });
    expect(helper.commands('remove-peer')).toEqual([{ type: 'remove-peer', peerId: sessionId, reason: 'viewer-gone' }]);
    expect(server.peerCount).toBe(0);
    await until(async () => (await viewers()) === 0);
    const ended = await api('GET', `/api/webrtc/session/${sessionId}/answer`, undefined, token);
    expect(ended.status).toBe(404);
  });

  it('ends the sessions of a helper that died and serves new viewers from its replacement', async () => {
    const { token, sessionId } = await viewerSession();
    await api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, token);
    await api('GET', `/api/webrtc/session/${sessionId}/answer?wait=5`, undefined, token);
    (helpers[0] as ScriptedHelper).die();
    // The viewer learns its session is gone and reconnects.
    await until(
      async () => (await api('GET', `/api/webrtc/session/${sessionId}/answer`, undefined, token)).status === 404,
    );
    await until(() => helpers.length === 2);
    const again = await viewerSession();
    await api('POST', `/api/webrtc/session/${again.sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, again.token);
    const answer = await api('GET', `/api/webrtc/session/${again.sessionId}/answer?wait=10`, undefined, again.token);
    expect(answer.status).toBe(200);
    expect((helpers[1] as ScriptedHelper).commands('add-peer').map((c) => c.peerId)).toEqual([again.sessionId]);
  });

  it('uploads a snapshot when a viewer asks the controller for one', async () => {
    const { token } = await viewerSession('view');
    const res = await fetch(`${h.controller.url}/api/vms/${vmId}/snapshot`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/image\/jpeg/);
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  });

  it('heartbeats with helper stats so the VM shows online', async () => {
    const vms = await until(async () => {
      const r = await api('GET', '/api/vms');
      const me = r.body.vms.find((v: { vmId: string }) => v.vmId === vmId);
      return me?.stats?.helper === 'up' && me;
    });
    expect(vms.online).toBe(true);
    expect(vms.stats.encoder.fps).toBe(30);
  });

  it('survives the controller going away without crashing', async () => {
    await h.controller.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.peerCount).toBe(0);
  });
});
