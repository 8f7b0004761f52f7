"""The decisions of damage capture (capture_damage.py), kept free of X and GStreamer so they are
unit-tested (tests/test_capture_policy.py): which rectangles to grab, and when to grab, repeat the
last picture, or wait.

Pacing, with the default 30 fps setting:
- A change is grabbed as soon as the previous frame has left the encoder and the minimum interval
  since the previous grab has passed: 1/60 s after a small change (a caret, a clock, typing), 1/fps
  after a large one (more than a third of the screen: scrolling, video). A 720p frame costs the
  encoder 3-6 ms whatever changed, so 60 full-screen frames a second would saturate the 2 cores
  that the browser shares with us; small changes at 60 Hz cost what the 30 fps timer did.
- Damage that arrives while waiting is merged into the next grab (the X server accumulates it).
- With nothing changing, the last picture is sent again every 500 ms, so the viewer's decoder,
  RTCP and its frames-stopped watchdog (2 s) see a live stream. After a large change the first
  repeats come sooner (100, 200, 400 ms): the encoder refines a picture it had to code coarsely
  under motion, instead of leaving it blurred for seconds.
"""
import math
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

Rect = Tuple[int, int, int, int]  # x, y, width, height

GRAB = 'grab'
REPEAT = 'repeat'
WAIT = 'wait'

MAX_RECTS = 8  # each rectangle is one X round trip; beyond this, grab their bounding box
LARGE_CHANGE = 1 / 3  # share of the screen above which the full-screen frame rate applies


def align_rects(rects: Iterable[Rect], width: int, height: int, max_rects: int = MAX_RECTS) -> List[Rect]:
    """Clip to the screen and widen to even coordinates: I420 has one chroma sample per 2x2 block,
    so a rectangle starting on an odd pixel would leave half a chroma block stale. More than
    `max_rects` rectangles become their bounding box."""
    out = []
    for x, y, w, h in rects:
        if w <= 0 or h <= 0:
            continue
        x0, y0 = max(0, x) & ~1, max(0, y) & ~1
        x1, y1 = min(width, (x + w + 1) & ~1), min(height, (y + h + 1) & ~1)
        if x1 > x0 and y1 > y0:
            out.append((x0, y0, x1 - x0, y1 - y0))
    if len(out) > max_rects:
        x0, y0 = min(r[0] for r in out), min(r[1] for r in out)
        x1, y1 = max(r[0] + r[2] for r in out), max(r[1] + r[3] for r in out)
        out = [(x0, y0, x1 - x0, y1 - y0)]
    return out


def covered_fraction(rects: Iterable[Rect], width: int, height: int) -> float:
    """Share of the screen the rectangles cover (XFixes regions do not overlap; clipped to 1)."""
    return min(1.0, sum(w * h for _, _, w, h in rects) / float(max(1, width * height)))


@dataclass(frozen=True)
class Pacing:
    fast_interval: float  # s between grabs after a small change
    full_interval: float  # s between grabs after a large change
    settle_first: float  # s from a change to its first repeat; doubles with each repeat
    idle_interval: float  # s: the longest gap between two frames on a still screen
    busy_timeout: float  # s: an encoder silent this long is not waited for any more

    @classmethod
    def for_fps(cls, fps: int) -> 'Pacing':
        return cls(fast_interval=1.0 / min(60, 2 * fps), full_interval=1.0 / fps, settle_first=0.1,
                   idle_interval=0.5, busy_timeout=0.25)


class Scheduler:
    """When the capture thread grabs, repeats or waits. Times are time.monotonic() seconds."""

    def __init__(self, pacing: Pacing):
        self.pacing = pacing
        self.reset()

    def reset(self) -> None:
        self._last_grab = -math.inf
        self._large = False
        self._last_push = -math.inf
        self._repeats = 0

    def grabbed(self, now: float, fraction: float) -> None:
        self._last_grab = self._last_push = now
        self._large = fraction > LARGE_CHANGE
        self._repeats = 0

    def repeated(self, now: float) -> None:
        self._last_push = now
        self._repeats += 1

    def next_grab_at(self) -> float:
        p = self.pacing
        return self._last_grab + (p.full_interval if self._large else p.fast_interval)

    def next_repeat_at(self) -> float:
        p = self.pacing
        if not self._large:
            return self._last_push + p.idle_interval
        return self._last_push + min(p.idle_interval, p.settle_first * (2 ** self._repeats))

    def decide(self, now: float, damaged: bool, in_flight: bool) -> Tuple[str, Optional[float]]:
        """(GRAB | REPEAT, None) to act now, or (WAIT, seconds): wake up then, or earlier on new
        damage or when the encoder returns the frame in flight."""
        if in_flight and now - self._last_push < self.pacing.busy_timeout:
            # Grabbing now would only queue the frame behind the one being encoded; grabbing when
            # the encoder is free sends newer pixels at the same moment.
            return WAIT, self._last_push + self.pacing.busy_timeout - now
        due = self.next_grab_at() if damaged else self.next_repeat_at()
        if now >= due:
            return (GRAB if damaged else REPEAT), None
        return WAIT, due - now
