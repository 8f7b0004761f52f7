/**
 * The automation's side of run control (docs/api.md "Run control"): it follows
 * the VM's control mode, its instructions and the overrides people queue, each
 * with one long-poll loop, and reports its steps. Every call goes through the
 * protocol's ApiClient, so requests and answers are checked against the one
 * route table.
 */
import {
  ApiClient,
  type ControlState,
  type FetchLike,
  type Instructions,
  type Override,
  pollUntilAborted,
  routes,
  type Step,
  type StepBody,
} from '@vmlive/protocol';

export interface ConnectOptions {
  /** The controller's base URL, e.g. http://controller:8080 */
  controllerUrl: string;
  vmId: string;
  /** An automation token of this VM (POST /api/vms/:vmId/automation-tokens). */
  token: string;
  /** Long-poll length in seconds (default 25). */
  waitSeconds?: number;
  fetch?: FetchLike;
}

type Listener<T> = (value: T) => void;

/** After a failed long-poll, wait this long before the next (the controller may be restarting). */
const RETRY_MS = 1000;

export class Automation {
  readonly api: ApiClient;
  readonly vmId: string;
  private controlState: ControlState;
  private instructionsState: Instructions;
  private readonly controlListeners = new Set<Listener<ControlState>>();
  private readonly instructionListeners = new Set<Listener<Instructions>>();
  /** Queued overrides not yet handed out by nextOverride, in queue order. */
  private readonly overrides: Override[] = [];
  private readonly handedOut = new Set<string>();
  private readonly overrideWaiters = new Set<() => void>();
  private readonly stop = new AbortController();
  private readonly waitSeconds: number;

  private constructor(opts: ConnectOptions, control: ControlState, instructions: Instructions) {
    this.api = new ApiClient({
      baseUrl: opts.controllerUrl,
      token: opts.token,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    this.vmId = opts.vmId;
    this.controlState = control;
    this.instructionsState = instructions;
    this.waitSeconds = opts.waitSeconds ?? 25;
  }

  /** Reads the current control state and instructions, then follows them (and the overrides) until close(). */
  static async connect(opts: ConnectOptions): Promise<Automation> {
    const api = new ApiClient({
      baseUrl: opts.controllerUrl,
      token: opts.token,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    const params = { vmId: opts.vmId };
    const [control, instructions] = await Promise.all([
      api.call(routes.getControl, { params }),
      api.call(routes.getInstructions, { params }),
    ]);
    const a = new Automation(opts, control, instructions);
    a.follow();
    return a;
  }

  /** The last control state seen: the automation may act while `mode` is `agent`. */
  get control(): ControlState {
    return this.controlState;
  }

  get mayAct(): boolean {
    return this.controlState.mode === 'agent';
  }

  get instructions(): Instructions {
    return this.instructionsState;
  }

  /** Resolves at once while the mode is `agent`, else when it returns to `agent` (a person released or resumed). */
  waitUntilMayAct(): Promise<ControlState> {
    if (this.mayAct) return Promise.resolve(this.controlState);
    return new Promise((resolve, reject) => {
      const off = this.onControl((c) => {
        if (c.mode !== 'agent') return;
        off();
        this.stop.signal.removeEventListener('abort', onStop);
        resolve(c);
      });
      const onStop = () => {
        off();
        reject(new Error('automation closed'));
      };
      this.stop.signal.addEventListener('abort', onStop, { once: true });
    });
  }

  /** Called on every control change. Returns the unsubscribe function. */
  onControl(cb: Listener<ControlState>): () => void {
    this.controlListeners.add(cb);
    return () => this.controlListeners.delete(cb);
  }

  /** Called with every new version of the instructions. Returns the unsubscribe function. */
  onInstructions(cb: Listener<Instructions>): () => void {
    this.instructionListeners.add(cb);
    return () => this.instructionListeners.delete(cb);
  }

  /**
   * The next override a person queued and nobody handled yet (each is handed out once),
   * or undefined: at once when `wait` is false (the default), else when one arrives.
   */
  async nextOverride(opts: { wait?: boolean } = {}): Promise<Override | undefined> {
    for (;;) {
      const next = this.overrides.shift();
      if (next) {
        this.handedOut.add(next.id);
        return next;
      }
      if (!opts.wait || this.stop.signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.overrideWaiters.delete(wake);
          this.stop.signal.removeEventListener('abort', wake);
          resolve();
        };
        this.overrideWaiters.add(wake);
        this.stop.signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  ack(id: string, result: 'done' | 'failed', detail?: string): Promise<Override> {
    return this.api.call(routes.ackOverride, {
      params: { vmId: this.vmId, id },
      body: { result, ...(detail !== undefined ? { detail: detail.slice(0, 1024) } : {}) },
    });
  }

  reportStep(step: StepBody): Promise<Step> {
    return this.api.call(routes.postStep, { params: { vmId: this.vmId }, body: step });
  }

  /** A JPEG of the screen at this step (at most LIMITS.thumbnailBytes), for the timeline and its replay. */
  async attachThumbnail(index: number, jpeg: Uint8Array): Promise<void> {
    const bytes = new Uint8Array(jpeg.byteLength);
    bytes.set(jpeg);
    await this.api.call(routes.putStepThumbnail, { params: { vmId: this.vmId, index: String(index) }, body: bytes });
  }

  /** Ends the long-polls. */
  close(): void {
    this.stop.abort();
  }

  private follow(): void {
    const params = { vmId: this.vmId };
    const signal = this.stop.signal;
    const wait = this.waitSeconds;
    this.loop(async () => {
      const c = await this.api.call(routes.getControl, {
        params,
        query: { since: this.controlState.since, wait },
        signal,
      });
      if (c.since <= this.controlState.since) return;
      this.controlState = c;
      for (const cb of [...this.controlListeners]) cb(c);
    });
    this.loop(async () => {
      const since = this.instructionsState.version;
      const ins = await this.api.call(routes.getInstructions, { params, query: { since, wait }, signal });
      if (ins.version <= since) return;
      this.instructionsState = ins;
      for (const cb of [...this.instructionListeners]) cb(ins);
    });
    let cursor = 0;
    this.loop(async () => {
      const r = await this.api.call(routes.getOverrides, { params, query: { since: cursor, wait }, signal });
      cursor = r.cursor;
      for (const o of r.overrides) {
        if (o.status !== 'queued' || this.handedOut.has(o.id) || this.overrides.some((x) => x.id === o.id)) continue;
        this.overrides.push(o);
      }
      for (const wake of [...this.overrideWaiters]) wake();
    });
  }

  /** Runs `poll` until close(); a failure waits RETRY_MS and polls again. */
  private loop(poll: () => Promise<void>): void {
    pollUntilAborted(this.stop.signal, poll, RETRY_MS);
  }
}

/** Connects an automation to its VM's run control. */
export function connect(opts: ConnectOptions): Promise<Automation> {
  return Automation.connect(opts);
}
