import math
import unittest

import random

from vmlive_helper.capture_policy import (EARLY, GRAB, LARGE_CHANGE, REPEAT, TAKE, WAIT, GrabLog, Pacing,
                                          Scheduler, align_rects, covered_fraction)

PACING = Pacing.for_fps(30)
MS = 1_000_000  # ns


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


def simulate(notify_times, fraction, end, pacing=PACING):
    """Drives a Scheduler with damage notifications at the given times (an encoder that is never
    busy); returns the grab times."""
    s, grabs = Scheduler(pacing), []
    events, i = sorted(notify_times), 0
    pending = notified = False
    now = events[0]
    while now < end:
        while i < len(events) and events[i] <= now:
            pending = notified = True
            i += 1
        action, wait = s.decide(now, pending, notified, in_flight=False)
        if action == GRAB:
            s.grabbed(now, fraction)
            grabs.append(now)
            pending = notified = False
        elif action == TAKE:
            notified = False
        elif action == REPEAT:
            s.repeated(now)
        else:
            now = min(now + wait, events[i] if i < len(events) else math.inf)
    return grabs


class SchedulerTest(unittest.TestCase):
    def setUp(self):
        self.s = Scheduler(PACING)

    def decide(self, now, pending=True, notified=True, in_flight=False):
        return self.s.decide(now, pending, notified, in_flight)

    def test_the_first_change_is_grabbed_at_once(self):
        self.assertEqual(self.decide(100.0), (GRAB, None))

    def test_a_paint_a_little_early_for_the_interval_is_still_grabbed_at_once(self):
        self.s.grabbed(100.0, 0.05)
        self.assertEqual(self.decide(100.0 + EARLY / 60 + 0.0005), (GRAB, None))

    def test_an_early_notification_is_taken_and_grabbed_with_the_next_paint_or_at_the_interval(self):
        self.s.grabbed(100.0, 0.05)
        self.assertEqual(self.decide(100.004), (TAKE, None))
        action, wait = self.decide(100.005, notified=False)
        self.assertEqual(action, WAIT)
        self.assertAlmostEqual(wait, 1 / 60 - 0.005)
        self.assertEqual(self.decide(100.0 + 1 / 60, notified=False), (GRAB, None))

    def test_paints_at_60_hz_with_jitter_are_each_grabbed_as_they_land(self):
        rng = random.Random(7)
        paints = [100.0 + k / 60 + rng.uniform(-0.003, 0.003) for k in range(120)]
        grabs = simulate(paints, 0.2, paints[-1] + 0.001)
        self.assertEqual(len(grabs), 120)
        self.assertTrue(all(abs(g - p) < 1e-9 for g, p in zip(grabs, paints)))

    def test_a_source_faster_than_60_hz_is_held_to_60_grabs_a_second(self):
        grabs = simulate([100.0 + k * 0.004 for k in range(500)], 0.05, 102.0)
        self.assertAlmostEqual(len([g for g in grabs if 101.0 <= g < 102.0]), 60, delta=2)

    def test_large_changes_at_60_hz_are_grabbed_at_the_fps_setting_on_fresh_paints(self):
        paints = [100.0 + k / 60 for k in range(120)]
        grabs = simulate(paints, 1.0, paints[-1] + 0.001)
        self.assertAlmostEqual(len(grabs), 60, delta=1)  # 2 s at 30 fps
        self.assertTrue(all(any(abs(g - p) < 1e-9 for p in paints) for g in grabs))  # never a stale one
        self.s.grabbed(100.0, LARGE_CHANGE)  # exactly a third is still small
        self.assertEqual(self.decide(100.0 + 1 / 60), (GRAB, None))

    def test_the_last_change_before_a_still_screen_is_grabbed_at_the_end_of_the_interval(self):
        grabs = simulate([100.0, 100.005], 0.05, 101.0)
        self.assertEqual(len(grabs), 2)
        self.assertAlmostEqual(grabs[1], 100.0 + 1 / 60)

    def test_nothing_is_grabbed_while_the_encoder_holds_the_last_frame(self):
        self.s.grabbed(100.0, 0.05)
        action, wait = self.decide(100.1, in_flight=True)
        self.assertEqual(action, WAIT)
        self.assertAlmostEqual(wait, PACING.busy_timeout - 0.1)
        # ...unless it held it for longer than the busy timeout (a lost or stuck frame)
        self.assertEqual(self.decide(100.0 + PACING.busy_timeout, in_flight=True), (GRAB, None))

    def test_a_still_screen_repeats_the_picture_every_idle_interval(self):
        self.s.grabbed(100.0, 0.01)
        action, wait = self.decide(100.2, pending=False, notified=False)
        self.assertEqual(action, WAIT)
        self.assertAlmostEqual(wait, 0.3)
        self.assertEqual(self.decide(100.5, pending=False, notified=False), (REPEAT, None))
        self.s.repeated(100.5)
        self.assertEqual(self.decide(100.9, pending=False, notified=False)[0], WAIT)
        self.assertEqual(self.decide(101.0, pending=False, notified=False), (REPEAT, None))

    def test_after_a_large_change_the_first_repeats_come_sooner_then_settle(self):
        self.s.grabbed(100.0, 1.0)
        times, now = [], 100.0
        for _ in range(6):
            action, wait = self.decide(now, pending=False, notified=False)
            if action == WAIT:
                now += wait
            self.assertEqual(self.decide(now, pending=False, notified=False), (REPEAT, None))
            self.s.repeated(now)
            times.append(round(now - 100.0, 3))
        self.assertEqual(times, [0.1, 0.3, 0.7, 1.2, 1.7, 2.2])

    def test_a_new_change_after_repeats_is_grabbed_at_once(self):
        self.s.grabbed(100.0, 0.01)
        self.s.repeated(100.5)
        self.assertEqual(self.decide(100.51), (GRAB, None))

    def test_reset_forgets_the_previous_run(self):
        self.s.grabbed(100.0, 1.0)
        self.s.reset()
        self.assertEqual(self.s.tokens(100.0), 2.0)
        self.assertEqual(self.decide(100.001), (GRAB, None))


class GrabLogTest(unittest.TestCase):
    def test_a_frame_finds_when_its_screen_changed_by_its_push_time(self):
        log = GrabLog()
        log.record(100 * MS, 90 * MS, [(0, 0, 8, 8)])
        log.record(117 * MS, None, [(0, 0, 8, 8)])
        self.assertEqual(log.change_time(100 * MS + 5000), 90 * MS)
        self.assertIsNone(log.change_time(117 * MS), 'a grab without a notification has no change time')
        self.assertIsNone(log.change_time(108 * MS), 'a repeat between two grabs is not on record')

    def test_each_frame_gets_the_rectangles_of_the_grabs_since_the_last_one(self):
        log = GrabLog()
        log.record(100 * MS, None, [(0, 0, 16, 16)])
        self.assertEqual(log.since(100 * MS), [(0, 0, 16, 16)])
        # The grab at 117 ms was dropped before the encoder: its change is in the next picture.
        log.record(117 * MS, None, [(32, 0, 16, 16)])
        log.record(134 * MS, None, [(64, 0, 16, 16)])
        self.assertEqual(log.since(134 * MS), [(32, 0, 16, 16), (64, 0, 16, 16)])

    def test_a_repeat_is_encoded_in_full_and_does_not_consume_later_grabs(self):
        log = GrabLog()
        log.record(100 * MS, None, [(0, 0, 16, 16)])
        self.assertIsNone(log.since(300 * MS), 'a repeat is no grab')
        log.record(400 * MS, None, [(32, 0, 16, 16)])
        self.assertEqual(log.since(400 * MS), [(0, 0, 16, 16), (32, 0, 16, 16)])

    def test_a_grab_no_longer_on_record_makes_the_damage_unknown(self):
        log = GrabLog(keep=2)
        for i in range(3):
            log.record((100 + 17 * i) * MS, None, [(16 * i, 0, 16, 16)])
        self.assertIsNone(log.since(134 * MS), 'the first grab was evicted: its change would be missed')
        log.record(151 * MS, None, [(0, 16, 16, 16)])
        self.assertEqual(log.since(151 * MS), [(0, 16, 16, 16)])


if __name__ == '__main__':
    unittest.main()
