"""The damage capture's pictures with the real libyuv and GStreamer (no X server needed)."""
import ctypes
import unittest

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import Gst  # noqa: E402

Gst.init(None)

from vmlive_helper.capture_damage import I420Picture, PicturePool  # noqa: E402

_gst = ctypes.CDLL('libgstreamer-1.0.so.0')
_gst.gst_mini_object_unref.argtypes = [ctypes.c_void_p]
_gst.gst_buffer_get_size.argtypes = [ctypes.c_void_p]
_gst.gst_buffer_get_size.restype = ctypes.c_size_t
_gst.gst_buffer_extract.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]


def bgrx(width: int, height: int, value: int) -> ctypes.Array:
    return ctypes.create_string_buffer(bytes([value, value, value, 0]) * (width * height))


class I420PictureTest(unittest.TestCase):
    def test_a_rectangle_converts_into_its_place_and_nowhere_else(self):
        picture = I420Picture(64, 32)
        ctypes.memset(picture.data, 16, picture.size)  # black luma, and chroma 16 (a marker)
        white = bgrx(8, 4, 255)
        picture.convert_from(ctypes.addressof(white), 10, 6, 8, 4)
        luma = picture.data.raw[:64 * 32]
        inside = {luma[y * 64 + x] for y in range(6, 10) for x in range(10, 18)}
        outside = {luma[y * 64 + x] for y in range(32) for x in range(64) if not (6 <= y < 10 and 10 <= x < 18)}
        self.assertEqual(inside, {235})  # BT.601 limited range: white is Y=235
        self.assertEqual(outside, {16})
        u_plane = picture.data.raw[picture.planes[1] - ctypes.addressof(picture.data):][:32 * 16]
        self.assertEqual(u_plane[3 * 32 + 5], 128)  # the rectangle's chroma block: neutral grey
        self.assertEqual(u_plane[0], 16)

    def test_layout_is_gstreamers_i420(self):
        picture = I420Picture(1280, 720)
        self.assertEqual(picture.size, 1280 * 720 * 3 // 2)
        self.assertEqual(picture.strides, [1280, 640, 640])


class PicturePoolTest(unittest.TestCase):
    def test_a_picture_gstreamer_holds_is_never_written(self):
        released = []
        pool = PicturePool(64, 32, 2, lambda: released.append(1))
        first = pool.current
        ctypes.memset(first.data, 77, first.size)
        buffer = pool.wrap_current()
        self.assertTrue(pool.held())
        spare = pool.writable()
        self.assertIsNot(spare, first)
        self.assertIs(pool.current, spare)
        self.assertEqual(spare.data.raw, first.data.raw)  # brought up to date by one copy
        self.assertFalse(pool.held())
        second = pool.wrap_current()
        self.assertIsNone(pool.writable())  # both lent out
        _gst.gst_mini_object_unref(buffer)
        self.assertEqual(released, [1])
        self.assertIs(pool.writable(keep_content=False), first)
        _gst.gst_mini_object_unref(second)
        self.assertEqual(len(released), 2)

    def test_the_wrapped_buffer_reads_the_picture_without_a_copy(self):
        pool = PicturePool(16, 16, 1, lambda: None)
        ctypes.memset(pool.current.data, 200, pool.current.size)
        pointer = pool.wrap_current()
        ctypes.memset(pool.current.data, 201, 1)
        self.assertEqual(_gst.gst_buffer_get_size(pointer), 16 * 16 * 3 // 2)
        out = ctypes.create_string_buffer(2)
        _gst.gst_buffer_extract(pointer, 0, out, 2)
        self.assertEqual(out.raw, bytes([201, 200]))  # the picture's memory, not a snapshot of it
        _gst.gst_mini_object_unref(pointer)
        self.assertFalse(pool.held())


if __name__ == '__main__':
    unittest.main()
