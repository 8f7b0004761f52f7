import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cand, forEachStore, SDP_OFFER, TestController } from '../test/harness.js';

forEachStore(() => {
  let t: TestController;
  let s: Awaited<ReturnType<TestController['offeredSession']>>;
  let fresh: string; // a session without an offer

  beforeAll(async () => {
    t = await TestController.start();
    s = await t.offeredSession('control');
    fresh = await t.createSession(s.vmId, s.viewer);
    await t.call('POST', `/api/webrtc/session/${s.sessionId}/candidate`, {
      token: s.viewer,
      body: { candidate: cand(1), sdpMLineIndex: 0, from: 'browser' },
    });
  });
  afterAll(() => t.close());

  interface Case {
    name: string;
    method: string;
    path: () => string;
    token?: () => string;
    /** A function is called at test time (for ids made in beforeAll). */
    body?: unknown;
    raw?: string;
    contentType?: string;
    status: number;
    code: string;
    field?: string;
  }

  const sess = () => `/api/webrtc/session/${s.sessionId}`;
  const big = (n: number) => 'a'.repeat(n);

  const cases: Case[] = [
    {
      name: 'malformed JSON',
      method: 'POST',
      path: () => '/api/vms',
      raw: '{"name":',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'JSON that is not an object',
      method: 'POST',
      path: () => '/api/vms',
      raw: '"x"',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'body over 128 KiB',
      method: 'POST',
      path: () => `${sess()}/candidate`,
      token: () => s.viewer,
      raw: JSON.stringify({ candidate: big(140 * 1024) }),
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'a non-JSON content type',
      method: 'POST',
      path: () => '/api/vms',
      raw: 'name=x',
      contentType: 'text/plain',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'vm name of the wrong type',
      method: 'POST',
      path: () => '/api/vms',
      body: { name: 42 },
      status: 400,
      code: 'invalid_body',
      field: 'name',
    },
    {
      name: 'an unknown field on create vm',
      method: 'POST',
      path: () => '/api/vms',
      body: { name: 'x', admin: true },
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'viewer role not view/control',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/viewer-tokens`,
      body: { role: 'admin', ttlSeconds: 5 },
      status: 400,
      code: 'invalid_body',
      field: 'role',
    },
    {
      name: 'ttlSeconds 0',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/viewer-tokens`,
      body: { role: 'view', ttlSeconds: 0 },
      status: 400,
      code: 'invalid_body',
      field: 'ttlSeconds',
    },
    {
      name: 'ttlSeconds not an integer',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/viewer-tokens`,
      body: { role: 'view', ttlSeconds: 1.5 },
      status: 400,
      code: 'invalid_body',
      field: 'ttlSeconds',
    },
    {
      name: 'ttlSeconds as a string',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/viewer-tokens`,
      body: { role: 'view', ttlSeconds: '60' },
      status: 400,
      code: 'invalid_body',
      field: 'ttlSeconds',
    },
    {
      name: 'heartbeat stats not an object',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/heartbeat`,
      token: () => s.vmToken,
      body: { stats: [1] },
      status: 400,
      code: 'invalid_body',
      field: 'stats',
    },
    {
      name: 'session without vmId',
      method: 'POST',
      path: () => '/api/webrtc/session',
      token: () => s.viewer,
      body: {},
      status: 400,
      code: 'invalid_body',
      field: 'vmId',
    },
    {
      name: 'offer of type answer',
      method: 'POST',
      path: () => `/api/webrtc/session/${fresh}/offer`,
      token: () => s.viewer,
      body: { type: 'answer', sdp: SDP_OFFER },
      status: 400,
      code: 'invalid_body',
      field: 'type',
    },
    {
      name: 'offer with empty sdp',
      method: 'POST',
      path: () => `/api/webrtc/session/${fresh}/offer`,
      token: () => s.viewer,
      body: { type: 'offer', sdp: '' },
      status: 400,
      code: 'invalid_body',
      field: 'sdp',
    },
    {
      name: 'offer sdp over 64 KiB',
      method: 'POST',
      path: () => `/api/webrtc/session/${fresh}/offer`,
      token: () => s.viewer,
      body: { type: 'offer', sdp: big(64 * 1024 + 1) },
      status: 400,
      code: 'invalid_body',
      field: 'sdp',
    },
    {
      name: 'offer with iceRestart not a boolean',
      method: 'POST',
      path: () => `${sess()}/offer`,
      token: () => s.viewer,
      body: { type: 'offer', sdp: `${SDP_OFFER}a=ice-ufrag:new\r\n`, iceRestart: 'yes' },
      status: 400,
      code: 'invalid_body',
      field: 'iceRestart',
    },
    {
      name: 'ICE restart of a session that has no offer',
      method: 'POST',
      path: () => `/api/webrtc/session/${fresh}/offer`,
      token: () => s.viewer,
      body: { type: 'offer', sdp: SDP_OFFER, iceRestart: true },
      status: 409,
      code: 'offer_missing',
      field: 'iceRestart',
    },
    {
      name: 'ICE restart of a session whose offer is not answered',
      method: 'POST',
      path: () => `${sess()}/offer`,
      token: () => s.viewer,
      body: { type: 'offer', sdp: `${SDP_OFFER}a=ice-ufrag:new\r\n`, iceRestart: true },
      status: 409,
      code: 'offer_exists',
      field: 'iceRestart',
    },
    {
      name: 'ICE restart posted by the VM',
      method: 'POST',
      path: () => `${sess()}/offer`,
      token: () => s.vmToken,
      body: { type: 'offer', sdp: `${SDP_OFFER}a=ice-ufrag:new\r\n`, iceRestart: true },
      status: 403,
      code: 'forbidden',
    },
    {
      name: 'answer with sdp a number',
      method: 'POST',
      path: () => `${sess()}/answer`,
      token: () => s.vmToken,
      body: { type: 'answer', sdp: 5 },
      status: 400,
      code: 'invalid_body',
      field: 'sdp',
    },
    {
      name: 'candidate over 1 KiB',
      method: 'POST',
      path: () => `${sess()}/candidate`,
      token: () => s.viewer,
      body: { candidate: big(1025), sdpMLineIndex: 0, from: 'browser' },
      status: 400,
      code: 'invalid_body',
      field: 'candidate',
    },
    {
      name: 'candidate without sdpMLineIndex',
      method: 'POST',
      path: () => `${sess()}/candidate`,
      token: () => s.viewer,
      body: { candidate: cand(2), from: 'browser' },
      status: 400,
      code: 'invalid_body',
      field: 'sdpMLineIndex',
    },
    {
      name: 'negative sdpMLineIndex',
      method: 'POST',
      path: () => `${sess()}/candidate`,
      token: () => s.viewer,
      body: { candidate: cand(2), sdpMLineIndex: -1, from: 'browser' },
      status: 400,
      code: 'invalid_body',
      field: 'sdpMLineIndex',
    },
    {
      name: 'candidate from an unknown side',
      method: 'POST',
      path: () => `${sess()}/candidate`,
      token: () => s.viewer,
      body: { candidate: cand(2), sdpMLineIndex: 0, from: 'server' },
      status: 400,
      code: 'invalid_body',
      field: 'from',
    },
    {
      name: 'candidate as null',
      method: 'POST',
      path: () => `${sess()}/candidate`,
      token: () => s.viewer,
      body: { candidate: null, sdpMLineIndex: 0, from: 'browser' },
      status: 400,
      code: 'invalid_body',
      field: 'candidate',
    },
    {
      name: 'control action unknown',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/control`,
      token: () => s.viewer,
      body: () => ({ action: 'steal', sessionId: s.sessionId }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'control without sessionId',
      method: 'POST',
      path: () => `/api/vms/${s.vmId}/control`,
      token: () => s.viewer,
      body: { action: 'take' },
      status: 400,
      code: 'invalid_body',
      field: 'sessionId',
    },
    {
      name: 'since negative',
      method: 'GET',
      path: () => `${sess()}/candidates/browser?since=-1`,
      token: () => s.vmToken,
      status: 400,
      code: 'invalid_query',
      field: 'since',
    },
    {
      name: 'since not a number',
      method: 'GET',
      path: () => `${sess()}/candidates/browser?since=abc`,
      token: () => s.vmToken,
      status: 400,
      code: 'invalid_query',
      field: 'since',
    },
    {
      name: 'since given twice',
      method: 'GET',
      path: () => `${sess()}/candidates/browser?since=1&since=2`,
      token: () => s.vmToken,
      status: 400,
      code: 'invalid_query',
      field: 'since',
    },
    {
      name: 'wait over 30',
      method: 'GET',
      path: () => `${sess()}/candidates/browser?wait=31`,
      token: () => s.vmToken,
      status: 400,
      code: 'invalid_query',
      field: 'wait',
    },
    {
      name: 'wait negative',
      method: 'GET',
      path: () => `${sess()}/answer?wait=-1`,
      token: () => s.viewer,
      status: 400,
      code: 'invalid_query',
      field: 'wait',
    },
    {
      name: 'sessions state unknown',
      method: 'GET',
      path: () => `/api/vms/${s.vmId}/sessions?state=all`,
      token: () => s.vmToken,
      status: 400,
      code: 'invalid_query',
      field: 'state',
    },
    {
      name: 'candidates of an unknown type',
      method: 'GET',
      path: () => `${sess()}/candidates/server`,
      token: () => s.vmToken,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'an unknown session id',
      method: 'POST',
      path: () => '/api/webrtc/session/doesnotexist/candidate',
      token: () => s.viewer,
      body: { candidate: cand(2), sdpMLineIndex: 0, from: 'browser' },
      status: 404,
      code: 'session_not_found',
    },
    {
      name: 'a session id with bad characters',
      method: 'GET',
      path: () => '/api/webrtc/session/%2e%2e%2fx/offer',
      token: () => s.vmToken,
      status: 404,
      code: 'session_not_found',
    },
    {
      name: 'an unknown vm id',
      method: 'POST',
      path: () => '/api/vms/doesnotexist/heartbeat',
      token: () => s.vmToken,
      body: {},
      status: 404,
      code: 'vm_not_found',
    },
    {
      name: 'session for an unknown vm',
      method: 'POST',
      path: () => '/api/webrtc/session',
      body: { vmId: 'doesnotexist' },
      status: 404,
      code: 'vm_not_found',
    },
    {
      name: 'a wrong method on a known path',
      method: 'PATCH',
      path: () => '/api/vms',
      body: {},
      status: 405,
      code: 'method_not_allowed',
    },
    {
      name: 'an unknown path',
      method: 'GET',
      path: () => '/api/nothing-here',
      status: 404,
      code: 'not_found',
    },
  ];

  describe('malformed requests', () => {
    it.each(cases.map((c) => [c.name, c] as const))('%s → 4xx, no state change', async (_name, c) => {
      const before = await stateOf();
      const headers: Record<string, string> = {};
      if (c.raw !== undefined || c.contentType) headers['content-type'] = c.contentType ?? 'application/json';
      const r = await t.call(c.method, c.path(), {
        token: c.token ? c.token() : t.operatorToken,
        ...(c.raw !== undefined ? { raw: c.raw } : {}),
        ...(c.body !== undefined ? { body: typeof c.body === 'function' ? c.body() : c.body } : {}),
        headers,
      });
      expect(r.status).toBe(c.status);
      expect(r.body.error.code).toBe(c.code);
      expect(typeof r.body.error.message).toBe('string');
      if (c.field) expect(r.body.error.field).toBe(c.field);
      expect(await stateOf()).toEqual(before);
    });
  });

  async function stateOf() {
    const vms = (await t.call('GET', '/api/vms')).body.vms.map((v: Record<string, unknown>) => ({
      ...v,
      lastSeenAt: 0,
      online: 0,
    }));
    const out: unknown[] = [vms];
    for (const id of [s.sessionId, fresh]) {
      const b = `/api/webrtc/session/${id}`;
      out.push(
        (await t.call('GET', `${b}/offer`, { token: s.vmToken })).body,
        (await t.call('GET', `${b}/answer`, { token: s.viewer })).status,
        (await t.call('GET', `${b}/candidates/vm`, { token: s.viewer })).body,
        (await t.call('GET', `${b}/candidates/browser`, { token: s.viewer })).body,
      );
    }
    out.push((await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken })).body);
    return out;
  }
});
