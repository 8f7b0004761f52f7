import time
import unittest

from vmlive_helper.link_adapt import LossMeter, nacked_seqs


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
        meter.on_packets(100)
        meter.on_nack(bytes([0, 1, 0, 0]))
        meter.on_nack(bytes([0, 1, 0, 0b1]))
        loss, sent = meter.loss(t0 + 0.5)
        self.assertEqual(sent, 100)
        self.assertAlmostEqual(loss, 0.02)


if __name__ == '__main__':
    unittest.main()
