"""Recording (recording.py) on a real GStreamer pipeline: segments cut on keyframes, contiguous,
each a complete file with its own duration, the last one finished by stop(); plus the pure parts."""
import json
import os
import shutil
import tempfile
import time
import unittest

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstPbutils', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import GLib, Gst, GstPbutils, GstVideo  # noqa: E402

from vmlive_helper.recording import Recorder, missing_elements, segment_pattern, wall_time_ms  # noqa: E402

Gst.init(None)


class _Cfg:
    codec = 'vp8'
    keyframe_throttle_ms = 0


class _Shared:
    """The part of SharedEncoder (pipeline.py) a Recorder uses, on a test source."""

    def __init__(self):
        self.cfg = _Cfg()
        self.pipeline = Gst.parse_launch(
            'videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=30/1 '
            '! vp8enc name=enc deadline=1 cpu-used=8 keyframe-max-dist=20 ! tee name=tee allow-not-linked=true')
        self.tee = self.pipeline.get_by_name('tee')
        self.keyframes_asked = 0

    def start_capture(self):
        pass

    def request_keyframe(self, _reason):
        self.keyframes_asked += 1
        event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        self.pipeline.get_by_name('enc').get_static_pad('src').send_event(event)


class PureTest(unittest.TestCase):
    def test_segment_names_differ_per_recorder_start_so_a_restart_never_overwrites_the_spool(self):
        a = segment_pattern('/spool/r1', 1000, 'vp8')
        b = segment_pattern('/spool/r1', 2000, 'vp8')
        self.assertNotEqual(a, b)
        self.assertTrue(a.endswith('-%05d.webm'))
        self.assertTrue(segment_pattern('/spool/r1', 1, 'h264').endswith('.mp4'))

    def test_every_element_a_recording_needs_is_installed_here(self):
        self.assertEqual(missing_elements('vp8'), [])
        self.assertEqual(missing_elements('h264'), [])

    def test_a_running_time_maps_to_the_wall_time_it_happened_at(self):
        # now: running 10 s at wall 1000.5 s; running 7.25 s was 2.75 s before.
        self.assertEqual(wall_time_ms(7_250_000_000, 10_000_000_000, 1000.5), 997_750)


class RecorderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='vmlive-rec-test-')

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_segments_are_contiguous_keyframe_started_files_of_the_set_length_and_stop_finishes_the_last(self):
        shared = _Shared()
        loop = GLib.MainLoop()
        segments, closed = [], []
        rec = Recorder(shared, 'r1', self.dir, 1, segments.append, lambda r: (closed.append(r), loop.quit()))

        def on_message(_bus, msg):
            if msg.type == Gst.MessageType.ELEMENT and rec.owns(msg.src):
                rec.on_element_message(msg.get_structure())
            elif msg.type == Gst.MessageType.ERROR:
                self.fail('pipeline error: %s' % (msg.parse_error()[0].message,))

        bus = shared.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect('message', on_message)
        shared.pipeline.set_state(Gst.State.PLAYING)
        # The encoder keys every 0.67 s on its own (as the helper's does on its interval and on every
        # viewer's PLI): segments must still be 1 s, cut on the keyframes the recorder forces.
        marks = {}
        GLib.timeout_add(400, lambda: (rec.start(), marks.setdefault('start', time.time()), False)[-1])
        GLib.timeout_add(3000, lambda: (rec.stop(), marks.setdefault('stop', time.time()), False)[-1])
        GLib.timeout_add(12000, lambda: (loop.quit(), False)[-1])
        loop.run()
        shared.pipeline.set_state(Gst.State.NULL)
        bus.remove_signal_watch()

        self.assertEqual(closed, [rec], 'stop() removed the branch')
        self.assertGreaterEqual(shared.keyframes_asked, 1)
        self.assertGreaterEqual(len(segments), 2)
        for s in segments:
            self.assertEqual(s['recordingId'], 'r1')
            self.assertEqual(s['mediaType'], 'video/webm')
            self.assertEqual(s['bytes'], os.path.getsize(s['path']))
            with open(s['path'] + '.json', encoding='utf-8') as f:
                self.assertEqual(json.load(f)['startedAt'], s['startedAt'], 'the sidecar marks it finished')
        for a, b in zip(segments, segments[1:]):
            # each starts where the previous ended (1 ms rounding each side)
            self.assertLessEqual(abs(a['startedAt'] + a['durationMs'] - b['startedAt']), 2)
        for s in segments[:-1]:
            self.assertLess(abs(s['durationMs'] - 1000), 100, 'lengths %s' % [x['durationMs'] for x in segments])
        total = sum(s['durationMs'] for s in segments)
        wall = (marks['stop'] - marks['start']) * 1000
        self.assertLess(abs(total - wall), 250, 'recorded %d ms of %d ms' % (total, wall))
        self.assertLess(abs(segments[0]['startedAt'] - marks['start'] * 1000), 250)
        discoverer = GstPbutils.Discoverer.new(5 * Gst.SECOND)
        for s in segments:
            info = discoverer.discover_uri('file://' + s['path'])
            self.assertTrue(info.get_seekable(), s['path'])
            self.assertLess(abs(info.get_duration() / 1e6 - s['durationMs']), 100, s['path'])


if __name__ == '__main__':
    unittest.main()
