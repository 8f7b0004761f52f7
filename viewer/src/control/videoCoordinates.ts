/**
 * Maps a pointer position on the <video> element to normalized coordinates
 * (0..1) in the video frame. The element uses `object-fit: contain`, so the
 * frame is letterboxed (bars top/bottom in a tall box, left/right in a wide
 * one); positions on the bars are not on the VM's screen.
 */

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface NormalizedPoint {
  x: number;
  y: number;
}

/** The rectangle the frame actually occupies inside `element` under object-fit: contain. */
export function containedContentRect(element: Rect, videoWidth: number, videoHeight: number): Rect {
  if (videoWidth <= 0 || videoHeight <= 0 || element.width <= 0 || element.height <= 0) return element;
  const scale = Math.min(element.width / videoWidth, element.height / videoHeight);
  const width = videoWidth * scale;
  const height = videoHeight * scale;
  return {
    left: element.left + (element.width - width) / 2,
    top: element.top + (element.height - height) / 2,
    width,
    height,
  };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/**
 * Returns the normalized point for a client position, or null when it lies
 * on a letterbox bar (or outside the element). With `clamp`, positions
 * outside are pulled to the nearest edge instead — used for a button release
 * after a drag that left the frame, so the VM never keeps a button held.
 */
export function clientToVideo(
  clientX: number,
  clientY: number,
  element: Rect,
  videoWidth: number,
  videoHeight: number,
  options: { clamp?: boolean } = {},
): NormalizedPoint | null {
  const content = containedContentRect(element, videoWidth, videoHeight);
  if (content.width <= 0 || content.height <= 0) return null;
  const x = (clientX - content.left) / content.width;
  const y = (clientY - content.top) / content.height;
  if (options.clamp) return { x: clamp01(x), y: clamp01(y) };
  if (x < 0 || x > 1 || y < 0 || y > 1) return null;
  return { x, y };
}
