"""Tell libvpx which macroblocks changed, so that a still screen with a small change costs a small
encode (VP8 with damage capture only).

Damage capture knows what changed in each frame (capture_damage.py); vp8enc does not, and on a
720p screen where only a clock ticks it still searches every one of the 3,600 macroblocks, 45-60
times a second: that was 59 % of the helper's CPU on the still page, and the helper took 49-53 %
of a core there against 15 % for a tuned x11vnc (scripts/compare.ts, 2026-12-03). libvpx's active
map (VP8E_SET_ACTIVEMAP, vp8cx.h) marks each macroblock active or not; an inactive one is coded
as "skip, zero motion from the last frame" without any search. This is what Chrome Remote
Desktop's encoder does with the desktop capturer's damage region.

- The map of a frame is the union of the rectangles of every grab pushed since the last frame
  this probe saw: appsrc may drop a queued frame, and its changes are then in the next picture
  (the pool keeps each picture up to date), so they must be in its map too.
- A frame with no known rectangles (an idle repeat, a keyframe request's re-send, a grab whose
  record was evicted) is encoded in full: the map is switched off for it.
- Every REFRESH_S at least one frame is encoded in full. A macroblock that was coded coarsely
  under motion (CBR at a high quantizer) is refined only when it is encoded again; with the map
  on, a page where a clock keeps ticking would never get the idle repeat that refines the rest.
- Keyframes code every macroblock whatever the map says (libvpx's intra path does not read it;
  tests/test_vp8_active_map.py checks a keyframe forced under an all-inactive map).

GStreamer's vp8enc has no property for the map, so the probe reaches libvpx's context inside the
element: GstVPXEnc (gstvpxenc.h, 1.22) starts with its GstVideoEncoder parent, then the
vpx_codec_ctx_t `encoder`, then the GMutex `encoder_lock`. The layout is checked, not assumed:
an initialised context points to libvpx's VP8 encoder interface (vpx_codec_vp8_cx()), so anything
else where the context should be switches the map off with a warning, and the encoder runs as
before. The probe runs on the encoder's sink pad, in the
streaming thread that calls handle_frame next, and holds encoder_lock as vp8enc's own calls do.
"""
import ctypes
import math
import time
from typing import Callable, Iterable, List, Optional, Tuple

from gi.repository import GObject, Gst, GstVideo

from .capture_policy import Rect
from .gobject_pointer import gobject_pointer
from .log import get_logger

log = get_logger('active-map')

MB = 16  # VP8 macroblock size in pixels
REFRESH_S = 0.5  # the longest time between two frames encoded in full
VP8E_SET_ACTIVEMAP = 9  # vp8cx.h, enum vp8e_enc_control_id
VP = ctypes.c_void_p


class _CodecContext(ctypes.Structure):
    # vpx_codec.h, struct vpx_codec_ctx
    _fields_ = [('name', ctypes.c_char_p), ('iface', VP), ('err', ctypes.c_int), ('err_detail', ctypes.c_char_p),
                ('init_flags', ctypes.c_long), ('config', VP), ('priv', VP)]


class _ActiveMap(ctypes.Structure):
    # vp8cx.h, vpx_active_map_t
    _fields_ = [('active_map', VP), ('rows', ctypes.c_uint), ('cols', ctypes.c_uint)]


_vpx = ctypes.CDLL('libvpx.so.7')
_vpx.vpx_codec_control_.argtypes = [VP, ctypes.c_int, VP]
_vpx.vpx_codec_control_.restype = ctypes.c_int
_vpx.vpx_codec_vp8_cx.restype = VP
_VP8_ENCODER = _vpx.vpx_codec_vp8_cx()  # the interface every VP8 encoder context points to
_glib = ctypes.CDLL('libglib-2.0.so.0')
_glib.g_mutex_lock.argtypes = [VP]
_glib.g_mutex_unlock.argtypes = [VP]


def macroblock_map(rects: Iterable[Rect], cols: int, rows: int, scale_x: float = 1.0, scale_y: float = 1.0,
                   margin: int = 0) -> bytearray:
    """One byte per macroblock, row-major, 1 where a rectangle (in capture pixels, scaled by
    scale_x/scale_y into encoded pixels) touches it, widened by `margin` macroblocks (a filtered
    scale spreads a change into its neighbours)."""
    out = bytearray(cols * rows)
    for x, y, w, h in rects:
        if w <= 0 or h <= 0:
            continue
        c0 = max(0, math.floor(x * scale_x / MB) - margin)
        r0 = max(0, math.floor(y * scale_y / MB) - margin)
        c1 = min(cols, math.ceil((x + w) * scale_x / MB) + margin)
        r1 = min(rows, math.ceil((y + h) * scale_y / MB) + margin)
        if c1 <= c0:
            continue
        run = b'\x01' * (c1 - c0)
        for r in range(r0, r1):
            out[r * cols + c0:r * cols + c1] = run
    return out


class Vp8ActiveMap:
    """A probe on `encoder`'s sink pad that sets each frame's active map from `damage_since`.

    damage_since(pushed_ns) returns the rectangles grabbed since its previous call up to the frame
    pushed at `pushed_ns` (monotonic ns), or None when they are not known (see the module doc);
    `base_time` gives the capture bin's base time (PTS + base time = the pipeline clock's time)."""

    def __init__(self, encoder: Gst.Element, width: int, height: int,
                 damage_since: Callable[[int], Optional[List[Rect]]], base_time: Callable[[], int],
                 capture_size: Optional[Tuple[int, int]] = None):
        self._encoder = encoder  # keeps the element alive while the probe is installed
        self._element = gobject_pointer(encoder)
        self._ctx_addr = self._element + GObject.type_query(GstVideo.VideoEncoder.__gtype__).instance_size
        self._mutex_addr = self._ctx_addr + ctypes.sizeof(_CodecContext)
        self.cols, self.rows = -(-width // MB), -(-height // MB)
        cw, ch = capture_size or (width, height)
        self._scale = (width / cw, height / ch)
        self._margin = 0 if (cw, ch) == (width, height) else 1
        self._damage_since = damage_since
        self._base_time = base_time
        self._map = (ctypes.c_ubyte * (self.cols * self.rows))()
        self._on = _ActiveMap(ctypes.addressof(self._map), self.rows, self.cols)
        self._off = _ActiveMap(None, self.rows, self.cols)
        self._last_full = 0.0
        self.disabled: Optional[str] = None
        # counters since the last summary
        self.frames = 0
        self.full_frames = 0
        self.active_mbs = 0
        self.failures = 0
        self._pad = encoder.get_static_pad('sink')
        self._probe_id = self._pad.add_probe(Gst.PadProbeType.BUFFER, self._on_buffer)

    def _ready(self) -> bool:
        """Whether libvpx's context is initialised and where gstvpxenc.h puts it."""
        ctx = _CodecContext.from_address(self._ctx_addr)
        if not ctx.priv:
            return False  # not initialised yet (no caps) or destroyed (READY)
        if ctx.iface != _VP8_ENCODER:
            self.disabled = 'vp8enc is not laid out as gstvpxenc.h 1.22 says'
            log.warning('active map off: %s (no VP8 encoder context where expected)', self.disabled)
            self.remove()
            return False
        return True

    def _set(self, active: Optional[bytearray]) -> bool:
        if active is not None:
            ctypes.memmove(self._map, bytes(active), len(active))
        _glib.g_mutex_lock(self._mutex_addr)
        try:
            err = _vpx.vpx_codec_control_(self._ctx_addr, VP8E_SET_ACTIVEMAP,
                                          ctypes.addressof(self._on if active is not None else self._off))
        finally:
            _glib.g_mutex_unlock(self._mutex_addr)
        return err == 0

    def _on_buffer(self, _pad, info):
        try:
            self._apply(info.get_buffer())
        except Exception:  # noqa: BLE001 - never raise into a streaming thread; the frame is encoded in full
            self.failures += 1
        return Gst.PadProbeReturn.OK

    def _apply(self, buf: Gst.Buffer) -> None:
        if self.disabled or not self._ready():
            return
        rects = None
        if buf.pts != Gst.CLOCK_TIME_NONE:
            rects = self._damage_since(self._base_time() + buf.pts)
        now = time.monotonic()
        self.frames += 1
        if rects is None or now - self._last_full >= REFRESH_S:
            self._last_full = now
            self.full_frames += 1
            self.active_mbs += self.cols * self.rows
            if not self._set(None):
                self.failures += 1
            return
        active = macroblock_map(rects, self.cols, self.rows, *self._scale, margin=self._margin)
        self.active_mbs += sum(active)
        if not self._set(active):
            self.failures += 1

    def summary(self) -> str:
        """What the map did since the last summary (and resets the counters)."""
        share = self.active_mbs / float(max(1, self.frames * self.cols * self.rows))
        text = ('active map off: %s' % self.disabled if self.disabled else
                'active map: %.0f %% of macroblocks encoded, %d of %d frames in full%s'
                % (share * 100, self.full_frames, self.frames,
                   ', %d failures' % self.failures if self.failures else ''))
        self.frames = self.full_frames = self.active_mbs = self.failures = 0
        return text

    def remove(self) -> None:
        if self._probe_id:
            self._pad.remove_probe(self._probe_id)
            self._probe_id = 0
