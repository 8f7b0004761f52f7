/**
 * A Playwright page that reports its steps to the VM's run timeline. Each step
 * waits until the automation may act (mode `agent`; while a person holds or
 * paused the VM the CDP gateway would hold its commands anyway), first runs the
 * overrides people queued and acks them, reports `started` with the target's
 * box on the VM screen (so viewers see where it is about to act), acts, and
 * reports `done` or `failed` with a thumbnail of the screen.
 *
 * Typed structurally (PageLike) so the package needs no Playwright at run time;
 * a `playwright` or `playwright-core` Page fits.
 */
import { LIMITS, type OverrideAction, type ScreenBox } from '@vmlive/protocol';
import type { Automation } from './automation.js';

interface BoxLike {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LocatorLike {
  boundingBox(options?: { timeout?: number }): Promise<BoxLike | null>;
  click(options?: { timeout?: number }): Promise<void>;
  fill(value: string, options?: { timeout?: number }): Promise<void>;
  first(): LocatorLike;
}

export interface PageLike {
  locator(selector: string): LocatorLike;
  goto(url: string): Promise<unknown>;
  evaluate<R>(expression: string): Promise<R>;
  screenshot(options: { type: 'jpeg'; quality: number; scale?: 'css' | 'device' }): Promise<Uint8Array>;
  mouse: { click(x: number, y: number): Promise<void>; wheel(dx: number, dy: number): Promise<void> };
  keyboard: { type(text: string): Promise<void> };
}

/** Where the page's viewport sits on the VM screen, and its device pixel ratio. */
interface Placement {
  left: number;
  top: number;
  dpr: number;
}

// The viewport's screen position: the window's, plus its frame. Chromium's frame is its toolbar on
// top and a border split between the other sides (none when maximized or in kiosk mode).
const PLACEMENT = `(() => {
  const border = (outerWidth - innerWidth) / 2;
  return [screenX + border, screenY + (outerHeight - innerHeight) - border, devicePixelRatio];
})()`;

function isPlacement(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === 'number' && Number.isFinite(n));
}

export interface StepOptions {
  /** What the step acts on (a selector, a URL), shown in the timeline. */
  target?: string;
  /** The element whose box is drawn over the video while the step runs. */
  locator?: LocatorLike;
  detail?: string;
}

export class ReportingPage {
  private index = 0;

  constructor(
    readonly page: PageLike,
    readonly automation: Automation,
    /** Thumbnails after each step (JPEG); false to skip them. */
    private readonly thumbnails = true,
  ) {}

  /** Runs `act` as the next step of the run (see the module comment). */
  async step<T>(action: string, opts: StepOptions, act: () => Promise<T>): Promise<T> {
    await this.automation.waitUntilMayAct();
    await this.runOverrides();
    const index = this.index++;
    const box = opts.locator ? await this.screenBox(opts.locator) : undefined;
    const base = {
      index,
      action: action.slice(0, LIMITS.stepActionChars),
      ...(opts.target !== undefined ? { target: opts.target.slice(0, LIMITS.stepTargetChars) } : {}),
      ...(box ? { box } : {}),
    };
    await this.automation.reportStep({ ...base, status: 'started', ...detail(opts.detail) });
    try {
      const out = await act();
      await this.automation.reportStep({ ...base, status: 'done' });
      await this.thumbnail(index);
      return out;
    } catch (err) {
      await this.automation.reportStep({ ...base, status: 'failed', ...detail(String(err)) });
      await this.thumbnail(index);
      throw err;
    }
  }

  click(selector: string): Promise<void> {
    const locator = this.page.locator(selector).first();
    return this.step('click', { target: selector, locator }, () => locator.click());
  }

  fill(selector: string, value: string): Promise<void> {
    const locator = this.page.locator(selector).first();
    // The value itself stays out of the timeline: it may be a password.
    const detail = `${value.length} characters`;
    return this.step('fill', { target: selector, locator, detail }, () => locator.fill(value));
  }

  async goto(url: string): Promise<void> {
    await this.step('navigate', { target: url }, () => this.page.goto(url));
  }

  /** Runs every queued override now (in queue order) and acks each; returns how many ran. */
  async runOverrides(): Promise<number> {
    let n = 0;
    for (let o = await this.automation.nextOverride(); o; o = await this.automation.nextOverride()) {
      n++;
      try {
        await this.perform(o.action);
        await this.automation.ack(o.id, 'done');
      } catch (err) {
        await this.automation.ack(o.id, 'failed', String(err));
      }
    }
    return n;
  }

  /** Runs a person's action on the page. Coordinates of `click` are VM screen pixels, like a step's box. */
  async perform(action: OverrideAction): Promise<void> {
    switch (action.type) {
      case 'click':
        if ('selector' in action) return this.page.locator(action.selector).first().click({ timeout: 10_000 });
        {
          const p = await this.placement();
          return this.page.mouse.click(action.x / p.dpr - p.left, action.y / p.dpr - p.top);
        }
      case 'type':
        return this.page.keyboard.type(action.text);
      case 'scroll':
        return this.page.mouse.wheel(action.dx, action.dy);
      case 'navigate':
        await this.page.goto(action.url);
        return;
    }
  }

  /** The element's box on the VM screen (device pixels), or undefined when it has none (hidden). */
  async screenBox(locator: LocatorLike): Promise<ScreenBox | undefined> {
    const b = await locator.boundingBox({ timeout: 5000 }).catch(() => null);
    if (!b) return undefined;
    const p = await this.placement();
    return {
      x: Math.round((p.left + b.x) * p.dpr),
      y: Math.round((p.top + b.y) * p.dpr),
      w: Math.round(b.width * p.dpr),
      h: Math.round(b.height * p.dpr),
    };
  }

  private async placement(): Promise<Placement> {
    const v: unknown = await this.page.evaluate(PLACEMENT);
    if (!isPlacement(v)) throw new Error('the page did not report its screen position');
    return { left: v[0], top: v[1], dpr: v[2] };
  }

  /** A screenshot small enough for the timeline: lower quality until it fits, else none. */
  private async thumbnail(index: number): Promise<void> {
    if (!this.thumbnails) return;
    for (const quality of [50, 25, 10]) {
      const jpeg = await this.page.screenshot({ type: 'jpeg', quality, scale: 'css' }).catch(() => null);
      if (!jpeg) return;
      if (jpeg.byteLength <= LIMITS.thumbnailBytes) {
        await this.automation.attachThumbnail(index, jpeg);
        return;
      }
    }
  }
}

const detail = (d: string | undefined) => (d === undefined ? {} : { detail: d.slice(0, LIMITS.stepDetailChars) });
