/**
 * Types of clock-code.js for TypeScript importers that do not check JS
 * (the tests' tsconfig). Keep in step with the JSDoc in clock-code.js.
 */
export interface ClockLayout {
  readonly x: number;
  readonly y: number;
  readonly cols: number;
  readonly rows: number;
  readonly cellW: number;
  readonly cellH: number;
  readonly pad: number;
  readonly viewportW: number;
  readonly viewportH: number;
}
export declare const LAYOUT: ClockLayout;
export declare const TIME_BITS: number;
export declare const CRC_BITS: number;
export declare const DATA_BITS: number;
export declare function crc16(bytes: ArrayLike<number>): number;
export declare function encodeBits(ms: number): Uint8Array;
export declare function cellColours(ms: number, layout?: ClockLayout): boolean[];
export declare function paintClock(ctx: CanvasRenderingContext2D, ms: number, layout?: ClockLayout): void;
export declare function decodeGrid(
  data: Uint8ClampedArray | Uint8Array,
  width: number,
  layout?: ClockLayout,
): { ok: true; low32: number } | { ok: false; reason: 'contrast' | 'ambiguous' | 'crc' };
export declare function unwrapTime(low32: number, nowMs: number): number;
export declare function gridSize(layout?: ClockLayout): { w: number; h: number };
