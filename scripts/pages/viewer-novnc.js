// @ts-check
/**
 * noVNC viewer for the comparison: Debian's noVNC RFB module (served by the
 * scripts' server at /novnc/) renders into its own canvas; we sample that canvas
 * every animation frame, as a user's screen would show it.
 */
import { Collector } from './measure.js';

/** @type {any} */
let rfb = null;
/** @type {Collector | null} */
let collector = null;
let closed = false;
/** @type {string[]} */
const errors = [];

/** @param {{ url: string, clockOffsetMs?: number, viewportW?: number, qualityLevel?: number, compressionLevel?: number }} cfg */
async function start(cfg) {
  // Debian ships noVNC's sources as ES modules; imported lazily so a missing
  // package is reported by start() rather than as a silent module error.
  const rfbUrl = '/novnc/core/rfb.js';
  const { default: RFB } = await import(/* @vite-ignore */ rfbUrl);
  collector = new Collector({ clockOffsetMs: cfg.clockOffsetMs ?? 0, viewportW: cfg.viewportW ?? 1280 });
  const target = /** @type {HTMLElement} */ (document.getElementById('screen'));
  rfb = new RFB(target, cfg.url, { shared: true });
  rfb.viewOnly = true;
  if (cfg.qualityLevel !== undefined) rfb.qualityLevel = cfg.qualityLevel;
  if (cfg.compressionLevel !== undefined) rfb.compressionLevel = cfg.compressionLevel;
  rfb.scaleViewport = false;
  rfb.resizeSession = false;
  rfb.addEventListener('disconnect', (/** @type {any} */ e) => {
    if (!closed) errors.push(`disconnected clean=${e.detail?.clean}`);
  });
  const tick = () => {
    if (closed) return;
    const canvas = target.querySelector('canvas');
    if (canvas && canvas.width > 0) collector?.observe(canvas, canvas.width);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function drain() {
  return { ...(collector?.drain() ?? {}), errors: errors.splice(0) };
}

function stop() {
  closed = true;
  try {
    rfb?.disconnect();
  } catch {}
}

/** @type {any} */ (window).viewer = { start, drain, stop };
