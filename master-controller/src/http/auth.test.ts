import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cand, forEachStore, SDP_ANSWER, SDP_OFFER, sleep, TestController } from '../test/harness.js';

forEachStore(() => {
  const SECRET = 'test-secret-test-secret-test-secret-0123';
  const keyDir = mkdtempSync(join(tmpdir(), 'vmlive-keys-'));
  /** A PEM file with a fresh P-256 private key (what an operator makes with openssl genpkey). */
  function keyFile(name: string, curve = 'prime256v1'): string {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const file = join(keyDir, name);
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return file;
  }
  const KEY = keyFile('current.pem');
  let t: TestController;
  let s: Awaited<ReturnType<TestController['offeredSession']>>;
  let other: Awaited<ReturnType<TestController['offeredSession']>>;
  let viewToken: string;

  beforeAll(async () => {
    t = await TestController.start({
      tokenSecret: SECRET,
      signingKeyFile: KEY,
      operatorToken: 'operator-token-0123456789',
    });
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

    it('accepts a token from another controller sharing the signing key file (no lookup needed)', async () => {
      const t2 = await TestController.start({ signingKeyFile: KEY });
      try {
        const vm = await t2.createVm();
        // Same key: the first controller verifies it (then 404s, since it does not hold the VM).
        const r = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken });
        expect(r.status).toBe(404);
      } finally {
        await t2.close();
      }
    });

    it('rejects a token from a controller with another signing key with 401', async () => {
      const t2 = await TestController.start({ signingKeyFile: keyFile('other.pem') });
      try {
        const vm = await t2.createVm();
        const r = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken });
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe('unauthorized');
      } finally {
        await t2.close();
      }
    });

    it('signs ES256 tokens that verify offline against GET /.well-known/jwks.json', async () => {
      const jwks = await t.call('GET', '/.well-known/jwks.json', { token: null });
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys).toHaveLength(1);
      expect(jwks.body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwks.body.keys[0].d).toBeUndefined();
      const header = decodeProtectedHeader(s.viewer);
      expect(header).toMatchObject({ alg: 'ES256', kid: jwks.body.keys[0].kid });
      const { payload } = await jwtVerify(s.viewer, createLocalJWKSet(jwks.body), {
        issuer: 'vmlive',
        audience: 'vmlive-controller',
      });
      expect(payload).toMatchObject({ kind: 'viewer', role: 'control', sub: s.vmId });
    });

    it('still verifies legacy HS256 tokens while VMLIVE_TOKEN_SECRET is set', async () => {
      const legacy = await new SignJWT({ kind: 'vm' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(s.vmId)
        .setIssuer('vmlive')
        .setAudience('vmlive-controller')
        .setIssuedAt()
        .sign(new TextEncoder().encode(SECRET));
      const r = await t.call('POST', `/api/vms/${s.vmId}/heartbeat`, { token: legacy });
      expect(r.status).toBe(204);
    });

    it('after a key rotation, tokens of the retired key still verify and its public key stays published', async () => {
      const oldKey = keyFile('old.pem');
      const before = await TestController.start({ signingKeyFile: oldKey });
      const after = await TestController.start({ signingKeyFile: keyFile('new.pem'), retiredKeyFiles: [oldKey] });
      try {
        const vm = await before.createVm();
        const r = await after.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken });
        expect(r.status).toBe(404); // verified (then: the VM lives in the other controller)
        const jwks = await after.call('GET', '/.well-known/jwks.json', { token: null });
        expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(decodeProtectedHeader(vm.vmToken).kid);
        expect(jwks.body.keys).toHaveLength(2);
      } finally {
        await before.close();
        await after.close();
      }
    });

    it('refuses to start with a signing key that is not EC P-256', async () => {
      await expect(TestController.start({ signingKeyFile: keyFile('p384.pem', 'secp384r1') })).rejects.toThrow(
        /VMLIVE_SIGNING_KEY_FILE.*P-256/,
      );
      await expect(TestController.start({ signingKeyFile: join(keyDir, 'missing.pem') })).rejects.toThrow(
        /VMLIVE_SIGNING_KEY_FILE: cannot read/,
      );
    });
  });

  describe('automation tokens', () => {
    let automation: string;
    beforeAll(async () => {
      const r = await t.call('POST', `/api/vms/${s.vmId}/automation-tokens`, { body: { ttlSeconds: 600 } });
      expect(r.status).toBe(201);
      automation = r.body.token;
      expect(r.body.expiresAt).toBeGreaterThan(Date.now() + 590_000);
    });

    it('are minted by the operator only, with a bounded ttl', async () => {
      const byViewer = await t.call('POST', `/api/vms/${s.vmId}/automation-tokens`, {
        token: s.viewer,
        body: { ttlSeconds: 60 },
      });
      expect(byViewer.status).toBe(403);
      const tooLong = await t.call('POST', `/api/vms/${s.vmId}/automation-tokens`, { body: { ttlSeconds: 10 ** 9 } });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.error.field).toBe('ttlSeconds');
    });

    it('read and long-poll the control state of their VM', async () => {
      const r = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: automation });
      expect(r.status).toBe(200);
      expect(r.body.mode).toBeDefined();
      const otherVm = await t.call('GET', `/api/vms/${other.vmId}/control`, { token: automation });
      expect(otherVm.status).toBe(403);
    });

    it.each([
      ['open a viewer session', () => ['POST', '/api/webrtc/session', { vmId: s.vmId }]],
      ['change control', () => ['POST', `/api/vms/${s.vmId}/control`, { action: 'release' }]],
      ['read a snapshot', () => ['GET', `/api/vms/${s.vmId}/snapshot`]],
      ['list VMs', () => ['GET', '/api/vms']],
      ['heartbeat', () => ['POST', `/api/vms/${s.vmId}/heartbeat`, {}]],
      ['read a session', () => ['GET', `/api/webrtc/session/${s.sessionId}/offer`]],
    ] as Array<[string, () => [string, string, unknown?]]>)('may not %s (403)', async (_name, make) => {
      const [method, path, body] = make();
      const r = await t.call(method, path, { token: automation, body });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
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
      [
        'a viewer token cannot use a session made by another viewer token',
        () => ['GET', `${base()}/answer`, viewToken],
      ],
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
});
