"""The one capture + encode shared by every viewer of this VM, ending in a tee.

    [capture bin, locked state]
    VMLIVE_CAPTURE=damage (default), capture_damage.py:
      appsrc <- capture thread: XDamage -> XShmGetImage of what changed -> libyuv -> I420
    VMLIVE_CAPTURE=timer:
      ximagesrc use-damage=false show-pointer=false ! video/x-raw,framerate=FPS/1
      ! queue leaky=downstream max-size-buffers=1        raw frames only: if the encoder falls
      ! videoconvert n-threads=2 ! videoscale             behind, the oldest raw frame is dropped
      ! video/x-raw,I420,WxH
    then
      ! vp8enc | x264enc [! h264parse]                   (never encoded RTP: that loses keyframes)
    ! tee allow-not-linked=true  -> per-viewer branches (peer.py)

No videorate: it holds each frame until the next one arrives to decide on duplicates, which costs
a whole frame interval of latency; ximagesrc paces itself from the framerate caps, the damage
capture from the screen's changes.
The capture bin sits in READY while no viewer is connected (no capture, no encode) and is started
when the first viewer is added; the rest of the pipeline stays PLAYING so webrtcbins can be added
and removed at any time.
"""
import collections
import ctypes
import ctypes.util
import threading
import time
from typing import Deque, Optional, Tuple

from gi.repository import GLib, Gst, GstVideo

from .config import Config
from .layers import ReducedLayer, ghost_link, reduced_description
from .log import get_logger
from .stats import rss_bytes

log = get_logger('pipeline')


# Damage capture sends frames at a varying rate, so its keyframe interval is kept in time by
# SharedEncoder (_check_keyframe_age) and the encoders' own frame-count GOP is out of the way.
_NO_GOP = 1000000


def encoder_description(cfg: Config, name: str = 'encoder', width: int = 0, height: int = 0,
                        kbps: int = 0, keyframe_ms: int = 0) -> str:
    """The encoder of one layer, named `name`; H.264's parser after it is `name` + 'out'.
    keyframe_ms > 0 caps a keyframe at that much time of the layer's bitrate, so it fits the
    queue of a link that carries the layer (layers.py)."""
    width, height, kbps = width or cfg.width, height or cfg.height, kbps or cfg.bitrate_kbps
    damage = cfg.capture == 'damage'
    gop = _NO_GOP if damage else max(1, cfg.fps * cfg.keyframe_interval_s)
    if cfg.codec == 'vp8':
        # threads=1: on 2 cores libvpx worker threads spin and collapse to 4-6 fps when the other
        # core is busy. deadline=1 = realtime; lag-in-frames=0 = no look-ahead; error-resilient=1
        # so a lost frame only damages itself; a short CBR buffer (ms) keeps bursts small.
        # static-threshold=1 skips only macroblocks that match exactly (no quality cost), so a
        # mostly still page encodes in 5-6 ms instead of 10 (scripts/README.md, "Where the ms go").
        return ('vp8enc name=%s deadline=1 cpu-used=%d threads=1 lag-in-frames=0 error-resilient=default '
                'end-usage=cbr target-bitrate=%d keyframe-max-dist=%d buffer-size=500 buffer-initial-size=300 '
                'buffer-optimal-size=400 undershoot=95 overshoot=15 max-quantizer=%d min-quantizer=4 '
                'static-threshold=1 dropframe-threshold=0%s%s'
                % (name, cfg.vp8_cpu_used, kbps * 1000, gop,
                   # At 300 kbit/s a 640x360 keyframe is held up by the quantizer's ceiling, not
                   # by the rate control: at 56 the cap below changed no keyframe's size (7.0 kB
                   # on a detailed picture), at 63 it brought them to 5.6 kB (tests/test_layers.py).
                   63 if keyframe_ms else 56,
                   # libvpx's rc_max_intra_bitrate_pct: a keyframe's size in % of the average frame's.
                   ' max-intra-bitrate=%d' % max(100, keyframe_ms * cfg.fps // 10) if keyframe_ms else '',
                   # libvpx's rate control derives the frame rate from the timestamps; in units of
                   # the caps' nominal 1/fps, two frames 1/60 s apart would share a timestamp.
                   ' timebase=1/90000' if damage else ''))
    # x264 zerolatency: no B-frames, no lookahead, no frame threads; ultrafast = Constrained Baseline.
    return ('x264enc name=%s tune=zerolatency speed-preset=ultrafast threads=1 sliced-threads=false '
            'bitrate=%d vbv-buf-capacity=%d key-int-max=%d b-adapt=false bframes=0 '
            '! video/x-h264,profile=constrained-baseline,level=(string)%s,stream-format=byte-stream,alignment=au '
            '! h264parse name=%sout config-interval=-1'
            % (name, kbps, min(300, keyframe_ms or 300), gop, h264_level(width, height, cfg.fps), name))


# H.264 Table A-1: (level, MaxFS in macroblocks, MaxMBPS in macroblocks/s)
_H264_LEVELS = (('3', 1620, 40500), ('3.1', 3600, 108000), ('3.2', 5120, 216000), ('4', 8192, 245760),
                ('4.2', 8704, 522240), ('5', 22080, 589824), ('5.1', 36864, 983040), ('5.2', 36864, 2073600))


def h264_level(width: int, height: int, fps: int) -> str:
    """Lowest level that fits the stream. Without it x264 may signal a level above what the
    viewer's profile-level-id (typically 42e01f = 3.1) allows and rtph264pay refuses the caps."""
    frame = ((width + 15) // 16) * ((height + 15) // 16)
    for level, max_fs, max_mbps in _H264_LEVELS:
        if frame <= max_fs and frame * fps <= max_mbps:
            return level
    return '5.2'


_libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)


def _release_free_heap() -> Optional[int]:
    """Hands the heap's free pages back to the kernel; returns RSS in MB after, None if unknown.

    The encoders' READY state frees their frame buffers (libvpx/x264 allocate several per layer),
    but glibc keeps freed heap memory for reuse, and a heap fragmented while one viewer's peer was
    torn down as the next one's was built keeps its high-water mark: 22 MB at a time under load. An
    idle VM should not hold memory for viewers that left; malloc_trim(0) (glibc >= 2.8 trims every
    arena, not only the top of the main one) runs here, off the streaming path, once per idle."""
    _libc.malloc_trim(0)
    rss = rss_bytes()
    return rss // (1024 * 1024) if rss is not None else None


class SharedEncoder:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.pipeline = Gst.Pipeline.new('vmlive')
        if cfg.capture == 'damage':
            from . import capture_damage  # loads libyuv and the X libraries: only when used
            source = capture_damage.appsrc_description(cfg)
        else:
            source = ('ximagesrc name=capture display-name=%s use-damage=false show-pointer=false '
                      '! video/x-raw,framerate=%d/1 '
                      '! queue name=rawq leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 '
                      '! videoconvert n-threads=2 ! videoscale '
                      '! video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1'
                      % (cfg.display, cfg.fps, cfg.width, cfg.height))
        # The raw tee feeds the full encoder in the capture's own thread, and the reduced layer
        # (layers.py) behind a valve that drops everything while no viewer is on it.
        description = '%s ! tee name=rawtee allow-not-linked=true ! %s' % (source, encoder_description(cfg))
        if cfg.link_adapt:
            description += ' rawtee. ! %s' % reduced_description(cfg)
        self.capture = Gst.parse_bin_from_description(description, False)
        self.capture.set_name('capture-bin')
        self.encoder = self.capture.get_by_name('encoder')
        self.tee = Gst.ElementFactory.make('tee', 'tee')
        self.tee.set_property('allow-not-linked', True)
        self.pipeline.add(self.capture)
        self.pipeline.add(self.tee)
        if not ghost_link(self.capture, 'encoder', 'src', self.tee):
            raise RuntimeError('cannot link capture to tee')
        self.reduced = ReducedLayer(self) if cfg.link_adapt else None
        self.capture.set_locked_state(True)
        self.running = False
        self._lock = threading.Lock()
        # encoder output accounting (streaming thread writes, stats reads)
        self.frames = 0
        self.bytes = 0
        self.keyframes = 0
        self.keyframes_forced = 0
        self._window: Deque[Tuple[float, int]] = collections.deque()
        # (monotonic s, ms): screen changed -> RTP packet payloaded, one per frame sent to a viewer that
        # asked for abs-capture-time (rtp_extensions.py, on the payloaders' threads).
        self._capture_to_send: Deque[Tuple[float, float]] = collections.deque(maxlen=512)
        self._capture_to_send_lock = threading.Lock()
        self._started_at = 0.0
        self._lag_ms = []
        self._first_frame_logged = True
        self.encoder.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, self._on_encoded)
        self._encoder_inputs: Deque[int] = collections.deque(maxlen=8)
        self.encoder.get_static_pad('sink').add_probe(Gst.PadProbeType.BUFFER, self._on_encoder_input)
        # keyframe throttle
        self._last_keyframe_request = 0.0
        self._keyframe_timer: Optional[int] = None
        self._last_keyframe_at = 0.0
        self._keyframe_age_timer: Optional[int] = None
        # The damage capture's thread (opens its own X connection now: an unreachable display
        # fails the start-up, as ximagesrc's READY check does on the timer path).
        self.damage = None
        self.active_map = None
        if cfg.capture == 'damage':
            from .capture_damage import DamageCapture
            self.damage = DamageCapture(cfg, self.capture.get_by_name('capture'))
            if cfg.codec == 'vp8':
                # libvpx encodes only the macroblocks the grabs changed (vp8_active_map.py).
                from .vp8_active_map import Vp8ActiveMap
                self.active_map = Vp8ActiveMap(self.encoder, cfg.width, cfg.height, self.damage.grab_log.since,
                                               self.capture.get_base_time,
                                               (self.damage.conn.width, self.damage.conn.height))

    # ---- lifecycle ----
    def start_pipeline(self) -> None:
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError('pipeline failed to start')
        if self.capture.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError('capture failed to reach READY (is DISPLAY %s reachable?)' % self.cfg.display)

    def warm_up(self, seconds: float = 0.4) -> int:
        """Capture and encode for a moment at start so the first viewer does not pay for X shm
        setup, encoder allocation and page faults. Returns frames encoded."""
        self.start_capture()
        deadline = time.monotonic() + seconds
        ctx = GLib.MainContext.default()
        while time.monotonic() < deadline:
            ctx.iteration(False)
            time.sleep(0.01)
        self.stop_capture()
        return self.frames

    def start_capture(self) -> None:
        if self.running:
            return
        self.running = True
        # A locked-state bin misses the pipeline's clock/base-time distribution: copy them so that
        # ximagesrc's timestamps are running times of this pipeline.
        clock = self.pipeline.get_clock()
        if clock is not None:
            self.capture.set_clock(clock)
        self.capture.set_base_time(self.pipeline.get_base_time())
        if self.capture.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.running = False
            raise RuntimeError('capture failed to start')
        self._started_at = time.monotonic()
        self._first_frame_logged = False
        if self.damage is not None:
            self._last_keyframe_at = time.monotonic()
            self._keyframe_age_timer = GLib.timeout_add(500, self._check_keyframe_age)
            self.damage.start()
        log.info('capture started')

    def stop_capture(self) -> None:
        if not self.running:
            return
        self.running = False
        if self.damage is not None:
            self.damage.stop()
            if self._keyframe_age_timer is not None:
                GLib.source_remove(self._keyframe_age_timer)
                self._keyframe_age_timer = None
        self.capture.set_state(Gst.State.READY)
        self._encoder_inputs.clear()
        released = _release_free_heap()
        log.info('capture stopped (no viewers)%s', '' if released is None else ', RSS %d MB' % released)

    def shutdown(self) -> None:
        if self._keyframe_timer is not None:
            GLib.source_remove(self._keyframe_timer)
            self._keyframe_timer = None
        if self.damage is not None:
            self.damage.close()
        if self.reduced is not None:
            self.reduced.shutdown()
        self.capture.set_locked_state(False)
        self.pipeline.set_state(Gst.State.NULL)

    # ---- keyframes ----
    def request_keyframe(self, reason: str) -> None:
        """Force a keyframe now, or at the end of the throttle window if one was just sent; requests
        inside a window coalesce into that one (any thread)."""
        with self._lock:
            if self._keyframe_timer is not None:
                return
            wait = self._last_keyframe_request + self.cfg.keyframe_throttle_ms / 1000.0 - time.monotonic()
            if wait > 0:
                self._keyframe_timer = GLib.timeout_add(int(wait * 1000) + 1, self._fire_keyframe, reason)
                return
            self._last_keyframe_request = time.monotonic()
        self._send_force_key_unit(reason)

    def _fire_keyframe(self, reason: str) -> bool:
        with self._lock:
            self._keyframe_timer = None
            self._last_keyframe_request = time.monotonic()
        self._send_force_key_unit(reason)
        return False

    def _send_force_key_unit(self, reason: str) -> None:
        if not self.running:
            return
        event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        if self.encoder.get_static_pad('src').send_event(event):
            self.keyframes_forced += 1
        if self.damage is not None:
            # The encoder keys its next input frame; on a still screen that would be the next
            # idle repeat, up to 500 ms away.
            self.damage.request_frame()
        log.debug('forced keyframe (%s)', reason)

    def _check_keyframe_age(self) -> bool:
        """Damage capture: the longest GOP is kept in time (main thread, every 500 ms)."""
        if not self.running:
            self._keyframe_age_timer = None
            return False
        if time.monotonic() - self._last_keyframe_at >= self.cfg.keyframe_interval_s:
            self._last_keyframe_at = time.monotonic()  # one request per interval, even if throttled
            self.request_keyframe('keyframe interval')
        if self.reduced is not None:
            self.reduced.check_keyframe_age()
        return True

    # ---- accounting ----
    def _on_encoder_input(self, _pad, info):
        pts = info.get_buffer().pts
        if pts != Gst.CLOCK_TIME_NONE:
            self._encoder_inputs.append(pts)
        return Gst.PadProbeReturn.OK

    def _on_encoded(self, _pad, info):
        buf = info.get_buffer()
        now = time.monotonic()
        size = buf.get_size()
        self.frames += 1
        self.bytes += size
        if not buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
            self.keyframes += 1
            self._last_keyframe_at = now
        # The capture stamps each frame with the running time at capture (damage: at push, after
        # the conversion): the difference to now is capture -> encoded (queue, convert, encoder).
        # Encoders may shift output PTS (x264enc adds 1000 h), so the input PTS is taken in order
        # from the encoder's sink pad:
        # neither encoder reorders or holds frames with these settings.
        captured = self._encoder_inputs.popleft() if self._encoder_inputs else None
        clock = self.pipeline.get_clock()
        if clock is not None and captured is not None:
            lag = (clock.get_time() - self.capture.get_base_time() - captured) / 1e6
            self._lag_ms.append(lag)
            if len(self._lag_ms) >= 150:
                lags = sorted(self._lag_ms)
                log.info('capture->encoded over %d frames: p50 %.1f ms, p95 %.1f ms%s', len(lags),
                         lags[len(lags) // 2], lags[int(len(lags) * 0.95)],
                         '; ' + self.active_map.summary() if self.active_map is not None else '')
                self._lag_ms = []
        if not self._first_frame_logged:
            self._first_frame_logged = True
            log.info('first encoded frame %.0f ms after capture start', (now - self._started_at) * 1000)
        window = self._window
        window.append((now, size))
        while window and now - window[0][0] > 2.0:
            window.popleft()
        return Gst.PadProbeReturn.OK

    def note_capture_to_send(self, latency_ns: int) -> None:
        """One frame's screen change -> payloaded (any thread)."""
        if not 0 <= latency_ns < 60_000_000_000:
            return  # not a latency: the stats event's contract says >= 0
        with self._capture_to_send_lock:
            self._capture_to_send.append((time.monotonic(), latency_ns / 1e6))

    def capture_to_send_ms(self) -> Optional[float]:
        """p50 over the last 2 s, or None without samples."""
        now = time.monotonic()
        with self._capture_to_send_lock:
            recent = sorted(ms for t, ms in self._capture_to_send if now - t <= 2.0)
        return round(recent[len(recent) // 2], 2) if recent else None

    def encoder_stats(self) -> dict:
        now = time.monotonic()
        window = [(t, s) for t, s in list(self._window) if now - t <= 2.0]
        if self.running and len(window) >= 2:
            span = max(1e-3, now - window[0][0])
            fps = (len(window) - 1) / max(1e-3, window[-1][0] - window[0][0])
            kbps = sum(s for _, s in window) * 8 / 1000.0 / span
        else:
            fps, kbps = 0.0, 0.0
        return {'codec': self.cfg.codec, 'width': self.cfg.width, 'height': self.cfg.height,
                'fps': round(fps, 2), 'bitrateKbps': round(kbps, 1), 'framesEncoded': self.frames,
                'keyframesForced': self.keyframes_forced, 'running': self.running,
                'captureToSendMs': self.capture_to_send_ms()}
