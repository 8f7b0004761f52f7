/**
 * Regressions of issue 10 on the VM agent's REST traffic, against a real
 * controller: the offered-sessions poll follows its cursor (no spinning while
 * an offer waits for its answer), and a candidate flood that hits the
 * controller's limit ends neither the peer nor the session.
 */
import type { FetchLike } from '@vmlive/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentHarness, ScriptedHelper, startAgentHarness, until } from './testing/agent-harness.js';
import { FakeHelper } from './testing/fake-helper.js';

let h: AgentHarness<FakeHelper> | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** Counts the agent's GET .../sessions?state=offered requests. */
function countingFetch(): { fetch: FetchLike; offeredPolls: () => number } {
  let n = 0;
  return {
    fetch: (input, init) => {
      if (input.includes('/sessions?') && input.includes('state=offered')) n++;
      return globalThis.fetch(input, init);
    },
    offeredPolls: () => n,
  };
}

describe('the VM agent against a real controller', () => {
  it('makes one offered-sessions request per new offer plus long-poll renewals while offers wait for answers', async () => {
    const counter = countingFetch();
    // A helper that never answers: the offers stay unanswered (offered) at the controller.
    h = await startAgentHarness({ makeHelper: () => new FakeHelper(), longPollSeconds: 1, agentFetch: counter.fetch });
    await until(() => counter.offeredPolls() >= 1);
    const start = counter.offeredPolls();
    const t0 = Date.now();
    const offers = 3;
    for (let i = 0; i < offers; i++) {
      const { token, sessionId } = await h.viewerSession();
      await h.api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, token);
      await until(() => h?.helpers[0]?.commands('add-peer').some((c) => c.peerId === sessionId));
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const seconds = (Date.now() - t0) / 1000;
    const polls = counter.offeredPolls() - start;
    // Each offer answers the waiting poll once; otherwise a poll lasts its full second.
    const bound = offers + Math.ceil(seconds / 1) + 1;
    console.log(`offered-sessions polls: ${polls} in ${seconds.toFixed(1)} s for ${offers} offers (bound ${bound})`);
    expect(polls).toBeLessThanOrEqual(bound);
    expect(h.helpers[0]?.commands('add-peer')).toHaveLength(offers);
  });

  it('keeps the peer and its session when its local candidates exceed the controller limit', async () => {
    const flood = 300;
    h = await startAgentHarness({
      makeHelper: () => {
        const helper = new ScriptedHelper();
        helper.candidateCount = flood;
        return helper;
      },
    });
    const { token, sessionId } = await h.viewerSession();
    await h.api('POST', `/api/webrtc/session/${sessionId}/offer`, { type: 'offer', sdp: 'v=0\r\n' }, token);
    const answer = await h.api('GET', `/api/webrtc/session/${sessionId}/answer?wait=5`, undefined, token);
    expect(answer.status).toBe(200);
    // The controller stores 256 of them and answers the rest 409 too_many_candidates.
    await until(async () => {
      const r = await h?.api('GET', `/api/webrtc/session/${sessionId}/candidates/vm?since=0`, undefined, token);
      return r?.body.candidates.length === 256;
    }, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.server.peerCount).toBe(1);
    expect(h.helpers[0]?.commands('remove-peer')).toEqual([]);
    const still = await h.api('GET', `/api/webrtc/session/${sessionId}/answer`, undefined, token);
    expect(still.status).toBe(200);
  });
});
