import unittest
import warnings

import gi

gi.require_version('Gst', '1.0')
from gi.repository import GObject, Gst  # noqa: E402

from vmlive_helper.twcc import BASE_WINDOW_S, QueueDelay, report_packets, watch_reports  # noqa: E402

Gst.init(None)
MS = 1_000_000


def report(packets) -> Gst.Structure:
    """An RTPTWCCPackets structure as rtpsession pushes it upstream: a GValueArray (deprecated in
    GLib, and what rtptwcc.c uses) of one structure per packet, with local-ts, remote-ts
    (GST_CLOCK_TIME_NONE when lost) and lost."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return _report(packets)


def _report(packets) -> Gst.Structure:
    array = GObject.ValueArray.new(0)
    for seq, (local, remote) in enumerate(packets):
        packet = Gst.Structure.new_empty('RTPTWCCPacket')
        packet.set_value('seqnum', GObject.Value(GObject.TYPE_UINT, seq))
        packet.set_value('local-ts', GObject.Value(GObject.TYPE_UINT64, local))
        packet.set_value('remote-ts', GObject.Value(GObject.TYPE_UINT64,
                                                    Gst.CLOCK_TIME_NONE if remote is None else remote))
        packet.set_value('lost', GObject.Value(GObject.TYPE_BOOLEAN, remote is None))
        array.append(GObject.Value(Gst.Structure, packet))
    structure = Gst.Structure.new_empty('RTPTWCCPackets')
    structure.set_value('packets', GObject.Value(GObject.ValueArray, array))
    return structure


def path(meter, start_ms, count, queue_ms=lambda i: 0.0, offset_ms=5_000.0, every_ms=10.0, now=100.0):
    """`count` packets every `every_ms`, each delayed by the path's 20 ms plus `queue_ms(i)`, on
    a receiver clock `offset_ms` away from ours."""
    packets = []
    for i in range(count):
        sent = start_ms + i * every_ms
        packets.append((int(sent * MS), int((sent + offset_ms + 20 + queue_ms(i)) * MS)))
    meter.on_report(packets, now)
    return start_ms + count * every_ms


class QueueDelayTest(unittest.TestCase):
    def test_an_empty_path_reads_no_queue_whatever_the_clocks_offset(self):
        meter = QueueDelay()
        self.assertIsNone(meter.delay_ms())
        path(meter, 1_000, 50)
        self.assertAlmostEqual(meter.delay_ms(), 0.0)

    def test_a_filling_queue_reads_as_its_level_above_the_empty_path(self):
        meter = QueueDelay()
        t = path(meter, 1_000, 50)
        path(meter, t, 50, queue_ms=lambda i: min(i * 4.0, 100.0))  # a tbf queue filling to 100 ms
        self.assertAlmostEqual(meter.delay_ms(), 100.0)

    def test_one_late_packet_is_not_a_queue(self):
        meter = QueueDelay()
        t = path(meter, 1_000, 50)
        path(meter, t, 25, queue_ms=lambda i: 30.0 if i == 12 else 0.0)  # jitter moves single packets
        self.assertAlmostEqual(meter.delay_ms(), 0.0)

    def test_lost_packets_are_counted_and_say_nothing_about_delay(self):
        meter = QueueDelay()
        meter.on_report([(1_000 * MS, 6_020 * MS), (1_010 * MS, None), (1_020 * MS, 6_050 * MS),
                         (1_030 * MS, 6_060 * MS)], 100.0)
        self.assertEqual((meter.packets_reported, meter.packets_lost), (4, 1))
        self.assertAlmostEqual(meter.delay_ms(), 10.0)  # the median of 0, 10 and 10 ms above the floor

    def test_the_floor_forgets_a_path_that_got_longer(self):
        # A route change adds 40 ms for good: after BASE_WINDOW_S that is the empty path again.
        meter = QueueDelay()
        t = path(meter, 1_000, 10)
        t = path(meter, t, 20, queue_ms=lambda i: 40.0)
        self.assertAlmostEqual(meter.delay_ms(), 40.0)
        path(meter, t + BASE_WINDOW_S * 1000, 20, queue_ms=lambda i: 40.0)
        self.assertAlmostEqual(meter.delay_ms(), 0.0)

    def test_the_time_of_the_last_report_is_kept(self):
        meter = QueueDelay()
        self.assertEqual(meter.last_report_at(), float('-inf'))
        path(meter, 1_000, 5, now=42.0)
        self.assertEqual(meter.last_report_at(), 42.0)


class ReportTest(unittest.TestCase):
    def test_reads_send_and_arrival_times_and_losses(self):
        self.assertEqual(report_packets(report([(1, 5), (2, None)])), [(1, 5), (2, None)])

    def test_packets_without_a_send_time_are_left_out(self):
        self.assertEqual(report_packets(report([(Gst.CLOCK_TIME_NONE, 5), (2, 6)])), [(2, 6)])

    def test_the_probe_reads_reports_and_stops_them_there(self):
        # upstream: src (where webrtcbin would push the report) <- sink pad of an identity
        pipeline = Gst.Pipeline.new(None)
        identity = Gst.ElementFactory.make('identity', None)
        pipeline.add(identity)
        src_pad = identity.get_static_pad('src')
        for pad in identity.pads:
            pad.set_active(True)
        seen = []
        identity.get_static_pad('sink').add_probe(
            Gst.PadProbeType.EVENT_UPSTREAM, lambda _pad, info: seen.append(info.get_event().type) or
            Gst.PadProbeReturn.OK)
        meter = QueueDelay()
        watch_reports(src_pad, meter)
        src_pad.send_event(Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, report([(1 * MS, 9 * MS)])))
        other = Gst.Structure.new_empty('GstForceKeyUnit')
        src_pad.send_event(Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, other))
        self.assertEqual(meter.reports, 1)
        self.assertEqual(meter.delay_ms(), 0.0)
        self.assertEqual(seen, [Gst.EventType.CUSTOM_UPSTREAM])  # only the other event went on


if __name__ == '__main__':
    unittest.main()
