"""The reduced layer's encoder (layers.py) on a real GStreamer encode: its keyframes fit the
buffer of the thin link it is for, where the full layer's settings at the same size do not."""
import unittest

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import Gst, GstVideo  # noqa: E402

from vmlive_helper.config import parse_settings  # noqa: E402
from vmlive_helper.layers import reduced_encoder_description, reduced_size  # noqa: E402
from vmlive_helper.pipeline import encoder_description  # noqa: E402

Gst.init(None)

# The netbed's step case (scripts/networks.ts --thin step): 0.5 Mbit/s behind a tbf queue of
# 100 ms (e2e/netbed/link.ts TBF_LATENCY_MS), which holds this many bytes.
THIN_LINK_BUFFER_BYTES = 500_000 // 8 // 10
FRAMES = 41


def keyframe_sizes(encoder: str, pattern: str, width: int, height: int):
    """Bytes of each keyframe when one is forced every 10th frame, as the helper forces one when a
    viewer joins the layer."""
    pipeline = Gst.parse_launch(
        'videotestsrc num-buffers=%d pattern=%s ! video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 '
        '! identity name=before ! %s ! fakesink name=sink signal-handoffs=true'
        % (FRAMES, pattern, width, height, encoder))
    sizes = []
    count = [0]

    def force(pad, _info):
        if count[0] % 10 == 0:
            pad.get_peer().send_event(GstVideo.video_event_new_downstream_force_key_unit(
                Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, True, count[0] // 10))
        count[0] += 1
        return Gst.PadProbeReturn.OK

    def encoded(_sink, buf, _pad):
        if not buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
            sizes.append(buf.get_size())

    pipeline.get_by_name('before').get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, force)
    pipeline.get_by_name('sink').connect('handoff', encoded)
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if message is None or message.type != Gst.MessageType.EOS:
        raise AssertionError('the encode did not finish: %s' % (message.parse_error() if message else 'timeout'))
    return sizes


class ReducedLayerKeyframeTest(unittest.TestCase):
    def check(self, codec: str):
        cfg = parse_settings('{"display": ":99", "codec": "%s"}' % codec)
        width, height = reduced_size(cfg)
        full_settings = encoder_description(cfg, 'encoder_low', width, height, cfg.reduced_bitrate_kbps)
        for pattern in ('pinwheel', 'smpte'):
            with self.subTest(codec=codec, pattern=pattern):
                reduced = keyframe_sizes(reduced_encoder_description(cfg), pattern, width, height)
                self.assertGreaterEqual(len(reduced), 4, 'a keyframe per forced key unit')
                self.assertLessEqual(max(reduced), THIN_LINK_BUFFER_BYTES, 'reduced layer keyframes %s' % reduced)
        uncapped = keyframe_sizes(full_settings, 'pinwheel', width, height)
        self.assertGreater(max(uncapped), THIN_LINK_BUFFER_BYTES,
                           'the same picture without the cap overflows the buffer: %s' % uncapped)

    def test_vp8_keyframes_of_the_reduced_layer_fit_a_thin_links_buffer(self):
        self.check('vp8')

    def test_h264_keyframes_of_the_reduced_layer_fit_a_thin_links_buffer(self):
        self.check('h264')


if __name__ == '__main__':
    unittest.main()
