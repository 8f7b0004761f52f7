import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cand, SDP_ANSWER, SDP_OFFER, sleep, TestController } from '../test/harness.js';

const SECRET = 'test-secret-test-secret-test-secret-0123';
let t: TestController;
let s: Awaited<ReturnType<TestController['offeredSession']>>;
let other: Awaited<ReturnType<TestController['offeredSession']>>;
let viewToken: string;

beforeAll(async () => {
  t = await TestController.start({ tokenSecret: SECRET, operatorToken: 'operator-token-0123456789' });
  s = await t.offeredSession('control');
  other = await t.offeredSession('control');
  viewToken = await t.viewerToken(s.vmId, 'view');
});
afterAll(() => t.close());

describe('authentication', () => {
  it('uses the configured operator token', () => {
    expect(t.operatorToken).toBe('operator-token-0123456789');
  });

  it.each([
    ['no Authorization header', null],
    ['a wrong operator token', 'operator-token-wrong-000000'],
    ['garbage', 'not.a.jwt'],
  ])('rejects %s with 401 unauthorized', async (_name, token) => {
    const r = await t.call('GET', '/api/vms', { token });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('unauthorized');
  });

  it('rejects a token signed with another secret with 401', async () => {
    const forged = await new SignJWT({ kind: 'vm' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(s.vmId)
      .setIssuer('vmlive')
      .setAudience('vmlive-controller')
      .sign(new TextEncoder().encode('another-secret-another-secret-another'));
    const r = await t.call('POST', `/api/vms/${s.vmId}/heartbeat`, { token: forged });
    expect(r.status).toBe(401);
  });

  it('rejects an expired viewer token with 401 token_expired', async () => {
    const token = await t.viewerToken(s.vmId, 'control', 1);
    const sid = await t.createSession(s.vmId, token);
    await sleep(2100);
    const r = await t.call('GET', `/api/webrtc/session/${sid}/answer`, { token });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('token_expired');
    const again = await t.call('POST', '/api/webrtc/session', { token, body: { vmId: s.vmId } });
    expect(again.status).toBe(401);
  });

  it('accepts a token from another controller sharing the secret (no lookup needed)', async () => {
    const t2 = await TestController.start({ tokenSecret: SECRET });
    try {
      const vm = await t2.createVm();
      // Same secret: the first controller verifies it (then 404s, since it does not hold the VM).
      const r = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken });
      expect(r.status).toBe(404);
    } finally {
      await t2.close();
    }
  });
});

describe('authorization', () => {
  const base = () => `/api/webrtc/session/${s.sessionId}`;
  const cases: Array<[string, () => [string, string, string, unknown?]]> = [
    ['a VM token cannot list VMs', () => ['GET', '/api/vms', s.vmToken]],
    ['a viewer token cannot create VMs', () => ['POST', '/api/vms', s.viewer, {}]],
    [
      'a VM token cannot mint viewer tokens',
      () => ['POST', `/api/vms/${s.vmId}/viewer-tokens`, s.vmToken, { role: 'view', ttlSeconds: 5 }],
    ],
    ['a viewer token cannot delete its VM', () => ['DELETE', `/api/vms/${s.vmId}`, s.viewer]],
    ['a VM token cannot heartbeat for another VM', () => ['POST', `/api/vms/${other.vmId}/heartbeat`, s.vmToken, {}]],
    ['a viewer token cannot heartbeat', () => ['POST', `/api/vms/${s.vmId}/heartbeat`, s.viewer, {}]],
    ["a VM token cannot list another VM's sessions", () => ['GET', `/api/vms/${other.vmId}/sessions`, s.vmToken]],
    [
      'the operator cannot poll a VM sessions list (VM only)',
      () => ['GET', `/api/vms/${s.vmId}/sessions`, t.operatorToken],
    ],
    [
      "a VM token cannot read another VM's session offer",
      () => ['GET', `/api/webrtc/session/${other.sessionId}/offer`, s.vmToken],
    ],
    [
      "a VM token cannot answer another VM's session",
      () => ['POST', `/api/webrtc/session/${other.sessionId}/answer`, s.vmToken, { type: 'answer', sdp: SDP_ANSWER }],
    ],
    [
      'a viewer cannot post the answer',
      () => ['POST', `${base()}/answer`, s.viewer, { type: 'answer', sdp: SDP_ANSWER }],
    ],
    ['a VM cannot post the offer', () => ['POST', `${base()}/offer`, s.vmToken, { type: 'offer', sdp: SDP_OFFER }]],
    [
      'a viewer token for another VM cannot open a session here',
      () => ['POST', '/api/webrtc/session', other.viewer, { vmId: s.vmId }],
    ],
    ['a VM token cannot open a viewer session', () => ['POST', '/api/webrtc/session', s.vmToken, { vmId: s.vmId }]],
    ['a viewer token cannot use a session made by another viewer token', () => ['GET', `${base()}/answer`, viewToken]],
    ["a viewer token cannot delete another viewer's session", () => ['DELETE', base(), viewToken]],
    [
      'a viewer posting from:vm is refused',
      () => ['POST', `${base()}/candidate`, s.viewer, { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' }],
    ],
    [
      'a VM posting from:browser is refused',
      () => ['POST', `${base()}/candidate`, s.vmToken, { candidate: cand(1), sdpMLineIndex: 0, from: 'browser' }],
    ],
    [
      'the operator posting from:vm is refused',
      () => ['POST', `${base()}/candidate`, t.operatorToken, { candidate: cand(1), sdpMLineIndex: 0, from: 'vm' }],
    ],
    [
      'a view token cannot take control',
      () => ['POST', `/api/vms/${s.vmId}/control`, viewToken, { action: 'take', sessionId: s.sessionId }],
    ],
    [
      'a VM cannot take control',
      () => ['POST', `/api/vms/${s.vmId}/control`, s.vmToken, { action: 'take', sessionId: s.sessionId }],
    ],
    [
      "a control viewer cannot take control through another viewer's session",
      () => [
        'POST',
        `/api/vms/${s.vmId}/control`,
        s.viewer,
        { action: 'take', sessionId: (globalThis as { __viewSid?: string }).__viewSid ?? 'x' },
      ],
    ],
    ["a viewer cannot read another VM's control", () => ['GET', `/api/vms/${other.vmId}/control`, s.viewer]],
    ['a VM cannot fetch the snapshot', () => ['GET', `/api/vms/${s.vmId}/snapshot`, s.vmToken]],
    ["a VM cannot upload another VM's snapshot", () => ['PUT', `/api/vms/${other.vmId}/snapshot`, s.vmToken]],
  ];

  it.each(cases)('%s → 403 forbidden, state unchanged', async (_name, make) => {
    const viewSid = await t.createSession(s.vmId, viewToken);
    (globalThis as { __viewSid?: string }).__viewSid = viewSid;
    const [method, path, token, body] = make();
    const before = await stateOf();
    const opts =
      method === 'PUT'
        ? { token, raw: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]), headers: { 'content-type': 'image/jpeg' } }
        : { token, body };
    const r = await t.call(method, path, opts);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    expect(await stateOf()).toEqual(before);
    await t.call('DELETE', `/api/webrtc/session/${viewSid}`, { token: viewToken });
  });

  it('a viewer token of either role can open a session and read control', async () => {
    const sid = await t.createSession(s.vmId, viewToken);
    const r = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: viewToken });
    expect(r.status).toBe(200);
    await t.call('DELETE', `/api/webrtc/session/${sid}`, { token: viewToken });
  });
});

/** Everything the authorization cases might have changed. */
async function stateOf() {
  const vms = (await t.call('GET', '/api/vms')).body.vms.map((v: Record<string, unknown>) => ({
    ...v,
    lastSeenAt: 0,
    online: 0,
  }));
  const sessions = [];
  for (const x of [s, other]) {
    const b = `/api/webrtc/session/${x.sessionId}`;
    sessions.push(
      (await t.call('GET', `${b}/offer`, { token: x.vmToken })).body,
      (await t.call('GET', `${b}/answer`, { token: x.viewer })).status,
      (await t.call('GET', `${b}/candidates/vm`, { token: x.viewer })).body,
      (await t.call('GET', `${b}/candidates/browser`, { token: x.viewer })).body,
    );
  }
  return { vms, sessions };
}
