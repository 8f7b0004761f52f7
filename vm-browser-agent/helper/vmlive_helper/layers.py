"""The reduced layer: a second encoding of the same captured frames, at half the size and
VMLIVE_REDUCED_BITRATE_KBPS, for viewers whose link cannot carry the full one (link_adapt.py).

    capture bin:  ... ! tee rawtee ! <full encoder>                      -> ghost src   -> tee
                        rawtee. ! valve lowvalve ! queue ! videoscale ! <reduced encoder> -> ghost src_low -> lowtee

The valve sits in the capture's thread and drops every frame while no viewer is on the layer, so
a room of clean links costs nothing extra (no scale, no second encode). It opens when the first
viewer asks for the layer, with a forced keyframe, and closes a few seconds after the last one
left (a viewer probing back up may return at once). The queue gives the reduced encoder its own
thread, so it never delays the full layer; it leaks at one frame when that encoder falls behind.
"""
import threading
import time
from typing import Optional

from gi.repository import GLib, Gst, GstVideo

from .config import Config
from .log import get_logger

log = get_logger('layers')

LAYERS = ('full', 'reduced')
# How long the valve stays open after the last viewer left the layer.
_LINGER_S = 5.0
# The largest keyframe of this layer, in time of its bitrate. A viewer joins it because its link
# is thin, and a thin link's buffer holds 50-200 ms (the netbed's tbf: 100 ms); the keyframe that
# starts the layer arrives as one burst, and one larger than that buffer loses its tail there
# and stalls the switch for NACK and RTX round trips. The encoders spread the rest of the picture
# over the following frames.
KEYFRAME_MS = 120


def reduced_size(cfg: Config):
    """Half the full size, even (x264 and I420 want even dimensions), at least 160x120."""
    return max(160, cfg.width // 4 * 2), max(120, cfg.height // 4 * 2)


def reduced_encoder_description(cfg: Config) -> str:
    from .pipeline import encoder_description  # pipeline imports this module
    width, height = reduced_size(cfg)
    return encoder_description(cfg, 'encoder_low', width, height, cfg.reduced_bitrate_kbps, KEYFRAME_MS)


def reduced_description(cfg: Config) -> str:
    width, height = reduced_size(cfg)
    return ('valve name=lowvalve drop=true '
            '! queue name=lowq leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 '
            '! videoscale ! video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! %s'
            % (width, height, reduced_encoder_description(cfg)))


def ghost_link(capture: Gst.Bin, name: str, pad_name: str, tee: Gst.Element) -> bool:
    """Expose the last element of layer `name` (its parser, else its encoder) as `pad_name` of the
    capture bin and link that to `tee`."""
    last = capture.get_by_name(name + 'out') or capture.get_by_name(name)
    ghost = Gst.GhostPad.new(pad_name, last.get_static_pad('src'))
    ghost.set_active(True)
    capture.add_pad(ghost)
    return ghost.link(tee.get_static_pad('sink')) == Gst.PadLinkReturn.OK


class ReducedLayer:
    def __init__(self, shared):
        self.shared = shared
        capture = shared.capture
        self.encoder = capture.get_by_name('encoder_low')
        self.valve = capture.get_by_name('lowvalve')
        self.width, self.height = reduced_size(shared.cfg)
        self.tee = Gst.ElementFactory.make('tee', 'lowtee')
        self.tee.set_property('allow-not-linked', True)
        shared.pipeline.add(self.tee)
        if not ghost_link(capture, 'encoder_low', 'src_low', self.tee):
            raise RuntimeError('cannot link the reduced layer to its tee')
        self._users = set()
        self._close_timer: Optional[int] = None
        self._lock = threading.Lock()
        self._last_request = 0.0
        self._last_keyframe_at = 0.0
        self.frames = 0
        self.bytes = 0
        self.encoder.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, self._on_encoded)

    @property
    def open(self) -> bool:
        return not self.valve.get_property('drop')

    def join(self, peer_id: str) -> None:
        """A viewer switches to this layer (main thread): encode from now on, starting with a keyframe."""
        self._users.add(peer_id)
        if self._close_timer is not None:
            GLib.source_remove(self._close_timer)
            self._close_timer = None
        if not self.open:
            self.valve.set_property('drop', False)
            log.info('reduced layer %dx%d at %d kbit/s on (for %s)', self.width, self.height,
                     self.shared.cfg.reduced_bitrate_kbps, peer_id)
        self.request_keyframe('%s joins the reduced layer' % peer_id)

    def leave(self, peer_id: str) -> None:
        self._users.discard(peer_id)
        if not self._users and self.open and self._close_timer is None:
            self._close_timer = GLib.timeout_add(int(_LINGER_S * 1000), self._close)

    def _close(self) -> bool:
        self._close_timer = None
        if not self._users:
            self.valve.set_property('drop', True)
            log.info('reduced layer off (no viewer on it)')
        return False

    def request_keyframe(self, reason: str) -> None:
        """Force a keyframe of this layer, at most one per keyframe throttle window (any thread):
        a request inside the window is dropped, as the viewer asks again (PLI) if it still needs one."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_request < self.shared.cfg.keyframe_throttle_ms / 1000.0:
                return
            self._last_request = now
        event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        self.encoder.get_static_pad('src').send_event(event)
        if self.shared.damage is not None:
            self.shared.damage.request_frame()
        log.debug('forced reduced keyframe (%s)', reason)

    def check_keyframe_age(self) -> None:
        """Damage capture keeps the GOP in time (see SharedEncoder._check_keyframe_age)."""
        if self.open and time.monotonic() - self._last_keyframe_at >= self.shared.cfg.keyframe_interval_s:
            self._last_keyframe_at = time.monotonic()
            self.request_keyframe('keyframe interval')

    def _on_encoded(self, _pad, info):
        buf = info.get_buffer()
        self.frames += 1
        self.bytes += buf.get_size()
        if not buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
            self._last_keyframe_at = time.monotonic()
        return Gst.PadProbeReturn.OK

    def shutdown(self) -> None:
        if self._close_timer is not None:
            GLib.source_remove(self._close_timer)
            self._close_timer = None
