/**
 * The VM's run control as a viewer follows it (docs/api.md "Run control"):
 * the step timeline and the overrides by long-poll with their cursors (each
 * change arrives once, in its latest state), the instructions, and the
 * steps' thumbnails as object URLs. Framework-free; <TakeoverPanel> and
 * <VmliveViewer> render it.
 */
import {
  type ApiClient,
  type Instructions,
  type Override,
  type OverrideAction,
  pollUntilAborted,
  routes,
  type Step,
} from '@vmlive/protocol';

export interface RunState {
  run: number;
  /** In index order. */
  steps: Step[];
  /** Step index → object URL of its thumbnail. */
  thumbnails: ReadonlyMap<number, string>;
  /** In queue order (the last 64). */
  overrides: Override[];
  instructions: Instructions | null;
  /** The step the automation is on: the last `started` one, if any. */
  running: Step | null;
  /** When the last step change arrived here (performance.now()), for latency measurements. */
  stepSeenAt: number;
}

const RETRY_MS = 1000;
const WAIT_S = 25;

export class RunFeed {
  private state: RunState = {
    run: 0,
    steps: [],
    thumbnails: new Map(),
    overrides: [],
    instructions: null,
    running: null,
    stepSeenAt: 0,
  };
  private readonly listeners = new Set<() => void>();
  private readonly stop = new AbortController();
  /** Thumbnail seq fetched per index (a replaced thumbnail comes with a new seq). */
  private readonly thumbSeq = new Map<number, number>();

  constructor(
    private readonly api: ApiClient,
    private readonly vmId: string,
  ) {}

  get current(): RunState {
    return this.state;
  }

  subscribe(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** @param overrides follow the override queue too (a control token: it shows the form and their acks). */
  start(overrides = true): void {
    const params = { vmId: this.vmId };
    const signal = this.stop.signal;
    let stepCursor = 0;
    this.loop(async () => {
      const r = await this.api.call(routes.getSteps, { params, query: { since: stepCursor, wait: WAIT_S }, signal });
      stepCursor = r.cursor;
      if (r.steps.length === 0 && r.run === this.state.run) return;
      const fresh = r.run !== this.state.run;
      const byIndex = new Map(fresh ? [] : this.state.steps.map((s) => [s.index, s]));
      for (const s of r.steps) byIndex.set(s.index, s);
      const steps = [...byIndex.values()].sort((a, b) => a.index - b.index);
      const thumbnails = new Map(fresh ? [] : this.state.thumbnails);
      if (fresh) {
        for (const url of this.state.thumbnails.values()) URL.revokeObjectURL(url);
        this.thumbSeq.clear();
      }
      const running = [...steps].reverse().find((s) => s.status === 'started') ?? null;
      this.set({ run: r.run, steps, thumbnails, running, stepSeenAt: performance.now() });
      for (const s of r.steps) if (s.thumbnail && this.thumbSeq.get(s.index) !== s.seq) void this.thumbnail(s);
      void this.refreshInstructions();
    });
    let overrideCursor = 0;
    if (overrides) {
      this.loop(async () => {
        const r = await this.api.call(routes.getOverrides, {
          params,
          query: { since: overrideCursor, wait: WAIT_S },
          signal,
        });
        overrideCursor = r.cursor;
        if (r.overrides.length === 0) return;
        const byId = new Map(this.state.overrides.map((o) => [o.id, o]));
        for (const o of r.overrides) byId.set(o.id, o);
        const overrides = [...byId.values()].sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1))).slice(-64);
        this.set({ overrides });
      });
    }
    void this.refreshInstructions();
  }

  /**
   * Instructions are read, not long-polled: a page holds at most six connections to the controller
   * (HTTP/1.1), the live view's signaling needs its own, and the automation, not the viewer, is the
   * one waiting for them. They are re-read at start, after each change of the timeline and after a PUT.
   */
  private async refreshInstructions(): Promise<void> {
    try {
      const ins = await this.api.call(routes.getInstructions, {
        params: { vmId: this.vmId },
        signal: this.stop.signal,
      });
      if (this.state.instructions === null || ins.version > this.state.instructions.version)
        this.set({ instructions: ins });
    } catch {
      // Shown as they were; the next timeline change reads them again.
    }
  }

  async setInstructions(text: string): Promise<Instructions> {
    const ins = await this.api.call(routes.putInstructions, { params: { vmId: this.vmId }, body: { text } });
    if (this.state.instructions === null || ins.version > this.state.instructions.version)
      this.set({ instructions: ins });
    return ins;
  }

  queueOverride(action: OverrideAction): Promise<Override> {
    return this.api.call(routes.postOverride, { params: { vmId: this.vmId }, body: { action } });
  }

  dispose(): void {
    this.stop.abort();
    for (const url of this.state.thumbnails.values()) URL.revokeObjectURL(url);
    this.listeners.clear();
  }

  private async thumbnail(step: Step): Promise<void> {
    this.thumbSeq.set(step.index, step.seq);
    const run = this.state.run;
    try {
      const r = await this.api.call(routes.getStepThumbnail, {
        params: { vmId: this.vmId, index: String(step.index) },
        signal: this.stop.signal,
      });
      if (this.stop.signal.aborted || run !== this.state.run) return;
      const thumbnails = new Map(this.state.thumbnails);
      const old = thumbnails.get(step.index);
      if (old) URL.revokeObjectURL(old);
      thumbnails.set(step.index, URL.createObjectURL(r.blob));
      this.set({ thumbnails });
    } catch {
      // Dropped meanwhile (a new run, or evicted): the timeline shows the step without one.
      this.thumbSeq.delete(step.index);
    }
  }

  private set(patch: Partial<RunState>): void {
    this.state = { ...this.state, ...patch };
    for (const cb of [...this.listeners]) cb();
  }

  private loop(poll: () => Promise<void>): void {
    pollUntilAborted(this.stop.signal, poll, RETRY_MS);
  }
}
