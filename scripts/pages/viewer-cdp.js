// @ts-check
/**
 * CDP screencast viewer for the comparison: JPEG frames from the sandbox
 * Chromium's Page.startScreencast, relayed by the script over a WebSocket, are
 * drawn to a canvas in arrival order and the clock is decoded from that canvas.
 * After each frame is drawn the page tells the relay, which keeps at most one
 * frame in flight (see RelayHub in scripts/lib/server.ts).
 */
import { Collector } from './measure.js';

const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('c'));
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
/** @type {Collector | null} */
let collector = null;
/** @type {WebSocket | null} */
let ws = null;
let closed = false;
/** @type {string[]} */
const errors = [];
let chain = Promise.resolve();

/** @param {{ url: string, clockOffsetMs?: number, viewportW?: number }} cfg */
function start(cfg) {
  collector = new Collector({ clockOffsetMs: cfg.clockOffsetMs ?? 0, viewportW: cfg.viewportW ?? 1280 });
  return new Promise((resolve, reject) => {
    ws = new WebSocket(cfg.url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(undefined);
    ws.onerror = () => reject(new Error('relay websocket failed'));
    ws.onclose = () => {
      if (!closed) errors.push('relay closed');
    };
    ws.onmessage = (ev) => {
      const receiveTime = performance.now();
      const blob = new Blob([ev.data], { type: 'image/jpeg' });
      // Decode asynchronously but draw strictly in arrival order.
      const decoded = createImageBitmap(blob);
      chain = chain.then(async () => {
        try {
          const bmp = await decoded;
          if (canvas.width !== bmp.width || canvas.height !== bmp.height) {
            canvas.width = bmp.width;
            canvas.height = bmp.height;
          }
          ctx.drawImage(bmp, 0, 0);
          bmp.close();
          collector?.observe(canvas, canvas.width, { receiveTime });
          // Drawn: the relay may send the next (newest) frame.
          if (ws?.readyState === WebSocket.OPEN) ws.send('d');
        } catch (e) {
          errors.push(`decode: ${e}`);
        }
      });
    };
  });
}

function drain() {
  return { ...(collector?.drain() ?? {}), errors: errors.splice(0) };
}

function stop() {
  closed = true;
  ws?.close();
}

/** @type {any} */ (window).viewer = { start, drain, stop };
