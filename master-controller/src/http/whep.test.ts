/**
 * The WHEP endpoint and session resources (routes/whep.ts) against a real controller. The VM side
 * is played over HTTP by `answerAsVm` (what the VM agent posts); e2e/whep.e2e.test.ts drives the
 * same routes with real players and a real helper. Every refusal is checked to change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, sleep, TestController } from '../test/harness.js';

const OFFER = [
  'v=0',
  'o=- 42 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:offU',
  'a=ice-pwd:offerpasswordofferpassword',
  'a=fingerprint:sha-256 DA:7B:57:DC:28:CE:04:4F:31:79:85:C4:31:67:EB:27:58:29:ED:77:2A:0D:24:AE:ED:AD:30:BC:BD:F1:9C:02',
  'a=setup:actpass',
  'a=mid:0',
  'a=recvonly',
  'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 98 97',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:offU',
  'a=ice-pwd:offerpasswordofferpassword',
  'a=setup:actpass',
  'a=mid:1',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:98 H264/90000',
  'a=fmtp:98 packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  '',
].join('\r\n');

const ANSWER =
  'v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n' +
  'm=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=inactive\r\n' +
  'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:ansU\r\na=ice-pwd:answerpasswordanswerpwd\r\na=mid:1\r\na=sendonly\r\n';
const VM_CAND = 'candidate:1 1 UDP 2015363327 10.1.2.3 40000 typ host';
const frag = (ufrag = 'offU', cand = 'candidate:2 1 udp 2122260223 192.0.2.1 61764 typ host') =>
  `a=ice-ufrag:${ufrag}\r\na=ice-pwd:offerpasswordofferpassword\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=${cand}\r\na=end-of-candidates\r\n`;

forEachStore(() => {
  let t: TestController;
  let vm: { vmId: string; vmToken: string };
  let viewer: string;

  beforeAll(async () => {
    t = await TestController.start({
      turnUrls: ['turn:turn.example.net:3478?transport=udp'],
      turnSecret: 'a-shared-secret-of-some-length',
      iceServers: [{ urls: 'stun:stun.example.net:3478' }],
    });
    vm = await t.createVm();
    viewer = await t.viewerToken(vm.vmId, 'control');
    await heartbeat([]);
  });
  afterAll(() => t.close());

  const heartbeat = (connectedSessions: string[]) =>
    t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken, body: { connectedSessions } });
  const sessionCount = async () =>
    (await t.call('GET', '/api/vms')).body.vms.find((v: { vmId: string }) => v.vmId === vm.vmId).viewers;
  const post = (sdp: string, opts: { token?: string | null; type?: string; vmId?: string } = {}) =>
    t.call('POST', `/whep/vms/${opts.vmId ?? vm.vmId}`, {
      token: opts.token === undefined ? viewer : opts.token,
      raw: sdp,
      headers: { 'content-type': opts.type ?? 'application/sdp' },
    });

  /** The VM agent's part: take the offer, post the answer, one candidate, end-of-candidates. */
  async function answerAsVm(): Promise<string> {
    const r = await t.call('GET', `/api/vms/${vm.vmId}/sessions?state=offered&wait=5`, { token: vm.vmToken });
    const s = r.body.sessions[0];
    expect(s.offer.sdp).toBe(OFFER);
    const path = `/api/webrtc/session/${s.sessionId}`;
    await t.call('POST', `${path}/answer`, { token: vm.vmToken, body: { type: 'answer', sdp: ANSWER } });
    for (const candidate of [VM_CAND, '']) {
      await t.call('POST', `${path}/candidate`, {
        token: vm.vmToken,
        body: { candidate, sdpMLineIndex: 0, from: 'vm' },
      });
    }
    return s.sessionId;
  }

  async function play() {
    const [res, sessionId] = await Promise.all([post(OFFER), answerAsVm()]);
    expect(res.status).toBe(201);
    return { res, sessionId, url: res.headers.get('location') as string, etag: res.headers.get('etag') as string };
  }

  const patch = (url: string, body: string, headers: Record<string, string>, token: string | null = viewer) =>
    t.call('PATCH', url, {
      token,
      raw: body,
      headers: { 'content-type': 'application/trickle-ice-sdpfrag', ...headers },
    });
  const browserCandidates = async (sessionId: string) =>
    (await t.call('GET', `/api/webrtc/session/${sessionId}/candidates/browser`, { token: vm.vmToken })).body.candidates;

  it('answers an offer with 201, the SDP answer with all VM candidates, Location, ETag and one Link per ICE server', async () => {
    const { res, sessionId, url, etag } = await play();
    expect(res.headers.get('content-type')).toBe('application/sdp');
    expect(url).toBe(`/whep/sessions/${sessionId}`);
    expect(etag).toBe('"ansU"');
    expect(res.text).toContain(`m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:ansU`);
    expect(res.text).toContain(`\r\na=${VM_CAND}\r\na=end-of-candidates\r\n`);
    const links = (res.headers.get('link') ?? '').split(', <');
    expect(links[0]).toBe('<stun:stun.example.net:3478>; rel="ice-server"');
    expect(links[1]).toMatch(
      /^turn:turn\.example\.net:3478\?transport=udp>; rel="ice-server"; username="\d+:[\w-]+"; credential="[^"]+"; credential-type="password"$/,
    );
    await t.call('DELETE', url, { token: viewer });
  });

  it('takes trickled candidates with the ETag (204, no ETag) and hands them to the VM with their m-line index', async () => {
    const { sessionId, url, etag } = await play();
    const r = await patch(url, frag(), { 'if-match': etag });
    expect(r.status).toBe(204);
    expect(r.headers.get('etag')).toBeNull();
    const got = await browserCandidates(sessionId);
    expect(got.map((c: { candidate: string; sdpMLineIndex: number }) => [c.candidate, c.sdpMLineIndex])).toEqual([
      ['candidate:2 1 udp 2122260223 192.0.2.1 61764 typ host', 0],
      ['', 0],
    ]);
    await t.call('DELETE', url, { token: viewer });
  });

  it('refuses malformed and unauthorised POSTs with the draft statuses, creating no session', async () => {
    const offline = await t.createVm();
    const offlineToken = await t.viewerToken(offline.vmId);
    const otherVm = await t.createVm();
    const otherToken = await t.viewerToken(otherVm.vmId);
    const before = await sessionCount();
    const cases: Array<[Promise<Awaited<ReturnType<typeof post>>>, number, string]> = [
      [post(OFFER, { token: null }), 401, 'unauthorized'],
      [post(OFFER, { token: 'not-a-token' }), 401, 'unauthorized'],
      [post(OFFER, { token: otherToken }), 403, 'forbidden'],
      [post(OFFER, { token: vm.vmToken }), 403, 'forbidden'],
      [post(OFFER, { vmId: 'nope' }), 404, 'vm_not_found'],
      [post(OFFER, { type: 'application/json' }), 415, 'unsupported_media_type'],
      [post('hello'), 400, 'invalid_sdp'],
      [post(OFFER.replace(/a=ice-pwd:.*\r\n/g, '')), 400, 'invalid_sdp'],
      [post(OFFER.replace(/a=fingerprint:.*\r\n/g, '')), 400, 'invalid_sdp'],
      [post(OFFER.replace('a=mid:1\r\na=recvonly', 'a=mid:1\r\na=sendonly')), 422, 'offer_unsupported'],
      [post(OFFER.replace(/VP8|H264/g, 'AV1')), 422, 'offer_unsupported'],
      [post(OFFER, { vmId: offline.vmId, token: offlineToken }), 409, 'vm_offline'],
    ];
    for (const [pending, status, code] of cases) {
      const r = await pending;
      expect([r.status, r.body?.error?.code]).toEqual([status, code]);
    }
    expect((await post(OFFER, { vmId: offline.vmId, token: offlineToken })).headers.get('retry-after')).toBe('5');
    const put = await t.call('PUT', `/whep/vms/${vm.vmId}`, { token: viewer, raw: OFFER });
    expect([put.status, put.body.error.code, put.headers.get('allow')]).toEqual([
      405,
      'method_not_allowed',
      'GET, POST, OPTIONS',
    ]);
    expect(await sessionCount()).toBe(before);
  });

  it('answers OPTIONS with 200 and Accept-Post: application/sdp, and GET with 204', async () => {
    const r = await t.call('OPTIONS', `/whep/vms/${vm.vmId}`, { token: null });
    expect([r.status, r.headers.get('accept-post')]).toEqual([200, 'application/sdp']);
    // No Origin and the default allowlist (same origin only): no CORS grant, the WHEP answer all the same.
    expect(r.headers.get('access-control-allow-methods')).toBeNull();
    expect((await t.call('GET', `/whep/vms/${vm.vmId}`, { token: viewer })).status).toBe(204);
  });

  it('refuses bad PATCHes (428, 412, 422 for ICE restarts, 415, 400, 401/403, 404) and keeps the session as it was', async () => {
    const { sessionId, url, etag } = await play();
    const other = await t.viewerToken(vm.vmId, 'view');
    const cases: Array<[ReturnType<typeof patch>, number, string]> = [
      [patch(url, frag(), {}), 428, 'precondition_required'],
      [patch(url, frag(), { 'if-match': '"stale"' }), 412, 'precondition_failed'],
      [patch(url, frag(), { 'if-match': `W/${etag}` }), 412, 'precondition_failed'],
      [patch(url, frag('newU'), { 'if-match': '*' }), 422, 'ice_restart_unsupported'],
      [patch(url, frag('newU'), { 'if-match': etag }), 422, 'ice_restart_unsupported'],
      [patch(url, frag(), { 'if-match': etag, 'content-type': 'application/sdp' }), 415, 'unsupported_media_type'],
      [patch(url, 'not sdp', { 'if-match': etag }), 400, 'invalid_sdp'],
      [patch(url, frag('offU', 'candidate:1 1 udp'), { 'if-match': etag }), 400, 'invalid_sdp'],
      [patch(url, frag(), { 'if-match': etag }, null), 401, 'unauthorized'],
      [patch(url, frag(), { 'if-match': etag }, other), 403, 'forbidden'],
      [patch('/whep/sessions/unknown', frag(), { 'if-match': etag }), 404, 'session_not_found'],
    ];
    for (const [pending, status, code] of cases) {
      const r = await pending;
      expect([r.status, r.body?.error?.code]).toEqual([status, code]);
    }
    expect(await browserCandidates(sessionId)).toEqual([]);
    expect((await t.call('GET', url, { token: viewer })).status).toBe(204);
    const wrong = await t.call('POST', url, { token: viewer, raw: 'x' });
    expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'GET, PATCH, DELETE, OPTIONS']);
    await t.call('DELETE', url, { token: viewer });
  });

  it('ends the session on DELETE (200, then 404), whatever If-Match says', async () => {
    const { sessionId, url } = await play();
    const r = await t.call('DELETE', url, { token: viewer, headers: { 'if-match': '"whatever"' } });
    expect(r.status).toBe(200);
    expect((await t.call('DELETE', url, { token: viewer })).status).toBe(404);
    const s = await t.call('GET', `/api/webrtc/session/${sessionId}/answer`, { token: vm.vmToken });
    expect(s.body.error.code).toBe('session_not_found');
  });

  it('never lets a WHEP session hold control, even with a control token or through the operator', async () => {
    const { sessionId, url } = await play();
    const byViewer = await t.call('POST', `/api/vms/${vm.vmId}/control`, {
      token: viewer,
      body: { action: 'take', sessionId },
    });
    const byOperator = await t.call('POST', `/api/vms/${vm.vmId}/control`, { body: { action: 'take', sessionId } });
    expect([byViewer.status, byOperator.status]).toEqual([403, 403]);
    expect((await t.call('GET', `/api/vms/${vm.vmId}/control`, { token: viewer })).body.mode).toBe('agent');
    await t.call('DELETE', url, { token: viewer });
  });

  it('keeps a WHEP session past the idle TTL while the VM reports its peer connected', async () => {
    const short = await TestController.start({ sessionIdleTtlS: 1 });
    try {
      const v = await short.createVm();
      const token = await short.viewerToken(v.vmId);
      const beat = (connectedSessions: string[]) =>
        short.call('POST', `/api/vms/${v.vmId}/heartbeat`, { token: v.vmToken, body: { connectedSessions } });
      await beat([]);
      const answer = (async () => {
        const r = await short.call('GET', `/api/vms/${v.vmId}/sessions?state=offered&wait=5`, { token: v.vmToken });
        const sid = r.body.sessions[0].sessionId as string;
        const path = `/api/webrtc/session/${sid}`;
        await short.call('POST', `${path}/answer`, { token: v.vmToken, body: { type: 'answer', sdp: ANSWER } });
        await short.call('POST', `${path}/candidate`, {
          token: v.vmToken,
          body: { candidate: '', sdpMLineIndex: 0, from: 'vm' },
        });
        return sid;
      })();
      const [res, sid] = await Promise.all([
        short.call('POST', `/whep/vms/${v.vmId}`, {
          token,
          raw: OFFER,
          headers: { 'content-type': 'application/sdp' },
        }),
        answer,
      ]);
      expect(res.status).toBe(201);
      for (let i = 0; i < 10; i++) {
        await beat([sid]);
        await sleep(300);
      }
      expect((await short.call('GET', `/whep/sessions/${sid}`, { token })).status).toBe(204);
      await sleep(2500); // no report: the idle TTL ends it
      expect((await short.call('GET', `/whep/sessions/${sid}`, { token })).status).toBe(404);
    } finally {
      await short.close();
    }
  }, 20_000);
});

describe('WHEP session kind', () => {
  it('is not a REST session: a REST session id is no WHEP resource', async () => {
    const t = await TestController.start();
    try {
      const s = await t.offeredSession();
      const r = await t.call('DELETE', `/whep/sessions/${s.sessionId}`, { token: s.viewer });
      expect([r.status, r.body.error.code]).toEqual([404, 'session_not_found']);
    } finally {
      await t.close();
    }
  });
});
