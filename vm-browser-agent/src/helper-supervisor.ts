/**
 * Keeps exactly one GStreamer helper running: starts it, waits for `ready`,
 * restarts it with backoff when it dies, and stops for good on a bad-config
 * exit (restarting would only loop). Peers die with their helper; the
 * webrtc-server learns that from the `down` event and ends their sessions so
 * viewers reconnect to the next helper.
 */
import { EventEmitter } from 'node:events';
import { HELPER_EXIT_BAD_CONFIG, type HelperCommand, type HelperEvent } from '@vmlive/protocol';
import type { Logger } from 'pino';
import { HelperError } from './helper/helper-errors.js';
import { Backoff, sleep } from './util/backoff.js';

type ReadyEvent = Extract<HelperEvent, { type: 'ready' }>;
type StatsEvent = Extract<HelperEvent, { type: 'stats' }>;

export interface DiedInfo {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The part of HelperProcess (helper/helper-process.ts) the supervisor relies on. */
export interface HelperLike {
  readonly pid: number | undefined;
  /** Resolves on `ready`; rejects with a HelperError (`retryable: false` for bad-config). */
  start(): Promise<ReadyEvent>;
  send(cmd: HelperCommand): void;
  getStats(peerId: string | null, timeoutMs?: number): Promise<StatsEvent>;
  snapshot(quality?: number, timeoutMs?: number): Promise<Buffer>;
  stop(timeoutMs?: number): Promise<void>;
  on(event: 'event', listener: (e: HelperEvent) => void): unknown;
  on(event: 'died', listener: (info: DiedInfo) => void): unknown;
  removeAllListeners(): unknown;
}

export interface SupervisorEvents {
  up: [ReadyEvent];
  down: [DiedInfo];
  event: [HelperEvent];
  fatal: [Error];
}

export class HelperUnavailableError extends Error {
  override readonly name = 'HelperUnavailableError';
}

/** A helper that stays up this long resets the restart backoff. */
const STABLE_MS = 30_000;

export interface LivenessOptions {
  /** How often the helper is asked for stats as a liveness probe. */
  intervalMs: number;
  /** How long one probe may take. */
  timeoutMs: number;
  /** Consecutive failed probes after which the helper is killed and restarted. */
  maxMisses: number;
}

export const DEFAULT_LIVENESS: LivenessOptions = { intervalMs: 3000, timeoutMs: 2500, maxMisses: 3 };

export class HelperSupervisor extends EventEmitter<SupervisorEvents> {
  private current: HelperLike | undefined;
  private readyAt = 0;
  private stopping = false;
  private restarts = 0;
  private readonly backoff = new Backoff(200, 10_000);
  private readonly abort = new AbortController();

  private livenessTimer: NodeJS.Timeout | undefined;
  private misses = 0;
  private probing = false;

  constructor(
    private readonly create: () => HelperLike,
    private readonly log: Logger,
    private readonly liveness: LivenessOptions = DEFAULT_LIVENESS,
    /** Injected for tests; SIGKILLs a wedged helper so its exit drives the normal restart. */
    private readonly killPid: (pid: number) => void = (pid) => process.kill(pid, 'SIGKILL'),
  ) {
    super();
  }

  get restartCount(): number {
    return this.restarts;
  }

  get helper(): HelperLike | undefined {
    return this.readyAt > 0 ? this.current : undefined;
  }

  /**
   * Starts the first helper; resolves on the first `ready`. A retryable failure (slow start on
   * a loaded or emulated VM, an X server not up yet) is retried with backoff like a later death;
   * only a non-retryable one (bad-config) rejects, after `fatal`.
   */
  async start(): Promise<ReadyEvent> {
    try {
      return await this.launch();
    } catch (err) {
      if (err instanceof HelperError && !err.retryable) {
        this.current?.removeAllListeners();
        this.current = undefined;
        this.emit('fatal', err);
        throw err;
      }
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'helper did not start; retrying');
      this.current?.removeAllListeners();
      this.current = undefined;
      const up = new Promise<ReadyEvent>((resolve, reject) => {
        const onUp = (ready: ReadyEvent) => {
          this.off('fatal', onFatal);
          resolve(ready);
        };
        const onFatal = (e: Error) => {
          this.off('up', onUp);
          reject(e);
        };
        this.once('up', onUp);
        this.once('fatal', onFatal);
      });
      void this.restartLoop();
      return up;
    }
  }

  send(cmd: HelperCommand): boolean {
    const h = this.helper;
    if (!h) return false;
    h.send(cmd);
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    clearInterval(this.livenessTimer);
    const h = this.current;
    this.current = undefined;
    if (h) {
      h.removeAllListeners();
      await h.stop(3000).catch((err: unknown) => this.log.warn({ err }, 'helper did not stop cleanly'));
    }
  }

  private async launch(): Promise<ReadyEvent> {
    const h = this.create();
    this.current = h;
    this.readyAt = 0;
    h.on('event', (e) => this.emit('event', e));
    h.on('died', (info) => this.onDied(h, info));
    const ready = await h.start();
    this.readyAt = Date.now();
    this.startLiveness(h);
    this.log.info(
      {
        helperPid: h.pid,
        codec: ready.codec,
        width: ready.width,
        height: ready.height,
        fps: ready.fps,
        capture: ready.capture,
      },
      'helper ready',
    );
    this.emit('up', ready);
    return ready;
  }

  /**
   * A helper can hang without exiting (a GStreamer state change that never
   * completes blocks its main loop); then it answers nothing and no viewer can
   * connect. Probe it, and kill it after repeated silence so it is restarted.
   */
  private startLiveness(h: HelperLike): void {
    clearInterval(this.livenessTimer);
    this.misses = 0;
    this.livenessTimer = setInterval(() => void this.probe(h), this.liveness.intervalMs);
    this.livenessTimer.unref();
  }

  private async probe(h: HelperLike): Promise<void> {
    if (this.probing || h !== this.current || this.readyAt === 0) return;
    this.probing = true;
    try {
      await h.getStats(null, this.liveness.timeoutMs);
      this.misses = 0;
    } catch (err) {
      if (h !== this.current || this.stopping) return;
      this.misses += 1;
      this.log.warn(
        { helperPid: h.pid, misses: this.misses, err: err instanceof Error ? err.message : String(err) },
        'helper liveness probe failed',
      );
      if (this.misses >= this.liveness.maxMisses && h.pid !== undefined) {
        this.log.error({ helperPid: h.pid, misses: this.misses }, 'helper unresponsive; killing it to restart');
        clearInterval(this.livenessTimer);
        this.killPid(h.pid);
      }
    } finally {
      this.probing = false;
    }
  }

  private onDied(h: HelperLike, info: DiedInfo): void {
    // While start() is pending its rejection drives the retry, not this event.
    if (h !== this.current || this.stopping || this.readyAt === 0) return;
    clearInterval(this.livenessTimer);
    h.removeAllListeners();
    if (Date.now() - this.readyAt > STABLE_MS) this.backoff.reset();
    this.readyAt = 0;
    this.current = undefined;
    this.log.warn({ helperPid: info.pid, code: info.code, signal: info.signal }, 'helper died');
    this.emit('down', info);
    if (info.code === HELPER_EXIT_BAD_CONFIG) {
      this.emit('fatal', new HelperUnavailableError('helper rejected its configuration (exit 42); not restarting'));
      return;
    }
    void this.restartLoop();
  }

  private async restartLoop(): Promise<void> {
    while (!this.stopping) {
      const delay = this.backoff.next();
      this.log.info({ delayMs: delay, attempt: this.backoff.attempts }, 'restarting helper');
      await sleep(delay, this.abort.signal);
      if (this.stopping) return;
      try {
        this.restarts += 1;
        await this.launch();
        return;
      } catch (err) {
        if (this.stopping) return;
        // bad-config (the helper exited HELPER_EXIT_BAD_CONFIG before ready): the same settings
        // would fail again, so stop instead of restart-looping.
        if (err instanceof HelperError && !err.retryable) {
          this.log.error({ code: err.code, err: err.message }, 'helper cannot start; not restarting');
          this.current?.removeAllListeners();
          this.current = undefined;
          this.emit('fatal', err);
          return;
        }
        this.log.warn({ err }, 'helper restart failed');
        this.current?.removeAllListeners();
        this.current = undefined;
      }
    }
  }
}
