"""The decisions of damage capture (capture_damage.py), kept free of X and GStreamer so they are
unit-tested (tests/test_capture_policy.py): which rectangles to grab, and when to grab, repeat the
last picture, or wait.

Pacing, with the default 30 fps setting:
- A paint is grabbed when its damage notification arrives, once the previous frame has left the
  encoder: the rate is 60/s after a small change (a caret, a clock, typing), fps after a large one
  (more than a third of the screen: scrolling, video). A 720p frame costs the encoder 3-6 ms
  whatever changed, so 60 full-screen frames a second would saturate the 2 cores that the browser
  shares with us; small changes at 60 Hz cost what the 30 fps timer did.
- The rate is a budget (a token bucket, bursts of 2), not a fixed spacing: Chromium paints every
  ~16.7 ms with a few ms of jitter, and a strict 1/60 s spacing made half of the paints wait for
  the spacing (7 ms on average, measured) instead of being grabbed at once.
- A notification that comes too early (within 60 % of the interval after the last grab: a second
  request of the same paint, or a paint the budget skips) is taken without grabbing, so the next
  paint notifies again; that next paint, or the end of the interval if none comes, is grabbed.
  Under motion this grabs paints as they land instead of one that waited half a frame.
- With nothing changing, the last picture is sent again every 500 ms, so the viewer's decoder,
  RTCP and its frames-stopped watchdog (2 s) see a live stream. After a large change the first
  repeats come sooner (100, 200, 400 ms): the encoder refines a picture it had to code coarsely
  under motion, instead of leaving it blurred for seconds.
"""
import collections
import math
import threading
from dataclasses import dataclass
from typing import Deque, Iterable, List, Optional, Tuple

Rect = Tuple[int, int, int, int]  # x, y, width, height

GRAB = 'grab'
TAKE = 'take'  # take the damage without grabbing: the next paint notifies again
REPEAT = 'repeat'
WAIT = 'wait'

MAX_RECTS = 8  # each rectangle is one X round trip; beyond this, grab their bounding box
LARGE_CHANGE = 1 / 3  # share of the screen above which the full-screen frame rate applies
EARLY = 0.6  # a notification this far into the interval is a new paint worth grabbing at once
BURST = 2.0  # frames the budget lets through back to back
SLACK = 1e-4  # s: a deadline this close counts as reached (select() would return about then anyway)


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
    """When the capture thread grabs, takes, repeats or waits. Times are time.monotonic() seconds."""

    def __init__(self, pacing: Pacing):
        self.pacing = pacing
        self.reset()

    def reset(self) -> None:
        self._last_grab = -math.inf
        self._large = False
        self._last_push = -math.inf
        self._repeats = 0
        self._tokens = BURST
        self._tokens_at = -math.inf

    def _interval(self) -> float:
        return self.pacing.full_interval if self._large else self.pacing.fast_interval

    def tokens(self, now: float) -> float:
        """Frames the budget allows now (refilled at 1/interval, at most BURST)."""
        return min(BURST, self._tokens + (now - self._tokens_at) / self._interval())

    def grabbed(self, now: float, fraction: float) -> None:
        self._tokens = self.tokens(now) - 1
        self._tokens_at = now
        self._last_grab = self._last_push = now
        self._large = fraction > LARGE_CHANGE
        self._repeats = 0

    def repeated(self, now: float) -> None:
        self._last_push = now
        self._repeats += 1

    def next_repeat_at(self) -> float:
        p = self.pacing
        if not self._large:
            return self._last_push + p.idle_interval
        return self._last_push + min(p.idle_interval, p.settle_first * (2 ** self._repeats))

    def decide(self, now: float, pending: bool, notified: bool, in_flight: bool) -> Tuple[str, Optional[float]]:
        """`pending`: damage not grabbed yet; `notified`: a notification came since the last grab
        or take (a new paint). (GRAB | TAKE | REPEAT, None) to act now, or (WAIT, seconds): wake up
        then, or earlier on a notification or when the encoder returns the frame in flight."""
        if in_flight and now - self._last_push < self.pacing.busy_timeout - SLACK:
            # Grabbing now would only queue the frame behind the one being encoded; grabbing when
            # the encoder is free sends newer pixels at the same moment.
            return WAIT, self._last_push + self.pacing.busy_timeout - now
        if not pending:
            due = self.next_repeat_at()
            return (REPEAT, None) if now >= due - SLACK else (WAIT, due - now)
        interval = self._interval()
        tokens = self.tokens(now + SLACK)
        if tokens < 1 - 1e-6:
            return WAIT, (1 - tokens) * interval
        due = self._last_grab + interval
        if now >= due - SLACK or (notified and now >= self._last_grab + EARLY * interval - SLACK):
            return GRAB, None
        if notified:
            return TAKE, None
        return WAIT, due - now


# Two pushes closer than this are one frame: frames are >= 1/60 s apart, and a buffer's PTS is the
# running time appsrc stamped within a few µs of the record's push time.
SAME_PUSH_NS = 2_000_000


class GrabLog:
    """What each recent grab changed, looked up by the time its frame was pushed (monotonic ns,
    which is the pipeline clock's time of the buffer's PTS). The capture thread records; the
    streaming threads read: the abs-capture-time writer (rtp_extensions.py) takes when the screen
    changed, the VP8 active map (vp8_active_map.py) which rectangles did."""

    def __init__(self, keep: int = 64):
        # (grab number, push time, first damage notification it carries or None, rectangles)
        self._records: Deque[Tuple[int, int, Optional[int], List[Rect]]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self._count = 0
        self._handed_out = 0  # the last grab number since() returned

    def record(self, pushed_ns: int, changed_ns: Optional[int], rects: List[Rect]) -> None:
        with self._lock:
            self._count += 1
            self._records.append((self._count, pushed_ns, changed_ns, rects))

    def change_time(self, pushed_ns: int) -> Optional[int]:
        """When the screen changed for the frame pushed at `pushed_ns`, or None for a repeat or a
        frame not on record (any thread)."""
        with self._lock:
            for _n, pushed, changed, _rects in reversed(self._records):
                if abs(pushed - pushed_ns) < SAME_PUSH_NS:
                    return changed
                if pushed < pushed_ns - SAME_PUSH_NS:
                    return None
        return None

    def since(self, pushed_ns: int) -> Optional[List[Rect]]:
        """The rectangles of every grab since the previous call, up to the frame pushed at
        `pushed_ns`: a grab dropped before the encoder left its change in the next picture, so it
        belongs to that frame's damage. None when the frame is no grab (a repeat) or a grab in
        between is no longer on record. One caller (the encoder's thread), frames in order."""
        with self._lock:
            records = [r for r in self._records if r[0] > self._handed_out and r[1] < pushed_ns + SAME_PUSH_NS]
            if not records or abs(records[-1][1] - pushed_ns) >= SAME_PUSH_NS:
                return None
            complete = records[0][0] == self._handed_out + 1
            self._handed_out = records[-1][0]
        return [rect for r in records for rect in r[3]] if complete else None
