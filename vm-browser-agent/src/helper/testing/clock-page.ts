/**
 * Benchmark support: a VM page that paints its wall clock as black/white blocks (plus, on the
 * motion page, full-screen movement), and the viewer-side decoder that reads the clock back out
 * of each received video frame. Both browsers run on this machine, so Date.now() is shared and
 * "decode time - painted time" is glass-to-glass latency including the VM page's own rendering.
 */
export const CLOCK_BITS = 24;
export const CLOCK_BLOCK = 20;
export const CLOCK_X = 20;
export const CLOCK_Y = 20;

/** Row 1: Date.now() mod 2^24, MSB first; row 2: its complement, to reject half-updated frames. */
export function clockPage(motion: boolean): string {
  return `<!doctype html><html><body style="margin:0;overflow:hidden;background:#fff">
<canvas id="c" width="1280" height="720" style="position:absolute;left:0;top:0"></canvas>
<script>
const BITS = ${CLOCK_BITS}, B = ${CLOCK_BLOCK}, X = ${CLOCK_X}, Y = ${CLOCK_Y}, MOTION = ${motion};
const c = document.getElementById('c'), g = c.getContext('2d');
let n = 0;
function frame() {
  n++;
  if (MOTION) {
    for (let i = 0; i < 12; i++) {
      g.fillStyle = 'hsl(' + ((n * 7 + i * 30) % 360) + ',80%,50%)';
      g.fillRect(0, i * 60, 1280, 60);
    }
    for (let i = 0; i < 40; i++) {
      g.fillStyle = 'hsl(' + ((i * 53 + n * 11) % 360) + ',90%,' + (30 + (i * 7) % 40) + '%)';
      g.fillRect((i * 97 + n * (5 + i % 7)) % 1280, (i * 37 + n * 3) % 720, 90, 70);
    }
  } else if (n === 1) {
    g.fillStyle = '#fff'; g.fillRect(0, 0, 1280, 720);
  }
  const t = Date.now() % ${2 ** CLOCK_BITS};
  g.fillStyle = '#fff'; g.fillRect(X - 10, Y - 10, BITS * B + 20, 2 * B + 20);
  for (let i = 0; i < BITS; i++) {
    const bit = (t >> (BITS - 1 - i)) & 1;
    g.fillStyle = bit ? '#000' : '#fff'; g.fillRect(X + i * B, Y, B, B);
    g.fillStyle = bit ? '#fff' : '#000'; g.fillRect(X + i * B, Y + B, B, B);
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
</script></body></html>`;
}

/**
 * Script for a connected viewer page: records latency samples on `window.vmLatency`.
 * (offsetX, offsetY) is where the VM page's viewport sits on the X screen (browser toolbar etc.).
 */
export function clockDecoderScript(offsetX: number, offsetY: number): string {
  return `
(() => {
  const BITS = ${CLOCK_BITS}, B = ${CLOCK_BLOCK}, X = ${CLOCK_X} + ${offsetX}, Y = ${CLOCK_Y} + ${offsetY};
  const MOD = ${2 ** CLOCK_BITS};
  const video = document.querySelector('video');
  const canvas = document.createElement('canvas');
  canvas.width = X + BITS * B; canvas.height = Y + 2 * B;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  window.vmLatency = { samples: [], bad: 0 };
  function decode() {
    g.drawImage(video, 0, 0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
    const px = g.getImageData(0, 0, canvas.width, canvas.height).data;
    const lum = (x, y) => { const o = (y * canvas.width + x) * 4; return px[o] + px[o + 1] + px[o + 2]; };
    let v = 0;
    for (let i = 0; i < BITS; i++) {
      const cx = X + i * B + (B >> 1);
      const top = lum(cx, Y + (B >> 1)) < 384, bottom = lum(cx, Y + B + (B >> 1)) < 384;
      if (top === bottom) return null;
      v = v * 2 + (top ? 1 : 0);
    }
    return v;
  }
  let last = -1;
  const onFrame = () => {
    const now = Date.now();
    const v = decode();
    if (v === null) window.vmLatency.bad++;
    else if (v !== last) {
      last = v;
      let d = (now % MOD) - v;
      if (d < -MOD / 2) d += MOD;
      window.vmLatency.samples.push(d);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
})();
`;
}

/** Runs in the VM page: where its viewport starts on the screen. */
export const VIEWPORT_OFFSET_SCRIPT =
  '({ x: window.screenX + (window.outerWidth - window.innerWidth), y: window.screenY + (window.outerHeight - window.innerHeight) })';
