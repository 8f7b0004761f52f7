/**
 * Rate limits with the default budgets, against the real controller, sandbox
 * VM agent and a headless Chromium viewer (the address factor lowered to 2): each route class flooded from one
 * token, and then from one client address (many tokens), answers 429
 * rate_limited with Retry-After once its budget is spent, while the real
 * viewer keeps decoding video and the VM agent keeps answering (its
 * heartbeats and polls are never refused). The controller trusts 127.0.0.1 as
 * a proxy so each flood can come from an address of its own (X-Forwarded-For);
 * the viewer and the VM send none and stay 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';
import { framesDecoded, openViewer, waitLive } from './viewer-page.js';

let sys: LocalSystem;
let browser: Browser;
let viewer: Page;

beforeAll(async () => {
  [sys, browser] = await Promise.all([
    // The default budgets, but an address gets 2× a token's (default 20×) so that its flood stays short.
    startSystem({ controllerEnv: { VMLIVE_TRUST_PROXY: '127.0.0.1', VMLIVE_RATE_ADDRESS_FACTOR: '2' } }),
    launchViewerBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

interface Outcome {
  ok: number;
  limited: number;
  other: number;
  retryAfter: Set<string>;
  codes: Set<string>;
}

/** `n` calls, 16 at a time, each as `init(i)` says; counts what came back. */
async function flood(n: number, call: (i: number) => Promise<Response>): Promise<Outcome> {
  const out: Outcome = { ok: 0, limited: 0, other: 0, retryAfter: new Set(), codes: new Set() };
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const r = await call(next++);
        const body = await r.text();
        if (r.status === 429) {
          out.limited++;
          out.retryAfter.add(r.headers.get('retry-after') ?? '');
          out.codes.add((JSON.parse(body) as { error: { code: string } }).error.code);
        } else if (r.status < 400) out.ok++;
        else out.other++;
      }
    }),
  );
  return out;
}

const api = (path: string, token: string, from: string, init: RequestInit = {}) =>
  fetch(`${sys.controllerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': from, 'content-type': 'application/json' },
  });

async function viewerToken(): Promise<string> {
  return new URLSearchParams(new URL(await sys.viewerUrl('view')).hash.slice(1)).get('token') ?? '';
}

it('floods of each class from one token, then from one address, are refused while the real viewer and VM carry on', async () => {
  viewer = await openViewer(browser, sys, 'control');
  await waitLive(viewer, sys);
  const vm = sys.vmId;
  const [reader, writer, other] = [await viewerToken(), await viewerToken(), await viewerToken()];
  const before = await framesDecoded(viewer);
  const t0 = Date.now();

  // Defaults: reads burst 120, writes 300, mints 100 per token; 2× that per address here.
  const reads = await flood(200, () => api(`/api/vms/${vm}/control`, reader, '198.51.100.1'));
  // Candidates for a session that does not exist: refused by the handler (404) once admitted.
  const writes = await flood(450, () =>
    api('/api/webrtc/session/none/candidate', writer, '198.51.100.2', {
      method: 'POST',
      body: JSON.stringify({ candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host', sdpMLineIndex: 0 }),
    }),
  );
  // Many tokens (made up: they fail authentication, but are counted first) from one address.
  const address = await flood(400, (i) => api(`/api/vms/${vm}/control`, `forged-${i}`, '198.51.100.3'));
  // Mints last: the operator token is the one minting viewer tokens for this test.
  const mints = await flood(150, () =>
    api(`/api/vms/${vm}/viewer-tokens`, sys.operatorToken, '198.51.100.4', {
      method: 'POST',
      body: JSON.stringify({ role: 'view', ttlSeconds: 60 }),
    }),
  );
  const seconds = (Date.now() - t0) / 1000;
  console.log(
    `floods in ${seconds.toFixed(1)} s: reads ${reads.ok} ok/${reads.limited} 429, writes ${writes.ok}/${writes.limited} (${writes.other} other), ` +
      `one address ${address.ok + address.other} served/${address.limited} 429, mints ${mints.ok}/${mints.limited}`,
  );

  // Each token got about its burst (plus what refilled meanwhile), then 429 with the registry's body.
  const refill = (perMin: number, factor = 1) => Math.ceil((seconds * perMin * factor) / 60) + 1;
  for (const [o, burst, perMin] of [
    [reads, 120, 600],
    [writes, 300, 600],
    [mints, 100, 600],
  ] as const) {
    expect(o.ok + o.other).toBeGreaterThanOrEqual(burst);
    expect(o.ok + o.other).toBeLessThanOrEqual(burst + refill(perMin));
    expect(o.limited).toBeGreaterThan(0);
    expect(o.codes).toEqual(new Set(['rate_limited']));
    for (const s of o.retryAfter) expect(Number(s)).toBeGreaterThanOrEqual(1);
  }
  // The address: 401s (forged tokens) up to its 2 × 120, then 429.
  expect(address.ok).toBe(0);
  expect(address.other).toBeGreaterThanOrEqual(240);
  expect(address.other).toBeLessThanOrEqual(240 + refill(600, 2));
  expect(address.limited).toBeGreaterThan(0);

  // Another token is unaffected, right after.
  const fresh = await api(`/api/vms/${vm}/control`, other, '198.51.100.1');
  expect(fresh.status).toBe(200);

  // The real viewer kept decoding, and the VM is online (its heartbeats and polls were served).
  await expect.poll(() => framesDecoded(viewer), { timeout: 10_000 }).toBeGreaterThan(before + 60);
  const vms = (await (await api('/api/vms', sys.operatorToken, '127.0.0.1')).json()) as {
    vms: Array<{ vmId: string; online: boolean }>;
  };
  expect(vms.vms.find((v) => v.vmId === vm)?.online).toBe(true);
  // Nothing from 127.0.0.1 (the viewer, the VM agent) was ever refused.
  const log = readFileSync(join(sys.logDir, 'controller.log'), 'utf8');
  expect(log).toMatch(/"status":429[^\n]*"addr":"198\.51\.100\.1"/);
  expect(log).not.toMatch(/"status":429[^\n]*"addr":"127\.0\.0\.1"/);
}, 180_000);
