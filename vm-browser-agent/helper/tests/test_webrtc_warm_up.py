"""The start-up negotiation (webrtc_setup.warm_up_webrtc) runs the answering path a viewer's
offer takes, for either codec, and leaves the plugins a viewer's branch needs loaded."""
import unittest

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
from gi.repository import Gst  # noqa: E402

from vmlive_helper.webrtc_setup import warm_up_webrtc  # noqa: E402

Gst.init(None)


class WarmUpTest(unittest.TestCase):
    def test_answers_an_offer_for_each_codec(self):
        for codec in ('vp8', 'h264'):
            with self.subTest(codec=codec):
                warm = warm_up_webrtc(codec)
                self.assertTrue(warm.answered, 'the answerer never set its answer')
                self.assertLess(warm.ms, 3000, 'gathering never completed (timed out)')

    def test_loads_the_branch_plugins(self):
        warm_up_webrtc('h264')
        for plugin in ('rtp', 'debug', 'webrtc', 'nice', 'dtls', 'srtp', 'sctp'):
            found = Gst.Registry.get().find_plugin(plugin)
            with self.subTest(plugin=plugin):
                self.assertIsNotNone(found)
                self.assertTrue(found.is_loaded(), '%s not loaded by the warm-up' % plugin)


if __name__ == '__main__':
    unittest.main()
