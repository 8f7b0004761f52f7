/**
 * Throughput stages of bench-controller: autocannon against the controller (or
 * a baseline), with the target process's CPU per request. The requests
 * autocannon sends are raw HTTP on purpose: they are what is measured. The
 * set-up around them goes through the protocol's ApiClient.
 */
import type { ChildProcess } from 'node:child_process';
import { type ApiClient, routes } from '@vmlive/protocol';
import autocannon from 'autocannon';
import { childCpuMicros } from './processes.js';

export interface CannonResult {
  /** Controller CPU (user+sys) per request: the load-independent cost; 1e6 / this ≈ req/s on one free core. */
  controllerCpuMicrosPerReq: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface LoadPlan {
  url: string;
  connections: number;
  /** seconds */
  duration: number;
}

export async function cannon(child: ChildProcess, opts: autocannon.Options): Promise<CannonResult> {
  const cpu0 = await childCpuMicros(child);
  const r = await autocannon(opts);
  const cpu1 = await childCpuMicros(child);
  return {
    controllerCpuMicrosPerReq: Math.round((cpu1 - cpu0) / Math.max(1, r.requests.total)),
    reqPerSec: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/** A browser-side host candidate, distinct per i (the controller takes 256 per side per session). */
export const candidate = (i: number) => ({
  candidate: `candidate:${i} 1 udp 2122260223 192.168.1.${i % 250} ${40000 + (i % 20000)} typ host generation 0 ufrag abcd network-id 1`,
  sdpMLineIndex: 0,
  sdpMid: '0',
  from: 'browser' as const,
});

/** POST /api/webrtc/session/:id/candidate as fast as it goes, rotating over `sessions`. */
export function candidatePostLoad(
  child: ChildProcess,
  plan: LoadPlan,
  viewerToken: string,
  sessions: readonly string[],
): Promise<CannonResult> {
  let k = 0;
  return cannon(child, {
    url: plan.url,
    connections: plan.connections,
    duration: plan.duration,
    method: 'POST',
    headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          const i = k++;
          const sid = sessions[i % sessions.length];
          return { ...req, path: `/api/webrtc/session/${sid}/candidate`, body: JSON.stringify(candidate(i)) };
        },
      },
    ],
  });
}

/** Gives each session that has none 4 browser candidates, for getSinceLoad to read. */
export async function fillCandidates(viewer: ApiClient, sessions: readonly string[]): Promise<void> {
  for (const sid of sessions) {
    const cur = await viewer.call(routes.getCandidates, { params: { id: sid, type: 'browser' } });
    if (cur.cursor === 0) {
      for (let i = 0; i < 4; i++) await viewer.call(routes.postCandidate, { params: { id: sid }, body: candidate(i) });
    }
  }
}

/** GET /api/webrtc/session/:id/candidates/browser?since= with the VM token, rotating sessions and cursor. */
export function getSinceLoad(
  child: ChildProcess,
  plan: LoadPlan,
  vmToken: string,
  sessions: readonly string[],
): Promise<CannonResult> {
  let g = 0;
  return cannon(child, {
    url: plan.url,
    connections: plan.connections,
    duration: plan.duration,
    method: 'GET',
    headers: { authorization: `Bearer ${vmToken}` },
    requests: [
      {
        setupRequest: (req) => {
          const i = g++;
          const sid = sessions[i % sessions.length];
          return { ...req, path: `/api/webrtc/session/${sid}/candidates/browser?since=${i % 5}` };
        },
      },
    ],
  });
}
