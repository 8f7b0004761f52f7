/**
 * Wires DOM events on the viewer's stage to the `input` channel while the
 * viewer holds control. Thin on purpose: the mapping, coalescing and key
 * translation live in plain modules with unit tests.
 *
 * Keyboard is captured only while the stage has focus (it is focusable and
 * takes focus on click); keys are preventDefault-ed so the page does not
 * scroll or navigate, except Ctrl/Cmd+V, which is left to the browser so
 * that its `paste` event can send the clipboard text, and Alt+Shift+Q, which
 * leaves the remote screen (focus moves back to the toolbar).
 */
import type { InputSender } from './inputSender.js';
import { isLeaveShortcut, isPasteShortcut, keyEventToInput, PressedKeys, textToInputs } from './keyboardInput.js';
import { clientToVideo } from './videoCoordinates.js';

export function attachRemoteInput(
  stage: HTMLElement,
  video: HTMLVideoElement,
  sender: InputSender,
  onLeave: () => void,
): () => void {
  const pressedButtons = new Set<number>();
  const pressedKeys = new PressedKeys();

  const map = (event: MouseEvent, clamp = false) =>
    clientToVideo(event.clientX, event.clientY, video.getBoundingClientRect(), video.videoWidth, video.videoHeight, {
      clamp,
    });

  const onPointerMove = (event: PointerEvent) => {
    const point = map(event, pressedButtons.size > 0);
    if (point) sender.pointerMove(point.x, point.y);
  };
  const onPointerDown = (event: PointerEvent) => {
    const point = map(event);
    if (!point) return; // on a letterbox bar: not the VM's screen
    event.preventDefault();
    stage.focus({ preventScroll: true });
    try {
      video.setPointerCapture(event.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    pressedButtons.add(event.button);
    sender.send({ t: 'pointer', action: 'down', x: point.x, y: point.y, button: event.button });
  };
  const onPointerUp = (event: PointerEvent) => {
    if (!pressedButtons.delete(event.button)) return;
    const point = map(event, true);
    if (point) sender.send({ t: 'pointer', action: 'up', x: point.x, y: point.y, button: event.button });
  };
  const onWheel = (event: WheelEvent) => {
    const point = map(event);
    if (!point) return;
    event.preventDefault();
    // Normalize to pixels (deltaMode 1 = lines, 2 = pages), as the protocol expects.
    const scale = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 800 : 1;
    sender.wheel(point.x, point.y, event.deltaX * scale, event.deltaY * scale);
  };
  const onContextMenu = (event: MouseEvent) => event.preventDefault();
  const onKeyDown = (event: KeyboardEvent) => {
    if (isPasteShortcut(event)) return;
    if (isLeaveShortcut(event)) {
      // WCAG 2.1.2 (no keyboard trap): every other key goes to the VM, this one gives focus back to the page.
      event.preventDefault();
      releaseEverything();
      onLeave();
      return;
    }
    event.preventDefault();
    const input = keyEventToInput(event, 'down');
    if (!input) return;
    pressedKeys.press(input);
    sender.send(input);
  };
  const onKeyUp = (event: KeyboardEvent) => {
    if (isPasteShortcut(event)) return;
    event.preventDefault();
    const input = keyEventToInput(event, 'up');
    if (!input) return;
    pressedKeys.release(input);
    sender.send(input);
  };
  const onPaste = (event: ClipboardEvent) => {
    const text = event.clipboardData?.getData('text/plain');
    if (!text) return;
    event.preventDefault();
    for (const message of textToInputs(text)) sender.send(message);
  };
  const releaseEverything = () => {
    for (const up of pressedKeys.releaseAll()) sender.send(up);
  };

  video.addEventListener('pointermove', onPointerMove);
  video.addEventListener('pointerdown', onPointerDown);
  video.addEventListener('pointerup', onPointerUp);
  video.addEventListener('pointercancel', onPointerUp);
  video.addEventListener('wheel', onWheel, { passive: false });
  video.addEventListener('contextmenu', onContextMenu);
  stage.addEventListener('keydown', onKeyDown);
  stage.addEventListener('keyup', onKeyUp);
  stage.addEventListener('paste', onPaste);
  stage.addEventListener('blur', releaseEverything);
  return () => {
    releaseEverything();
    video.removeEventListener('pointermove', onPointerMove);
    video.removeEventListener('pointerdown', onPointerDown);
    video.removeEventListener('pointerup', onPointerUp);
    video.removeEventListener('pointercancel', onPointerUp);
    video.removeEventListener('wheel', onWheel);
    video.removeEventListener('contextmenu', onContextMenu);
    stage.removeEventListener('keydown', onKeyDown);
    stage.removeEventListener('keyup', onKeyUp);
    stage.removeEventListener('paste', onPaste);
    stage.removeEventListener('blur', releaseEverything);
  };
}
