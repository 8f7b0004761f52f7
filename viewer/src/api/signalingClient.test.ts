import { ApiClient, ApiError, InvalidResponseError } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { FakeController } from '../testing/fakeController.js';
import { isTransient, SignalingClient } from './signalingClient.js';

const BASE = 'http://controller.test';

function setup() {
  const controller = new FakeController();
  const api = new ApiClient({ baseUrl: `${BASE}/`, token: 'tok', fetch: controller.fetch });
  const client = new SignalingClient(api, { waitSeconds: 5 });
  return { controller, client };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
};

describe('signaling client against the REST contract', () => {
  it('creates a session with the bearer token and the vmId', async () => {
    const { controller, client } = setup();
    const session = await client.createSession('vm-1');
    expect(session.sessionId).toBe('s1');
    const [req] = controller.requests;
    expect(req).toMatchObject({
      method: 'POST',
      path: '/api/webrtc/session',
      body: { vmId: 'vm-1' },
      auth: 'Bearer tok',
    });
  });

  it('posts the offer and long-polls the answer with wait=S until it exists', async () => {
    const { controller, client } = setup();
    const { sessionId } = await client.createSession('vm-1');
    await client.postOffer(sessionId, 'v=0 offer');
    expect(controller.sessions.get(sessionId)?.offer).toBe('v=0 offer');
    const answer = client.waitForAnswer(sessionId, new AbortController().signal);
    await until(() => controller.pendingLongPolls === 1);
    controller.answer(sessionId, 'v=0 answer');
    await expect(answer).resolves.toEqual({ type: 'answer', sdp: 'v=0 answer' });
    expect(controller.requestsTo('GET', '/answer')[0]?.query.get('wait')).toBe('5');
  });

  it('trickles browser candidates with from=browser, empty string for end-of-candidates', async () => {
    const { controller, client } = setup();
    const { sessionId } = await client.createSession('vm-1');
    await client.postCandidate(sessionId, {
      candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host',
      sdpMLineIndex: 0,
      sdpMid: '0',
    });
    await client.postCandidate(sessionId, { candidate: '', sdpMLineIndex: 0, sdpMid: null });
    expect(controller.sessions.get(sessionId)?.browserCandidates).toEqual([
      { candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host', sdpMLineIndex: 0, sdpMid: '0', from: 'browser' },
      { candidate: '', sdpMLineIndex: 0, sdpMid: null, from: 'browser' },
    ]);
  });

  it('passes the returned cursor back so no VM candidate is seen twice or skipped', async () => {
    const { controller, client } = setup();
    const { sessionId } = await client.createSession('vm-1');
    const seen: string[] = [];
    const abort = new AbortController();
    const done = client.pollVmCandidates(sessionId, (c) => seen.push(c.candidate), abort.signal);
    const a = controller.addVmCandidate(sessionId, 'a');
    controller.addVmCandidate(sessionId, 'b');
    await until(() => seen.length === 2);
    const c = controller.addVmCandidate(sessionId, 'c');
    await until(() => seen.length === 3);
    abort.abort();
    await done;
    expect(seen).toEqual(['a', 'b', 'c']);
    const sinces = controller.requestsTo('GET', '/candidates/vm').map((r) => Number(r.query.get('since')));
    expect(sinces[0]).toBe(0);
    expect(sinces).toContain(c.seq - 1); // after a and b came back together, the cursor was b's seq
    expect(sinces).not.toContain(a.seq); // never asked from a stale cursor
  });

  it('stops the long-poll loop when closed, leaving no request waiting', async () => {
    const { controller, client } = setup();
    const { sessionId } = await client.createSession('vm-1');
    const abort = new AbortController();
    const done = client.pollVmCandidates(sessionId, () => {}, abort.signal);
    await until(() => controller.pendingLongPolls === 1);
    abort.abort();
    await expect(done).resolves.toBeUndefined();
    expect(controller.pendingLongPolls).toBe(0);
    const count = controller.requests.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(controller.requests.length).toBe(count);
  });

  it('rejects the candidate poll with session_not_found once the session has ended', async () => {
    const { controller, client } = setup();
    const { sessionId } = await client.createSession('vm-1');
    const done = client.pollVmCandidates(sessionId, () => {}, new AbortController().signal);
    await until(() => controller.pendingLongPolls === 1);
    controller.endSession(sessionId);
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'session_not_found' });
  });

  it('retries a candidate poll after a transient network failure', async () => {
    const controller = new FakeController();
    let failures = 1;
    const flaky = (input: string, init?: RequestInit) => {
      if (input.includes('/candidates/') && failures-- > 0) return Promise.reject(new TypeError('Failed to fetch'));
      return controller.fetch(input, init);
    };
    const client = new SignalingClient(new ApiClient({ baseUrl: BASE, token: 't', fetch: flaky }), { retryDelayMs: 1 });
    const { sessionId } = await client.createSession('vm-1');
    const seen: string[] = [];
    const abort = new AbortController();
    const done = client.pollVmCandidates(sessionId, (c) => seen.push(c.candidate), abort.signal);
    controller.addVmCandidate(sessionId, 'x');
    await until(() => seen.length === 1);
    abort.abort();
    await done;
  });

  it('turns the controller error body into an ApiError with code and status', async () => {
    const { controller, client } = setup();
    controller.createSessionFailures.push('token_expired');
    const err = await client.createSession('vm-1').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ApiError', status: 401, code: 'token_expired' });
  });

  it('retries what asking again can fix, and not what it cannot', () => {
    expect(isTransient(new TypeError('Failed to fetch'))).toBe(true);
    expect(isTransient(new InvalidResponseError('bad body'))).toBe(true);
    expect(isTransient(new ApiError(503, 'shutting_down', 'shutting down'))).toBe(true);
    expect(isTransient(new ApiError(502, 'http_502', 'Bad Gateway'))).toBe(true);
    expect(isTransient(new ApiError(404, 'session_not_found', 'gone'))).toBe(false);
    expect(isTransient(new ApiError(401, 'token_expired', 'expired'))).toBe(false);
  });
});
