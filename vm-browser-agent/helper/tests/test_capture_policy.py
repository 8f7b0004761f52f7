import math
import unittest

from vmlive_helper.capture_policy import (GRAB, LARGE_CHANGE, REPEAT, WAIT, Pacing, Scheduler, align_rects,
                                          covered_fraction)

PACING = Pacing.for_fps(30)


class AlignRectsTest(unittest.TestCase):
    def test_odd_edges_widen_to_whole_chroma_blocks(self):
        self.assertEqual(align_rects([(31, 31, 1185, 177)], 1280, 720), [(30, 30, 1186, 178)])
        self.assertEqual(align_rects([(12, 119, 1, 15)], 1280, 720), [(12, 118, 2, 16)])

    def test_rectangles_are_clipped_to_the_screen_and_empty_ones_dropped(self):
        self.assertEqual(align_rects([(-5, -5, 20, 20), (1270, 710, 50, 50)], 1280, 720),
                         [(0, 0, 16, 16), (1270, 710, 10, 10)])
        self.assertEqual(align_rects([(1280, 0, 10, 10), (5, 5, 0, 9)], 1280, 720), [])

    def test_many_rectangles_become_their_bounding_box(self):
        rects = [(i * 100, i * 50, 10, 10) for i in range(9)]
        self.assertEqual(align_rects(rects, 1280, 720), [(0, 0, 810, 410)])
        self.assertEqual(len(align_rects(rects[:8], 1280, 720)), 8)

    def test_covered_fraction_is_the_share_of_the_screen(self):
        self.assertAlmostEqual(covered_fraction([(0, 0, 640, 720)], 1280, 720), 0.5)
        self.assertEqual(covered_fraction([(0, 0, 1280, 720), (0, 0, 10, 10)], 1280, 720), 1.0)
        self.assertEqual(covered_fraction([], 1280, 720), 0.0)


class PacingTest(unittest.TestCase):
    def test_small_changes_go_at_twice_the_fps_up_to_60(self):
        self.assertAlmostEqual(Pacing.for_fps(30).fast_interval, 1 / 60)
        self.assertAlmostEqual(Pacing.for_fps(30).full_interval, 1 / 30)
        self.assertAlmostEqual(Pacing.for_fps(10).fast_interval, 1 / 20)
        self.assertAlmostEqual(Pacing.for_fps(60).fast_interval, 1 / 60)
        self.assertAlmostEqual(Pacing.for_fps(60).full_interval, 1 / 60)

    def test_a_still_screen_gets_a_frame_well_within_the_viewers_2_s_watchdog(self):
        self.assertLessEqual(PACING.idle_interval, 1.0)


class SchedulerTest(unittest.TestCase):
    def setUp(self):
        self.s = Scheduler(PACING)

    def test_the_first_change_is_grabbed_at_once(self):
        self.assertEqual(self.s.decide(100.0, damaged=True, in_flight=False), (GRAB, None))

    def test_changes_closer_than_a_sixtieth_are_coalesced(self):
        self.s.grabbed(100.0, 0.05)
        action, wait = self.s.decide(100.005, damaged=True, in_flight=False)
        self.assertEqual(action, WAIT)
        self.assertAlmostEqual(wait, 1 / 60 - 0.005)
        self.assertEqual(self.s.decide(100.0 + 1 / 60, damaged=True, in_flight=False), (GRAB, None))

    def test_after_a_large_change_the_next_grab_waits_a_full_frame_interval(self):
        self.s.grabbed(100.0, LARGE_CHANGE + 0.01)
        self.assertEqual(self.s.decide(100.02, damaged=True, in_flight=False)[0], WAIT)
        self.assertEqual(self.s.decide(100.0 + 1 / 30, damaged=True, in_flight=False), (GRAB, None))
        self.s.grabbed(100.04, LARGE_CHANGE)  # exactly a third is still small
        self.assertEqual(self.s.decide(100.04 + 1 / 60, damaged=True, in_flight=False), (GRAB, None))

    def test_nothing_is_grabbed_while_the_encoder_holds_the_last_frame(self):
        self.s.grabbed(100.0, 0.05)
        action, wait = self.s.decide(100.1, damaged=True, in_flight=True)
        self.assertEqual(action, WAIT)
        self.assertAlmostEqual(wait, PACING.busy_timeout - 0.1)
        # ...unless it held it for longer than the busy timeout (a lost or stuck frame)
        self.assertEqual(self.s.decide(100.0 + PACING.busy_timeout, damaged=True, in_flight=True), (GRAB, None))

    def test_a_still_screen_repeats_the_picture_every_idle_interval(self):
        self.s.grabbed(100.0, 0.01)
        action, wait = self.s.decide(100.2, damaged=False, in_flight=False)
        self.assertEqual(action, WAIT)
        self.assertAlmostEqual(wait, 0.3)
        self.assertEqual(self.s.decide(100.5, damaged=False, in_flight=False), (REPEAT, None))
        self.s.repeated(100.5)
        self.assertEqual(self.s.decide(100.9, damaged=False, in_flight=False)[0], WAIT)
        self.assertEqual(self.s.decide(101.0, damaged=False, in_flight=False), (REPEAT, None))

    def test_after_a_large_change_the_first_repeats_come_sooner_then_settle(self):
        self.s.grabbed(100.0, 1.0)
        times, now = [], 100.0
        for _ in range(6):
            action, wait = self.s.decide(now, damaged=False, in_flight=False)
            if action == WAIT:
                now += wait
            self.assertEqual(self.s.decide(now, damaged=False, in_flight=False), (REPEAT, None))
            self.s.repeated(now)
            times.append(round(now - 100.0, 3))
        self.assertEqual(times, [0.1, 0.3, 0.7, 1.2, 1.7, 2.2])

    def test_a_new_change_after_repeats_is_grabbed_at_once(self):
        self.s.grabbed(100.0, 0.01)
        self.s.repeated(100.5)
        self.assertEqual(self.s.decide(100.51, damaged=True, in_flight=False), (GRAB, None))

    def test_reset_forgets_the_previous_run(self):
        self.s.grabbed(100.0, 1.0)
        self.s.reset()
        self.assertEqual(self.s.next_grab_at(), -math.inf)
        self.assertEqual(self.s.decide(100.001, damaged=True, in_flight=False), (GRAB, None))


if __name__ == '__main__':
    unittest.main()
