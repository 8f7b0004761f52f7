/**
 * Test harness: a real controller on an ephemeral port, driven with global fetch.
 * `forEachStore` runs a suite once on the memory store and once on a real
 * redis-server (its own, started for the suite), so the HTTP contract is
 * tested the same on both; each controller gets its own key prefix.
 */

import { pino } from 'pino';
import { afterAll, beforeAll, describe } from 'vitest';
import type { ControllerConfig } from '../config.js';
import { type Controller, startController } from '../server.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

export type StoreKind = 'memory' | 'redis';

/** The store the suite being run uses (set by forEachStore). */
let current: { kind: StoreKind; redis: RedisServer | null } = { kind: 'memory', redis: null };
let prefixes = 0;

/**
 * Registers `suite` twice, as "memory store" and "redis store". The redis run starts its own
 * redis-server first and stops it last. VMLIVE_TEST_STORE=memory|redis runs one of them only.
 */
export function forEachStore(suite: (kind: StoreKind) => void): void {
  const only = process.env.VMLIVE_TEST_STORE;
  const kinds: StoreKind[] = only === 'memory' || only === 'redis' ? [only] : ['memory', 'redis'];
  for (const kind of kinds) {
    describe(`${kind} store`, () => {
      let redis: RedisServer | null = null;
      beforeAll(async () => {
        if (kind === 'redis') redis = await startRedisServer();
        current = { kind, redis };
      });
      afterAll(async () => {
        current = { kind: 'memory', redis: null };
        await redis?.stop();
      });
      suite(kind);
    });
  }
}

/** The store settings for a controller of the suite being run (each its own key prefix). */
export function storeConfig(): Partial<ControllerConfig> {
  if (current.kind === 'memory' || !current.redis) return { store: 'memory' };
  return { store: current.redis.url, storePrefix: `t${process.pid}-${++prefixes}:` };
}

/** The redis-server of the suite being run (null on the memory store). */
export function currentRedis(): RedisServer | null {
  return current.redis;
}

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert reply bodies field by field with expect()
  body: any;
  text: string;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as-is (no JSON encoding). */
  raw?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

export const SDP_OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n';
export const SDP_ANSWER = 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n';
export const cand = (i: number) => `candidate:${i} 1 udp 2122260223 10.0.0.${i % 250} ${50000 + i} typ host`;

export class TestController {
  private constructor(
    readonly controller: Controller,
    readonly url: string,
    readonly operatorToken: string,
  ) {}

  static async start(config: Partial<ControllerConfig> = {}): Promise<TestController> {
    const c = await startController(
      // Rate limits off unless a test turns them on: suites fire hundreds of calls from one address.
      { port: 0, host: '127.0.0.1', webDir: null, logLevel: 'silent', rateLimits: false, ...storeConfig(), ...config },
      pino({ level: 'silent' }),
    );
    return new TestController(c, c.url, c.operatorToken);
  }

  close(): Promise<void> {
    return this.controller.close();
  }

  async call(method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? this.operatorToken : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | Blob | undefined;
    if (opts.raw !== undefined) body = typeof opts.raw === 'string' ? opts.raw : new Blob([opts.raw]);
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  async createVm(name?: string): Promise<{ vmId: string; vmToken: string }> {
    const r = await this.call('POST', '/api/vms', { body: name ? { name } : {} });
    if (r.status !== 201) throw new Error(`createVm: ${r.status} ${r.text}`);
    return r.body;
  }

  async viewerToken(vmId: string, role: 'view' | 'control' = 'control', ttlSeconds = 600): Promise<string> {
    const r = await this.call('POST', `/api/vms/${vmId}/viewer-tokens`, { body: { role, ttlSeconds } });
    if (r.status !== 201) throw new Error(`viewerToken: ${r.status} ${r.text}`);
    return r.body.token;
  }

  async createSession(vmId: string, token: string): Promise<string> {
    const r = await this.call('POST', '/api/webrtc/session', { token, body: { vmId } });
    if (r.status !== 201) throw new Error(`createSession: ${r.status} ${r.text}`);
    return r.body.sessionId;
  }

  /** A VM, a control viewer token, and a session with an offer (not yet answered). */
  async offeredSession(role: 'view' | 'control' = 'control') {
    const vm = await this.createVm();
    const viewer = await this.viewerToken(vm.vmId, role);
    const sessionId = await this.createSession(vm.vmId, viewer);
    const r = await this.call('POST', `/api/webrtc/session/${sessionId}/offer`, {
      token: viewer,
      body: { type: 'offer', sdp: SDP_OFFER },
    });
    if (r.status !== 204) throw new Error(`offer: ${r.status} ${r.text}`);
    return { ...vm, viewer, sessionId };
  }

  async metric(name: string): Promise<number> {
    const r = await this.call('GET', '/metrics', { token: null });
    const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`metric ${name} missing`);
    return Number(line.split(' ')[1]);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolve with the elapsed ms of a promise. */
export async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await p;
  return [v, performance.now() - t0];
}
