/**
 * Rate limits over HTTP on a real controller, on both stores: each route class
 * flooded from one token answers 429 rate_limited with Retry-After once its
 * budget is spent, other tokens carry on, an address has its own (larger)
 * budget, long-polls per token are capped, and X-Forwarded-For counts only
 * from a configured proxy.
 */
import { describe, expect, it } from 'vitest';
import { forEachStore, type Reply, TestController } from '../test/harness.js';

const LIMITS = {
  rateLimits: true,
  rateWritesPerMin: 6,
  rateWritesBurst: 5,
  rateReadsPerMin: 6,
  rateReadsBurst: 5,
  rateMintsPerMin: 6,
  rateMintsBurst: 3,
  rateAddressFactor: 3,
  maxLongPollsPerToken: 2,
};

function expectLimited(r: Reply, code = 'rate_limited') {
  expect(r.status).toBe(429);
  expect(r.body.error.code).toBe(code);
  const after = Number(r.headers.get('retry-after'));
  expect(after).toBeGreaterThanOrEqual(1);
  expect(after).toBeLessThanOrEqual(60);
}

forEachStore(() => {
  it('each class has its own budget per token: 429 with Retry-After after it, other tokens unaffected', async () => {
    const t = await TestController.start({ ...LIMITS, rateAddressFactor: 100 });
    try {
      const { vmId, vmToken } = await t.createVm(); // 1 mint of the operator's 3
      const [a, b] = [await t.viewerToken(vmId), await t.viewerToken(vmId)]; // 3 of 3
      expectLimited(await t.call('POST', `/api/vms/${vmId}/viewer-tokens`, { body: { role: 'view' } }));

      // reads: 5, then 429; the other viewer token still reads
      for (let i = 0; i < 5; i++)
        expect((await t.call('GET', `/api/vms/${vmId}/control`, { token: a })).status).toBe(200);
      const limited = await t.call('GET', `/api/vms/${vmId}/control`, { token: a });
      expectLimited(limited);
      expect(limited.headers.get('retry-after')).toBe('10'); // one token per 10 s at 6/min
      expect((await t.call('GET', `/api/vms/${vmId}/control`, { token: b })).status).toBe(200);

      // writes: a's reads did not spend its writes
      for (let i = 0; i < 5; i++)
        expect((await t.call('POST', `/api/vms/${vmId}/heartbeat`, { token: vmToken, body: {} })).status).toBe(204);
      expectLimited(await t.call('POST', `/api/vms/${vmId}/heartbeat`, { token: vmToken, body: {} }));
      expect((await t.call('GET', `/api/vms/${vmId}/sessions`, { token: vmToken })).status).toBe(200);

      // unlimited: health and metrics
      for (let i = 0; i < 10; i++) expect((await t.call('GET', '/healthz', { token: a })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('counts an unverified header per header, a short one (its digest cached) as a long one (hashed each time)', async () => {
    const t = await TestController.start({ ...LIMITS, rateAddressFactor: 100 });
    try {
      const { vmId } = await t.createVm();
      // Neither verifies (401), but each is still limited on its own budget, and apart from the other.
      const short = `bogus.${'a'.repeat(40)}.sig`;
      const long = `bogus.${'b'.repeat(2000)}.sig`;
      for (const token of [short, long]) {
        for (let i = 0; i < 5; i++)
          expect((await t.call('GET', `/api/vms/${vmId}/control`, { token })).status).toBe(401);
        expectLimited(await t.call('GET', `/api/vms/${vmId}/control`, { token }));
      }
      expect((await t.call('GET', `/api/vms/${vmId}/control`, { token: `${short}x` })).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('an address has its own budget, spent by all of its tokens together', async () => {
    const t = await TestController.start({ ...LIMITS, rateReadsBurst: 2, rateAddressFactor: 3 });
    try {
      const { vmId } = await t.createVm();
      const tokens = [await t.viewerToken(vmId), await t.viewerToken(vmId)];
      // 2 tokens × 2 reads + the operator's 2 = 6 = the address's 3 × 2
      for (const token of [...tokens, t.operatorToken])
        for (let i = 0; i < 2; i++)
          expect((await t.call('GET', `/api/vms/${vmId}/control`, { token })).status).toBe(200);
      expectLimited(await t.call('GET', '/api/vms', { token: t.operatorToken }));
      // a request without any token is still counted against the address
      expectLimited(await t.call('GET', '/api/vms', { token: null }));
    } finally {
      await t.close();
    }
  });

  it('caps the long-polls one token holds open, and frees the slot when one is answered', async () => {
    const t = await TestController.start({ ...LIMITS, rateReadsBurst: 50, rateAddressFactor: 10 });
    try {
      const { vmId, vmToken } = await t.createVm();
      const poll = (signal?: AbortSignal) =>
        fetch(`${t.url}/api/vms/${vmId}/sessions?wait=20`, { headers: { authorization: `Bearer ${vmToken}` }, signal });
      const ac = new AbortController();
      const held = [poll(ac.signal), poll(ac.signal)];
      for (const p of held) p.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      const third = await t.call('GET', `/api/vms/${vmId}/sessions?wait=20`, { token: vmToken });
      expectLimited(third, 'too_many_long_polls');
      // a plain read is not a long-poll: still served
      expect((await t.call('GET', `/api/vms/${vmId}/sessions`, { token: vmToken })).status).toBe(200);
      ac.abort(); // the client goes away: its slots are released
      await new Promise((r) => setTimeout(r, 300));
      const again = poll(AbortSignal.timeout(1500));
      await expect(again).rejects.toThrow(); // it waits (no 429) until our timeout ends it
    } finally {
      await t.close();
    }
  });

  it('takes the client address from X-Forwarded-For only when the peer is a configured proxy', async () => {
    const flood = async (t: TestController, xff: string) => {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++)
        codes.push((await t.call('GET', '/api/vms', { token: null, headers: { 'x-forwarded-for': xff } })).status);
      return codes;
    };
    const direct = await TestController.start({ ...LIMITS, rateReadsBurst: 1, rateAddressFactor: 2 });
    try {
      // Not trusted: every forged hop is the same peer (127.0.0.1), so the 3rd call is over its 2.
      expect(await flood(direct, '203.0.113.1')).toEqual([401, 401, 429, 429]);
      expect((await flood(direct, '203.0.113.2'))[0]).toBe(429);
    } finally {
      await direct.close();
    }
    const proxied = await TestController.start({
      ...LIMITS,
      rateReadsBurst: 1,
      rateAddressFactor: 2,
      trustProxy: ['127.0.0.1'],
    });
    try {
      expect(await flood(proxied, '203.0.113.1')).toEqual([401, 401, 429, 429]);
      // Another client behind the proxy has its own budget; a forged hop left of it changes nothing.
      expect(await flood(proxied, '198.51.100.9, 203.0.113.2')).toEqual([401, 401, 429, 429]);
      expect((await flood(proxied, '198.51.100.9, 203.0.113.1'))[0]).toBe(429);
    } finally {
      await proxied.close();
    }
  });
});

describe('the route classes', () => {
  it('are as documented', async () => {
    const { rateClass } = await import('./rate-limit.js');
    const { routes } = await import('@vmlive/protocol');
    expect(rateClass(routes.createViewerToken)).toBe('mints');
    expect(rateClass(routes.createVm)).toBe('mints');
    expect(rateClass(routes.getCandidates)).toBe('reads');
    expect(rateClass(routes.postCandidate)).toBe('writes');
    expect(rateClass(routes.putSnapshot)).toBe('writes');
    expect(rateClass(routes.healthz)).toBeNull();
    expect(rateClass(routes.jwks)).toBeNull();
  });
});
