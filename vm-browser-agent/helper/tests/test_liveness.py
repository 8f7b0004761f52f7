"""A connected viewer is reported once it sent nothing for the limit, never because the helper
itself stalled, and never before it connected (liveness.py)."""
import unittest

from vmlive_helper.liveness import STALL_S, TICK_S, Silence, SilenceWatch


def ticks(watch, peers, start, end):
    """Run the watch every TICK_S from start to end; return [(time, peerId, silent)]."""
    out, t = [], start
    while t <= end + 1e-9:
        out += [(round(t, 3), p, round(s, 3)) for p, s in watch.check(peers, t)]
        t += TICK_S
    return out


class SilenceWatchTest(unittest.TestCase):
    def test_a_viewer_silent_for_the_limit_is_reported_once_within_a_tick(self):
        a = Silence()
        a.start(100.0)
        a.last_packet = 101.2
        watch = SilenceWatch(5.0)
        reports = ticks(watch, [('a', a)], 100.0, 120.0)
        self.assertEqual(len(reports), 1)
        at, peer, silent = reports[0]
        self.assertEqual(peer, 'a')
        self.assertGreaterEqual(silent, 5.0)
        self.assertLess(at - 101.2, 5.0 + TICK_S + 1e-9)
        self.assertTrue(a.reported)

    def test_a_viewer_that_keeps_sending_is_never_reported(self):
        a = Silence()
        a.start(0.0)
        watch = SilenceWatch(5.0)
        t = 0.0
        while t < 60.0:
            a.last_packet = t - 2.2  # the longest gap measured between a live viewer's packets
            self.assertEqual(watch.check([('a', a)], t), [])
            t += TICK_S

    def test_silence_counts_from_connect_when_nothing_ever_arrived(self):
        a = Silence()
        watch = SilenceWatch(5.0)
        self.assertEqual(ticks(watch, [('a', a)], 0.0, 30.0), [])  # not connected: not watched
        a.start(30.0)
        reports = ticks(watch, [('a', a)], 30.5, 40.0)
        self.assertEqual([r[0] for r in reports], [35.0])

    def test_an_ice_restart_gives_a_viewer_whose_path_died_a_whole_window_again(self):
        a = Silence()
        a.start(0.0)
        a.last_packet = 10.0  # its path died here
        watch = SilenceWatch(5.0)
        self.assertEqual(ticks(watch, [('a', a)], 10.0, 13.5), [])
        a.restart(13.5)  # its restart offer came through the controller
        reports = ticks(watch, [('a', a)], 14.0, 30.0)
        self.assertEqual([r[0] for r in reports], [18.5])

    def test_a_restart_before_connect_does_not_start_the_watch(self):
        a = Silence()
        a.restart(5.0)
        self.assertIsNone(a.watch_since)

    def test_a_helper_stall_is_not_taken_for_the_viewer_going_quiet(self):
        a = Silence()
        a.start(0.0)
        a.last_packet = 10.0
        watch = SilenceWatch(5.0)
        self.assertEqual(watch.check([('a', a)], 10.5), [])
        # The helper did not run for 8 s (its packet threads neither): the first tick after the
        # stall judges nothing; the packets queued meanwhile are stamped before the next one.
        self.assertGreater(18.5 - 10.5, STALL_S)
        self.assertEqual(watch.check([('a', a)], 18.5), [])
        a.last_packet = 18.6
        self.assertEqual(watch.check([('a', a)], 19.0), [])
        # A viewer really gone during the stall is reported on the tick after it.
        b = Silence()
        b.start(0.0)
        b.last_packet = 10.0
        watch = SilenceWatch(5.0)
        watch.check([('b', b)], 10.5)
        self.assertEqual(watch.check([('b', b)], 18.5), [])
        self.assertEqual([p for p, _ in watch.check([('b', b)], 19.0)], ['b'])


if __name__ == '__main__':
    unittest.main()
