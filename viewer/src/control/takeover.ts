/**
 * Taking control of the VM from one viewer, as a plain object the React
 * viewer renders (unit-tested with the fake controller and peer connection).
 *
 * Two parties must agree before input can flow: the controller, which makes
 * our session the holder (`POST …/control {take}` and the control long-poll),
 * and the VM's helper, which accepts input from a session only once the VM
 * agent has told it about the new holder and says so on the data channel
 * (`{"t":"control","granted":true}`; a new channel starts un-granted). So:
 *
 *   idle ──take──▶ requesting ──controller: ours──▶ confirming ──helper: granted──▶ in-control
 *                      │ refused                        │ no grant in grantTimeoutMs: released, said so
 *                      ▼                                ▼
 *                    idle                              idle
 *   in-control ──helper: granted:false──▶ confirming;  pause (ours or the operator's) ──▶ paused (ours, no input)
 *
 * Input made from "Take control" until the grant is held by the InputGate and
 * sent on the grant, or dropped (and said so) if it is too old or the grant
 * never comes. Which session held control is remembered per tab
 * (controlMemory.ts), so a reload or a reconnect takes control back with its
 * new session (retakePolicy.ts).
 */
import { ApiError, type ControlAction, type ControlState, type InputFeedback } from '@vmlive/protocol';
import type { ControlClient } from '../api/controlClient.js';
import type { ViewerConnection } from '../connection/viewerConnection.js';
import { type ControlMemory, memoryOnly } from './controlMemory.js';
import { InputGate } from './inputGate.js';
import type { InputChannel } from './inputSender.js';
import { decideRetake } from './retakePolicy.js';

export type TakeoverPhase = 'idle' | 'requesting' | 'confirming' | 'in-control' | 'paused';

export interface TakeoverState {
  phase: TakeoverPhase;
  control: ControlState | null;
  sessionId: string | null;
  /** Where takeover input goes from "Take control" on (held until the VM confirms); null otherwise. */
  input: InputChannel | null;
}

export interface TakeoverOptions {
  control: ControlClient;
  connection: Pick<ViewerConnection, 'on' | 'sessionId' | 'state'>;
  /** False for a view-only token: never takes control, not even after a reload. */
  canControl: boolean;
  memory?: ControlMemory;
  /** Give control back (and say so) when the VM has not confirmed it this long after the controller did. */
  grantTimeoutMs?: number;
  /** Input held longer than this before the grant is dropped rather than sent late. */
  heldInputWindowMs?: number;
  now?: () => number;
}

export interface TakeoverEvents {
  state: TakeoverState;
  /** Something the user should be told (a sentence). */
  notice: string;
}

type Listener<T> = (value: T) => void;

const INPUT_PHASES: ReadonlySet<TakeoverPhase> = new Set(['requesting', 'confirming', 'in-control']);

const count = (n: number) => `(${n} event${n === 1 ? '' : 's'})`;
const UNCONFIRMED = 'Input made before the VM confirmed your control';

function lostControlText(control: ControlState | null): string {
  if (control?.mode === 'user' && control.holder === 'operator') return 'The operator took control.';
  if (control?.mode === 'user') return 'Another viewer took control.';
  if (control?.mode === 'paused') return 'Your control ended and the operator paused the VM.';
  return 'Your control ended; the automation is in control again.';
}

function refusedText(err: unknown, action: ControlAction): string {
  if (err instanceof ApiError && err.is('control_held')) return 'Someone else holds control right now.';
  if (err instanceof ApiError && err.is('not_holder')) return 'You no longer hold control.';
  if (err instanceof ApiError && err.is('forbidden')) return 'This link does not allow control.';
  const what = action === 'take' || action === 'release' ? `${action} control` : action;
  return `Could not ${what}: ${err instanceof Error ? err.message : String(err)}`;
}

export class Takeover {
  private readonly abort = new AbortController();
  private readonly offs: Array<() => void> = [];
  private readonly listeners: { [K in keyof TakeoverEvents]: Set<Listener<TakeoverEvents[K]>> } = {
    state: new Set(),
    notice: new Set(),
  };
  private readonly memory: ControlMemory;
  private readonly grantTimeoutMs: number;
  private control: ControlState | null = null;
  private sessionId: string | null;
  private live: boolean;
  private gate: InputGate | null = null;
  /** What the helper last said on the current channel. */
  private granted = false;
  private requesting = false;
  /** The session whose release is on its way: input stops at once, not when the answer comes. */
  private releasingFor: string | null = null;
  /** The session that holds control for the user (null: the user does not want control). */
  private heldWith: string | null;
  /** One automatic take per session, so a refusal cannot loop. */
  private retakenFor: string | null = null;
  private grantTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  private _state: TakeoverState;

  constructor(private readonly opts: TakeoverOptions) {
    this.memory = opts.memory ?? memoryOnly();
    this.grantTimeoutMs = opts.grantTimeoutMs ?? 8000;
    this.heldWith = opts.canControl ? this.memory.load() : null;
    this.sessionId = opts.connection.sessionId;
    this.live = opts.connection.state.phase === 'connected';
    this._state = { phase: 'idle', control: null, sessionId: this.sessionId, input: null };
  }

  get state(): TakeoverState {
    return this._state;
  }

  on<K extends keyof TakeoverEvents>(event: K, listener: Listener<TakeoverEvents[K]>): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Subscribes to the connection and starts watching who holds control. */
  start(): void {
    const c = this.opts.connection;
    this.offs.push(
      c.on('session', (id) => {
        this.sessionId = id;
        this.update();
      }),
      c.on('state', (s) => {
        this.live = s.phase === 'connected';
        this.update();
      }),
      c.on('channel', (channel) => this.setChannel(channel)),
      c.on('feedback', (feedback) => this.onFeedback(feedback)),
    );
    void this.opts.control.watch((s) => {
      if (this.acceptControl(s)) this.update();
    }, this.abort.signal);
  }

  /** The "Take control" button. */
  take(): void {
    const id = this.sessionId;
    if (!this.opts.canControl || id === null || this._state.phase !== 'idle') return;
    void this.requestTake(id, false);
  }

  /** The "Return control" button: input stops now; the controller hands control back to the automation. */
  release(): void {
    const id = this.sessionId;
    this.forget();
    if (id === null || this.control?.holder !== id) {
      this.update();
      return;
    }
    this.releasingFor = id;
    this.update();
    void this.opts.control
      .act('release', id)
      .then(
        (s) => this.acceptControl(s),
        (err: unknown) => this.notice(refusedText(err, 'release')),
      )
      .finally(() => {
        this.releasingFor = null;
        this.update();
      });
  }

  /**
   * "Pause" / "Resume" while holding control: nothing drives the VM (neither the automation nor
   * this viewer's input) until it resumes; the holder stays ours. The controller allows only the holder.
   */
  pause(): void {
    this.actAsHolder('pause');
  }

  resume(): void {
    this.actAsHolder('resume');
  }

  dispose(): void {
    this.disposed = true;
    this.abort.abort();
    for (const off of this.offs.splice(0)) off();
    this.clearGrantTimer();
    this.gate?.close();
    this.gate = null;
  }

  private actAsHolder(action: 'pause' | 'resume'): void {
    const id = this.sessionId;
    if (id === null || this.control?.holder !== id || id === this.releasingFor) return;
    void this.opts.control.act(action, id).then(
      (s) => {
        if (this.acceptControl(s)) this.update();
      },
      (err: unknown) => this.notice(refusedText(err, action)),
    );
  }

  private emit<K extends keyof TakeoverEvents>(event: K, value: TakeoverEvents[K]): void {
    if (this.disposed) return;
    for (const listener of this.listeners[event]) listener(value);
  }

  private notice(text: string): void {
    this.emit('notice', text);
  }

  /** Control states only move forward (`since` grows): a late reply must not undo a newer one. */
  private acceptControl(s: ControlState): boolean {
    if (this.control && s.since < this.control.since) return false;
    this.control = s;
    return true;
  }

  private setChannel(channel: RTCDataChannel | null): void {
    const dropped = this.gate?.close() ?? 0;
    this.gate = channel ? new InputGate(channel, { windowMs: this.opts.heldInputWindowMs, now: this.opts.now }) : null;
    this.granted = false; // a new channel starts un-granted; the helper says where it stands when it opens
    if (dropped > 0) this.notice(`The connection dropped. ${UNCONFIRMED} was not sent ${count(dropped)}.`);
    this.update();
  }

  private onFeedback(feedback: InputFeedback): void {
    if (feedback.t === 'rejected') {
      this.notice(`Input rejected by the VM (${feedback.reason})`);
      return;
    }
    // A withdrawn grant stops input at once. No notice here: the controller's own change (the
    // operator took over, ended or paused control) arrives on the control long-poll and says who;
    // should it never come, the grant timeout does.
    this.granted = feedback.granted;
    this.update();
  }

  private async requestTake(sessionId: string, automatic: boolean): Promise<void> {
    this.requesting = true;
    this.update();
    try {
      const s = await this.opts.control.act('take', sessionId);
      if (this.disposed) return;
      this.remember(sessionId);
      this.acceptControl(s);
    } catch (err) {
      if (this.disposed) return;
      const refused = err instanceof ApiError && err.is('control_held', 'not_holder', 'forbidden');
      if (!automatic || refused) this.forget();
      const dropped = this.gate?.close() ?? 0;
      const prefix = automatic ? 'Could not take control back. ' : '';
      const suffix = dropped > 0 ? ` Input made meanwhile was not sent ${count(dropped)}.` : '';
      this.notice(`${prefix}${refusedText(err, 'take')}${suffix}`);
    } finally {
      this.requesting = false;
      this.update();
    }
  }

  private onGrantTimeout(): void {
    this.grantTimer = null;
    const id = this.sessionId;
    if (this.phase() !== 'confirming' || id === null) return;
    const dropped = this.gate?.close() ?? 0;
    this.forget();
    const seconds = Number((this.grantTimeoutMs / 1000).toFixed(1));
    this.notice(
      `The VM did not confirm your control within ${seconds} s, so it was handed back to the agent` +
        `${dropped > 0 ? `; input made meanwhile was not sent ${count(dropped)}` : ''}. Try again.`,
    );
    this.releasingFor = id;
    this.update();
    void this.opts.control
      .act('release', id)
      .then(
        (s) => this.acceptControl(s),
        () => {}, // e.g. not_holder: it is not ours any more, which is what we wanted
      )
      .finally(() => {
        this.releasingFor = null;
        this.update();
      });
  }

  private remember(sessionId: string): void {
    this.heldWith = sessionId;
    this.memory.save(sessionId);
  }

  private forget(): void {
    this.heldWith = null;
    this.memory.save(null);
  }

  private phase(): TakeoverPhase {
    const c = this.control;
    const id = this.sessionId;
    if (c && id !== null && c.holder === id && id !== this.releasingFor) {
      if (c.mode === 'paused') return 'paused';
      if (c.mode === 'user') return this.granted ? 'in-control' : 'confirming';
    }
    return this.requesting ? 'requesting' : 'idle';
  }

  private update(): void {
    if (this.disposed) return;
    const c = this.control;
    const id = this.sessionId;
    if (c?.mode === 'user' && id !== null && c.holder === id && id !== this.releasingFor && this.heldWith !== id) {
      // Ours before our take's reply came (the long-poll was faster), or the operator handed it to us.
      this.remember(id);
    }
    this.applyRetake();
    const phase = this.phase();
    this.syncGate(phase);
    if (phase === 'confirming') {
      this.grantTimer ??= setTimeout(() => this.onGrantTimeout(), this.grantTimeoutMs);
    } else {
      this.clearGrantTimer();
    }
    const next: TakeoverState = {
      phase,
      control: this.control,
      sessionId: this.sessionId,
      input: INPUT_PHASES.has(phase) ? this.gate : null,
    };
    const cur = this._state;
    if (
      next.phase === cur.phase &&
      next.control === cur.control &&
      next.sessionId === cur.sessionId &&
      next.input === cur.input
    ) {
      return;
    }
    this._state = next;
    this.emit('state', next);
  }

  private applyRetake(): void {
    const decision = decideRetake({
      heldWith: this.heldWith,
      control: this.control,
      sessionId: this.sessionId,
      live: this.live,
    });
    if (decision === 'forget') {
      this.forget();
      this.notice(lostControlText(this.control));
    } else if (decision === 'take' && this.sessionId !== null && this.sessionId !== this.retakenFor) {
      if (this.requesting) return;
      this.retakenFor = this.sessionId;
      void this.requestTake(this.sessionId, true);
    }
  }

  private syncGate(phase: TakeoverPhase): void {
    const gate = this.gate;
    if (!gate) return;
    if (phase === 'in-control') {
      const dropped = gate.grant();
      if (dropped > 0) {
        this.notice(`${UNCONFIRMED} was too old to send and was dropped ${count(dropped)}.`);
      }
    } else if (INPUT_PHASES.has(phase)) {
      if (gate.open) gate.close(); // the VM withdrew its grant: hold new input until it confirms again
    } else {
      const dropped = gate.close();
      if (dropped > 0) this.notice(`${UNCONFIRMED} was not sent ${count(dropped)}.`);
    }
  }

  private clearGrantTimer(): void {
    if (this.grantTimer !== null) clearTimeout(this.grantTimer);
    this.grantTimer = null;
  }
}
