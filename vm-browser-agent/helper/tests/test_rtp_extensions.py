import time
import unittest

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtp', '1.0')
from gi.repository import Gst, GstRtp  # noqa: E402

from vmlive_helper.playout_delay import encode_delay  # noqa: E402
from vmlive_helper.rtp_extensions import HeaderExtensionWriter, ntp_uq32_32  # noqa: E402

Gst.init(None)
NTP_UNIX_S = 2208988800


def ntp_to_unix_s(data: bytes) -> float:
    value = int.from_bytes(data, 'big')
    return (value >> 32) - NTP_UNIX_S + (value & 0xFFFFFFFF) / 2 ** 32


class NtpTest(unittest.TestCase):
    def test_unix_time_becomes_ntp_seconds_since_1900_and_a_32_bit_fraction(self):
        self.assertEqual(ntp_uq32_32(0), NTP_UNIX_S.to_bytes(4, 'big') + bytes(4))
        self.assertEqual(ntp_uq32_32(1_500_000_000), (NTP_UNIX_S + 1).to_bytes(4, 'big') + bytes([0x80, 0, 0, 0]))


class WriterTest(unittest.TestCase):
    def test_real_packets_carry_playout_delay_on_each_and_the_capture_time_on_each_frames_first(self):
        pipeline = Gst.parse_launch(
            'videotestsrc num-buffers=5 is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 '
            '! vp8enc deadline=1 ! rtpvp8pay name=pay mtu=200 ! appsink name=out sync=false emit-signals=false')
        pay, sink = pipeline.get_by_name('pay'), pipeline.get_by_name('out')
        # The base time set here rather than by PLAYING, so the writer is in place before the first packet.
        clock = Gst.SystemClock.obtain()
        pipeline.use_clock(clock)
        pipeline.set_start_time(Gst.CLOCK_TIME_NONE)
        pipeline.set_base_time(clock.get_time())
        latencies = []
        writer = HeaderExtensionWriter(pay.get_static_pad('src'), [(5, encode_delay(0, 0))], 13,
                                       pipeline.get_base_time, on_frame=latencies.append)
        started = time.time()
        pipeline.set_state(Gst.State.PLAYING)
        packets = []
        try:
            while True:
                sample = sink.emit('try-pull-sample', 5 * Gst.SECOND)
                if sample is None:
                    break
                ok, rtp = GstRtp.RTPBuffer.map(sample.get_buffer(), Gst.MapFlags.READ)
                self.assertTrue(ok)
                delay = rtp.get_extension_onebyte_header(5, 0)
                capture = rtp.get_extension_onebyte_header(13, 0)
                packets.append((rtp.get_timestamp(), bytes(delay[1]) if delay[0] else None,
                                bytes(capture[1]) if capture[0] else None))
                rtp.unmap()
        finally:
            pipeline.set_state(Gst.State.NULL)
        frames = {}
        for ts, _delay, capture in packets:
            frames.setdefault(ts, []).append(capture)
        self.assertGreaterEqual(len(frames), 5)
        self.assertTrue(all(delay == b'\x00\x00\x00' for _ts, delay, _c in packets))
        for captures in frames.values():
            self.assertIsNotNone(captures[0])  # the first packet of every frame
            self.assertTrue(all(c is None for c in captures[1:]))
            # A wall-clock capture time within this test's run (the PTS mapped through the clock).
            self.assertGreaterEqual(ntp_to_unix_s(captures[0]), started - 0.05)
            self.assertLessEqual(ntp_to_unix_s(captures[0]), time.time())
        self.assertEqual(writer.stats()['failures'], 0)
        # capture -> payloaded, one per frame: never negative, and short on this idle pipeline
        self.assertEqual(len(latencies), len(frames))
        self.assertTrue(all(0 <= ns < 1_000_000_000 for ns in latencies))


if __name__ == '__main__':
    unittest.main()
