import { describe, expect, it } from 'vitest';
import { clientToVideo, containedContentRect } from './videoCoordinates.js';

// A 1280x720 (16:9) frame.
const W = 1280;
const H = 720;

describe('mapping pointer positions to the letterboxed video frame', () => {
  it('fills the element exactly when aspect ratios match', () => {
    const el = { left: 10, top: 20, width: 640, height: 360 };
    expect(containedContentRect(el, W, H)).toEqual(el);
    expect(clientToVideo(10 + 320, 20 + 180, el, W, H)).toEqual({ x: 0.5, y: 0.5 });
    expect(clientToVideo(10, 20, el, W, H)).toEqual({ x: 0, y: 0 });
  });

  it('wide container: bars left and right, clicks in them ignored', () => {
    // 1000x360 box: the frame is 640x360, centred, so bars are 180 px each side.
    const el = { left: 0, top: 0, width: 1000, height: 360 };
    expect(containedContentRect(el, W, H)).toEqual({ left: 180, top: 0, width: 640, height: 360 });
    expect(clientToVideo(90, 180, el, W, H)).toBeNull(); // left bar
    expect(clientToVideo(910, 180, el, W, H)).toBeNull(); // right bar
    expect(clientToVideo(180, 0, el, W, H)).toEqual({ x: 0, y: 0 });
    expect(clientToVideo(180 + 480, 90, el, W, H)).toEqual({ x: 0.75, y: 0.25 });
  });

  it('tall container: bars top and bottom, clicks in them ignored', () => {
    // 640x600 box: the frame is 640x360 with 120 px bars above and below.
    const el = { left: 100, top: 50, width: 640, height: 600 };
    expect(containedContentRect(el, W, H)).toEqual({ left: 100, top: 170, width: 640, height: 360 });
    expect(clientToVideo(400, 100, el, W, H)).toBeNull(); // top bar
    expect(clientToVideo(400, 600, el, W, H)).toBeNull(); // bottom bar
    expect(clientToVideo(100 + 160, 170 + 360, el, W, H)).toEqual({ x: 0.25, y: 1 });
  });

  it('clamp pulls outside positions to the nearest edge (release after a drag)', () => {
    const el = { left: 0, top: 0, width: 1000, height: 360 };
    expect(clientToVideo(10, 400, el, W, H, { clamp: true })).toEqual({ x: 0, y: 1 });
    expect(clientToVideo(990, -5, el, W, H, { clamp: true })).toEqual({ x: 1, y: 0 });
  });

  it('returns null before the video has dimensions and the element has size', () => {
    expect(clientToVideo(5, 5, { left: 0, top: 0, width: 0, height: 0 }, 0, 0)).toBeNull();
  });
});
