/**
 * A bare CDP client over `ws` for the gateway's tests and benchmark: sends
 * commands, matches responses by id, collects events, and reports how the
 * connection closed. Nothing of Playwright's own traffic in between.
 */
import WebSocket from 'ws';
import { z } from 'zod';

const Incoming = z.looseObject({
  id: z.number().optional(),
  method: z.string().optional(),
  params: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.object({ code: z.number(), message: z.string() }).optional(),
  sessionId: z.string().optional(),
});
export type Incoming = z.infer<typeof Incoming>;

const EvaluateResult = z.object({ result: z.looseObject({ value: z.unknown().optional() }) });

export class CdpError extends Error {
  override name = 'CdpError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class RawCdp {
  readonly events: Incoming[] = [];
  /** Responses to ids this client did not send through call() (frames written with sendRaw). */
  readonly unmatched: Incoming[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Incoming) => void }>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = Incoming.parse(JSON.parse(data.toString()));
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        this.pending.get(msg.id)?.resolve(msg);
        this.pending.delete(msg.id);
      } else if (msg.method) this.events.push(msg);
      else this.unmatched.push(msg);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<RawCdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      ws.once('open', () => resolve(new RawCdp(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () =>
          reject(Object.assign(new Error(`upgrade refused ${res.statusCode}`), { status: res.statusCode, body })),
        );
      });
      ws.once('error', reject);
    });
  }

  /** Sends a command and resolves with the whole response frame (result or error). */
  call(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Incoming> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.ws.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
    });
  }

  /** Sends a command and resolves with its result, or rejects with its CDP error. */
  async send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<unknown> {
    const r = await this.call(method, params, sessionId);
    if (r.error) throw new CdpError(r.error.code, r.error.message);
    return r.result;
  }

  /** Runtime.evaluate with returnByValue; the value. */
  async evaluate(expression: string, sessionId?: string): Promise<unknown> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId);
    return EvaluateResult.parse(r).result.value;
  }

  /** Target.attachToTarget {flatten: true}; the new session's id. */
  async attach(targetId: string): Promise<string> {
    const r = await this.send('Target.attachToTarget', { targetId, flatten: true });
    return z.object({ sessionId: z.string() }).parse(r).sessionId;
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  async waitForEvent(method: string, timeoutMs = 5000, from = 0): Promise<Incoming> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.slice(from).find((m) => m.method === method);
      if (e) return e;
      if (Date.now() > deadline) throw new Error(`no ${method} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.ws.close();
  }
}

/** The page targets Chromium (or the gateway) lists at /json/list. */
export async function pageTargets(httpUrl: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${httpUrl}/json/list`, { headers });
  const list = z
    .array(z.looseObject({ id: z.string(), type: z.string(), url: z.string(), webSocketDebuggerUrl: z.string() }))
    .parse(await res.json());
  return list.filter((t) => t.type === 'page');
}
