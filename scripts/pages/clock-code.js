// @ts-check
/**
 * The clock code shared by the clock page (which paints it) and every viewer
 * page (which reads it back from a received frame), and by Node (tests).
 *
 * What is painted: a grid of `rows` x `cols` black/white cells. In every row the
 * first cell is a white reference and the last a black one, so each row gets its
 * own threshold even when the codec shifts levels. The 48 data cells carry the
 * low 32 bits of `Date.now()` followed by a CRC-16/CCITT-FALSE of those 4 bytes.
 * A frame captured in the middle of a repaint (half old, half new cells), a
 * blended or blurred frame, or a partial update fails the CRC or the contrast
 * check and is rejected, never misread.
 *
 * Plain ES module (no build step) so the page served to the VM's browser, the
 * headless viewer pages and Node all load this very file.
 */

/** Geometry in CSS pixels of the page shown in the VM (kiosk, viewport at the screen's origin). */
export const LAYOUT = Object.freeze({
  x: 48,
  y: 48,
  cols: 18,
  rows: 3,
  cellW: 64,
  cellH: 48,
  /** width of the neutral frame drawn around the grid, so busy content never touches the cells */
  pad: 16,
  viewportW: 1280,
  viewportH: 720,
});

export const TIME_BITS = 32;
export const CRC_BITS = 16;
export const DATA_BITS = TIME_BITS + CRC_BITS;
const TWO32 = 2 ** 32;

/**
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xffff).
 * @param {ArrayLike<number>} bytes
 */
export function crc16(bytes) {
  let crc = 0xffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= (bytes[i] ?? 0) << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** @param {number} low32 */
function bytesOf(low32) {
  return [(low32 >>> 24) & 0xff, (low32 >>> 16) & 0xff, (low32 >>> 8) & 0xff, low32 & 0xff];
}

/**
 * The 48 data bits for a time in ms (1 = white), most significant first.
 * @param {number} ms
 */
export function encodeBits(ms) {
  const low32 = (ms % TWO32) >>> 0;
  const crc = crc16(bytesOf(low32));
  const bits = new Uint8Array(DATA_BITS);
  for (let i = 0; i < TIME_BITS; i++) bits[i] = (low32 >>> (TIME_BITS - 1 - i)) & 1;
  for (let i = 0; i < CRC_BITS; i++) bits[TIME_BITS + i] = (crc >>> (CRC_BITS - 1 - i)) & 1;
  return bits;
}

/**
 * Cell colours in grid order (row-major), true = white.
 * @param {number} ms
 * @param {typeof LAYOUT} layout
 */
export function cellColours(ms, layout = LAYOUT) {
  const bits = encodeBits(ms);
  const perRow = layout.cols - 2;
  /** @type {boolean[]} */
  const out = [];
  for (let r = 0; r < layout.rows; r++) {
    out.push(true);
    for (let c = 0; c < perRow; c++) out.push(bits[r * perRow + c] === 1);
    out.push(false);
  }
  return out;
}

/**
 * Paints the grid (and its neutral frame) for `ms` on a 2D context whose units are CSS px.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} ms
 * @param {typeof LAYOUT} layout
 */
export function paintClock(ctx, ms, layout = LAYOUT) {
  const { x, y, cols, rows, cellW, cellH, pad } = layout;
  ctx.fillStyle = '#808080';
  ctx.fillRect(x - pad, y - pad, cols * cellW + 2 * pad, rows * cellH + 2 * pad);
  const colours = cellColours(ms, layout);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      ctx.fillStyle = colours[r * cols + c] ? '#ffffff' : '#000000';
      ctx.fillRect(x + c * cellW, y + r * cellH, cellW, cellH);
    }
  }
}

/**
 * Decodes the grid from RGBA pixels of exactly the grid's rectangle
 * (cols*cellW x rows*cellH, i.e. the source region already scaled to CSS px).
 * Returns the low 32 bits of the painted time, or the reason for rejecting the frame.
 * @param {Uint8ClampedArray | Uint8Array} data
 * @param {number} width
 * @param {typeof LAYOUT} layout
 * @returns {{ ok: true, low32: number } | { ok: false, reason: 'contrast' | 'ambiguous' | 'crc' }}
 */
export function decodeGrid(data, width, layout = LAYOUT) {
  const { cols, rows, cellW, cellH } = layout;
  // Average luma over the inner half of a cell: edges bleed in lossy video.
  /** @param {number} r @param {number} c */
  const cellLuma = (r, c) => {
    const x0 = c * cellW + (cellW >> 2);
    const y0 = r * cellH + (cellH >> 2);
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y0 + (cellH >> 1); y += 2) {
      for (let x = x0; x < x0 + (cellW >> 1); x += 2) {
        const i = (y * width + x) * 4;
        sum += 0.299 * (data[i] ?? 0) + 0.587 * (data[i + 1] ?? 0) + 0.114 * (data[i + 2] ?? 0);
        n++;
      }
    }
    return sum / n;
  };
  const bits = [];
  for (let r = 0; r < rows; r++) {
    const white = cellLuma(r, 0);
    const black = cellLuma(r, cols - 1);
    const span = white - black;
    if (span < 96) return { ok: false, reason: 'contrast' };
    const threshold = black + span / 2;
    for (let c = 1; c < cols - 1; c++) {
      const v = cellLuma(r, c);
      // A cell between the levels is a blend of two frames: reject rather than guess.
      if (Math.abs(v - threshold) < span * 0.25) return { ok: false, reason: 'ambiguous' };
      bits.push(v > threshold ? 1 : 0);
    }
  }
  let low32 = 0;
  for (let i = 0; i < TIME_BITS; i++) low32 = low32 * 2 + (bits[i] ?? 0);
  let crc = 0;
  for (let i = 0; i < CRC_BITS; i++) crc = crc * 2 + (bits[TIME_BITS + i] ?? 0);
  if (crc16(bytesOf(low32)) !== crc) return { ok: false, reason: 'crc' };
  return { ok: true, low32 };
}

/**
 * The full painted time nearest to `nowMs` whose low 32 bits are `low32`
 * (2^32 ms is 49 days, so any plausible latency or clock offset is unambiguous).
 * @param {number} low32
 * @param {number} nowMs
 */
export function unwrapTime(low32, nowMs) {
  let d = (nowMs % TWO32) - low32;
  if (d > TWO32 / 2) d -= TWO32;
  else if (d < -TWO32 / 2) d += TWO32;
  return nowMs - d;
}

/** Width and height of the grid in CSS px. @param {typeof LAYOUT} layout */
export function gridSize(layout = LAYOUT) {
  return { w: layout.cols * layout.cellW, h: layout.rows * layout.cellH };
}
