"""Writes the playout-delay RTP header extension into every packet a payloader pushes.

http://www.webrtc.org/experiments/rtp-hdrext/playout-delay carries MIN_DELAY and MAX_DELAY,
12 bits each in 10 ms units; min = max = 0 tells the receiver to render frames as soon as they
are decoded (no jitter-buffer target). GStreamer 1.22 has no element for it and a Python
GstRTPHeaderExtension cannot write its output (the data argument is a copy), and a Python
buffer probe cannot make a buffer writable (the wrapper holds a second reference). So the probe
is a ctypes callback working on raw pointers: about 6 us per packet measured here.
"""
import ctypes
from typing import Dict

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
ctypes.pythonapi.PyCapsule_GetPointer.restype = VP
ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _ProbeInfo(ctypes.Structure):
    # GstPadProbeInfo: GstPadProbeType type; gulong id; gpointer data; ...
    _fields_ = [('type', ctypes.c_int), ('id', ctypes.c_ulong), ('data', VP)]


def encode_delay(min_ms: int, max_ms: int) -> bytes:
    """3 bytes: MIN (12 bits) then MAX (12 bits), both in 10 ms units."""
    lo, hi = min(4095, max(0, min_ms // 10)), min(4095, max(0, max_ms // 10))
    return bytes(((lo >> 4) & 0xff, ((lo & 0x0f) << 4) | ((hi >> 8) & 0x0f), hi & 0xff))


def _gobject_pointer(obj) -> int:
    return ctypes.pythonapi.PyCapsule_GetPointer(obj.__gpointer__, None)


class PlayoutDelayWriter:
    """Adds the extension to RTP packets leaving `pad` (a payloader's src pad) until removed."""

    def __init__(self, pad, ext_id: int, min_ms: int = 0, max_ms: int = 0):
        if not 1 <= ext_id <= 14:
            raise ValueError('one-byte header extension ids are 1..14')
        self._pad = pad  # keep the GObject alive while the probe is installed
        self._pad_ptr = _gobject_pointer(pad)
        self._ext_id = ext_id
        self._data = ctypes.create_string_buffer(encode_delay(min_ms, max_ms), 3)
        # GstRTPBuffer is ~500 bytes on 64-bit; streaming happens on one thread per pad.
        self._rtp = ctypes.create_string_buffer(1024)
        self.packets = 0
        self.failures = 0
        self._callback = _PROBE_FUNC(self._probe)  # must outlive the probe
        self._probe_id = _gst.gst_pad_add_probe(
            self._pad_ptr, _PROBE_TYPE_BUFFER | _PROBE_TYPE_BUFFER_LIST, self._callback, None, None)

    def _write(self, buffer: int) -> None:
        if buffer and _rtp.gst_rtp_buffer_map(buffer, _MAP_READWRITE, self._rtp):
            if _rtp.gst_rtp_buffer_add_extension_onebyte_header(self._rtp, self._ext_id, self._data, 3):
                self.packets += 1
            else:
                self.failures += 1
            _rtp.gst_rtp_buffer_unmap(self._rtp)
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
        return {'packets': self.packets, 'failures': self.failures}
