import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, ApiClient, ApiError, InvalidResponseError, NetworkError, TimeoutError } from './client.js';
import { routes } from './routes.js';

let server: Server;
let base: string;
let handler: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('ApiClient', () => {
  it('fills the path, sends the bearer token and validates the answer with the route schema', async () => {
    let seen: { url?: string; auth?: string } = {};
    handler = (req, res) => {
      seen = { url: req.url, auth: req.headers.authorization };
      json(res, 200, { mode: 'agent', holder: null, since: 5, extra: 'ignored' });
    };
    const api = new ApiClient({ baseUrl: `${base}/`, token: 't0k' });
    const state = await api.call(routes.getControl, { params: { vmId: 'vm 1' }, query: { since: 3, wait: 1 } });
    expect(state).toEqual({ mode: 'agent', holder: null, since: 5 });
    expect(seen).toEqual({ url: '/api/vms/vm%201/control?since=3&wait=1', auth: 'Bearer t0k' });
  });

  it('turns an error body into an ApiError with the registry code and field', async () => {
    handler = (_req, res) => json(res, 409, { error: { code: 'control_held', message: 'held', field: 'sessionId' } });
    const err = await new ApiClient({ baseUrl: base })
      .call(routes.postControl, { params: { vmId: 'v' }, body: { action: 'take' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'control_held', field: 'sessionId' });
    expect((err as ApiError).is('control_held')).toBe(true);
  });

  it('gives a foreign error body the code http_<status>', async () => {
    handler = (_req, res) => {
      res.writeHead(502);
      res.end('bad gateway');
    };
    const err = await new ApiClient({ baseUrl: base }).call(routes.healthz, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'api', status: 502, code: 'http_502' });
  });

  it('rejects a 2xx answer that does not match the schema', async () => {
    handler = (_req, res) => json(res, 200, { mode: 'sideways' });
    const err = await new ApiClient({ baseUrl: base })
      .call(routes.getControl, { params: { vmId: 'v' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidResponseError);
  });

  it('times out on its own deadline, and is aborted by the caller', async () => {
    handler = () => undefined; // never answers
    const api = new ApiClient({ baseUrl: base, timeoutMs: 150 });
    expect(await api.call(routes.healthz, {}).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const aborted = await api.call(routes.healthz, { signal: ctl.signal, timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AbortedError);
    expect((aborted as Error).name).toBe('AbortError');
  });

  it('reports a refused connection as a NetworkError', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await new ApiClient({ baseUrl: `http://127.0.0.1:${port}` })
      .call(routes.healthz, {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
  });

  it("leaves nothing attached to a long-lived caller signal (the VM agent's stop signal) after its calls", async () => {
    handler = (_req, res) => json(res, 200, { ok: true, store: 'memory' });
    const api = new ApiClient({ baseUrl: base });
    const root = new AbortController();
    for (let i = 0; i < 200; i++) await api.call(routes.healthz, { signal: root.signal });
    handler = (_req, res) => json(res, 500, { error: { code: 'internal', message: 'x' } });
    for (let i = 0; i < 50; i++) await api.call(routes.healthz, { signal: root.signal }).catch(() => undefined);
    expect(getEventListeners(root.signal, 'abort')).toHaveLength(0);
  });
});
