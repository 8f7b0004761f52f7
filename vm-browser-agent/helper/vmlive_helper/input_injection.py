"""Takeover input: who may inject (ControlGate) and how it reaches the X display (XInjector, XTEST).

Everything here runs on the GLib main thread: python-xlib connections are not thread-safe,
so data-channel callbacks hop to the main loop before calling in.
"""
import time
from typing import Dict, List, Optional, Set, Tuple

from . import keysyms
from .log import get_logger

log = get_logger('input')

# DOM MouseEvent.button -> X button: 0 left, 1 middle, 2 right, 3 back, 4 forward.
DOM_TO_X_BUTTON = {0: 1, 1: 2, 2: 3, 3: 8, 4: 9}
# One wheel "click" (X buttons 4..7) per this many DOM pixels (deltaMode 0; Chromium uses 100-120 per notch).
WHEEL_PIXELS_PER_CLICK = 100.0


def scale_point(x: float, y: float, width: int, height: int) -> Tuple[int, int]:
    """Normalized 0..1 video coordinates -> X screen pixels (the video is the whole screen, scaled)."""
    return (min(width - 1, max(0, int(round(x * (width - 1))))),
            min(height - 1, max(0, int(round(y * (height - 1))))))


class WheelAccumulator:
    """Turns pixel deltas into whole wheel clicks, keeping the remainder so touchpads still scroll."""

    def __init__(self, pixels_per_click: float = WHEEL_PIXELS_PER_CLICK):
        self.per_click = pixels_per_click
        self.rx = 0.0
        self.ry = 0.0

    def add(self, dx: float, dy: float) -> Tuple[int, int]:
        # A direction change drops the remainder of the other direction.
        if dx and (dx > 0) != (self.rx > 0):
            self.rx = 0.0
        if dy and (dy > 0) != (self.ry > 0):
            self.ry = 0.0
        self.rx += dx
        self.ry += dy
        cx = int(self.rx / self.per_click)
        cy = int(self.ry / self.per_click)
        self.rx -= cx * self.per_click
        self.ry -= cy * self.per_click
        return cx, cy


def split_for_remap(seq: List[int], known: Set[int], capacity: int) -> List[Tuple[List[int], Set[int]]]:
    """Split a keysym sequence into segments that each need at most `capacity` keysyms outside
    `known`, so that all of a segment's missing keysyms can be mapped at once (one MappingNotify
    wait per segment instead of one per character)."""
    known = set(known)  # keysyms mapped for an earlier segment stay mapped (protected while in use)
    segments: List[Tuple[List[int], Set[int]]] = []
    current: List[int] = []
    new: Set[int] = set()
    for keysym in seq:
        if keysym not in known and keysym not in new:
            if capacity and len(new) == capacity:
                segments.append((current, new))
                known |= new
                current, new = [], set()
            new.add(keysym)
        current.append(keysym)
    if current:
        segments.append((current, new))
    return segments


class ControlGate:
    """Tracks the control holder and rate-limits rejection reports (a non-holder's mouse moves
    would otherwise flood the agent): the first rejection per peer and reason is reported at
    once, then at most one per `report_interval` seconds."""

    def __init__(self, report_interval: float = 1.0, clock=time.monotonic):
        self.holder: Optional[str] = None
        self._interval = report_interval
        self._clock = clock
        self._last_report: Dict[Tuple[str, str], float] = {}

    def allowed(self, peer_id: str) -> bool:
        return self.holder is not None and peer_id == self.holder

    def should_report(self, peer_id: str, reason: str) -> bool:
        now = self._clock()
        key = (peer_id, reason)
        last = self._last_report.get(key)
        if last is not None and now - last < self._interval:
            return False
        self._last_report[key] = now
        return True

    def forget(self, peer_id: str) -> None:
        for key in [k for k in self._last_report if k[0] == peer_id]:
            del self._last_report[key]


class XInjector:
    """Injects pointer, wheel and keyboard events with the XTEST extension."""

    def __init__(self, display_name: str):
        from Xlib import X, display as xdisplay
        from Xlib.ext import xtest
        self._X = X
        self._xtest = xtest
        self.d = xdisplay.Display(display_name)
        if not self.d.has_extension('XTEST'):
            raise RuntimeError('X display %s has no XTEST extension' % display_name)
        screen = self.d.screen()
        self.width = screen.width_in_pixels
        self.height = screen.height_in_pixels
        self.pressed_keys: Dict[str, Tuple[int, bool]] = {}  # DOM code/key -> (keycode, we added Shift)
        self.pressed_buttons: Set[int] = set()
        self.wheel = WheelAccumulator()
        self._spare = self._find_spare_keycodes()
        self._spare_next = 0
        self._remapped: Dict[int, int] = {}  # keysym -> spare keycode
        self._shift_keycode = self.d.keysym_to_keycode(keysyms.KEYSYM_SHIFT_L)
        # Repeats come from the viewer (the browser sends repeated keydowns). The X
        # server's own autorepeat would fire whenever a key-up arrives late over the
        # network and type extra characters, so it is turned off for the display.
        self.d.change_keyboard_control(auto_repeat_mode=X.AutoRepeatModeOff)
        self.d.sync()

    # ---- keyboard mapping ----
    def _find_spare_keycodes(self):
        first = self.d.display.info.min_keycode
        count = self.d.display.info.max_keycode - first + 1
        mapping = self.d.get_keyboard_mapping(first, count)
        return [first + i for i, syms in enumerate(mapping) if not any(syms)][-8:]

    def _lookup(self, keysym: int) -> Optional[Tuple[int, bool]]:
        """(keycode, needs Shift) from the current keymap or our remapped spares, else None."""
        if keysym in self._remapped:
            return self._remapped[keysym], False
        best = None
        for keycode, index in self.d.keysym_to_keycodes(keysym):
            if index in (0, 1) and (best is None or index < best[1]):
                best = (keycode, index)
        return (best[0], best[1] == 1) if best is not None else None

    def _remap(self, wanted: Set[int], keep: Set[int]) -> None:
        """Map keysyms missing from the keymap onto spare keycodes, as xdotool does, never evicting
        a keysym in `keep`; one sync + short wait lets clients process MappingNotify first."""
        for keysym in wanted:
            for _ in range(len(self._spare)):
                keycode = self._spare[self._spare_next % len(self._spare)]
                self._spare_next += 1
                holder = next((sym for sym, code in self._remapped.items() if code == keycode), None)
                if holder is None or holder not in keep:
                    break
            else:
                return
            if holder is not None:
                del self._remapped[holder]
            self.d.change_keyboard_mapping(keycode, [(keysym, keysym)])
            self._remapped[keysym] = keycode
        if wanted:
            self.d.sync()
            time.sleep(0.02)

    def _keycode_for(self, keysym: int) -> Tuple[int, bool]:
        found = self._lookup(keysym)
        if found is None and self._spare:
            self._remap({keysym}, set())
            found = self._lookup(keysym)
        return found if found is not None else (0, False)

    def _fake(self, event_type, detail, x=0, y=0):
        if event_type == self._X.MotionNotify:
            self._xtest.fake_input(self.d, event_type, x=x, y=y)
        else:
            self._xtest.fake_input(self.d, event_type, detail)

    def _shift_held(self) -> bool:
        return any(code in ('ShiftLeft', 'ShiftRight') or code == 'Shift' for code in self.pressed_keys)

    # ---- events ----
    def pointer(self, action: str, x: float, y: float, button: Optional[int]) -> None:
        px, py = scale_point(x, y, self.width, self.height)
        self._fake(self._X.MotionNotify, 0, px, py)
        if action in ('down', 'up'):
            xbutton = DOM_TO_X_BUTTON.get(button if button is not None else 0, 1)
            if action == 'down':
                self._fake(self._X.ButtonPress, xbutton)
                self.pressed_buttons.add(xbutton)
            elif xbutton in self.pressed_buttons:
                self._fake(self._X.ButtonRelease, xbutton)
                self.pressed_buttons.discard(xbutton)
        self.d.flush()

    def wheel_event(self, x: float, y: float, dx: float, dy: float) -> None:
        px, py = scale_point(x, y, self.width, self.height)
        self._fake(self._X.MotionNotify, 0, px, py)
        cx, cy = self.wheel.add(dx, dy)
        for count, neg, pos in ((cy, 4, 5), (cx, 6, 7)):
            button = pos if count > 0 else neg
            for _ in range(min(abs(count), 20)):
                self._fake(self._X.ButtonPress, button)
                self._fake(self._X.ButtonRelease, button)
        self.d.flush()

    def key(self, action: str, key: str, code: str) -> bool:
        """Returns False when the key cannot be mapped."""
        ident = code or key
        if action == 'up':
            pressed = self.pressed_keys.pop(ident, None)
            if pressed is not None:
                self._fake(self._X.KeyRelease, pressed[0])
                if pressed[1]:
                    self._fake(self._X.KeyRelease, self._shift_keycode)
                self.d.flush()
            return True
        keysym = keysyms.dom_key_to_keysym(key, code)
        if keysym is None:
            return False
        keycode, needs_shift = self._keycode_for(keysym)
        if not keycode:
            return False
        if ident in self.pressed_keys:  # auto-repeat: X wants release/press pairs
            self._fake(self._X.KeyRelease, self.pressed_keys[ident][0])
        add_shift = needs_shift and not self._shift_held() and not keysyms.is_modifier_keysym(keysym)
        if add_shift:
            self._fake(self._X.KeyPress, self._shift_keycode)
        self._fake(self._X.KeyPress, keycode)
        self.pressed_keys[ident] = (keycode, add_shift)
        self.d.flush()
        return True

    def text(self, text: str) -> int:
        """Types text one keysym per character; returns how many characters could not be typed."""
        failed = 0
        seq = [keysyms.char_keysym(char) for char in text]
        known = {keysym for keysym in set(seq) if self._lookup(keysym) is not None}
        for segment, missing in split_for_remap(seq, known, len(self._spare)):
            self._remap(missing, set(segment))
            for keysym in segment:
                keycode, needs_shift = self._keycode_for(keysym)
                if not keycode:
                    failed += 1
                    continue
                shift = needs_shift and not self._shift_held()
                if shift:
                    self._fake(self._X.KeyPress, self._shift_keycode)
                self._fake(self._X.KeyPress, keycode)
                self._fake(self._X.KeyRelease, keycode)
                if shift:
                    self._fake(self._X.KeyRelease, self._shift_keycode)
        self.d.flush()
        return failed

    def release_all(self) -> None:
        """Release every key and button pressed on behalf of a holder (holder change / disconnect)."""
        for keycode, added_shift in self.pressed_keys.values():
            self._fake(self._X.KeyRelease, keycode)
            if added_shift:
                self._fake(self._X.KeyRelease, self._shift_keycode)
        for button in self.pressed_buttons:
            self._fake(self._X.ButtonRelease, button)
        if self.pressed_keys or self.pressed_buttons:
            log.info('released %d keys and %d buttons', len(self.pressed_keys), len(self.pressed_buttons))
        self.pressed_keys.clear()
        self.pressed_buttons.clear()
        self.wheel = WheelAccumulator()
        self.d.flush()

    def close(self) -> None:
        try:
            self.release_all()
            self.d.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
