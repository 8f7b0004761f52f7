/**
 * One automation connection ⇄ one upstream connection to Chromium.
 *
 * Browser → automation: every frame passes unchanged (events, responses, all
 * flattened sessions). Automation → browser: each frame is parsed for its id,
 * method and sessionId, then forwarded as the original bytes, answered here
 * (Vmlive.*), held (while a person has control) or rejected; see hold-policy.ts.
 */
import type { ControlState } from '@vmlive/protocol';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { CDP_ERROR, type Command, errorFrame, parseCommand } from './cdp-message.js';
import { type HeldCommand, HeldQueue } from './held-queue.js';
import { classify, decide, isHeldMode, type MethodClass } from './hold-policy.js';
import { VmliveDomain } from './vmlive-domain.js';

/** RFC 6455 §7.4.1 close codes the relay sends. */
export const CLOSE = Object.freeze({
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
});

export interface GatewayCounters {
  heldTotal: number;
  releasedTotal: number;
  rejectedTotal: number;
  timedOutTotal: number;
}

export interface RelayOptions {
  client: WebSocket;
  upstream: WebSocket;
  control: { get(): ControlState };
  whileHeld: 'hold' | 'reject';
  holdMaxMs: number;
  maxHeldCount: number;
  maxHeldBytes: number;
  counters: GatewayCounters;
  log: Logger;
  /** ms epoch at which the automation token expires: the connection is closed then (1008). */
  expiresAt?: number;
  onClosed: () => void;
}

/** Above this many bytes queued towards one side, stop reading from the other (resume below LOW). */
const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;

/** The error text an automation gets for a command that was not sent; it names the mode and the holder. */
export function heldMessage(state: ControlState, why: 'reject' | 'timeout' | 'full', detail = ''): string {
  const who = `mode ${state.mode}, holder ${state.holder ?? 'none'}`;
  const head =
    why === 'reject'
      ? `vmlive: a person has control (${who}); the command was not sent to the browser`
      : why === 'timeout'
        ? `vmlive: held ${detail} while a person has control (${who}); the command was not sent to the browser`
        : `vmlive: cannot hold more commands while a person has control (${who}: ${detail}); the command was not sent to the browser`;
  return `${head}. Wait for the event Vmlive.controlChanged with mode 'agent' (Vmlive.enable), then send it again.`;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Close reasons are at most 123 bytes (RFC 6455 §5.5: control frame payload ≤ 125, 2 for the code). */
function reason(text: string): string {
  const b = Buffer.from(text);
  return b.length <= 123
    ? text
    : b
        .subarray(0, 123)
        .toString('utf8')
        .replace(/\uFFFD$/, '');
}

export class Relay {
  private readonly queue: HeldQueue;
  private readonly vmlive = new VmliveDomain();
  private readonly log: Logger;
  private closed = false;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RelayOptions) {
    this.log = o.log;
    this.queue = new HeldQueue({
      maxAgeMs: o.holdMaxMs,
      maxCount: o.maxHeldCount,
      maxBytes: o.maxHeldBytes,
      onExpire: (items) => this.expired(items),
    });
    const { client, upstream } = o;
    client.on('message', (data, isBinary) => this.fromClient(toBuffer(data), isBinary));
    upstream.on('message', (data, isBinary) => this.pipe(upstream, client, toBuffer(data), isBinary));
    client.on('close', (code) => this.clientClosed(code));
    upstream.on('close', (code) => this.upstreamClosed(code));
    // ws closes the socket itself on a protocol error (1009 for a frame over maxPayload,
    // 1007 for invalid UTF-8, 1002 …); the 'error' event only tells us why.
    client.on('error', (err) => this.log.info({ err: err.message }, 'automation connection error'));
    upstream.on('error', (err) => this.log.info({ err: err.message }, 'upstream connection error'));
    if (o.expiresAt !== undefined) {
      const ms = Math.max(0, o.expiresAt - Date.now());
      // setTimeout's limit is 2^31-1 ms (~24.8 days); tokens live far shorter.
      this.expiryTimer = setTimeout(
        () => this.close(CLOSE.policyViolation, 'vmlive: the automation token expired'),
        Math.min(ms, 2 ** 31 - 1),
      );
      this.expiryTimer.unref();
    }
  }

  get heldNow(): number {
    return this.queue.length;
  }

  /** Called by the gateway at every control change. */
  onControl(state: ControlState): void {
    if (this.closed) return;
    for (const frame of this.vmlive.changed(state)) this.o.client.send(frame);
    if (!isHeldMode(state.mode) && this.queue.length) this.release();
  }

  close(code: number, why: string): void {
    if (this.closed) return;
    this.finish();
    this.o.client.close(code, reason(why));
    this.o.upstream.close(CLOSE.normal);
  }

  private fromClient(raw: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) {
      this.close(CLOSE.unsupportedData, 'vmlive: CDP messages are text frames');
      return;
    }
    const parsed = parseCommand(raw.toString('utf8'));
    if (parsed.kind === 'malformed') {
      this.log.info({ why: parsed.reason }, 'closing: malformed CDP message');
      this.close(CLOSE.invalidPayload, `vmlive: malformed CDP message (${parsed.reason})`);
      return;
    }
    if (parsed.kind === 'invalid') {
      const msg = `vmlive: invalid CDP command (${parsed.reason})`;
      this.o.client.send(errorFrame(parsed.id, parsed.sessionId, CDP_ERROR.invalidRequest, msg));
      return;
    }
    const cmd = parsed.command;
    const state = this.o.control.get();
    // Normally released by onControl; this covers a ControlView that changed without telling.
    if (!isHeldMode(state.mode) && this.queue.length) this.release();
    const cls = classify(cmd.method, cmd.params);
    switch (decide(cls, state.mode, this.queue.length, this.o.whileHeld)) {
      case 'local':
        this.o.client.send(this.vmlive.handle(cmd, state));
        return;
      case 'forward':
        this.pipe(this.o.client, this.o.upstream, raw, false);
        return;
      case 'reject':
        this.reject(cmd, heldMessage(state, 'reject'));
        return;
      case 'hold':
        this.hold(cmd, cls, raw, state);
        return;
    }
  }

  private hold(cmd: Command, cls: MethodClass, raw: Buffer, state: ControlState): void {
    const refusal = this.queue.refusal(raw.length);
    if (refusal) {
      this.reject(cmd, heldMessage(state, 'full', refusal));
      return;
    }
    if (this.queue.length === 0) {
      this.log.info(
        { mode: state.mode, holder: state.holder, method: cmd.method },
        'holding commands: a person has control',
      );
    }
    this.log.debug({ method: cmd.method, id: cmd.id, sessionId: cmd.sessionId }, 'held');
    this.queue.push(cmd, cls, raw);
    this.o.counters.heldTotal++;
  }

  private reject(cmd: Command, message: string): void {
    this.o.counters.rejectedTotal++;
    this.log.debug({ method: cmd.method, id: cmd.id }, 'rejected while held');
    this.o.client.send(errorFrame(cmd.id, cmd.sessionId, CDP_ERROR.serverError, message));
  }

  private release(): void {
    const items = this.queue.takeAll();
    const first = items[0];
    if (!first) return;
    for (const item of items) this.pipe(this.o.client, this.o.upstream, item.raw, false);
    this.o.counters.releasedTotal += items.length;
    this.log.info({ released: items.length, waitedMs: Date.now() - first.heldAt }, 'released held commands in order');
  }

  private expired(items: HeldCommand[]): void {
    if (this.closed) return;
    const state = this.o.control.get();
    let timedOut = 0;
    for (const item of items) {
      // A read queued only to keep the order goes now: everything before it has been answered.
      if (item.cls === 'read') {
        this.pipe(this.o.client, this.o.upstream, item.raw, false);
        continue;
      }
      timedOut++;
      const secs = `${Math.round((Date.now() - item.heldAt) / 100) / 10} s`;
      const { id, sessionId } = item.command;
      this.o.client.send(errorFrame(id, sessionId, CDP_ERROR.serverError, heldMessage(state, 'timeout', secs)));
    }
    this.o.counters.timedOutTotal += timedOut;
    this.log.info({ timedOut, holdMaxMs: this.o.holdMaxMs, stillHeld: this.queue.length }, 'held commands timed out');
  }

  /** Sends towards `dst`; stops reading `src` while `dst` has more than HIGH_WATER bytes queued. */
  private pipe(src: WebSocket, dst: WebSocket, data: Buffer, binary: boolean): void {
    dst.send(data, { binary }, () => {
      if (src.isPaused && dst.bufferedAmount < LOW_WATER && !this.closed) src.resume();
    });
    if (dst.bufferedAmount > HIGH_WATER && !src.isPaused) src.pause();
  }

  private clientClosed(code: number): void {
    if (this.closed) return;
    this.log.info({ code, dropped: this.queue.length }, 'automation disconnected');
    this.finish();
    this.o.upstream.close(CLOSE.normal);
  }

  private upstreamClosed(code: number): void {
    if (this.closed) return;
    this.log.info({ code, dropped: this.queue.length }, 'the browser closed the DevTools connection');
    this.finish();
    this.o.client.close(CLOSE.internalError, reason(`vmlive: the browser closed the DevTools connection (${code})`));
  }

  private finish(): void {
    this.closed = true;
    this.queue.clear();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.o.onClosed();
  }
}
