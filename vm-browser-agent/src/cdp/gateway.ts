/**
 * The CDP gateway: the one way in for an automation (Playwright, Puppeteer,
 * an MCP browser server) to the VM's Chromium. It serves the DevTools HTTP
 * endpoints and relays DevTools WebSockets to Chromium's own (loopback-only)
 * port, holding every command that could change the page while a person has
 * control. See README.md beside this file.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ControlState } from '@vmlive/protocol';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { AutomationAuth, AutomationPrincipal } from './automation-auth.js';
import type { ControlView } from './control-view.js';
import { GatewayError, gatewayErrors } from './errors.js';
import { isHeldMode } from './hold-policy.js';
import {
  bearerToken,
  checkHost,
  errorAnswer,
  matchJsonRoute,
  type ProxiedAnswer,
  parseRequestTarget,
  proxyJson,
  type RequestTarget,
} from './http-endpoints.js';
import { type GatewayCounters, heldMessage, Relay } from './relay.js';

export interface CdpGatewayOptions {
  /** Chromium's own DevTools HTTP base, e.g. http://127.0.0.1:9222 */
  upstreamUrl: string;
  host: string;
  /** 0 = ephemeral */
  port: number;
  control: ControlView;
  /** While a person has control: hold changing commands until control returns, or answer them with an error at once. */
  whileHeld: 'hold' | 'reject';
  /** A held command (or HTTP request) older than this is answered with an error. */
  holdMaxMs: number;
  /** Largest automation → browser message; a bigger one closes the connection with 1009. */
  maxMessageBytes: number;
  /** Required unless `host` is a loopback address; when given, every request needs a token. */
  auth?: AutomationAuth;
  log: Logger;
  /** Per connection; past it a command is answered with an error instead of being held. */
  maxHeldCommands?: number;
  /** Per connection, bytes of held frames. Default 2 × maxMessageBytes. */
  maxHeldBytes?: number;
  /** Chromium's HTTP answer / WebSocket handshake deadline. */
  upstreamTimeoutMs?: number;
}

export const CDP_GATEWAY_DEFAULTS = Object.freeze({
  whileHeld: 'hold' as const,
  holdMaxMs: 300_000,
  /** Playwright sends setInputFiles buffers inline, base64: its 50 MB cap is ~67 MB on the wire. */
  maxMessageBytes: 100 * 1024 * 1024,
  maxHeldCommands: 10_000,
  upstreamTimeoutMs: 10_000,
});

/** Browser → automation frames: screenshots and response bodies can be large; Puppeteer's own client allows 256 MiB. */
const UPSTREAM_MAX_PAYLOAD = 256 * 1024 * 1024;

export interface CdpGatewayStats {
  connections: number;
  heldNow: number;
  heldTotal: number;
  releasedTotal: number;
  rejectedTotal: number;
  timedOutTotal: number;
}

export class CdpGatewayConfigError extends Error {
  override name = 'CdpGatewayConfigError';
}

export function isLoopbackHost(host: string): boolean {
  return host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export class CdpGateway {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly relays = new Set<Relay>();
  private readonly waiters = new Set<(state: ControlState | 'stopping') => void>();
  private readonly counters: GatewayCounters = { heldTotal: 0, releasedTotal: 0, rejectedTotal: 0, timedOutTotal: 0 };
  private readonly log: Logger;
  private readonly upstreamHttp: string;
  private readonly upstreamWs: string;
  private unsubscribe: (() => void) | undefined;
  private connSeq = 0;
  private stopping = false;

  constructor(private readonly o: CdpGatewayOptions) {
    if (!o.auth && !isLoopbackHost(o.host)) {
      throw new CdpGatewayConfigError(
        `the CDP gateway listens on ${o.host}, not loopback: an AutomationAuth is required`,
      );
    }
    if (!(o.maxMessageBytes > 0) || !(o.holdMaxMs > 0)) {
      throw new CdpGatewayConfigError('maxMessageBytes and holdMaxMs must be positive');
    }
    const up = new URL(o.upstreamUrl);
    if (up.protocol !== 'http:') throw new CdpGatewayConfigError(`upstreamUrl must be http://, got ${o.upstreamUrl}`);
    this.upstreamHttp = `http://${up.host}`;
    this.upstreamWs = `ws://${up.host}`;
    this.log = o.log.child({ mod: 'cdp-gateway' });
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: o.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  async start(): Promise<{ url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.unsubscribe = this.o.control.subscribe((state) => this.onControl(state));
    const url = this.url();
    this.log.info(
      { url, auth: !!this.o.auth, whileHeld: this.o.whileHeld, holdMaxMs: this.o.holdMaxMs },
      'CDP gateway listening',
    );
    return { url };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe?.();
    for (const w of [...this.waiters]) w('stopping');
    for (const r of [...this.relays]) r.close(1001, 'vmlive: the VM agent is shutting down');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.log.info('CDP gateway stopped');
  }

  get stats(): CdpGatewayStats {
    let heldNow = 0;
    for (const r of this.relays) heldNow += r.heldNow;
    return { connections: this.relays.size, heldNow, ...this.counters };
  }

  private url(): string {
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('the CDP gateway is not listening on TCP');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  private onControl(state: ControlState): void {
    for (const r of this.relays) r.onControl(state);
    for (const w of [...this.waiters]) w(state);
  }

  private async authenticate(req: IncomingMessage, target: RequestTarget): Promise<AutomationPrincipal | undefined> {
    if (!this.o.auth) return undefined;
    return this.o.auth.verify(bearerToken(req.headers.authorization) ?? target.pathToken);
  }

  // ---------------------------------------------------------------- HTTP

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    let answer: ProxiedAnswer;
    try {
      answer = await this.answer(req, res);
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'unexpected gateway error');
      if (!(err instanceof GatewayError)) this.log.error({ err }, 'CDP gateway HTTP handler failed');
      answer = errorAnswer(e);
    }
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length });
    res.end(answer.body);
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<ProxiedAnswer> {
    const target = parseRequestTarget(req.url);
    const host = checkHost(req.headers.host, !!this.o.auth);
    await this.authenticate(req, target);
    const method = req.method ?? 'GET';
    this.log.debug({ method, path: target.path }, 'DevTools HTTP request');
    if (target.path === '/vmlive/control' && method === 'GET') {
      const s = this.o.control.get();
      const body = Buffer.from(JSON.stringify({ mode: s.mode, holder: s.holder, since: s.since }));
      return { status: 200, contentType: 'application/json; charset=UTF-8', body };
    }
    const route = matchJsonRoute(target.path);
    if (!route || (method !== 'GET' && method !== 'PUT')) throw gatewayErrors.notFound(`${method} ${target.path}`);
    if (route.changes) await this.awaitAgent(res);
    return proxyJson({
      upstreamUrl: this.upstreamHttp,
      route,
      method,
      target,
      publicBase: `${host}${target.prefix}`,
      timeoutMs: this.o.upstreamTimeoutMs ?? CDP_GATEWAY_DEFAULTS.upstreamTimeoutMs,
    });
  }

  /** /json/new, /activate, /close change the browser: like a CDP command, they wait for mode `agent`. */
  private awaitAgent(res: ServerResponse): Promise<void> {
    const state = this.o.control.get();
    if (!isHeldMode(state.mode)) return Promise.resolve();
    if (this.o.whileHeld === 'reject') {
      this.counters.rejectedTotal++;
      return Promise.reject(gatewayErrors.controlHeld(heldMessage(state, 'reject')));
    }
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      const done = (err?: GatewayError) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        res.off('close', gone);
        if (err) reject(err);
        else resolve();
      };
      const wake = (s: ControlState | 'stopping') => {
        if (s === 'stopping') done(new GatewayError('shutting_down', 'the VM agent is shutting down'));
        else if (!isHeldMode(s.mode)) done();
      };
      const gone = () => done(new GatewayError('internal', 'client went away'));
      const timer = setTimeout(() => {
        this.counters.timedOutTotal++;
        const secs = `${Math.round((Date.now() - started) / 1000)} s`;
        done(gatewayErrors.controlHeld(heldMessage(this.o.control.get(), 'timeout', secs)));
      }, this.o.holdMaxMs);
      this.waiters.add(wake);
      res.once('close', gone);
    });
  }

  // ---------------------------------------------------------------- WebSocket

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'upgrade socket error'));
    this.upgrade(req, socket, head).catch((err: unknown) => {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'unexpected gateway error');
      if (!(err instanceof GatewayError)) this.log.error({ err }, 'CDP gateway upgrade failed');
      else this.log.info({ status: e.status, code: e.code, why: e.message }, 'refused a DevTools WebSocket');
      if (socket.destroyed) return;
      const body = e.body();
      socket.end(
        `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.stopping) throw new GatewayError('shutting_down', 'the VM agent is shutting down');
    const target = parseRequestTarget(req.url);
    if (!target.path.startsWith('/devtools/')) throw gatewayErrors.notFound(target.path);
    checkHost(req.headers.host, !!this.o.auth);
    // As Chromium does without --remote-allow-origins: a web page (which always sends Origin)
    // must not drive the browser, e.g. a page in the VM's own Chromium reaching 127.0.0.1.
    if (req.headers.origin !== undefined) {
      throw gatewayErrors.forbidden('WebSocket connections from web pages (with an Origin header) are refused');
    }
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || req.headers['sec-websocket-version'] !== '13') {
      throw gatewayErrors.badUpgrade('Upgrade: websocket and Sec-WebSocket-Version: 13 are required');
    }
    if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key)) {
      throw gatewayErrors.badUpgrade('bad Sec-WebSocket-Key');
    }
    const principal = await this.authenticate(req, target);
    if (socket.destroyed) return;
    const upstream = await this.openUpstream(`${target.path}${target.search}`);
    if (socket.destroyed || this.stopping) {
      upstream.close();
      return;
    }
    let attached = false;
    // ws refuses a bad handshake itself (400) without calling back: the upstream must not outlive it.
    socket.once('close', () => {
      if (!attached) upstream.close();
    });
    this.wss.handleUpgrade(req, socket, head, (client) => {
      attached = true;
      this.attach(client, upstream, target.path, principal);
    });
  }

  private openUpstream(path: string): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.upstreamWs}${path}`, {
        perMessageDeflate: false,
        maxPayload: UPSTREAM_MAX_PAYLOAD,
        handshakeTimeout: this.o.upstreamTimeoutMs ?? CDP_GATEWAY_DEFAULTS.upstreamTimeoutMs,
      });
      // Kept for the socket's whole life: an 'error' without a listener would crash the VM agent.
      ws.on('error', (err) => reject(gatewayErrors.browserUnavailable(err.message)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body = (body + d.toString()).slice(0, 1024);
        });
        res.once('end', () => {
          ws.terminate();
          // Chromium answers an unknown target id with "500 No such target id: …".
          reject(
            res.statusCode === 404 || /no such target/i.test(body)
              ? gatewayErrors.notFound(`${path} (no such target)`)
              : gatewayErrors.browserUnavailable(`the DevTools upgrade was answered ${res.statusCode}`),
          );
        });
      });
      ws.once('open', () => resolve(ws));
    });
  }

  private attach(client: WebSocket, upstream: WebSocket, path: string, principal?: AutomationPrincipal): void {
    const conn = `c${++this.connSeq}`;
    const log = this.log.child({ conn, target: path });
    const relay: Relay = new Relay({
      client,
      upstream,
      control: this.o.control,
      whileHeld: this.o.whileHeld,
      holdMaxMs: this.o.holdMaxMs,
      maxHeldCount: this.o.maxHeldCommands ?? CDP_GATEWAY_DEFAULTS.maxHeldCommands,
      maxHeldBytes: this.o.maxHeldBytes ?? 2 * this.o.maxMessageBytes,
      counters: this.counters,
      log,
      ...(principal ? { expiresAt: principal.expiresAt } : {}),
      onClosed: () => this.relays.delete(relay),
    });
    this.relays.add(relay);
    log.info({ tokenId: principal?.tokenId }, 'automation connected');
    // Chromium may have closed it between its handshake and ours (the relay missed that 'close').
    if (upstream.readyState !== WebSocket.OPEN) relay.close(1011, 'vmlive: the browser closed the DevTools connection');
  }
}
