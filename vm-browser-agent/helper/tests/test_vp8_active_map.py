"""The VP8 active map (vp8_active_map.py) on a real vp8enc with the helper's settings, decoded by
vp8dec: macroblocks outside the map are skipped (the decoded picture keeps their old content even
where the input changed), those inside are encoded, a frame without known damage and the periodic
refresh encode everything, and a keyframe is whole whatever the map says."""
import unittest

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import Gst, GstVideo  # noqa: E402

from vmlive_helper import vp8_active_map  # noqa: E402
from vmlive_helper.config import parse_settings  # noqa: E402
from vmlive_helper.pipeline import encoder_description  # noqa: E402
from vmlive_helper.vp8_active_map import Vp8ActiveMap, macroblock_map  # noqa: E402

Gst.init(None)

W, H = 320, 192  # 20 x 12 macroblocks
FRAME_NS = Gst.SECOND // 30


class MacroblockMapTest(unittest.TestCase):
    def test_marks_every_macroblock_a_rectangle_touches(self):
        active = macroblock_map([(17, 0, 16, 1)], cols=4, rows=2)
        self.assertEqual(list(active), [0, 1, 1, 0, 0, 0, 0, 0])

    def test_a_rectangle_ending_on_a_macroblock_edge_does_not_mark_the_next(self):
        self.assertEqual(list(macroblock_map([(0, 0, 32, 16)], cols=3, rows=2)), [1, 1, 0, 0, 0, 0])

    def test_clips_to_the_picture(self):
        self.assertEqual(list(macroblock_map([(40, 20, 100, 100)], cols=3, rows=2)), [0, 0, 0, 0, 0, 1])

    def test_scaled_capture_maps_into_encoded_pixels_with_a_margin(self):
        # 2x downscale: capture pixels 64..95 are encoded pixels 32..47, macroblock 2, widened by 1.
        active = macroblock_map([(64, 0, 32, 2)], cols=5, rows=2, scale_x=0.5, scale_y=0.5, margin=1)
        self.assertEqual(list(active), [0, 1, 1, 1, 0, 0, 1, 1, 1, 0])


def picture(value_of):
    """An I420 picture whose luma is value_of(mb_col, mb_row) per macroblock, chroma grey."""
    info = GstVideo.VideoInfo.new()
    info.set_format(GstVideo.VideoFormat.I420, W, H)
    data = bytearray(info.size)
    for y in range(H):
        row = bytes(value_of(x // 16, y // 16) for x in range(W))
        data[info.offset[0] + y * info.stride[0]:info.offset[0] + y * info.stride[0] + W] = row
    data[info.offset[1]:] = b'\x80' * (info.size - info.offset[1])
    return bytes(data), info


def luma_of_macroblock(data, info, col, row):
    """Mean luma of the macroblock's central 8x8 (away from the loop filter's edges)."""
    total = 0
    for y in range(row * 16 + 4, row * 16 + 12):
        start = info.offset[0] + y * info.stride[0] + col * 16 + 4
        total += sum(data[start:start + 8])
    return total / 64.0


class ActiveMapEncodeTest(unittest.TestCase):
    def setUp(self):
        cfg = parse_settings('{"display": ":99", "codec": "vp8", "width": %d, "height": %d}' % (W, H))
        self.pipeline = Gst.parse_launch(
            'appsrc name=src format=time caps=video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 '
            '! %s ! vp8dec ! video/x-raw,format=I420 ! appsink name=sink sync=false max-buffers=100'
            % (W, H, encoder_description(cfg)))
        self.src = self.pipeline.get_by_name('src')
        self.sink = self.pipeline.get_by_name('sink')
        self.encoder = self.pipeline.get_by_name('encoder')
        self.damage = {}  # pts -> rectangles; absent: unknown
        self.map = Vp8ActiveMap(self.encoder, W, H, lambda pts: self.damage.get(pts), lambda: 0)
        self.pipeline.set_state(Gst.State.PLAYING)
        self.frame = 0

    def tearDown(self):
        self.map.remove()
        self.pipeline.set_state(Gst.State.NULL)

    def encode(self, value_of, rects=None, keyframe=False):
        """Pushes one picture with its damage; returns (decoded bytes, info) of what came out."""
        data, info = picture(value_of)
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = self.frame * FRAME_NS
        buf.duration = FRAME_NS
        if rects is not None:
            self.damage[buf.pts] = rects
        if keyframe:
            self.encoder.get_static_pad('sink').send_event(GstVideo.video_event_new_downstream_force_key_unit(
                Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, True, self.frame))
        self.frame += 1
        self.assertEqual(self.src.emit('push-buffer', buf), Gst.FlowReturn.OK)
        sample = self.sink.emit('try-pull-sample', 5 * Gst.SECOND)
        self.assertIsNotNone(sample, 'no decoded frame came out')
        out = sample.get_buffer().extract_dup(0, sample.get_buffer().get_size())
        return out, info

    def test_macroblocks_outside_the_map_keep_their_picture_and_those_inside_change(self):
        vp8_active_map.REFRESH_S = 1e9  # no refresh in this test
        self.addCleanup(setattr, vp8_active_map, 'REFRESH_S', 0.5)
        self.encode(lambda c, r: 60)  # the keyframe: all dark
        for _ in range(3):
            self.encode(lambda c, r: 60, rects=[])
        # Everything turns bright, but only macroblock (2, 1) is said to have changed.
        for _ in range(4):
            out, info = self.encode(lambda c, r: 200, rects=[(32, 16, 16, 16)])
        self.assertGreater(luma_of_macroblock(out, info, 2, 1), 170, 'the changed macroblock was not encoded')
        for col, row in ((0, 0), (10, 5), (19, 11), (3, 1)):
            self.assertLess(luma_of_macroblock(out, info, col, row), 90,
                            'macroblock (%d, %d) outside the map was encoded' % (col, row))
        self.assertEqual(self.map.failures, 0)
        self.assertIsNone(self.map.disabled)
        # A frame whose damage is unknown is encoded in full.
        for _ in range(4):
            out, info = self.encode(lambda c, r: 200)
        self.assertGreater(luma_of_macroblock(out, info, 10, 5), 170)

    def test_the_periodic_refresh_encodes_the_whole_picture(self):
        vp8_active_map.REFRESH_S = 0.0  # every frame is a refresh
        self.addCleanup(setattr, vp8_active_map, 'REFRESH_S', 0.5)
        self.encode(lambda c, r: 60)
        for _ in range(4):
            out, info = self.encode(lambda c, r: 200, rects=[(0, 0, 16, 16)])
        self.assertGreater(luma_of_macroblock(out, info, 10, 5), 170)

    def test_a_keyframe_under_an_empty_map_is_whole(self):
        vp8_active_map.REFRESH_S = 1e9
        self.addCleanup(setattr, vp8_active_map, 'REFRESH_S', 0.5)
        self.encode(lambda c, r: 60)
        self.encode(lambda c, r: 60, rects=[])
        out, info = self.encode(lambda c, r: 40 + 8 * c + 4 * r, rects=[], keyframe=True)
        for col, row in ((0, 0), (10, 5), (19, 11)):
            self.assertAlmostEqual(luma_of_macroblock(out, info, col, row), 40 + 8 * col + 4 * row, delta=12)


if __name__ == '__main__':
    unittest.main()
