"""Damage-driven capture (VMLIVE_CAPTURE=damage): grab the screen when it changes, not on a clock.

    X server --DamageNotify--> capture thread: wait for the pacing (capture_policy.py) and for the
    encoder to be free -> XDamageSubtract (what changed) -> XShmGetImage of each changed rectangle
    -> libyuv ARGBToI420 of just those rectangles into the current I420 picture -> wrapped (not
    copied) into a GstBuffer -> appsrc (do-timestamp: the pipeline's running time at push) -> the
    encoder.

A still screen produces no grab at all; the last picture is repeated at a low rate (see
capture_policy.py). Grab and conversion of a 1280x720 screen take ~0.2 ms each here (videoconvert
took 2.4 ms with two threads), a 1185x177 change ~0.05 ms.

The picture is handed to GStreamer without a copy (a 1.4 MB copy per frame was a tenth of the
helper's CPU at 55 fps): a picture GStreamer still holds is never written; the next change goes
into a free one of the pool, brought up to date with one copy. Normally the encoder has released
the picture before the next grab, because the capture thread waits for that anyway.

Threads: the capture thread owns the X connection and the pictures. The main thread calls
start/stop/request_frame/close, GStreamer's threads release pictures; they only set flags (under
a lock for the hold counts) and write a byte into the wake pipe. appsrc's push is thread-safe.
A failure is posted as an error message from appsrc, which the main loop handles like any capture
error (exit 1).
"""
import collections
import ctypes
import os
import select
import threading
import time
from typing import Deque, List, Optional, Tuple

from gi.repository import GLib, Gst, GstVideo

from .capture_policy import GRAB, REPEAT, TAKE, GrabLog, Pacing, Scheduler, align_rects, covered_fraction
from .config import Config
from .gobject_pointer import gobject_pointer
from .log import get_logger
from .x11_shm import DamageConnection, Rect, XError

log = get_logger('capture')

VP = ctypes.c_void_p
_yuv = ctypes.CDLL('libyuv.so.0')
_yuv.ARGBToI420.argtypes = [VP, ctypes.c_int, VP, ctypes.c_int, VP, ctypes.c_int, VP, ctypes.c_int,
                            ctypes.c_int, ctypes.c_int]
_yuv.ARGBToI420.restype = ctypes.c_int
_yuv.I420Scale.argtypes = [VP, ctypes.c_int, VP, ctypes.c_int, VP, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                           VP, ctypes.c_int, VP, ctypes.c_int, VP, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                           ctypes.c_int]
_yuv.I420Scale.restype = ctypes.c_int
_FILTER_BOX = 3
_gst = ctypes.CDLL('libgstreamer-1.0.so.0')
_DESTROY_NOTIFY = ctypes.CFUNCTYPE(None, VP)
_gst.gst_buffer_new_wrapped_full.argtypes = [ctypes.c_int, VP, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                             VP, _DESTROY_NOTIFY]
_gst.gst_buffer_new_wrapped_full.restype = VP
_MEMORY_READONLY = 1 << 1  # GST_MEMORY_FLAG_READONLY: an element that wants to write copies
_app = ctypes.CDLL('libgstapp-1.0.so.0')
_app.gst_app_src_push_buffer.argtypes = [VP, VP]  # takes the buffer's reference
_app.gst_app_src_push_buffer.restype = ctypes.c_int


class I420Picture:
    """One I420 picture in GStreamer's layout (strides and offsets from GstVideoInfo)."""

    def __init__(self, width: int, height: int):
        info = GstVideo.VideoInfo.new()
        info.set_format(GstVideo.VideoFormat.I420, width, height)
        self.width, self.height, self.size = width, height, info.size
        self.data = ctypes.create_string_buffer(info.size)
        base = ctypes.addressof(self.data)
        self.planes = [base + info.offset[i] for i in range(3)]
        self.strides = [info.stride[i] for i in range(3)]

    def convert_from(self, bgrx: int, x: int, y: int, width: int, height: int) -> None:
        """Converts a packed BGRx rectangle (stride width*4; x, y even) into the picture at (x, y)."""
        (py, pu, pv), (sy, su, sv) = self.planes, self.strides
        _yuv.ARGBToI420(bgrx, width * 4, py + y * sy + x, sy, pu + (y // 2) * su + x // 2, su,
                        pv + (y // 2) * sv + x // 2, sv, width, height)

    def scale_from(self, src: 'I420Picture') -> None:
        (py, pu, pv), (sy, su, sv) = src.planes, src.strides
        (dy, du, dv), (ty, tu, tv) = self.planes, self.strides
        _yuv.I420Scale(py, sy, pu, su, pv, sv, src.width, src.height,
                       dy, ty, du, tu, dv, tv, self.width, self.height, _FILTER_BOX)


class PicturePool:
    """The current picture and spares, lent to GStreamer without copying (see the module doc)."""

    def __init__(self, width: int, height: int, count: int, on_release):
        self.pictures = [I420Picture(width, height) for _ in range(count)]
        self._holds = [0] * count
        self._lock = threading.Lock()
        self._current = 0
        self._on_release = on_release
        self._notify = _DESTROY_NOTIFY(self._released)  # must outlive every wrapped buffer

    @property
    def current(self) -> I420Picture:
        return self.pictures[self._current]

    def held(self) -> bool:
        with self._lock:
            return self._holds[self._current] > 0

    def writable(self, keep_content: bool = True) -> Optional[I420Picture]:
        """The current picture if GStreamer no longer holds it, else a free spare (made current,
        with the current content copied in when `keep_content`); None if all are held."""
        with self._lock:
            if self._holds[self._current] == 0:
                return self.pictures[self._current]
            free = [i for i, holds in enumerate(self._holds) if holds == 0]
        if not free:
            return None
        old, new = self.current, self.pictures[free[0]]
        if keep_content:
            ctypes.memmove(new.data, old.data, new.size)
        self._current = free[0]
        return new

    def wrap_current(self) -> int:
        """A new GstBuffer (pointer, one reference) reading the current picture."""
        index, picture = self._current, self.current
        with self._lock:
            self._holds[index] += 1
        return _gst.gst_buffer_new_wrapped_full(_MEMORY_READONLY, ctypes.addressof(picture.data), picture.size,
                                                0, picture.size, index + 1, self._notify)

    def _released(self, user_data: int) -> None:
        # GStreamer's thread that dropped the last reference (the encoder's, usually).
        with self._lock:
            self._holds[user_data - 1] -= 1
        self._on_release()


def appsrc_description(cfg: Config) -> str:
    # do-timestamp: each buffer gets the running time at push, right after its grab (~0.3 ms).
    # The caps keep the fps setting as the nominal rate: x264 treats a 0/1 rate as variable and
    # then holds every frame until the next one arrives (b_vfr_input adds a frame of delay).
    # Two queued frames at most, the oldest dropped: the capture thread waits for the encoder, so
    # this queue is normally empty.
    return ('appsrc name=capture is-live=true do-timestamp=true format=time block=false max-buffers=2 '
            'leaky-type=downstream min-latency=0 '
            'caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1'
            % (cfg.width, cfg.height, cfg.fps))


FrameTiming = Tuple[float, float, float, float]  # damage seen, grab started, converted, pushed


class DamageCapture:
    """Owns the capture thread that feeds `appsrc` (an element of the capture bin)."""

    def __init__(self, cfg: Config, appsrc: Gst.Element):
        self.conn = DamageConnection(cfg.display)
        screen_w, screen_h = self.conn.width, self.conn.height
        self.pool = PicturePool(cfg.width, cfg.height, 3, self._wake)
        # When the screen is not the encoded size, rectangles go into a screen-sized picture that
        # is scaled as a whole for every frame (a filtered scale of a rectangle would seam).
        same = (screen_w, screen_h) == (cfg.width, cfg.height)
        self._screen = None if same else I420Picture(screen_w, screen_h)
        self._appsrc = appsrc
        self._appsrc_ptr = gobject_pointer(appsrc)
        self._scheduler = Scheduler(Pacing.for_fps(cfg.fps))
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._active = False
        self._closing = False
        self._want_frame = False
        self._restart = False
        self.grabs = 0
        self.repeats = 0
        self.timings: Deque[FrameTiming] = collections.deque(maxlen=256)
        # What each grab changed, for the abs-capture-time writer and the VP8 active map.
        self.grab_log = GrabLog()
        self._thread = threading.Thread(target=self._run, name='damage-capture', daemon=True)
        self._thread.start()
        log.info('damage capture of %dx%d%s', screen_w, screen_h,
                 '' if same else ' scaled to %dx%d' % (cfg.width, cfg.height))

    # ---- called from other threads: flags and a wake-up only ----
    def start(self) -> None:
        self._restart = True
        self._active = True
        self._wake()

    def stop(self) -> None:
        self._active = False
        self._wake()

    def request_frame(self) -> None:
        """A keyframe was asked for: send the current picture now rather than at the next change."""
        self._want_frame = True
        self._wake()

    def close(self) -> None:
        self._closing = True
        self._wake()
        self._thread.join(2.0)
        if not self._thread.is_alive():
            self.conn.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b'.')
        except (BlockingIOError, OSError):
            pass  # a full pipe already wakes the thread; a closed one means we are done

    # ---- the capture thread ----
    def _run(self) -> None:
        try:
            self._loop()
        except Exception as err:  # noqa: BLE001 - reported on the bus: the helper exits 1
            log.exception('damage capture failed')
            if not self._closing:
                GLib.idle_add(self._post_error, str(err))

    def _post_error(self, message: str) -> bool:
        error = GLib.Error.new_literal(Gst.ResourceError.quark(), message, Gst.ResourceError.READ)
        self._appsrc.post_message(Gst.Message.new_error(self._appsrc, error, 'damage capture thread'))
        return False

    def _wait(self, timeout: Optional[float], watch_x: bool) -> None:
        fds = [self._wake_r, self.conn.fd] if watch_x else [self._wake_r]
        select.select(fds, [], [], timeout)
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _loop(self) -> None:
        taken: List[Rect] = []  # damage taken from the server but not grabbed yet
        notified = False  # a notification came since the last grab or take
        damage_seen = 0.0
        first_damage: Optional[int] = None  # the earliest notification not grabbed yet, monotonic ns
        while not self._closing:
            if not self._active:
                self._wait(None, watch_x=False)
                continue
            if self._restart:
                # Capture (re)started: everything is new to the encoder, grab the whole screen.
                self._restart = False
                self._scheduler.reset()
                self.conn.pending_damage()
                self.conn.take_damage()
                taken, notified = [], False
                self._grab([(0, 0, self.conn.width, self.conn.height)], time.monotonic())
                continue
            if self.conn.pending_damage():
                notified = True
                damage_seen = time.monotonic()
                if first_damage is None:
                    first_damage = time.monotonic_ns()
            now = time.monotonic()
            # The last frame is still queued or in the encoder (it releases the picture after
            # encoding).
            in_flight = self.pool.held()
            pending = notified or bool(taken)
            if self._want_frame and not in_flight:
                # A keyframe was asked for: the next input frame becomes it. With damage pending
                # the grab is that frame; otherwise send the current picture now.
                self._want_frame = False
                if not pending:
                    self._push(now, now, now)
                    self._scheduler.repeated(now)
                    continue
            action, delay = self._scheduler.decide(now, pending, notified, in_flight)
            if action == GRAB:
                rects = align_rects(taken + self.conn.take_damage(), self.conn.width, self.conn.height)
                taken, notified = [], False
                if rects:
                    self._grab(rects, damage_seen, first_damage)
                first_damage = None
            elif action == TAKE:
                taken += self.conn.take_damage()
                notified = False
            elif action == REPEAT:
                self._push(now, now, now)
                self._scheduler.repeated(now)
                self.repeats += 1
            else:
                # While a notification is unhandled the server sends no other: no need to watch.
                self._wait(delay, watch_x=not notified)

    def _grab(self, rects: List[Rect], damage_seen: float, changed_ns: Optional[int] = None) -> None:
        started = time.monotonic()
        picture = self.pool.writable(keep_content=self._screen is None)
        while picture is None:  # every picture queued (a stalled encoder): wait for one
            self._wait(0.05, watch_x=False)
            if self._closing or not self._active:
                return
            picture = self.pool.writable(keep_content=self._screen is None)
        screen = self._screen or picture
        for x, y, w, h in rects:
            if not self.conn.grab(x, y, w, h):
                raise XError('XShmGetImage of %dx%d+%d+%d failed (screen resized?)' % (w, h, x, y))
            screen.convert_from(self.conn.pixels, x, y, w, h)
        if screen is not picture:
            picture.scale_from(screen)
        self._scheduler.grabbed(started, covered_fraction(rects, self.conn.width, self.conn.height))
        self.grabs += 1
        self._push(damage_seen, started, time.monotonic(), changed_ns, rects)

    def _push(self, damage_seen: float, started: float, converted: float, changed_ns: Optional[int] = None,
              rects: Optional[List[Rect]] = None) -> None:
        buf = self.pool.wrap_current()
        if not buf:
            raise MemoryError('gst_buffer_new_wrapped_full failed')
        if rects is not None:  # appsrc stamps the buffer (do-timestamp) inside the push below
            self.grab_log.record(time.monotonic_ns(), changed_ns, rects)
        # GST_FLOW_FLUSHING while the capture bin is being stopped: appsrc drops the buffer, which
        # releases the picture.
        _app.gst_app_src_push_buffer(self._appsrc_ptr, buf)
        self.timings.append((damage_seen, started, converted, time.monotonic()))
