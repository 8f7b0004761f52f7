"""Link adaptation per viewer (VMLIVE_LINK_ADAPT): each viewer's branch carries the full or the
reduced layer (layers.py), whichever its link can carry, so one thin link never lowers what
the others get from the shared encoder.

Signal: the share of the media packets sent to this viewer that it NACKed (distinct sequence
numbers over the last second, from the RTCP feedback its rtpsession receives). A link thinner
than the stream overflows its queue and loses a large share at once (tbf, a saturated uplink);
random loss of a few % (Wi-Fi) stays well under the threshold and is repaired by RTX.
GStreamer 1.22 has no bandwidth estimator (no rtpgccbwe without gst-plugins-rs), and a viewer
receiving the reduced layer cannot tell whether its link would now carry the full one: so the
way back up is a probe, after a hold of 2 s, and 3 s after a failed probe: with 4 s a viewer whose
cap was lifted just after a failed probe showed full quality 5.1-5.4 s later (scripts/networks.ts
--thin cap,step, both codecs), past issue 12's 5 s; with 3 s, 1.9-2.7 s, for more failed probes
under a long cap (VP8 step: 4.9 s of short stalls in 12 s against 3.4 s; the other cases within 0.3 s).

The probe does not switch first. It pads the reduced layer up to the full layer's rate with
retransmissions of packets the viewer already has (PaddingProbe), the way libwebrtc probes with
RTX padding (RFC 4588 section 3 lets a sender retransmit what no one asked for; the receiver
drops the duplicates): if the link cannot carry that rate the queue overflows and media packets
are NACKed, which ends the probe on a layer the viewer still decodes, repaired by RTX. Switching
up to find out cost a stall each time instead (the full layer's keyframe stuck in the link's
queue until a reduced keyframe got through: 1-3 s under a 600 kbit/s cap). Only a padding probe
that held switches to the full layer.

With transport-wide congestion control feedback (twcc.py, VMLIVE_TWCC, when the viewer offers it)
the adapter also reads the viewer's queueing delay, which shows a link over its rate before its
queue overflows:
- down: the queue above DOWN_DELAY_MS for DOWN_DELAY_S moves the viewer down, without waiting
  for a second of NACKed loss (a 1 Mbit/s cap on a 2.5 Mbit/s stream fills tbf's 100 ms queue in
  70 ms and holds it there);
- the probe ramps its padding up over PAD_RAMP_S instead of stepping to the full rate, and ends
  as failed as soon as the queue passes PROBE_DELAY_MS, checked at each padding tick (20 ms) on
  the newest PROBE_SPAN_S of reports: a link that cannot carry the full layer
  is found out while its queue is still filling, so a failed probe costs neither loss nor stall,
  and a capped viewer's link settles under the cap once it went down (issue 12 (b)). Without
  the feedback, a probe is found out by the loss it causes, as before.

Switches happen at a keyframe of the target layer (asked for at once): a buffer probe on the
selector's pad for that layer makes it the active pad when the keyframe arrives, so the viewer's
decoder never sees a delta frame of a stream it has no reference for.
"""
import collections
import time
from typing import Callable, Deque, Dict, Optional, Set, Tuple

from gi.repository import GLib, GObject, Gst

from .log import get_logger
from .twcc import RECENT_S, QueueDelay

log = get_logger('link-adapt')

TICK_MS = 100  # a failed probe shows within ~100 ms (its keyframe burst is NACKed at once); each tick is stall
WINDOW_S = 1.0
DOWN_LOSS = 0.10      # NACKed share over WINDOW_S that moves a viewer down
CLEAN_LOSS = 0.03     # at most this on the reduced layer before probing up
MIN_PACKETS = 40      # fewer sent in the window: no decision (a still screen sends little; a few
#                       random losses of a short burst are no thin link)
MIN_PACKETS_PROBING = 15  # a probe that overflows the link shows at once, and each moment costs a stall
PROBE_S = 2.5         # after going up, this long without DOWN_LOSS = the probe held
PAD_PROBE_S = 1.0     # padded to the full layer's rate this long without DOWN_LOSS = the link carries it
PAD_TICK_MS = 20      # padding is sent in bursts this far apart (a few packets each)
PAD_HEADROOM = 1.2    # pad to this much of the full layer's rate: its keyframes come above the average
HOLDS_S = (2.0, 3.0)  # first hold, then after a failed probe; see the module docstring for why 3 s
SETTLED_S = 10.0      # on the full layer this long after a probe: the hold starts from 2 s again
# Queueing delay (twcc.QueueDelay). e2e/netbed's tbf drops past 100 ms of queue; the jitter relay
# of issue 12's case (a) moves single packets by up to 20 ms, which the median does not follow.
DOWN_DELAY_MS = 60.0  # the queue above this ...
DOWN_DELAY_S = 0.2    # ... this long (three ticks in a row: not one keyframe's burst) moves a viewer down
PROBE_DELAY_MS = 15.0  # a padding probe that fills the queue past this has found the link's rate
PROBE_SPAN_S = 0.06   # ... read on the newest reports only: the queue rises fast while a probe passes the link's rate
# With the feedback the total rises geometrically from the reduced layer's rate to the probe's over
# this long (padding_at), and the probe lasts PAD_FULL_S longer at the full rate. The reports come
# 50-250 ms apart (libwebrtc spends ~5 % of the rate on them), so a probe is seen passing the
# link's rate 0.1-0.3 s late: with a linear ramp over 0.6 s its queue had overflowed tbf's 100 ms
# by then (scripts/networks.ts --thin cap: queue 27-78 ms when the probe ended, drops until the
# cap's end).
PAD_RAMP_S = 1.2
PAD_FULL_S = 0.3
REPORT_AGE_S = 0.5    # a level older than this says nothing about the link now
_RTPFB, _NACK = 205, 1


def nacked_seqs(fci: bytes):
    """Sequence numbers of a generic NACK's FCI (RFC 4585 6.2.1): PID + bitmask of the next 16."""
    for i in range(0, len(fci) - 3, 4):
        pid = (fci[i] << 8) | fci[i + 1]
        blp = (fci[i + 2] << 8) | fci[i + 3]
        yield pid
        for bit in range(16):
            if blp & (1 << bit):
                yield (pid + bit + 1) & 0xFFFF


class LossMeter:
    """Media packets sent and the share of them NACKed, over a sliding window of send time.
    Written from the payloader's and the RTCP threads (single attribute and dict stores), read on
    the main loop.

    A NACK counts against the packet it names, not the moment it arrives: the payloader's
    sequence numbers run without a gap (one per packet it sends this viewer), so a NACKed seq maps
    to the packet's index in what was sent. Counting NACKs by arrival against packets by send time
    read "539 % of 123 packets" through a TURN/TLS relay whose queue delivered a second-old burst
    late; a share of what was sent in the window cannot exceed 1."""

    def __init__(self, stale: Optional[Callable[[int], bool]] = None):
        # (packets sent, seq of the last one): one tuple, so the RTCP thread reads a matching pair.
        self._head: Tuple[int, Optional[int]] = (0, None)
        self._nacked: Set[int] = set()  # indexes of the NACKed packets in what was sent
        self._samples: Deque[Tuple[float, int]] = collections.deque()
        # Packets before the last layer switch (SwitchBoundary.stale): the viewer NACKs what it
        # missed of the old layer for a second after a switch, which says nothing about how the
        # new layer fares (counted, one step after a 5 -> 0.5 Mbit/s cap read "772 % of 69 packets"
        # on the reduced layer and held back every probe).
        self._stale = stale

    @property
    def sent(self) -> int:
        return self._head[0]

    def on_packets(self, n: int, last_seq: Optional[int]) -> None:
        """n more packets sent, the last with sequence number last_seq."""
        self._head = (self._head[0] + n, last_seq if last_seq is not None else self._head[1])

    def on_nack(self, fci: bytes) -> None:
        sent, last = self._head
        if last is None:
            return
        for seq in nacked_seqs(fci):
            behind = (last - seq) & 0xFFFF
            # Ahead of the last packet sent (serial arithmetic, RFC 3550 A.1): not one of ours.
            if behind >= 0x8000 or behind >= sent or (self._stale is not None and self._stale(seq)):
                continue
            self._nacked.add(sent - 1 - behind)

    def reset(self) -> None:
        self._nacked.clear()
        self._samples.clear()

    def _sent_at(self, now: float, ago_s: float) -> int:
        """Packets sent by the first sample no older than ago_s (the newest count if none is)."""
        return next((n for t, n in self._samples if now - t <= ago_s), self.sent)

    def loss(self, now: float, span_s: float = WINDOW_S, until_s: float = 0.0) -> Tuple[float, int]:
        """(NACKed share, packets) of the packets sent from span_s to until_s ago (a shorter span
        right after a reset)."""
        sent_now = self.sent
        if not self._samples or self._samples[-1][0] != now:  # one sample per decision, however many queries
            self._samples.append((now, sent_now))
        keep_s = max(span_s, HOLDS_S[-1]) + 1
        while self._samples and now - self._samples[0][0] > keep_s:
            self._samples.popleft()
        first = self._sent_at(now, span_s)
        end = self._sent_at(now, until_s) if until_s > 0 else sent_now
        oldest = self._samples[0][1]
        for index in [i for i in list(self._nacked) if i < oldest]:
            self._nacked.discard(index)
        packets = end - first
        nacked = sum(1 for i in list(self._nacked) if first <= i < end)
        return (nacked / packets if packets else 0.0), packets


def rtp_seq(buf: Gst.Buffer) -> Optional[int]:
    """An RTP packet's sequence number (RFC 3550 section 5.1: bytes 2-3, network order); None for
    a buffer too short to be one."""
    if buf.get_size() < 4:
        return None
    head = buf.extract_dup(2, 2)
    return (head[0] << 8) | head[1]


class SwitchBoundary:
    """The RTP sequence number at which this viewer's branch last switched layers, and the gate
    that keeps retransmissions from crossing it back.

    A switch happens at a keyframe of the new layer, so no packet sent before it helps the viewer
    decode anything after it. Yet the viewer goes on NACKing what it missed of the old layer (a
    probe's keyframe overflowing a thin link, or the full layer at the onset of a cap), for as long
    as its NACK history lasts (about a second in libwebrtc), and rtprtxsend would resend every one
    of them: on a link that just proved too thin, that RTX queues ahead of the new layer's keyframe
    and stretches the stall a failed probe costs by a second or more. The gate drops those
    requests (RFC 4588 section 3: retransmission is the sender's choice; a request it ignores is
    one the receiver gives up on). Written from streaming threads (plain int stores)."""

    def __init__(self):
        self.seq: Optional[int] = None
        self.dropped = 0
        self._armed = False

    def arm(self) -> None:
        """The selector just made the new layer's keyframe the next buffer of the branch."""
        self._armed = True

    def on_rtp(self, buf: Gst.Buffer) -> None:
        """A payloaded packet of this viewer's media stream; the first one after arm() is the
        boundary (at worst a packet of the old layer's last frame, which only serves one more)."""
        if self._armed:
            seq = rtp_seq(buf)
            if seq is not None:
                self._armed = False
                self.seq = seq

    def stale(self, seq: int) -> bool:
        """seq precedes the boundary (serial number arithmetic over 16 bits, RFC 3550 A.1)."""
        return self.seq is not None and 0 < ((self.seq - seq) & 0xFFFF) < 0x8000

    def gate(self, rtx_sender: Gst.Element, media_ssrc: int) -> None:
        """Drop retransmission requests for packets before the boundary at webrtcbin's
        rtprtxsend (rtpsession turns each NACKed seq into an upstream GstRTPRetransmissionRequest)."""
        def on_event(_pad, info):
            structure = info.get_event().get_structure()
            if structure is not None and structure.get_name() == 'GstRTPRetransmissionRequest':
                ok_seq, seq = structure.get_uint('seqnum')
                ok_ssrc, ssrc = structure.get_uint('ssrc')
                if ok_seq and ok_ssrc and ssrc == media_ssrc and self.stale(seq):
                    self.dropped += 1
                    return Gst.PadProbeReturn.DROP
            return Gst.PadProbeReturn.OK
        rtx_sender.get_static_pad('src').add_probe(Gst.PadProbeType.EVENT_UPSTREAM, on_event)


def padding_at(elapsed_s: float, rate_bps: float, base_bps: float, ramp_s: float) -> float:
    """Padding `elapsed_s` into a probe that ramps the total (base + padding) geometrically from
    `base_bps` to `base_bps + rate_bps` over `ramp_s` (linearly from 0 without a base).

    Geometric because the queue a probe builds once it passes the link's rate C grows like
    ln(g) * t^2 / 2 seconds (g: the ramp's growth per second), whatever C is, where a linear ramp's
    grows like slope * t^2 / 2C: twice as fast on a 0.5 Mbit/s link as on 1 Mbit/s
    (scripts/networks.ts --thin step: probes ended at 59-61 ms of queue, and tbf dropped)."""
    if ramp_s <= 0 or elapsed_s >= ramp_s:
        return rate_bps
    share = max(elapsed_s, 0.0) / ramp_s
    if base_bps <= 0:
        return rate_bps * share
    return base_bps * ((base_bps + rate_bps) / base_bps) ** share - base_bps


class PaddingProbe:
    """Raises what one viewer's link carries to a target rate for a while, with retransmissions of
    its own recent media packets (webrtcbin's rtprtxsend resends them as RTX, from its history),
    and counts what it sent. Recent packets come from the payloader's thread (on_rtp: deque
    appends); the rest runs on the main loop."""

    RECENT = 64

    def __init__(self):
        self._rtx_pad: Optional[Gst.Pad] = None
        self._ssrc = 0
        self._stop_when: Optional[Callable[[], bool]] = None
        self.stopped_early = False  # the last probe's stop_when said so
        self._recent: Deque[Tuple[int, int]] = collections.deque(maxlen=self.RECENT)  # (seq, bytes)
        self._timer: Optional[int] = None
        self._rate_bps = 0.0
        self._base_bps = 0.0
        self._ramp_s = 0.0
        self._started = 0.0
        self._last = 0.0
        self._credit = 0.0
        self._next = 0

    def bind(self, rtx_sender: Gst.Element, media_ssrc: int) -> None:
        """webrtcbin made the viewer's rtprtxsend (its streaming thread)."""
        self._rtx_pad = rtx_sender.get_static_pad('src')
        self._ssrc = media_ssrc

    @property
    def available(self) -> bool:
        return self._rtx_pad is not None

    @property
    def active(self) -> bool:
        return self._timer is not None

    def on_rtp(self, buf: Gst.Buffer) -> None:
        seq = rtp_seq(buf)
        if seq is not None:
            self._recent.append((seq, buf.get_size()))

    def start(self, rate_bps: float, ramp_s: float = 0.0, stop_when: Optional[Callable[[], bool]] = None,
              base_bps: float = 0.0) -> None:
        """Pad at `rate_bps` on top of the `base_bps` the viewer already gets, until stop() or
        until `stop_when()` (asked at each tick) says so. With `ramp_s` the total rises
        geometrically from base to base + rate over that long (see padding_at)."""
        self.stop()
        self._stop_when = stop_when
        self.stopped_early = False
        self._rate_bps = max(rate_bps, 0.0)
        self._base_bps = max(base_bps, 0.0)
        self._ramp_s = max(ramp_s, 0.0)
        self._last = self._started = time.monotonic()
        self._credit = 0.0
        self._timer = GLib.timeout_add(PAD_TICK_MS, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            GLib.source_remove(self._timer)
            self._timer = None

    def release(self) -> None:
        """The viewer is gone: stop, and let go of its rtprtxsend's pad."""
        self.stop()
        self._rtx_pad = None

    def rate_bps(self, now: float) -> float:
        """The padding rate at monotonic time `now`."""
        return padding_at(now - self._started, self._rate_bps, self._base_bps, self._ramp_s)

    def _tick(self) -> bool:
        if self._stop_when is not None and self._stop_when():
            self._timer = None
            self.stopped_early = True
            return False
        now = time.monotonic()
        rate = self.rate_bps(now)
        # Credit for at most two ticks: a main loop that ran late must not dump a burst.
        self._credit = min(self._credit + rate / 8 * (now - self._last), rate / 8 * 2 * PAD_TICK_MS / 1000)
        self._last = now
        recent = list(self._recent)
        pad = self._rtx_pad
        while recent and pad is not None and self._credit > 0:
            seq, size = recent[-1 - self._next % len(recent)]
            self._next += 1
            request = Gst.Structure.new_empty('GstRTPRetransmissionRequest')
            request.set_value('seqnum', GObject.Value(GObject.TYPE_UINT, seq))
            request.set_value('ssrc', GObject.Value(GObject.TYPE_UINT, self._ssrc))
            pad.send_event(Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, request))
            self._credit -= size
        return True


class LayerRates:
    """Both layers' encoded rates over the last second, sampled on the adapter's ticks."""

    def __init__(self, shared):
        self._shared = shared
        self._samples: Deque[Tuple[float, int, int]] = collections.deque()

    def sample(self, now: float) -> None:
        reduced = self._shared.reduced
        self._samples.append((now, self._shared.bytes, reduced.bytes if reduced is not None else 0))
        while len(self._samples) > 2 and now - self._samples[1][0] >= WINDOW_S:
            self._samples.popleft()

    def bps(self) -> Tuple[float, float]:
        """(full, reduced) bits/s."""
        if len(self._samples) < 2:
            return 0.0, 0.0
        (t0, f0, r0), (t1, f1, r1) = self._samples[0], self._samples[-1]
        span = max(t1 - t0, 1e-3)
        return (f1 - f0) * 8 / span, (r1 - r0) * 8 / span


class LayerSelector:
    """The input-selector at the head of a viewer's branch, fed by both layers' tees."""

    def __init__(self, pipeline: Gst.Pipeline, full_tee: Gst.Element, reduced_tee: Gst.Element,
                 boundary: Optional[SwitchBoundary] = None):
        self.boundary = boundary
        self.element = Gst.ElementFactory.make('input-selector', None)
        # Unsynchronised: an inactive pad drops its buffers at once instead of waiting for the
        # active one's running time (which would hold the reduced layer's thread).
        self.element.set_property('sync-streams', False)
        pipeline.add(self.element)
        self.tees = {'full': full_tee, 'reduced': reduced_tee}
        self.sinks = {name: self.element.request_pad_simple('sink_%u') for name in ('full', 'reduced')}
        self.tee_pads: Dict[str, Gst.Pad] = {}
        self.element.set_property('active-pad', self.sinks['full'])
        self.layer = 'full'
        self._pending: Optional[Tuple[str, int]] = None

    def link(self) -> None:
        for name, tee in self.tees.items():
            pad = tee.request_pad_simple('src_%u')
            pad.link(self.sinks[name])
            self.tee_pads[name] = pad

    def switch(self, layer: str, on_done: Callable[[str], None]) -> None:
        """Make `layer` active at its next keyframe (main thread); a pending switch is replaced."""
        self.cancel()
        pad = self.sinks[layer]

        def on_buffer(_pad, info):
            buf = info.get_buffer()
            if buf is None or buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
                return Gst.PadProbeReturn.OK
            # Before this keyframe enters the selector: it is the first buffer the branch gets
            # from the new layer.
            self.element.set_property('active-pad', pad)
            if self.boundary is not None:
                self.boundary.arm()
            self.layer = layer
            self._pending = None
            GLib.idle_add(on_done, layer)
            return Gst.PadProbeReturn.REMOVE
        self._pending = (layer, pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer))

    def cancel(self) -> None:
        if self._pending is not None:
            self.sinks[self._pending[0]].remove_probe(self._pending[1])
            self._pending = None

    @property
    def target(self) -> str:
        return self._pending[0] if self._pending is not None else self.layer


class LinkAdapter:
    """The decision, on a main-loop timer, for one viewer."""

    def __init__(self, peer_id: str, selector: LayerSelector, reduced, request_full_keyframe: Callable[[str], None],
                 silent_s: Callable[[float], float], padding: Optional[PaddingProbe] = None,
                 rates: Optional[LayerRates] = None, queue: Optional[QueueDelay] = None,
                 clock: Callable[[], float] = time.monotonic):
        self.peer_id = peer_id
        self._clock = clock  # monotonic seconds; tests pass theirs
        self.queue = queue
        self._queued_since: Optional[float] = None  # since when the queue has been over DOWN_DELAY_MS
        self.probes_delay_failed = 0
        self.padding = padding
        self.rates = rates
        self._padding_since: Optional[float] = None
        self._pad_probe_s = PAD_PROBE_S  # how long the probe running now lasts
        self.probes_padded_failed = 0
        self.selector = selector
        self.reduced = reduced
        self._request_full_keyframe = request_full_keyframe
        self._silent_s = silent_s
        self.meter = LossMeter(selector.boundary.stale if selector.boundary is not None else None)
        self._hold_index = 0
        self._since = time.monotonic()  # when the current layer (or its pending switch) began
        self._probing = False
        self._up_at = 0.0  # when the last probe held
        self._timer: Optional[int] = GLib.timeout_add(TICK_MS, self._tick)

    def _tick(self) -> bool:
        self.decide(self._clock())
        return True

    def decide(self, now: float) -> None:
        """One decision at monotonic time `now` (the timer's; tests pass their own clock)."""
        if self.rates is not None:
            self.rates.sample(now)
        if self._silent_s(now) > 0.5:
            # Nothing heard for a while (a blackout): whatever NACKs follow ask for what the dark
            # link dropped, not what the link can carry now.
            self._end_padding()
            self.meter.reset()
            self._since = now
            return
        if self._padding_since is not None:
            self._decide_padded(now)
            return
        target = self.selector.target
        loss, sent = self.meter.loss(now)
        enough = sent >= (MIN_PACKETS_PROBING if self._probing else MIN_PACKETS)
        queued = self._queued_s(now, DOWN_DELAY_MS) if target == 'full' else 0.0
        lossy = enough and loss > DOWN_LOSS and (self._probing or self._sustained(now))
        if target == 'full' and (lossy or queued >= DOWN_DELAY_S):
            if self._probing or now - self._up_at < SETTLED_S:
                # The probe failed, if only after a while (a thin link's queue absorbs a few seconds).
                self._hold_index = min(self._hold_index + 1, len(HOLDS_S) - 1)
            why = ('lost %.0f %% of %d packets' % (loss * 100, sent) if lossy else
                   'queue %.0f ms for %.1f s' % (self._level(now) or 0.0, queued))
            self._go('reduced', why, now)
        elif target == 'full' and self._probing and self.selector.layer == 'full' and now - self._since > PROBE_S:
            self._probing = False
            self._up_at = now
            log.info('[%s] back on the full layer', self.peer_id)
        elif target == 'full' and not self._probing and self._hold_index and now - self._up_at > SETTLED_S:
            # Not while a probe runs: its first ticks come before its NACKs do, and resetting then
            # would make every failed probe look like the first.
            self._hold_index = 0
        elif target == 'reduced' and now - self._since >= HOLDS_S[self._hold_index]:
            loss, sent = self.meter.loss(now, HOLDS_S[self._hold_index] / 2)
            level = self._level(now)
            if loss > CLEAN_LOSS or (level is not None and level > PROBE_DELAY_MS):
                return  # still draining what the last layer or probe queued
            full_bps, reduced_bps = self.rates.bps() if self.rates is not None else (0.0, 0.0)
            if self.padding is not None and self.padding.available and full_bps > 0:
                self._padding_since = now
                self.meter.reset()
                pad_bps = max(full_bps * PAD_HEADROOM - reduced_bps, 0.0)
                # With fresh feedback the probe ramps and watches the queue; without, it steps and waits for loss.
                watched = self._level(now) is not None
                ramp_s = PAD_RAMP_S if watched else 0.0
                self._pad_probe_s = PAD_RAMP_S + PAD_FULL_S if watched else PAD_PROBE_S
                self.padding.start(pad_bps, ramp_s, self._probe_queued if watched else None, reduced_bps)
                log.info('[%s] probing the link at the full layer\'s rate: padding %.0f kbit/s onto %.0f%s',
                         self.peer_id, pad_bps / 1000, reduced_bps / 1000,
                         ' (ramped over %.1f s, watching the queue)' % ramp_s if ramp_s else '')
                return
            self._probing = True
            self._go('full', 'probing (%.0f %% lost on the reduced layer)' % (loss * 100), now)

    def _level(self, now: float, span_s: float = RECENT_S) -> Optional[float]:
        """The viewer's queueing delay now (ms), or None without fresh feedback."""
        if self.queue is None or now - self.queue.last_report_at() > REPORT_AGE_S:
            return None
        return self.queue.delay_ms(span_s)

    def _probe_queued(self) -> bool:
        """The padding probe filled the queue (asked by PaddingProbe at each of its ticks)."""
        level = self._level(self._clock(), PROBE_SPAN_S)
        return level is not None and level > PROBE_DELAY_MS

    def _queued_s(self, now: float, over_ms: float) -> float:
        """How long the queue has been over `over_ms` without a break (0 when it is not now)."""
        level = self._level(now)
        if level is None or level <= over_ms:
            self._queued_since = None
            return 0.0
        if self._queued_since is None:
            self._queued_since = now
        return now - self._queued_since

    def _sustained(self, now: float) -> bool:
        """Loss over DOWN_LOSS in both halves of the window, not one burst: a thin link loses from
        every frame over its rate, while a burst lost once (the joining keyframe through a relay
        whose path was still settling: "17 % of 47 packets" 200 ms after connect, then none) is
        what RTX repairs, and moving down for it cost the viewer at least 3 s at 640x360 (the hold
        and the padding probe)."""
        halves = (self.meter.loss(now, WINDOW_S, WINDOW_S / 2), self.meter.loss(now, WINDOW_S / 2))
        return all(loss > DOWN_LOSS and sent >= MIN_PACKETS // 4 for loss, sent in halves)

    def _decide_padded(self, now: float) -> None:
        loss, sent = self.meter.loss(now)
        level = self._level(now, PROBE_SPAN_S)
        lossy = sent >= MIN_PACKETS_PROBING and loss > DOWN_LOSS
        queued = self.padding is not None and self.padding.stopped_early
        if lossy or queued or (level is not None and level > PROBE_DELAY_MS):
            why = ('lost %.0f %% of %d packets' % (loss * 100, sent) if lossy else
                   'queue %.0f ms after %.1f s of padding' % (level or 0.0, now - (self._padding_since or now)))
            self._end_padding()
            self.probes_padded_failed += 1
            if not lossy:
                self.probes_delay_failed += 1
            self._hold_index = min(self._hold_index + 1, len(HOLDS_S) - 1)
            self._since = now
            self.meter.reset()
            log.info('[%s] the link did not carry the full layer\'s rate (%s): staying on the reduced layer',
                     self.peer_id, why)
        elif now - self._padding_since >= self._pad_probe_s:
            self._end_padding()
            self._probing = True
            self._go('full', 'the link carried the full layer\'s rate for %.1f s (%.0f %% lost)'
                     % (self._pad_probe_s, loss * 100), now)

    def _end_padding(self) -> None:
        self._padding_since = None
        if self.padding is not None:
            self.padding.stop()

    def _go(self, layer: str, why: str, now: float) -> None:
        boundary = self.selector.boundary
        log.info('[%s] to the %s layer: %s (%d stale retransmissions dropped so far)', self.peer_id, layer, why,
                 boundary.dropped if boundary is not None else 0)
        self._since = now
        self.meter.reset()
        self._queued_since = None
        if layer == 'reduced':
            self.reduced.join(self.peer_id)
        else:
            self._request_full_keyframe('%s probes the full layer' % self.peer_id)
        self.selector.switch(layer, self._switched)

    def _switched(self, layer: str) -> bool:
        if layer == 'full':
            self.reduced.leave(self.peer_id)
        return False

    def request_keyframe(self, reason: str) -> None:
        """A keyframe for whatever this viewer is (about to be) receiving."""
        if self.selector.target == 'reduced':
            self.reduced.request_keyframe(reason)
        if self.selector.layer == 'full' or self.selector.target == 'full':
            self._request_full_keyframe(reason)

    def close(self) -> None:
        if self._timer is not None:
            GLib.source_remove(self._timer)
            self._timer = None
        self._end_padding()
        if self.padding is not None:
            self.padding.release()
        self.selector.cancel()
        self.reduced.leave(self.peer_id)


def watch_nacks(webrtc: Gst.Element, meter: LossMeter):
    """Connect the viewer's rtpsession feedback to `meter`; returns (session, handler id) or None.
    With max-bundle there is one session. The handler closes over the meter only (no webrtcbin ->
    handler -> Peer cycle)."""
    rtpbin = webrtc.get_by_name('rtpbin')
    elements = [e for e in (rtpbin.children if rtpbin is not None else [])
                if e.get_factory() is not None and e.get_factory().get_name() == 'rtpsession']
    session = elements[0].get_property('internal-session') if elements else None
    if session is None:
        return None

    def on_feedback(_session, fb_type, fb_fmt, _sender, _media, fci):
        if fb_type == _RTPFB and fb_fmt == _NACK and fci is not None:
            meter.on_nack(fci.extract_dup(0, fci.get_size()))
    return session, session.connect('on-feedback-rtcp', on_feedback)


def attach_adapter(peer_id: str, webrtc: Gst.Element, selector: LayerSelector, shared, pay: Gst.Element,
                   silent_s: Callable[[float], float], padding: Optional[PaddingProbe] = None,
                   queue: Optional[QueueDelay] = None):
    """A connected viewer's adapter, fed by its payloader's output (media packets only: webrtcbin's
    rtprtxsend adds RTX after it), its rtpsession's NACKs and, with TWCC, its queueing delay;
    (adapter, feedback handler) or None."""
    adapter = LinkAdapter(peer_id, selector, shared.reduced, shared.request_keyframe, silent_s, padding,
                          LayerRates(shared), queue)
    meter = adapter.meter
    feedback = watch_nacks(webrtc, meter)
    if feedback is None:
        adapter.close()
        return None

    boundary = selector.boundary

    def count(_pad, info):
        # Only a list probe has a list (asking a buffer probe for one is a GStreamer-CRITICAL).
        buffers = info.get_buffer_list() if info.type & Gst.PadProbeType.BUFFER_LIST else None
        packets = [buffers.get(i) for i in range(buffers.length())] if buffers is not None else [info.get_buffer()]
        last = packets[-1] if packets else None
        meter.on_packets(len(packets), rtp_seq(last) if last is not None else None)
        if boundary is not None and packets and packets[0] is not None:  # a list may be empty
            boundary.on_rtp(packets[0])
        if padding is not None:
            for packet in packets:
                if packet is not None:
                    padding.on_rtp(packet)
        return Gst.PadProbeReturn.OK
    pay.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, count)
    return adapter, feedback
