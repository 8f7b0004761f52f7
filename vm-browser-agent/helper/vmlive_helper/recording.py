"""Recording: the shared encoder's output written to files, segment by segment, without re-encoding.

    tee (pipeline.py, the encoded stream every viewer gets)
      ! queue leaky=downstream max-size-time=2 s     a slow disk drops recorded frames, never stalls
                                                      the viewers' branches sharing the tee
      [! h264parse]                                   byte-stream -> avc for mp4mux (codec_data)
      ! splitmuxsink muxer=webmmux | mp4mux             split only when told (split-at-running-time)

Every segment starts on a keyframe: splitmuxsink only splits before one, and the branch drops
whatever arrives before the first keyframe. A keyframe is forced when the recording starts and
every N s, with `split-at-running-time` (now) just before it: the first keyframe from then on starts
the next segment, so a segment is N s long (to the frame, plus at most the keyframe throttle,
VMLIVE_KEYFRAME_THROTTLE_MS). (`split-now` cuts at the start of the GOP being collected, which
may be the encoder's own keyframe before the tick.) Why not splitmuxsink's own max-size-time with
send-keyframe-requests: it decides per GOP whether the next one still fits, so the encoder's own
keyframes (every VMLIVE_KEYFRAME_INTERVAL_S, and on every viewer's PLI) cut segments short (10 s
segments came out as 5.2 + 4.8 s), and GStreamer 1.22's x264enc was seen to ignore its requests;
the helper's own force-key-unit (the one viewers' PLIs use)
works for both encoders. A segment is complete once splitmuxsink closed it
(`splitmuxsink-fragment-closed`): only then is it reported to the agent, which uploads it. A
killed helper therefore loses at most the segment being written.

Built element by element: in GStreamer 1.22 a splitmuxsink made by parse_bin_from_description
fails with "Failed to link muxer and sink".
"""
import json
import os
import time
from typing import Callable, Dict, List, Optional

from gi.repository import GLib, Gst

from .log import get_logger

log = get_logger('recording')

MEDIA_TYPES = {'vp8': 'video/webm', 'h264': 'video/mp4'}
_EXTENSIONS = {'vp8': 'webm', 'h264': 'mp4'}
# How long a stop waits for splitmuxsink to finish the segment it is writing.
_FINALIZE_TIMEOUT_MS = 5000
# How far before a segment tick the split point is set (two frames at 30 fps, and the encoder's lag).
_SPLIT_MARGIN_NS = 150 * 1000 * 1000


def segment_pattern(directory: str, started_ms: int, codec: str) -> str:
    """splitmuxsink's location: unique per recorder start, so a restarted helper never overwrites
    a segment an earlier one left in the spool for the agent to upload."""
    return os.path.join(directory, '%d-%%05d.%s' % (started_ms, _EXTENSIONS[codec]))


def wall_time_ms(running_time_ns: int, now_running_ns: int, now_wall_s: float) -> int:
    """The wall time (ms epoch) of a running time, from a (running time, wall time) pair taken
    together: both clocks advance at the same rate (the pipeline runs on the system clock)."""
    return int(round(now_wall_s * 1000 - (now_running_ns - running_time_ns) / 1e6))


def _muxer(codec: str) -> Gst.Element:
    if codec == 'vp8':
        mux = Gst.ElementFactory.make('webmmux', None)
        # Each file's timestamps from 0: the buffers carry the pipeline's running time (seconds or
        # hours in), and a browser's <video> counts a file's duration from 0, not from its first frame.
        mux.set_property('offset-to-zero', True)
        return mux
    return Gst.ElementFactory.make('mp4mux', None)


def write_sidecar(location: str, segment: Dict) -> None:
    """`<file>.json` beside a finished segment: the spool's mark that the file is complete and what
    to upload it as (vm-browser-agent/src/recording/recording-agent.ts reads it, also after a crash
    of either process). Written then renamed, so it exists whole or not at all."""
    meta = {k: segment[k] for k in ('recordingId', 'startedAt', 'durationMs', 'bytes', 'mediaType')}
    tmp = location + '.json.tmp'
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(meta, f)
        os.replace(tmp, location + '.json')
    except OSError as err:
        log.error('cannot write the sidecar of %s: %s (the agent writes it)', location, err)


# Checked when a recording starts (not at the helper's start: a VM that never records needs none).
_ELEMENTS = (('splitmuxsink', 'gstreamer1.0-plugins-good'), ('webmmux', 'gstreamer1.0-plugins-good'),
             ('mp4mux', 'gstreamer1.0-plugins-good'), ('h264parse', 'gstreamer1.0-plugins-bad'))


def missing_elements(codec: str) -> List[str]:
    wanted = [e for e in _ELEMENTS if e[0] in ('splitmuxsink', 'webmmux' if codec == 'vp8' else 'mp4mux')
              or (codec == 'h264' and e[0] == 'h264parse')]
    return ['%s (apt-get install %s)' % (name, package) for name, package in wanted
            if Gst.ElementFactory.find(name) is None]


class Recorder:
    """One recording's branch on the shared tee. Main thread only, except the keyframe gate probe
    (a streaming thread: it touches only its own flag)."""

    def __init__(self, shared, recording_id: str, directory: str, segment_s: int,
                 on_segment: Callable[[Dict], None], on_closed: Callable[['Recorder'], None]):
        self.shared = shared
        self.codec = shared.cfg.codec
        self.recording_id = recording_id
        self.directory = directory
        self.segment_s = segment_s
        self._on_segment = on_segment
        self._on_closed = on_closed
        self._open: Dict[str, int] = {}  # location -> running time at which it opened
        self._keyed = False
        self._stopping = False
        self._closed = False
        self._finalize_timer: Optional[int] = None
        self._split_timer: Optional[int] = None
        self.segments = 0
        missing = missing_elements(self.codec)
        if missing:
            raise RuntimeError('recording needs GStreamer elements that are missing: %s' % ', '.join(missing))
        os.makedirs(directory, exist_ok=True)
        self.bin = Gst.Bin.new('rec-%s' % recording_id)
        # splitmuxsink posts EOS once, after the last segment is closed (the muxer's per-segment
        # EOS stays inside it); a bin keeps its children's EOS to itself unless it forwards them.
        self.bin.set_property('message-forward', True)
        elements: List[Gst.Element] = []
        queue = Gst.ElementFactory.make('queue', None)
        queue.set_property('leaky', 2)  # downstream: drop the oldest
        queue.set_property('max-size-buffers', 0)
        queue.set_property('max-size-bytes', 0)
        queue.set_property('max-size-time', 2 * Gst.SECOND)
        elements.append(queue)
        if self.codec == 'h264':
            elements.append(Gst.ElementFactory.make('h264parse', None))
        self.sink = Gst.ElementFactory.make('splitmuxsink', None)
        self.sink.set_property('muxer', _muxer(self.codec))
        self.sink.set_property('location', segment_pattern(directory, int(time.time() * 1000), self.codec))
        self.sink.set_property('max-size-time', 0)
        self.sink.set_property('max-size-bytes', 0)
        # Not async: a sink added to a PLAYING pipeline would otherwise wait to preroll, and
        # splitmuxsink hands it nothing before a whole GOP is in, while the branch's leaky queue
        # drops from its head (seen: the recording's first GOP lost, its first keyframe with it).
        filesink = Gst.ElementFactory.make('filesink', None)
        filesink.set_property('async', False)
        self.sink.set_property('sink', filesink)
        self.sink.set_property('async-handling', False)
        elements.append(self.sink)
        for e in elements:
            self.bin.add(e)
        for a, b in zip(elements, elements[1:]):
            if not a.link(b):
                raise RuntimeError('cannot link %s to %s' % (a.get_name(), b.get_name()))
        self.bin.add_pad(Gst.GhostPad.new('sink', queue.get_static_pad('sink')))
        queue.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, self._gate)
        self.tee_pad: Optional[Gst.Pad] = None

    # ---- lifecycle ----
    def start(self) -> None:
        shared = self.shared
        shared.pipeline.add(self.bin)
        self.bin.sync_state_with_parent()
        self.tee_pad = shared.tee.request_pad_simple('src_%u')
        if self.tee_pad.link(self.bin.get_static_pad('sink')) != Gst.PadLinkReturn.OK:
            raise RuntimeError('cannot link the recording branch to the tee')
        shared.start_capture()
        shared.request_keyframe('recording start')
        # Until the first keyframe is in, ask again (a request can coalesce with one in flight that
        # reached the tee before this branch did); segments are timed from that keyframe.
        self._split_timer = GLib.timeout_add(300, self._await_keyframe)
        log.info('[%s] recording to %s, %d s segments', self.recording_id, self.directory, self.segment_s)

    def _await_keyframe(self) -> bool:
        if self._stopping:
            self._split_timer = None
            return False
        if not self._keyed:
            self.shared.request_keyframe('recording start (again)')
            return True
        self._split_timer = GLib.timeout_add(self.segment_s * 1000 - 300, self._first_split)
        return False

    def _first_split(self) -> bool:
        self._split()
        self._split_timer = GLib.timeout_add(self.segment_s * 1000, self._split) if not self._stopping else None
        return False

    def _split(self) -> bool:
        """Main loop, every segment length: the next keyframe starts a new segment, and it comes now."""
        if self._stopping:
            self._split_timer = None
            return False
        pipeline = self.shared.pipeline
        clock = pipeline.get_clock()
        if clock is not None:
            # A little in the past: the frame the encoder keys next may have been captured (and
            # stamped) a frame or two before this tick; a split point must not be after it.
            now = clock.get_time() - pipeline.get_base_time()
            self.sink.emit('split-at-running-time', max(0, now - _SPLIT_MARGIN_NS))
            self.shared.request_keyframe('recording segment')
            # splitmuxsink closes a segment only once the next one's first GOP is complete, i.e. at
            # the next keyframe after the boundary (up to VMLIVE_KEYFRAME_INTERVAL_S later): until
            # then the finished segment sits in its queue, and a helper killed then would lose it
            # too. One more keyframe just after the throttle window closes it at once (measured
            # cost: one keyframe per segment; scripts/bench-recording.ts).
            delay = int(getattr(self.shared.cfg, 'keyframe_throttle_ms', 0)) + 50
            GLib.timeout_add(delay, self._close_previous)
        return True

    def _close_previous(self) -> bool:
        if not self._stopping:
            self.shared.request_keyframe('recording: close the finished segment')
        return False

    def _gate(self, _pad, info):
        """Streaming thread: nothing before the first keyframe (it could not be decoded)."""
        if self._keyed:
            return Gst.PadProbeReturn.OK
        if info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
            return Gst.PadProbeReturn.DROP
        self._keyed = True
        return Gst.PadProbeReturn.OK

    def stop(self) -> None:
        """Finish the segment being written (reported like any other), then remove the branch."""
        if self._stopping:
            return
        self._stopping = True
        if self._split_timer is not None:
            GLib.source_remove(self._split_timer)
            self._split_timer = None
        sinkpad = self.bin.get_static_pad('sink')
        tee_pad = self.tee_pad

        def unlink(pad, _info):
            # Streaming thread (the tee's), with no buffer in flight on this pad: unlink here so no
            # buffer follows the EOS, then let the queue carry the EOS to splitmuxsink.
            pad.unlink(sinkpad)
            sinkpad.send_event(Gst.Event.new_eos())
            return Gst.PadProbeReturn.REMOVE

        if tee_pad is not None:
            tee_pad.add_probe(Gst.PadProbeType.IDLE, unlink)
        self._finalize_timer = GLib.timeout_add(_FINALIZE_TIMEOUT_MS, self._finalize_timeout)

    def abort(self) -> None:
        """The branch failed (a bus error from it): remove it now; what it was writing is lost."""
        self._stopping = True
        GLib.idle_add(lambda: self._teardown() or False)

    def _finalize_timeout(self) -> bool:
        self._finalize_timer = None
        log.warning('[%s] the last segment was not closed in %d ms; dropping it', self.recording_id,
                    _FINALIZE_TIMEOUT_MS)
        self._teardown()
        return False

    def _teardown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._split_timer is not None:
            GLib.source_remove(self._split_timer)
            self._split_timer = None
        if self._finalize_timer is not None:
            GLib.source_remove(self._finalize_timer)
            self._finalize_timer = None
        shared = self.shared
        if self.tee_pad is not None:
            shared.tee.release_request_pad(self.tee_pad)
            self.tee_pad = None
        self.bin.set_state(Gst.State.NULL)
        shared.pipeline.remove(self.bin)
        log.info('[%s] recording stopped after %d segments', self.recording_id, self.segments)
        self._on_closed(self)

    # ---- splitmuxsink's messages (the bus, on the main loop) ----
    def owns(self, element) -> bool:
        return element is self.sink or element is self.bin

    def on_element_message(self, structure) -> None:
        name = structure.get_name()
        if name == 'GstBinForwarded':
            inner = structure.get_value('message')
            if inner is not None and inner.type == Gst.MessageType.EOS and self._stopping:
                self._teardown()
            return
        location = structure.get_string('location')  # None when absent
        ok_rt, running = structure.get_uint64('running-time')
        if not location or not ok_rt:
            return
        if name == 'splitmuxsink-fragment-opened':
            self._open[location] = running
        elif name == 'splitmuxsink-fragment-closed':
            opened = self._open.pop(location, None)
            if opened is not None:
                self._report(location, opened, running)

    def _report(self, location: str, opened_ns: int, closed_ns: int) -> None:
        pipeline = self.shared.pipeline
        clock = pipeline.get_clock()
        now_running = clock.get_time() - pipeline.get_base_time() if clock is not None else closed_ns
        try:
            size = os.path.getsize(location)
        except OSError as err:
            log.error('[%s] segment %s vanished: %s', self.recording_id, location, err)
            return
        self.segments += 1
        segment = {'type': 'recording-segment', 'peerId': None, 'recordingId': self.recording_id,
                   'path': location, 'mediaType': MEDIA_TYPES[self.codec],
                   'startedAt': wall_time_ms(opened_ns, now_running, time.time()),
                   'durationMs': max(0, int(round((closed_ns - opened_ns) / 1e6))), 'bytes': size}
        log.info('[%s] segment %s: %d ms, %d bytes', self.recording_id, os.path.basename(location),
                 segment['durationMs'], size)
        write_sidecar(location, segment)
        self._on_segment(segment)
