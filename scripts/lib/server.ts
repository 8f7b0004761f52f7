/**
 * The scripts' own HTTP server on 127.0.0.1 (ephemeral port):
 *   /pages/*   scripts/pages (clock page, measurement viewers)
 *   /novnc/*   Debian's noVNC sources (/usr/share/novnc)
 *   /api/*     reverse proxy to the controller, so the viewer page talks to it
 *              same-origin (the measurement does not depend on CORS settings)
 *   /relay     WebSocket (server → client binary frames) for the CDP screencast relay
 * plus a byte-counting TCP proxy used in front of websockify.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PAGES_DIR = resolve(fileURLToPath(new URL('../pages', import.meta.url)));
export const NOVNC_DIR = '/usr/share/novnc';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Server side of RFC 6455 for the screencast relay, with the flow control a
 * low-latency relay needs: at most one frame in flight per viewer. The viewer
 * sends a (tiny) message after drawing each frame; meanwhile only the newest
 * frame is kept and older ones are dropped. Without this, frames queue in the
 * loopback socket buffers (megabytes) and latency grows to seconds whenever
 * the viewer decodes slower than Chromium captures.
 */
export class RelayHub {
  private clients = new Map<Socket, { inFlight: boolean; pending: Buffer | null; buf: Buffer }>();
  bytesSent = 0;
  framesSent = 0;
  framesDropped = 0;
  get size(): number {
    return this.clients.size;
  }

  accept(req: IncomingMessage, socket: Socket): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') {
      socket.destroy();
      return;
    }
    // RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
    const acceptKey = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    const state = { inFlight: false, pending: null as Buffer | null, buf: Buffer.alloc(0) };
    this.clients.set(socket, state);
    socket.on('data', (d: Buffer) => {
      state.buf = Buffer.concat([state.buf, d]);
      // Client frames are masked (§5.3): header, 4-byte mask, payload. Every
      // data frame is one "drawn" acknowledgement; a close frame ends it.
      for (;;) {
        if (state.buf.length < 2) return;
        const op = (state.buf[0] ?? 0) & 0x0f;
        let len = (state.buf[1] ?? 0) & 0x7f;
        let off = 2;
        if (len === 126) {
          if (state.buf.length < 4) return;
          len = state.buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (state.buf.length < 10) return;
          len = Number(state.buf.readBigUInt64BE(2));
          off = 10;
        }
        if (state.buf.length < off + 4 + len) return;
        state.buf = state.buf.subarray(off + 4 + len);
        if (op === 8) {
          socket.destroy();
          return;
        }
        if (op === 1 || op === 2) {
          state.inFlight = false;
          const next = state.pending;
          state.pending = null;
          if (next) this.write(socket, state, next);
        }
      }
    });
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => this.clients.delete(socket));
  }

  private write(socket: Socket, state: { inFlight: boolean }, payload: Buffer): void {
    // RFC 6455 §5.2: FIN + opcode 2 (binary), unmasked from the server.
    const n = payload.length;
    const header = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x82;
    if (n < 126) header[1] = n;
    else if (n < 65536) {
      header[1] = 126;
      header.writeUInt16BE(n, 2);
    } else {
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(n), 2);
    }
    socket.write(header);
    socket.write(payload);
    state.inFlight = true;
    this.bytesSent += header.length + n;
    this.framesSent++;
  }

  /** Sends a frame to every viewer that has drawn its previous one; keeps it as the next otherwise. */
  send(payload: Buffer): void {
    for (const [socket, state] of this.clients) {
      if (!state.inFlight) this.write(socket, state, payload);
      else {
        if (state.pending) this.framesDropped++;
        state.pending = payload;
      }
    }
  }

  closeAll(): void {
    for (const c of this.clients.keys()) c.destroy();
    this.clients.clear();
  }
}

export interface PageServer {
  origin: string;
  relay: RelayHub;
  /** Where /api/* goes (set once the local controller is up). */
  setController(url: string): void;
  pageUrl(name: string, query?: Record<string, string>): string;
  close(): Promise<void>;
}

function serveFile(root: string, rel: string, res: ServerResponse): void {
  const path = normalize(join(root, rel));
  if (!path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  });
  createReadStream(path).pipe(res);
}

function proxy(target: URL, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', target);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers = { ...req.headers, host: url.host };
  const upstream = send(url, { method: req.method, headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  upstream.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'proxy_error', message: e.message } }));
  });
  req.pipe(upstream);
}

export async function startPageServer(opts: { controllerUrl?: string } = {}): Promise<PageServer> {
  const relay = new RelayHub();
  let controller = opts.controllerUrl ? new URL(opts.controllerUrl) : undefined;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.startsWith('/pages/')) return serveFile(PAGES_DIR, path.slice('/pages/'.length), res);
    if (path.startsWith('/novnc/')) return serveFile(NOVNC_DIR, path.slice('/novnc/'.length), res);
    if (path.startsWith('/api/') && controller) return proxy(controller, req, res);
    res.writeHead(404).end('not found');
  });
  server.on('upgrade', (req, socket) => {
    if (req.url?.startsWith('/relay')) relay.accept(req, socket as Socket);
    else socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    relay,
    setController: (url) => {
      controller = new URL(url);
    },
    pageUrl: (name, query) => `${origin}/pages/${name}${query ? `?${new URLSearchParams(query)}` : ''}`,
    close: () =>
      new Promise<void>((r) => {
        relay.closeAll();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** TCP proxy on 127.0.0.1 that counts the bytes flowing each way (what is on the wire). */
export interface CountingProxy {
  port: number;
  bytesDown: number;
  bytesUp: number;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const sockets = new Set<Socket>();
  const state = { port: 0, bytesDown: 0, bytesUp: 0 };
  const server = createTcpServer((client) => {
    const up = connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    up.setNoDelay(true);
    sockets.add(client);
    sockets.add(up);
    client.on('data', (d) => {
      state.bytesUp += d.length;
      up.write(d);
    });
    up.on('data', (d) => {
      state.bytesDown += d.length;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('close', end);
    up.on('close', end);
    client.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  state.port = typeof addr === 'object' && addr ? addr.port : 0;
  return Object.assign(state, {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  });
}
