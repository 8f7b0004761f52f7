/**
 * A minimal Chrome DevTools Protocol client over a hand-written WebSocket
 * client (RFC 6455; Node 20 has no WebSocket client without a flag). Used for
 * the screencast relay so each JPEG frame is parsed once, here, instead of
 * passing through playwright's dispatcher first: a relay someone would build
 * for production would not carry that cost either.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

/** The page target's own DevTools WebSocket URL, from a browser's http:// or ws:// endpoint. */
export async function pageTargetUrl(cdpUrl: string): Promise<string> {
  const u = new URL(cdpUrl);
  const origin = `http://${u.host}`;
  const list = (await (await fetch(`${origin}/json/list`)).json()) as {
    type: string;
    url: string;
    webSocketDebuggerUrl?: string;
  }[];
  const page = list.find((t) => t.type === 'page' && !t.url.startsWith('devtools://') && t.webSocketDebuggerUrl);
  if (!page?.webSocketDebuggerUrl) throw new Error(`no page target at ${origin}/json/list`);
  return page.webSocketDebuggerUrl;
}

export class RawCdp extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly socket: Socket) {
    super();
  }

  static async connect(wsUrl: string): Promise<RawCdp> {
    const u = new URL(wsUrl);
    const socket = connect(Number(u.port), u.hostname);
    socket.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    await new Promise<void>((res, rej) => {
      socket.once('connect', () => res());
      socket.once('error', rej);
    });
    socket.write(
      `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const rest = await new Promise<Buffer>((res, rej) => {
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) rej(new Error(`CDP WebSocket upgrade refused: ${status}`));
        else res(head.subarray(end + 4));
      };
      socket.on('data', onData);
      socket.once('error', rej);
    });
    const cdp = new RawCdp(socket);
    socket.on('data', (d: Buffer) => cdp.onData(d));
    socket.on('close', () => {
      for (const p of cdp.pending.values()) p.reject(new Error('CDP connection closed'));
      cdp.pending.clear();
    });
    socket.on('error', () => {});
    if (rest.length) cdp.onData(rest);
    return cdp;
  }

  /** RFC 6455 §5.2 framing, server → client frames are never masked. */
  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0] ?? 0;
      const b1 = this.buf[1] ?? 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      const op = b0 & 0x0f;
      if (op === 8) {
        this.socket.destroy();
        return;
      }
      if (op === 9) {
        this.writeFrame(0xa, payload);
        continue;
      }
      if (op === 0 || op === 1 || op === 2) {
        this.fragments.push(Buffer.from(payload));
        if (b0 & 0x80) {
          const msg = Buffer.concat(this.fragments).toString('utf8');
          this.fragments = [];
          this.onMessage(msg);
        }
      }
    }
  }

  private onMessage(text: string): void {
    const msg = JSON.parse(text) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: unknown;
    };
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    } else if (msg.method) {
      this.emit(msg.method, msg.params);
    }
  }

  /** Client → server frames must be masked (RFC 6455 §5.3). */
  private writeFrame(op: number, payload: Buffer): void {
    const n = payload.length;
    const header = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | op;
    if (n < 126) header[1] = 0x80 | n;
    else if (n < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(n, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = randomBytes(4);
    const masked = Buffer.alloc(n);
    for (let i = 0; i < n; i++) masked[i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.writeFrame(1, Buffer.from(JSON.stringify({ id, method, params })));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
