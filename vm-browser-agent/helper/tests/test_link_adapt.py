import time
import unittest

import gi

gi.require_version('Gst', '1.0')
from gi.repository import Gst  # noqa: E402

from vmlive_helper.link_adapt import (DOWN_DELAY_S, HOLDS_S, PAD_FULL_S, PAD_PROBE_S, PAD_RAMP_S,  # noqa: E402
                                      PROBE_DELAY_MS, LayerSelector, LinkAdapter, LossMeter, SwitchBoundary,
                                      nacked_seqs)
from vmlive_helper.link_adapt import padding_at  # noqa: E402
from vmlive_helper.twcc import QueueDelay  # noqa: E402

Gst.init(None)


def rtp_packet(seq: int) -> Gst.Buffer:
    # version 2, PT 96, the sequence number in bytes 2-3, timestamp and SSRC zero (RFC 3550 5.1)
    return Gst.Buffer.new_wrapped(bytes([0x80, 96, seq >> 8, seq & 0xFF]) + bytes(8))


def retransmission_request(seq: int, ssrc: int) -> Gst.Event:
    # As rtpsession builds it: both fields G_TYPE_UINT.
    text = 'GstRTPRetransmissionRequest, seqnum=(uint)%d, ssrc=(uint)%d' % (seq, ssrc)
    structure = Gst.Structure.from_string(text)[0]
    return Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, structure)


class NackedSeqsTest(unittest.TestCase):
    def test_pid_and_bitmask_name_every_lost_packet(self):
        # PID 100, BLP 0b101: 100, 101 and 103 lost (RFC 4585 6.2.1)
        self.assertEqual(list(nacked_seqs(bytes([0, 100, 0, 0b101]))), [100, 101, 103])

    def test_sequence_numbers_wrap(self):
        self.assertEqual(list(nacked_seqs(bytes([0xFF, 0xFF, 0, 1]))), [0xFFFF, 0])


class LossMeterTest(unittest.TestCase):
    def test_a_packet_nacked_again_counts_once(self):
        meter = LossMeter()
        t0 = time.monotonic()
        meter.loss(t0)
        meter.on_packets(100, 99)
        meter.on_nack(bytes([0, 1, 0, 0]))
        meter.on_nack(bytes([0, 1, 0, 0b1]))
        loss, sent = meter.loss(t0 + 0.5)
        self.assertEqual(sent, 100)
        self.assertAlmostEqual(loss, 0.02)

    def test_nacks_count_against_the_window_their_packets_were_sent_in(self):
        # A relay's queue delivers a second-old burst late: the viewer NACKs 200 packets sent
        # before the window, while 50 were sent in it, 5 of them lost.
        meter = LossMeter()
        t = 100.0
        meter.loss(t)
        meter.on_packets(300, 299)
        t += 1.1
        meter.loss(t)
        meter.on_packets(50, 349)
        for seq in list(range(50, 250)) + list(range(300, 305)):
            meter.on_nack(bytes([seq >> 8, seq & 0xFF, 0, 0]))
        loss, sent = meter.loss(t + 0.5)
        self.assertEqual(sent, 50)
        self.assertAlmostEqual(loss, 0.1)
        # The older packets' share, from when they were sent.
        loss, sent = meter.loss(t + 0.5, span_s=2.0, until_s=1.0)
        self.assertEqual(sent, 300)
        self.assertAlmostEqual(loss, 200 / 300)

    def test_a_nack_ahead_of_what_was_sent_is_not_ours(self):
        meter = LossMeter()
        meter.loss(100.0)
        meter.on_packets(10, 0xFFFE)  # 65525..65534, just before the wrap
        for seq in (0xFFFD, 0xFFFF, 3):
            meter.on_nack(bytes([seq >> 8, seq & 0xFF, 0, 0]))
        loss, sent = meter.loss(100.5)
        self.assertEqual(sent, 10)
        self.assertAlmostEqual(loss, 0.1)


class SwitchBoundaryTest(unittest.TestCase):
    def test_no_switch_yet_means_nothing_is_stale(self):
        self.assertFalse(SwitchBoundary().stale(5))

    def test_the_first_packet_after_a_switch_is_the_boundary(self):
        boundary = SwitchBoundary()
        boundary.on_rtp(rtp_packet(10))  # not armed: no boundary
        self.assertIsNone(boundary.seq)
        boundary.arm()
        boundary.on_rtp(rtp_packet(500))
        boundary.on_rtp(rtp_packet(501))
        self.assertEqual(boundary.seq, 500)
        self.assertTrue(boundary.stale(499))
        self.assertFalse(boundary.stale(500))
        self.assertFalse(boundary.stale(600))

    def test_stale_follows_sequence_number_wrap(self):
        boundary = SwitchBoundary()
        boundary.arm()
        boundary.on_rtp(rtp_packet(3))
        self.assertTrue(boundary.stale(0xFFFE))  # sent just before the wrap, before the switch
        self.assertFalse(boundary.stale(4))

    def test_the_gate_drops_requests_for_packets_before_the_switch_and_passes_the_rest(self):
        # A real element standing in for rtprtxsend: what the gate lets through reaches its sink pad.
        pipeline = Gst.parse_launch('fakesrc is-live=true ! identity name=rtx ! fakesink')
        rtx = pipeline.get_by_name('rtx')
        passed = []

        def seen(_pad, info):
            structure = info.get_event().get_structure()
            if structure is not None and structure.get_name() == 'GstRTPRetransmissionRequest':
                passed.append(structure.get_uint('seqnum')[1])
            return Gst.PadProbeReturn.OK
        rtx.get_static_pad('sink').add_probe(Gst.PadProbeType.EVENT_UPSTREAM, seen)
        boundary = SwitchBoundary()
        boundary.gate(rtx, media_ssrc=1234)
        pipeline.set_state(Gst.State.PLAYING)
        try:
            pipeline.get_state(5 * Gst.SECOND)
            boundary.arm()
            boundary.on_rtp(rtp_packet(100))
            for seq, ssrc in ((99, 1234), (100, 1234), (150, 1234), (50, 9999)):
                rtx.get_static_pad('src').send_event(retransmission_request(seq, ssrc))
        finally:
            pipeline.set_state(Gst.State.NULL)
        # 99 preceded the switch; 50 is another stream's (not ours to judge).
        self.assertEqual(passed, [100, 150, 50])
        self.assertEqual(boundary.dropped, 1)


class LossMeterStaleTest(unittest.TestCase):
    def test_nacks_for_packets_before_the_last_switch_are_not_loss_of_the_new_layer(self):
        boundary = SwitchBoundary()
        boundary.arm()
        boundary.on_rtp(rtp_packet(1000))
        meter = LossMeter(boundary.stale)
        t = time.monotonic()
        meter.loss(t)
        meter.on_packets(100, 1049)
        for seq in (990, 995, 999):  # the old layer's
            meter.on_nack(bytes([seq >> 8, seq & 0xFF, 0, 0]))
        meter.on_nack(bytes([1001 >> 8, 1001 & 0xFF, 0, 0]))  # the new layer's
        loss, sent = meter.loss(t + 0.5)
        self.assertEqual(sent, 100)
        self.assertAlmostEqual(loss, 0.01)


class ReducedLayerRecord:
    """Stands in for layers.ReducedLayer (which needs a running capture): records who joined."""

    def __init__(self):
        self.calls = []

    def join(self, peer_id):
        self.calls.append('join')

    def leave(self, peer_id):
        self.calls.append('leave')

    def request_keyframe(self, reason):
        pass


class AdapterRig(unittest.TestCase):
    """The decisions over a thin link, on a test clock: the selector is real (input-selector over two
    tees), in a pipeline that never plays, so a switch stays pending and `target` says where to."""

    def setUp(self):
        self.pipeline = Gst.Pipeline.new(None)
        full, reduced = Gst.ElementFactory.make('tee', None), Gst.ElementFactory.make('tee', None)
        for tee in (full, reduced):
            self.pipeline.add(tee)
        self.selector = LayerSelector(self.pipeline, full, reduced)
        self.full_keyframes = []
        self.adapter = LinkAdapter('p1', self.selector, ReducedLayerRecord(), self.full_keyframes.append,
                                   lambda _now: 0.0)
        self.seq = 0

    def tearDown(self):
        self.adapter.close()

    def send(self, packets, lost):
        """`packets` sent, the first `lost` of them NACKed (one FCI entry each)."""
        meter = self.adapter.meter
        meter.on_packets(packets, (self.seq + packets - 1) & 0xFFFF)
        for i in range(lost):
            seq = (self.seq + i) & 0xFFFF
            meter.on_nack(bytes([seq >> 8, seq & 0xFF, 0, 0]))
        self.seq += packets

    def overflow(self, t, seconds=1.0):
        """A link thinner than the full layer: a fifth of every tick's packets lost, until the
        viewer is moved down or `seconds` have passed."""
        end = t + seconds
        while t < end - 1e-9 and self.selector.target == 'full':
            t += 0.1
            self.send(30, 6)
            self.adapter.decide(t)
        return t


class LinkAdapterHoldTest(AdapterRig):
    """Without RTX (no padding to probe with) the way up is a switch to the full layer."""

    def test_a_thin_link_goes_down_probes_after_2_s_then_every_4_s(self):
        t = self.overflow(100.0)
        self.assertEqual(self.selector.target, 'reduced')
        probes = []
        for _ in range(3):
            start = t
            while self.selector.target == 'reduced':
                t += 0.1
                self.send(10, 0)  # the reduced layer fits
                self.adapter.decide(t)
            probes.append(round(t - start, 1))
            t += 0.1
            self.adapter.decide(t)  # the probe's first tick: its NACKs are not back yet
            self.send(40, 30)  # its keyframe overflows the link
            t += 0.1
            self.adapter.decide(t)
            self.assertEqual(self.selector.target, 'reduced')
        for probe, hold in zip(probes, (HOLDS_S[0], HOLDS_S[1], HOLDS_S[1])):
            self.assertGreaterEqual(probe, hold)
            self.assertLessEqual(probe, hold + 0.15)  # the next 100 ms tick
        self.assertEqual(len(self.full_keyframes), 3)  # each probe starts with a full-layer keyframe

    def test_random_loss_of_a_few_percent_keeps_the_full_layer(self):
        t = 100.0
        self.adapter.decide(t)
        for _ in range(20):
            t += 0.1
            self.send(30, 1)  # 3 %: what RTX repairs
            self.adapter.decide(t)
        self.assertEqual(self.selector.target, 'full')

    def test_one_burst_lost_keeps_the_full_layer_and_loss_that_goes_on_moves_it_down(self):
        t = 100.0
        self.adapter.decide(t)
        t += 0.1
        self.send(47, 8)  # the joining keyframe, its tail lost once (through a relay still settling)
        self.adapter.decide(t)
        for _ in range(15):
            t += 0.1
            self.send(10, 0)
            self.adapter.decide(t)
            self.assertEqual(self.selector.target, 'full')
        t = self.overflow(t, 0.5)
        self.assertEqual(self.selector.target, 'full')  # half a window of it could be one more burst
        self.overflow(t, 0.6)
        self.assertEqual(self.selector.target, 'reduced')


class PaddingRecord:
    """Stands in for link_adapt.PaddingProbe (which needs a viewer's rtprtxsend): records rates."""

    def __init__(self):
        self.started, self.ramps, self.stops, self.available, self.active = [], [], 0, True, False
        self.stop_when, self.stopped_early = None, False

    def start(self, rate_bps, ramp_s=0.0, stop_when=None, base_bps=0.0):
        self.started.append(rate_bps)
        self.ramps.append(ramp_s)
        self.stop_when = stop_when
        self.stopped_early = False
        self.active = True

    def tick(self):
        """What PaddingProbe does every 20 ms: stop as soon as stop_when says so."""
        if self.active and self.stop_when is not None and self.stop_when():
            self.active, self.stopped_early = False, True

    def stop(self):
        self.stops += 1
        self.active = False

    def release(self):
        self.stop()


class SteadyRates:
    def sample(self, now):
        pass

    def bps(self):
        return 1_000_000.0, 300_000.0


class LinkAdapterPaddedProbeTest(AdapterRig):
    """With RTX on, the way up is a padding probe on the reduced layer: the switch comes only after it held."""

    def setUp(self):
        super().setUp()
        self.adapter.close()
        self.padding = PaddingRecord()
        self.adapter = LinkAdapter('p1', self.selector, ReducedLayerRecord(), self.full_keyframes.append,
                                   lambda _now: 0.0, self.padding, SteadyRates())

    def go_down(self, t):
        t = self.overflow(t)
        self.assertEqual(self.selector.target, 'reduced')
        self.full_keyframes.clear()
        return t

    def hold(self, t, seconds, lost=0):
        end = t + seconds
        while t < end - 1e-9:
            t += 0.1
            self.send(10, lost)
            self.adapter.decide(t)
        return t

    def test_a_padding_probe_the_link_cannot_carry_ends_on_the_reduced_layer_without_a_switch(self):
        t = self.go_down(100.0)
        t = self.hold(t, HOLDS_S[0] + 0.1)
        # Padded to 1.2 x the full layer's 1 Mbit/s, less the reduced layer's 0.3 it already sends.
        self.assertEqual([round(r) for r in self.padding.started], [900_000])
        self.assertTrue(self.padding.active)
        self.assertEqual(self.selector.target, 'reduced')
        t += 0.1
        self.adapter.decide(t)  # the probe's first tick: its NACKs are not back yet
        t += 0.1
        self.send(20, 10)  # the overflowing queue drops media packets too
        self.adapter.decide(t)
        self.assertFalse(self.padding.active)
        self.assertEqual(self.selector.target, 'reduced')
        self.assertEqual(self.full_keyframes, [])  # nothing of the full layer was sent
        self.assertEqual(self.adapter.probes_padded_failed, 1)
        # The next probe waits the longer hold.
        t = self.hold(t, HOLDS_S[1] - 0.2)
        self.assertEqual(len(self.padding.started), 1)
        t = self.hold(t, 0.4)
        self.assertEqual(len(self.padding.started), 2)

    def test_a_padding_probe_that_holds_switches_to_the_full_layer(self):
        t = self.go_down(100.0)
        t = self.hold(t, HOLDS_S[0] + 0.1)
        self.assertTrue(self.padding.active)
        t = self.hold(t, PAD_PROBE_S - 0.2)
        self.assertEqual(self.selector.target, 'reduced')
        t = self.hold(t, 0.3)
        self.assertFalse(self.padding.active)
        self.assertEqual(self.selector.target, 'full')
        self.assertEqual(len(self.full_keyframes), 1)

    def test_a_blackout_ends_a_padding_probe(self):
        t = self.go_down(100.0)
        t = self.hold(t, HOLDS_S[0] + 0.1)
        self.assertTrue(self.padding.active)
        self.adapter._silent_s = lambda _now: 1.0
        self.adapter.decide(t + 0.1)
        self.assertFalse(self.padding.active)
        self.assertEqual(self.selector.target, 'reduced')


if __name__ == '__main__':
    unittest.main()


class QueueDelayRig(AdapterRig):
    """With the viewer's TWCC reports: its queueing delay, fed on the test clock."""

    def setUp(self):
        super().setUp()
        self.adapter.close()
        self.padding = PaddingRecord()
        self.queue = QueueDelay()
        self.now = 0.0
        self.adapter = LinkAdapter('p1', self.selector, ReducedLayerRecord(), self.full_keyframes.append,
                                   lambda _now: 0.0, self.padding, SteadyRates(), self.queue, lambda: self.now)
        self.sent_ms = 0.0

    def report(self, t, queue_ms, packets=10, span_ms=100.0):
        """`packets` sent over `span_ms` and reported at `t`, each `queue_ms` above the empty path's 20 ms."""
        self.now = t
        reports = []
        for _ in range(packets):
            self.sent_ms += span_ms / packets
            reports.append((int(self.sent_ms * 1e6), int((self.sent_ms + 20 + queue_ms) * 1e6)))
        self.queue.on_report(reports, t)

    def down_by_queue(self, t):
        """Half a second of an empty path, then a queue of 100 ms until the viewer is moved down."""
        for _ in range(5):
            t = self.tick(t, 0)
        for _ in range(4):
            t = self.tick(t, 100)
        self.assertEqual(self.selector.target, 'reduced')
        return t

    def tick(self, t, queue_ms, packets=10, lost=0):
        """100 ms more: `packets` sent and reported, each `queue_ms` above the empty path's 20 ms."""
        self.report(t, queue_ms, packets)
        self.send(packets, lost)
        self.adapter.decide(t)
        return t + 0.1


class LinkAdapterQueueDelayTest(QueueDelayRig):
    def test_a_queue_held_over_60_ms_moves_the_viewer_down_before_any_loss(self):
        t = 100.0
        for _ in range(5):
            t = self.tick(t, 0)
        t = self.tick(t, 100)  # the first tick of a full queue
        self.assertEqual(self.selector.target, 'full')
        for _ in range(round(DOWN_DELAY_S / 0.1) + 1):  # by the tick after DOWN_DELAY_S
            t = self.tick(t, 100)
        self.assertEqual(self.selector.target, 'reduced')
        self.assertEqual(self.adapter.meter.loss(t)[0], 0.0)  # no NACK was needed

    def test_a_keyframe_burst_that_queues_for_a_moment_keeps_the_full_layer(self):
        t = 100.0
        for _ in range(5):
            t = self.tick(t, 0)
        t = self.tick(t, 90)
        t = self.tick(t, 90)
        for _ in range(10):
            t = self.tick(t, 0)
        self.assertEqual(self.selector.target, 'full')

    def test_a_probe_ramps_and_ends_when_the_queue_fills_without_any_loss(self):
        t = self.down_by_queue(100.0)
        for _ in range(int(HOLDS_S[0] / 0.1) + 1):
            t = self.tick(t, 0)
        self.assertEqual(self.padding.ramps, [PAD_RAMP_S])
        self.assertTrue(self.padding.active)
        t = self.tick(t, PROBE_DELAY_MS - 5)
        self.padding.tick()
        self.assertTrue(self.padding.active)  # a few ms of queue: the link still carries it
        # The probe stops itself at its next 20 ms tick once the newest reports show the queue
        # over PROBE_DELAY_MS, before the adapter's next decision.
        self.report(t, PROBE_DELAY_MS + 10)
        self.padding.tick()
        self.assertFalse(self.padding.active)
        t = self.tick(t, PROBE_DELAY_MS + 10)
        self.assertEqual(self.selector.target, 'reduced')
        self.assertEqual((self.adapter.probes_padded_failed, self.adapter.probes_delay_failed), (1, 1))

    def test_no_probe_while_the_queue_still_drains(self):
        t = self.down_by_queue(100.0)
        for _ in range(int(HOLDS_S[0] / 0.1) + 5):
            t = self.tick(t, 50)  # still queued: a probe now would only fill it
        self.assertEqual(self.padding.started, [])
        t = self.tick(t, 0)
        self.assertEqual(len(self.padding.started), 1)

    def test_a_probe_whose_queue_stays_low_switches_up(self):
        t = self.down_by_queue(100.0)
        for _ in range(int(HOLDS_S[0] / 0.1) + 1):
            t = self.tick(t, 0)
        self.assertTrue(self.padding.active)
        for _ in range(round((PAD_RAMP_S + PAD_FULL_S) / 0.1) - 1):
            t = self.tick(t, 5)
            self.padding.tick()
        self.assertTrue(self.padding.active)  # with the feedback the probe lasts its ramp and more
        for _ in range(2):
            t = self.tick(t, 5)
        self.assertFalse(self.padding.active)
        self.assertEqual(self.selector.target, 'full')
        self.assertGreater(PAD_RAMP_S + PAD_FULL_S, PAD_PROBE_S)


class PaddingRampTest(unittest.TestCase):
    def test_the_total_rises_geometrically_from_the_base_to_the_probe_rate(self):
        # 0.3 Mbit/s of media padded up to 3 Mbit/s over 1.2 s: x10, so x sqrt(10) half way.
        self.assertAlmostEqual(padding_at(0.0, 2.7e6, 0.3e6, 1.2), 0.0)
        self.assertAlmostEqual(padding_at(0.6, 2.7e6, 0.3e6, 1.2) + 0.3e6, 0.3e6 * 10 ** 0.5)
        self.assertAlmostEqual(padding_at(1.2, 2.7e6, 0.3e6, 1.2), 2.7e6)
        self.assertAlmostEqual(padding_at(5.0, 2.7e6, 0.3e6, 1.2), 2.7e6)
        self.assertAlmostEqual(padding_at(0.3, 2.0e6, 0.0, 1.2), 0.5e6)  # no base: linear
        self.assertAlmostEqual(padding_at(0.3, 2.0e6, 0.3e6, 0.0), 2.0e6)  # no ramp: at once

    def test_the_queue_it_builds_past_the_links_rate_grows_alike_on_thin_and_thicker_links(self):
        # Why geometric: 0.2 s after the total passes the link's rate, the queue (s of it) is
        # about the same on a 0.5 and a 1 Mbit/s link; a linear ramp's is twice as deep on 0.5.
        def queue_after_crossing(capacity_bps, ramp):
            queue_bits, crossed, t, dt = 0.0, None, 0.0, 0.001
            while t < 1.2:
                total = ramp(t) + 0.3e6
                if crossed is None and total > capacity_bps:
                    crossed = t
                if crossed is not None:
                    queue_bits = max(0.0, queue_bits + (total - capacity_bps) * dt)
                    if t - crossed >= 0.2:
                        return queue_bits / capacity_bps
                t += dt
            raise AssertionError('never crossed')
        geometric = [queue_after_crossing(c, lambda t: padding_at(t, 2.7e6, 0.3e6, 1.2)) for c in (0.5e6, 1e6)]
        linear = [queue_after_crossing(c, lambda t: padding_at(t, 2.7e6, 0.0, 1.2)) for c in (0.5e6, 1e6)]
        self.assertLess(abs(geometric[0] - geometric[1]) / geometric[1], 0.15)
        self.assertGreater(linear[0] / linear[1], 1.8)
