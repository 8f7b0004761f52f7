"""Writes RTP header extensions (RFC 8285 one-byte form) into every packet a payloader pushes.

GStreamer 1.22 has no element for the two we send, a Python GstRTPHeaderExtension cannot write
its output (the data argument is a copy), and a Python buffer probe cannot make a buffer writable
(the wrapper holds a second reference). So the probe is a ctypes callback working on raw
pointers: about 6 us per packet measured here.

- playout-delay (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay): the same bytes in
  every packet (playout_delay.encode_delay).
- abs-capture-time (http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time): the wall-clock
  time the frame was captured, 64-bit UQ32.32 NTP, on the first packet of each frame (the
  receiver carries it over the frame's other packets by RTP timestamp). The optional estimated
  capture clock offset is left out: we are the capturer, so it would be 0 (the extension's
  definition: "the offset between the capturer's clock and the sender's clock").
  The capture time is when the screen changed: with damage capture, the first XDamage
  notification the frame's grab carries (capture_policy.GrabLog.change_time); otherwise (a
  repeat of a still screen, the timer capture) the buffer's PTS, the grab. Both are times of the
  pipeline clock, the system monotonic clock (GstSystemClock, GST_CLOCK_TYPE_MONOTONIC), mapped
  to wall-clock time at each frame.
"""
import ctypes
import time
from typing import Callable, Dict, List, Optional, Tuple

from .gobject_pointer import gobject_pointer

VP = ctypes.c_void_p
_PROBE_TYPE_BUFFER = 1 << 4
_PROBE_TYPE_BUFFER_LIST = 1 << 5
_PROBE_OK = 1
_MAP_READWRITE = 1 | 2

_gst = ctypes.CDLL('libgstreamer-1.0.so.0')
_rtp = ctypes.CDLL('libgstrtp-1.0.so.0')
_gst.gst_mini_object_make_writable.restype = VP
_gst.gst_mini_object_make_writable.argtypes = [VP]
_gst.gst_buffer_list_length.restype = ctypes.c_uint
_gst.gst_buffer_list_length.argtypes = [VP]
_gst.gst_buffer_list_get_writable.restype = VP
_gst.gst_buffer_list_get_writable.argtypes = [VP, ctypes.c_uint]
_rtp.gst_rtp_buffer_map.argtypes = [VP, ctypes.c_int, VP]
_rtp.gst_rtp_buffer_map.restype = ctypes.c_int
_rtp.gst_rtp_buffer_unmap.argtypes = [VP]
_rtp.gst_rtp_buffer_add_extension_onebyte_header.argtypes = [VP, ctypes.c_ubyte, VP, ctypes.c_uint]
_rtp.gst_rtp_buffer_add_extension_onebyte_header.restype = ctypes.c_int
_PROBE_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, VP, VP, VP)
_gst.gst_pad_add_probe.argtypes = [VP, ctypes.c_int, _PROBE_FUNC, VP, VP]
_gst.gst_pad_add_probe.restype = ctypes.c_ulong
_gst.gst_pad_remove_probe.argtypes = [VP, ctypes.c_ulong]


class _ProbeInfo(ctypes.Structure):
    # GstPadProbeInfo: GstPadProbeType type; gulong id; gpointer data; ...
    _fields_ = [('type', ctypes.c_int), ('id', ctypes.c_ulong), ('data', VP)]


_rtp.gst_rtp_buffer_get_timestamp.argtypes = [VP]
_rtp.gst_rtp_buffer_get_timestamp.restype = ctypes.c_uint32
_NTP_UNIX_OFFSET_S = 2208988800  # 1900-01-01 to 1970-01-01 (RFC 5905 section 6)
_CLOCK_TIME_NONE = 0xFFFFFFFFFFFFFFFF
# GstBuffer (gstbuffer.h, a public struct, stable across 1.x): GstMiniObject (64 bytes on LP64),
# then GstBufferPool *pool, then GstClockTime pts.
_PTS_OFFSET = 64 + ctypes.sizeof(VP)


def ntp_uq32_32(unix_ns: int) -> bytes:
    """Wall-clock nanoseconds since 1970 as 8 bytes of NTP time: 32 bits of seconds since 1900,
    32 of fraction (RFC 5905 section 6, the abs-capture-time timestamp)."""
    seconds, frac_ns = divmod(unix_ns, 1_000_000_000)
    value = ((seconds + _NTP_UNIX_OFFSET_S) << 32) | ((frac_ns << 32) // 1_000_000_000)
    return (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, 'big')


def wall_ns(monotonic_ns: int) -> int:
    """A monotonic time as wall-clock time, with the offset read now (NTP may slew the wall clock)."""
    return monotonic_ns + (time.time_ns() - time.clock_gettime_ns(time.CLOCK_MONOTONIC))


class HeaderExtensionWriter:
    """Adds `constant` extensions ((id, bytes) each) to every RTP packet leaving `pad` (a
    payloader's src pad), and abs-capture-time as `capture_time_id` when given, until removed."""

    def __init__(self, pad, constant: List[Tuple[int, bytes]], capture_time_id: Optional[int],
                 base_time: Callable[[], int],
                 change_time: Optional[Callable[[int], Optional[int]]] = None,
                 on_frame: Optional[Callable[[int], None]] = None):
        for ext_id, _data in constant + ([(capture_time_id, b'')] if capture_time_id is not None else []):
            if not 1 <= ext_id <= 14:
                raise ValueError('one-byte header extension ids are 1..14')
        self._pad = pad  # keep the GObject alive while the probe is installed
        self._pad_ptr = gobject_pointer(pad)
        self._constant = [(ext_id, ctypes.create_string_buffer(data, len(data)), len(data))
                          for ext_id, data in constant]
        self._capture_time_id = capture_time_id
        # The base time of the element that stamped the PTS (read per frame: the capture bin is
        # locked-state, and its base time is set again each time capture restarts).
        self._base_time = base_time
        self._change_time = change_time
        self._on_frame = on_frame  # each frame's capture -> now (payloaded), ns
        self._capture_time = ctypes.create_string_buffer(8)
        self._last_rtp_timestamp: Optional[int] = None
        # GstRTPBuffer is ~500 bytes on 64-bit; streaming happens on one thread per pad.
        self._rtp = ctypes.create_string_buffer(1024)
        self.packets = 0
        self.capture_times = 0
        self.damage_times = 0  # capture times that are the screen's change, not the grab
        self.failures = 0
        self._callback = _PROBE_FUNC(self._probe)  # must outlive the probe
        self._probe_id = _gst.gst_pad_add_probe(
            self._pad_ptr, _PROBE_TYPE_BUFFER | _PROBE_TYPE_BUFFER_LIST, self._callback, None, None)

    def _write(self, buffer: int) -> None:
        if not (buffer and _rtp.gst_rtp_buffer_map(buffer, _MAP_READWRITE, self._rtp)):
            self.failures += 1
            return
        ok = True
        for ext_id, data, size in self._constant:
            ok = bool(_rtp.gst_rtp_buffer_add_extension_onebyte_header(self._rtp, ext_id, data, size)) and ok
        if self._capture_time_id is not None:
            rtp_timestamp = _rtp.gst_rtp_buffer_get_timestamp(self._rtp)
            pts = ctypes.c_uint64.from_address(buffer + _PTS_OFFSET).value
            if rtp_timestamp != self._last_rtp_timestamp and pts != _CLOCK_TIME_NONE:
                self._last_rtp_timestamp = rtp_timestamp
                grabbed = self._base_time() + pts  # the pipeline clock's time of the PTS
                changed = self._change_time(grabbed) if self._change_time is not None else None
                if changed is not None:
                    self.damage_times += 1
                now = time.monotonic_ns()
                # Never a capture in the future: a base time that moved would say so, and the
                # viewer's meter would drop it anyway.
                captured = min(changed or grabbed, now)
                ctypes.memmove(self._capture_time, ntp_uq32_32(wall_ns(captured)), 8)
                if self._on_frame is not None:
                    self._on_frame(now - captured)
                if _rtp.gst_rtp_buffer_add_extension_onebyte_header(self._rtp, self._capture_time_id,
                                                                    self._capture_time, 8):
                    self.capture_times += 1
                else:
                    ok = False
        _rtp.gst_rtp_buffer_unmap(self._rtp)
        if ok:
            self.packets += 1
        else:
            self.failures += 1

    def _probe(self, _pad: int, info_ptr: int, _user_data: int) -> int:
        try:
            info = _ProbeInfo.from_address(info_ptr)
            if info.type & _PROBE_TYPE_BUFFER:
                buffer = _gst.gst_mini_object_make_writable(info.data)
                info.data = buffer
                self._write(buffer)
            elif info.type & _PROBE_TYPE_BUFFER_LIST:
                blist = _gst.gst_mini_object_make_writable(info.data)
                info.data = blist
                for i in range(_gst.gst_buffer_list_length(blist)):
                    self._write(_gst.gst_buffer_list_get_writable(blist, i))
        except Exception:  # noqa: BLE001 - never raise into a C streaming thread
            self.failures += 1
        return _PROBE_OK

    def remove(self) -> None:
        if self._probe_id:
            _gst.gst_pad_remove_probe(self._pad_ptr, self._probe_id)
            self._probe_id = 0

    def stats(self) -> Dict[str, int]:
        return {'packets': self.packets, 'captureTimes': self.capture_times, 'damageTimes': self.damage_times,
                'failures': self.failures}
