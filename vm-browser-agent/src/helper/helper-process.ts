/**
 * Supervised child process running the Python GStreamer helper
 * (vm-browser-agent/helper/gstreamer-webrtc-helper.py), speaking protocol/src/helper.ts.
 *
 * - Settings are typed (protocol HELPER_SETTINGS), validated here before spawning and handed
 *   over as one JSON value, `--settings=<json>`; the helper validates the same JSON against
 *   the same schema. Invalid settings, or exit 42 before `ready`, are a non-retryable
 *   `bad-config` error.
 * - The helper counts as started only once it prints `ready`.
 * - stdout carries protocol lines only: each is JSON-parsed and validated with the shared zod
 *   schema before it is emitted as 'event'. stderr lines and `log` events are re-logged, never parsed.
 * - Requests with replies (get-stats, snapshot) are matched by requestId; all pending requests are
 *   rejected when the process exits.
 * - An exit nobody asked for becomes exactly one 'died' event.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  HELPER_EXIT_BAD_CONFIG,
  HELPER_SETTINGS,
  type HelperCommand,
  type HelperEvent,
  HelperSettings,
  helperProtocol,
} from '@vmlive/protocol';
import type { Logger } from 'pino';
import { HelperError, helperErrors } from './helper-errors.js';

export { HelperError, type HelperErrorCode } from './helper-errors.js';

export type ReadyEvent = Extract<HelperEvent, { type: 'ready' }>;
export type StatsEvent = Extract<HelperEvent, { type: 'stats' }>;
type SnapshotResultEvent = Extract<HelperEvent, { type: 'snapshot-result' }>;

export interface HelperOptions {
  /** Interpreter with python3-gi; default Debian's /usr/bin/python3. */
  python?: string;
  /** Helper entry script; default the repo's vm-browser-agent/helper/gstreamer-webrtc-helper.py. */
  script?: string;
  /** The helper's settings; omitted ones take the table's default. */
  settings: HelperSettingsInput;
  /** Extra environment for the process (not settings: the helper reads those from --settings only). */
  env?: Record<string, string>;
  logger: Logger;
  /** How long to wait for `ready` (DTLS certificate + pipeline warm-up); default 20 s. */
  startTimeoutMs?: number;
}

/** `display` is the one setting without a default. */
export type HelperSettingsInput = Partial<HelperSettings> & Pick<HelperSettings, 'display'>;

export interface DiedInfo {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Both src/helper and dist/helper sit two levels below vm-browser-agent/. */
export const DEFAULT_HELPER_SCRIPT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../helper/gstreamer-webrtc-helper.py',
);

const STDERR_TAIL_LINES = 20;

const describeIssues = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) =>
  issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');

interface Pending {
  kind: 'stats' | 'snapshot';
  resolve: (event: StatsEvent | SnapshotResultEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'exited';

export class HelperProcess extends EventEmitter {
  private readonly opts: HelperOptions;
  private readonly log: Logger;
  private child: ChildProcessWithoutNullStreams | undefined;
  private state: State = 'idle';
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly stderrTail: string[] = [];
  private exitPromise: Promise<void> | undefined;

  constructor(opts: HelperOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger.child({ module: 'helper' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<ReadyEvent> {
    if (this.state !== 'idle') {
      return Promise.reject(new HelperError('not-running', `start() called in state ${this.state}`, false));
    }
    const o = this.opts;
    const settings = HelperSettings.safeParse(o.settings);
    if (!settings.success) {
      this.state = 'exited';
      const issues = settings.error.issues.map((i) => {
        const key = String(i.path[0] ?? '');
        const env = Object.entries(HELPER_SETTINGS).find(([k]) => k === key)?.[1].env;
        return `${key}${env ? ` (${env})` : ''}: ${i.message}`;
      });
      return Promise.reject(helperErrors.invalidSettings(issues.join('; ')));
    }
    this.state = 'starting';
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...o.env,
      // GStreamer and Xlib bits that take no display argument still look here.
      DISPLAY: settings.data.display,
      PYTHONUNBUFFERED: '1',
    };
    const python = o.python ?? '/usr/bin/python3';
    const script = o.script ?? DEFAULT_HELPER_SCRIPT;
    const timeoutMs = o.startTimeoutMs ?? 20_000;

    return new Promise<ReadyEvent>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null, ready?: ReadyEvent) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else if (ready) resolve(ready);
      };
      const timer = setTimeout(() => {
        settle(helperErrors.startTimeout(timeoutMs));
        this.child?.kill('SIGKILL');
      }, timeoutMs);

      let child: ChildProcessWithoutNullStreams;
      try {
        child = spawn(python, [script, `--settings=${JSON.stringify(settings.data)}`], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
      } catch (err) {
        this.state = 'exited';
        settle(helperErrors.spawnFailed(err as Error));
        return;
      }
      this.child = child;
      const { display, codec, width, height, fps } = settings.data;
      this.log.info({ pid: child.pid, display, codec, size: `${width}x${height}@${fps}` }, 'helper starting');
      this.exitPromise = new Promise((done) => child.once('exit', () => done()));

      child.on('error', (err) => {
        // spawn failure (ENOENT) or a failed kill; the 'exit' handler covers real exits
        if (this.state === 'starting') {
          this.state = 'exited';
          settle(helperErrors.spawnFailed(err));
        } else this.log.warn({ err }, 'helper process error');
      });
      child.stdin.on('error', (err) => this.log.debug({ err }, 'helper stdin closed'));

      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        const event = this.parseEvent(line);
        if (!event) return;
        if (event.type === 'ready' && this.state === 'starting') {
          this.state = 'running';
          this.log.info({ pid: event.pid, version: event.version }, 'helper ready');
          settle(null, event);
        }
        this.dispatch(event);
      });
      readline.createInterface({ input: child.stderr }).on('line', (line) => this.logStderr(line));

      child.once('exit', (code, signal) => {
        const previous = this.state;
        this.state = 'exited';
        this.rejectAllPending(helperErrors.died(code, signal));
        const tail = this.stderrTail.slice(-5).join(' | ');
        if (previous === 'starting') {
          settle(
            code === HELPER_EXIT_BAD_CONFIG ? helperErrors.badConfig(tail) : helperErrors.earlyExit(code, signal, tail),
          );
          return;
        }
        if (previous === 'stopping') {
          this.log.info({ code, signal }, 'helper stopped');
          return;
        }
        this.log.error({ pid: child.pid, code, signal, stderrTail: tail }, 'helper died');
        const info: DiedInfo = { pid: child.pid, code, signal };
        this.emit('died', info);
      });
    });
  }

  /** Validates and writes one command; throws HelperError (invalid-command / not-running). */
  send(cmd: HelperCommand): void {
    const parsed = helperProtocol.HelperCommand.safeParse(cmd);
    if (!parsed.success) {
      throw helperErrors.invalidCommand(describeIssues(parsed.error.issues));
    }
    const child = this.child;
    if (!child || (this.state !== 'running' && this.state !== 'stopping') || !child.stdin.writable) {
      throw helperErrors.notRunning();
    }
    child.stdin.write(`${JSON.stringify(parsed.data)}\n`);
  }

  getStats(peerId: string | null, timeoutMs = 5_000): Promise<StatsEvent> {
    return this.request('stats', timeoutMs, (requestId) => this.send({ type: 'get-stats', peerId, requestId })).then(
      (e) => e as StatsEvent,
    );
  }

  async snapshot(quality = 70, timeoutMs = 10_000): Promise<Buffer> {
    const result = (await this.request('snapshot', timeoutMs, (requestId) =>
      this.send({ type: 'snapshot', peerId: null, requestId, quality }),
    )) as SnapshotResultEvent;
    if (result.jpeg === null) throw helperErrors.requestFailed('snapshot', result.error ?? 'capture failed');
    return Buffer.from(result.jpeg, 'base64');
  }

  /** Graceful stop: `shutdown` (helper closes its peers), then SIGTERM, then SIGKILL. */
  async stop(timeoutMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child || this.state === 'exited' || this.state === 'idle') return;
    const exited = this.exitPromise ?? Promise.resolve();
    this.state = 'stopping';
    try {
      this.send({ type: 'shutdown', peerId: null });
    } catch {
      // stdin already gone: fall through to signals
    }
    const waitExit = (ms: number) =>
      Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (await waitExit(timeoutMs * 0.6)) return;
    this.log.warn('helper ignored shutdown; sending SIGTERM');
    child.kill('SIGTERM');
    if (await waitExit(timeoutMs * 0.4)) return;
    this.log.warn('helper ignored SIGTERM; sending SIGKILL');
    child.kill('SIGKILL');
    await exited;
  }

  // ---- internals ----
  private request(
    kind: Pending['kind'],
    timeoutMs: number,
    write: (requestId: number) => void,
  ): Promise<StatsEvent | SnapshotResultEvent> {
    return new Promise((resolve, reject) => {
      const requestId = this.nextRequestId++;
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(helperErrors.requestTimeout(kind, timeoutMs));
      }, timeoutMs);
      this.pending.set(requestId, { kind, resolve, reject, timer });
      try {
        write(requestId);
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(err);
      }
    });
  }

  private rejectAllPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private parseEvent(line: string): HelperEvent | undefined {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.log.warn({ line: line.slice(0, 200) }, 'helper wrote a non-JSON line on stdout');
      return undefined;
    }
    const parsed = helperProtocol.HelperEvent.safeParse(json);
    if (!parsed.success) {
      this.log.warn(
        { line: line.slice(0, 200), issues: parsed.error.issues.slice(0, 3) },
        'helper event failed validation',
      );
      return undefined;
    }
    return parsed.data;
  }

  private dispatch(event: HelperEvent): void {
    switch (event.type) {
      case 'stats':
      case 'snapshot-result': {
        const id = event.requestId;
        const p = id === null ? undefined : this.pending.get(id);
        if (p && id !== null && (p.kind === 'stats') === (event.type === 'stats')) {
          this.pending.delete(id);
          clearTimeout(p.timer);
          p.resolve(event);
        }
        break;
      }
      case 'log':
        this.log[event.level]({ peerId: event.peerId ?? undefined }, event.msg);
        break;
      case 'error':
        this.log.warn({ peerId: event.peerId ?? undefined, code: event.code }, event.message);
        break;
      case 'local-candidate':
        this.log.debug({ peerId: event.peerId }, 'local candidate');
        break;
      case 'peer-state':
        this.log.info(
          { peerId: event.peerId, ice: event.ice, dtls: event.dtls, connection: event.connection },
          'peer state',
        );
        break;
      default:
        break;
    }
    this.emit('event', event);
  }

  private logStderr(line: string): void {
    if (!line) return;
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    // The helper prefixes its own lines with the level name; anything else (GStreamer, Python tracebacks) is info.
    const level = line.startsWith('ERROR')
      ? 'error'
      : line.startsWith('WARNING')
        ? 'warn'
        : line.startsWith('DEBUG')
          ? 'debug'
          : 'info';
    this.log[level]({ stream: 'stderr' }, line);
  }
}
