// @ts-check
/**
 * In-page sample collector shared by the three viewer pages. Each viewer calls
 * `observe(source, srcW, srcH)` whenever a new picture is available (WebRTC:
 * requestVideoFrameCallback; noVNC: every animation frame; CDP: after drawing a
 * JPEG). The clock grid is copied from the source into a small canvas at CSS
 * scale and decoded. A sample is recorded only the first time a painted value
 * is seen, so latency is measured at the value's first appearance.
 *
 * latency = (viewer now + clockOffsetMs) − painted, where clockOffsetMs is the
 * VM's clock minus the viewer's (0 when both run on one machine).
 */
import { decodeGrid, gridSize, LAYOUT, unwrapTime } from './clock-code.js';

/**
 * @typedef {{ at: number, painted: number, latency: number, receiveLatency?: number }} Sample
 */

export class Collector {
  /** @param {{ clockOffsetMs?: number, viewportW?: number }} [opts] */
  constructor(opts = {}) {
    this.clockOffsetMs = opts.clockOffsetMs ?? 0;
    this.viewportW = opts.viewportW ?? LAYOUT.viewportW;
    const { w, h } = gridSize();
    this.canvas = document.createElement('canvas');
    this.canvas.width = w;
    this.canvas.height = h;
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2d context');
    this.ctx = ctx;
    /** @type {Sample[]} */
    this.pending = [];
    this.lastPainted = -1;
    this.observed = 0;
    this.decoded = 0;
    this.distinct = 0;
    /** @type {Record<string, number>} */
    this.rejected = { contrast: 0, ambiguous: 0, crc: 0 };
    /** performance.now() of the first decoded frame */
    this.firstDecodedAt = /** @type {number | null} */ (null);
    /** Date.now() of the first decoded frame (to compare with a start time taken in Node) */
    this.firstDecodedWall = /** @type {number | null} */ (null);
    this.lastDistinctAt = /** @type {number | null} */ (null);
    /** longest gap between two distinct values since the last drain, ms */
    this.maxGapMs = 0;
  }

  /**
   * @param {CanvasImageSource} source
   * @param {number} srcW source width in its own pixels (video frame, canvas)
   * @param {{ receiveTime?: number }} [meta] when the picture's bytes arrived, on the performance clock
   *   (WebRTC: rVFC metadata.receiveTime; CDP: the WebSocket message event)
   */
  observe(source, srcW, meta) {
    const nowPerf = performance.now();
    const now = Date.now();
    this.observed++;
    const scale = srcW / this.viewportW;
    const { w, h } = gridSize();
    this.ctx.drawImage(source, LAYOUT.x * scale, LAYOUT.y * scale, w * scale, h * scale, 0, 0, w, h);
    const img = this.ctx.getImageData(0, 0, w, h);
    const res = decodeGrid(img.data, w);
    if (!res.ok) {
      this.rejected[res.reason] = (this.rejected[res.reason] ?? 0) + 1;
      return;
    }
    this.decoded++;
    if (this.firstDecodedAt === null) {
      this.firstDecodedAt = nowPerf;
      this.firstDecodedWall = now;
    }
    const vmNow = now + this.clockOffsetMs;
    const painted = unwrapTime(res.low32, vmNow);
    if (painted === this.lastPainted) return;
    this.lastPainted = painted;
    this.distinct++;
    if (this.lastDistinctAt !== null) this.maxGapMs = Math.max(this.maxGapMs, nowPerf - this.lastDistinctAt);
    this.lastDistinctAt = nowPerf;
    /** @type {Sample} */
    const s = { at: now, painted, latency: vmNow - painted };
    if (meta?.receiveTime !== undefined) {
      s.receiveLatency = performance.timeOrigin + meta.receiveTime + this.clockOffsetMs - painted;
    }
    this.pending.push(s);
  }

  /** Samples since the last drain, with counters. */
  drain() {
    const samples = this.pending;
    this.pending = [];
    // Include the gap still open now, so a stream that stopped shows up at once.
    const open = this.lastDistinctAt === null ? 0 : performance.now() - this.lastDistinctAt;
    const maxGapMs = Math.max(this.maxGapMs, open);
    this.maxGapMs = 0;
    return {
      samples,
      observed: this.observed,
      decoded: this.decoded,
      distinct: this.distinct,
      rejected: { ...this.rejected },
      firstDecodedAt: this.firstDecodedAt,
      firstDecodedWall: this.firstDecodedWall,
      maxGapMs,
    };
  }
}
