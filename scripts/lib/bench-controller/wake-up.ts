/**
 * Long-poll wake-up latency of bench-controller: N waiters on
 * GET …/candidates/browser?wait=30, then one candidate written at a time, timed
 * from the write being sent to the woken poll's answer. The waiters and the
 * timed writes are raw HTTP (they are what is measured); set-up and clean-up
 * go through the protocol's ApiClient.
 */
import http from 'node:http';
import { type ApiClient, routes } from '@vmlive/protocol';
import { pool } from '../pool.js';

export interface WakeResult {
  waiters: number;
  samples: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  setupSeconds: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (x: number) => Math.round(x * 100) / 100;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** A gauge from the controller's /metrics (Prometheus text), NaN when absent. */
export async function metric(api: ApiClient, name: string): Promise<number> {
  const text = await (await api.call(routes.metrics, {})).blob.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

export interface WakeTarget {
  url: string;
  /** ApiClient with the viewer token: set-up and clean-up. */
  viewer: ApiClient;
  /** The same token for the timed raw writes. */
  viewerToken: string;
  /** Keep-alive agent of the timed writes. */
  writeAgent: http.Agent;
  vmToken: string;
}

/**
 * Open one long-poll per session (each on its own keep-alive socket), wait until
 * the controller reports them all waiting, then post one candidate at a time to
 * `samples` of them (10 writes in flight) and time write-sent → poll-answered.
 */
export async function wakeUp(target: WakeTarget, sessions: string[], samples: number): Promise<WakeResult> {
  const { url, viewer, viewerToken, writeAgent, vmToken } = target;
  const t0 = performance.now();
  const u = new URL(url);
  const waitAgent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const answered = new Map<number, (at: number) => void>();
  const failed = new Set<number>();
  const pending: Promise<void>[] = [];
  // Open in batches, each waiting for its TCP connects, so the accept backlog never overflows.
  const BATCH = 250;
  for (let b = 0; b < sessions.length; b += BATCH) {
    const connected: Promise<void>[] = [];
    for (let i = b; i < Math.min(b + BATCH, sessions.length); i++) {
      let onConnect: () => void = () => {};
      connected.push(
        new Promise<void>((r) => {
          onConnect = r;
        }),
      );
      pending.push(
        new Promise<void>((resolve) => {
          const req = http.request(
            {
              host: u.hostname,
              port: u.port,
              path: `/api/webrtc/session/${sessions[i]}/candidates/browser?since=0&wait=30`,
              headers: { authorization: `Bearer ${vmToken}` },
              agent: waitAgent,
            },
            (res) => {
              res.resume();
              res.on('end', () => {
                answered.get(i)?.(performance.now());
                resolve();
              });
            },
          );
          req.on('socket', (sock) => {
            if (!sock.connecting) onConnect();
            else sock.once('connect', onConnect);
          });
          req.on('error', () => {
            failed.add(i);
            onConnect();
            answered.get(i)?.(Number.NaN);
            resolve();
          });
          req.end();
        }),
      );
    }
    await Promise.all(connected);
  }
  // Wait until the controller holds them all.
  for (let tries = 0; tries < 200; tries++) {
    const waiting = await metric(viewer, 'vmlive_longpolls_waiting');
    if (waiting >= sessions.length - failed.size) break;
    await sleep(50);
  }
  const setupSeconds = (performance.now() - t0) / 1000;
  if (failed.size > 0) process.stderr.write(`[bench] ${failed.size} waiters failed to connect\n`);

  const step = Math.max(1, Math.floor(sessions.length / samples));
  const picks = Array.from({ length: samples }, (_, j) => j * step).filter((i) => !failed.has(i));
  const picked = new Set(picks);
  const latencies: number[] = [];
  let lost = 0;
  await pool(picks.length, 10, async (j) => {
    const i = picks[j] as number;
    const sid = sessions[i];
    const done = new Promise<number>((resolve) => {
      answered.set(i, resolve);
      setTimeout(() => resolve(Number.NaN), 5000).unref();
    });
    const sent = performance.now();
    await postJson(writeAgent, u, `/api/webrtc/session/${sid}/candidate`, viewerToken, {
      candidate: `candidate:${i} 1 udp 2122260223 10.1.1.1 ${30000 + (i % 30000)} typ host`,
      sdpMLineIndex: 0,
      from: 'browser',
    });
    const at = await done;
    if (Number.isNaN(at)) lost++;
    else latencies.push(at - sent);
  });
  if (lost > 0) process.stderr.write(`[bench] ${lost} woken waiters never answered within 5 s\n`);
  // Release the rest: end their sessions (answers their polls at once), then drop the sockets.
  await pool(sessions.length, 64, async (i) => {
    const id = sessions[i];
    if (!picked.has(i) && !failed.has(i) && id) await viewer.call(routes.deleteSession, { params: { id } });
  });
  await Promise.race([Promise.all(pending), sleep(10_000)]);
  waitAgent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    waiters: sessions.length - failed.size,
    samples: latencies.length,
    lost,
    p50Ms: round(pct(latencies, 0.5)),
    p99Ms: round(pct(latencies, 0.99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
    setupSeconds: round(setupSeconds),
  };
}

/** One raw JSON POST on `agent`; rejects unless 2xx. Raw so that what is timed is the controller, not a client. */
function postJson(agent: http.Agent, base: URL, path: string, token: string, body: unknown): Promise<void> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method: 'POST',
        host: base.hostname,
        port: base.port,
        path,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 300) reject(new Error(`POST ${path}: ${status} ${text}`));
          else resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
