import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DISPLAY_POLICY,
  type DisplayInput,
  type DisplayMemory,
  describeDisplay,
  initialDisplay,
  nextDisplay,
  type QualitySample,
  wantsLive,
} from './displayPolicy.js';

const NO_HINT = { saveData: false, effectiveType: '4g' };
const base: DisplayInput = {
  mode: 'auto',
  phase: 'connecting',
  viewerReason: { code: 'starting' },
  firstFrame: false,
  hint: NO_HINT,
};
const LIVE: Partial<DisplayInput> = { phase: 'connected', viewerReason: { code: 'media-flowing' }, firstFrame: true };
const GOOD: QualitySample = { fps: 30, rttMs: 20, freezeCount: 0, freezeSeconds: 0 };
const { recoverMs, lostGraceMs, warmupMs } = DEFAULT_DISPLAY_POLICY;

/** A scripted run of the policy with its own clock. */
function run(start: Partial<DisplayInput> = {}) {
  let now = 1_000_000;
  let m: DisplayMemory = initialDisplay({ ...base, ...start }, now);
  let input: DisplayInput = { ...base, ...start };
  const kinds: string[] = [m.display.kind];
  const record = () => {
    if (kinds.at(-1) !== m.display.kind) kinds.push(m.display.kind);
  };
  const api = {
    get m() {
      return m;
    },
    get kind() {
      return m.display.kind;
    },
    get text() {
      return describeDisplay(m.display);
    },
    kinds,
    set(patch: Partial<DisplayInput>) {
      input = { ...input, ...patch };
      m = nextDisplay(m, { type: 'input', input }, now);
      record();
      return api;
    },
    /** Advances the clock, honouring the wake-up the policy asked for on the way. */
    wait(ms: number) {
      const until = now + ms;
      while (m.recheckAt !== null && m.recheckAt <= until) {
        now = Math.max(now, m.recheckAt);
        m = nextDisplay(m, { type: 'tick' }, now);
        record();
      }
      now = until;
      return api;
    },
    /** One stats sample a second. */
    samples(n: number, sample: Partial<QualitySample> = {}) {
      for (let i = 0; i < n; i++) {
        api.wait(1000);
        m = nextDisplay(m, { type: 'sample', sample: { ...GOOD, ...sample } }, now);
        record();
      }
      return api;
    },
  };
  return api;
}

describe('auto mode: snapshot first, then live', () => {
  it('shows screenshots at once and goes live at the first frame, with no wait', () => {
    const r = run();
    expect(r.kind).toBe('screenshots');
    expect(r.text).toBe('Screenshots: live video starting');
    r.set({ phase: 'connected' });
    expect(r.kind).toBe('screenshots'); // ICE is up, but no frame yet
    r.set({ firstFrame: true });
    expect(r.kind).toBe('live');
    expect(r.text).toBe('Live');
  });

  it('says so when live video fails before it ever showed, and returns only once it has held', () => {
    const r = run().set({ phase: 'reconnecting', viewerReason: { code: 'ice-failed' } });
    expect(r.text).toBe('Screenshots: live video unavailable (reconnecting: ICE failed)');
    r.set(LIVE);
    expect(r.kind).toBe('screenshots');
    expect(r.text).toBe('Screenshots: live video is back, checking that it holds');
    r.samples(1); // the first good sample starts the clock
    r.wait(recoverMs - 1);
    expect(r.kind).toBe('screenshots');
    r.wait(1);
    expect(r.kind).toBe('live');
  });
});

describe('auto mode: falling back', () => {
  it('rides out a connection blip shorter than the grace, and falls back after it', () => {
    const r = run().set(LIVE);
    r.set({ phase: 'reconnecting', viewerReason: { code: 'ice-disconnected' } }).wait(lostGraceMs - 100);
    expect(r.kind).toBe('live');
    r.set(LIVE).wait(5000);
    expect(r.kind).toBe('live');
    r.set({ phase: 'reconnecting', viewerReason: { code: 'frames-stopped' } }).wait(lostGraceMs);
    expect(r.kind).toBe('screenshots');
    expect(r.text).toBe('Screenshots: live video unavailable (reconnecting: Video frames stopped)');
  });

  it('needs several poor samples, not one or two', () => {
    const r = run().set(LIVE).wait(warmupMs).samples(2, { fps: 2 }).samples(3);
    expect(r.kind).toBe('live');
    r.samples(1, { fps: 2 }).samples(1).samples(2, { fps: 3 });
    expect(r.kind).toBe('screenshots'); // 3 poor of the last 5
    expect(r.text).toBe('Screenshots: live video too choppy (3 fps)');
  });

  it('falls back on a long round trip and on repeated freezes', () => {
    expect(run().set(LIVE).wait(warmupMs).samples(3, { rttMs: 1500 }).text).toBe(
      'Screenshots: slow connection (1500 ms round trip)',
    );
    const r = run().set(LIVE).wait(warmupMs).samples(1, { freezeCount: 4, freezeSeconds: 1 });
    // Short freezes, as a busy machine makes them now and then, are not enough.
    r.samples(1, { freezeCount: 5, freezeSeconds: 1.2 }).samples(1, { freezeCount: 6, freezeSeconds: 1.4 });
    r.samples(1, { freezeCount: 7, freezeSeconds: 1.6 });
    expect(r.kind).toBe('live');
    r.samples(1, { freezeCount: 8, freezeSeconds: 2 }).samples(1, { freezeCount: 9, freezeSeconds: 2.5 });
    r.samples(1, { freezeCount: 10, freezeSeconds: 3 });
    expect(r.text).toBe('Screenshots: live video keeps freezing');
  });

  it('does not judge the first seconds of a stream', () => {
    const r = run().set(LIVE).samples(3, { fps: 1 });
    expect(r.kind).toBe('live');
    r.samples(3, { fps: 1 });
    expect(r.kind).toBe('screenshots');
  });
});

describe('auto mode: hysteresis on the way back', () => {
  it('does not count a middling frame rate as good while on screenshots', () => {
    const r = run().set(LIVE).wait(warmupMs).samples(3, { fps: 4 });
    expect(r.kind).toBe('screenshots');
    r.samples(10, { fps: 8 }); // above the fallback threshold, below the return one
    expect(r.kind).toBe('screenshots');
    r.samples(1).wait(recoverMs);
    expect(r.kind).toBe('live');
  });

  it('restarts the wait when a poor sample comes in the middle of it', () => {
    const r = run().set(LIVE).wait(warmupMs).samples(3, { fps: 1 }).samples(3).samples(1, { fps: 1 });
    r.samples(Math.floor(recoverMs / 1000));
    expect(r.kind).toBe('screenshots');
    r.samples(1);
    expect(r.kind).toBe('live');
  });

  it('doubles the wait each time live fails again soon after a return, and resets after a calm minute', () => {
    const r = run().set(LIVE);
    const fallAndReturn = () => {
      r.set({ phase: 'reconnecting', viewerReason: { code: 'ice-failed' } }).wait(lostGraceMs);
      expect(r.kind).toBe('screenshots');
      r.set(LIVE).samples(1);
      const waited = r.m.recoverMs;
      r.wait(waited);
      expect(r.kind).toBe('live');
      return waited;
    };
    expect([fallAndReturn(), fallAndReturn(), fallAndReturn()]).toEqual([recoverMs, recoverMs * 2, recoverMs * 4]);
    r.wait(DEFAULT_DISPLAY_POLICY.flapWindowMs);
    expect(fallAndReturn()).toBe(recoverMs);
    // screenshots, live, then one switch each way per failure: no flapping in between.
    expect(r.kinds.length).toBe(2 + 2 * 4);
  });
});

describe('modes and network hints', () => {
  it('"live" never shows screenshots and "screenshot" never shows live video', () => {
    const live = run({ mode: 'live' });
    expect(live.kind).toBe('live');
    live.set({ phase: 'failed', viewerReason: { code: 'gave-up' } }).wait(60_000);
    expect(live.kind).toBe('live');
    const shots = run({ mode: 'screenshot', ...LIVE });
    expect(shots.text).toBe('Screenshots: screenshot mode');
    expect(wantsLive('screenshot', NO_HINT)).toBe(false);
  });

  it('switching from "screenshot" to "auto" goes live at the next first frame', () => {
    const r = run({ mode: 'screenshot' }).set({ mode: 'auto' });
    expect(r.text).toBe('Screenshots: live video starting');
    r.set(LIVE);
    expect(r.kind).toBe('live');
  });

  it('follows the data saver and a slow effective type, and leaves them as soon as live shows', () => {
    const r = run({ ...LIVE, hint: { saveData: true, effectiveType: '4g' } });
    expect(r.text).toBe('Screenshots: data saver is on');
    expect(wantsLive('auto', { saveData: true, effectiveType: '4g' })).toBe(false);
    r.set({ hint: { saveData: false, effectiveType: '2g' } });
    expect(r.text).toBe('Screenshots: slow network (2g)');
    r.set({ hint: NO_HINT });
    expect(r.kind).toBe('live');
    expect(wantsLive('auto', NO_HINT)).toBe(true);
  });
});
