"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01)
read as queueing delay, for link adaptation (link_adapt.py).

What the sender does (VMLIVE_TWCC, when the viewer's offer has the extension and
`a=rtcp-fb:<pt> transport-cc`):
- every packet sent to the viewer carries the extension (section 2: a 16-bit transport-wide
  sequence number). The payloader reserves its two bytes (rtphdrexttwcc, peer.py); webrtcbin's
  rtpsession numbers each packet it sends, RTX and padding included (rtptwcc.c
  writes the number into packets that carry the extension, once the send caps name it as
  `extmap-<id>`), and keeps when it sent each;
- the viewer reports when each numbered packet arrived, or that it did not (section 3.1), every
  50-250 ms (libwebrtc's feedback interval); rtpsession matches the reports to its send times
  and pushes them upstream as one `RTPTWCCPackets` event per report, which QueueDelay reads at
  the branch's last element and keeps from going further up (to the shared encoder's tee).

What it means: a packet's one-way delay is its arrival time minus its send time, on two clocks
with an unknown offset; the least of them over the last BASE_WINDOW_S is the empty path. A link
sent more than it carries queues what it cannot pass at once, and the delay above that floor is
how full its queue is. That shows before the queue overflows (tbf drops after 100 ms of queue
in e2e/netbed; a home router's buffer is usually deeper), where NACKed loss shows only after it:
the reason to have this at all. libwebrtc's delay-based estimator (the trendline filter of
draft-ietf-rmcat-gcc-02 section 5) reads the same signal as a slope; a level above the floor is
enough here, where the decision is one of two layers and padding probes, not a rate.
"""
import collections
import itertools
import threading
import time
from typing import Deque, Iterable, List, Optional, Tuple

from gi.repository import Gst

BASE_WINDOW_S = 10.0   # the empty path's delay: the least one-way delay seen this long
RECENT_S = 0.15        # the queue's level now: the median one-way delay of the packets sent in this span
KEEP_S = 1.0           # packets kept for the level: longer than any span delay_ms is asked for
_NS = 1_000_000_000


class QueueDelay:
    """Queueing delay on one viewer's path, from its TWCC reports. Fed on webrtcbin's RTCP thread
    (on_report), read on the main loop (delay_ms); one lock between them."""

    def __init__(self):
        self._lock = threading.Lock()
        # (send time ns, one-way delay ns) of received packets, oldest first, over KEEP_S (the
        # floor has its own deque over BASE_WINDOW_S).
        self._packets: Deque[Tuple[int, int]] = collections.deque()
        # Ascending minima of the same window (a monotonic deque: the floor in O(1) per packet).
        self._floor: Deque[Tuple[int, int]] = collections.deque()
        self._last_report_ns: Optional[int] = None  # send time of the newest packet reported
        self._report_at = float('-inf')  # monotonic time the last report came
        self.reports = 0
        self.packets_reported = 0
        self.packets_lost = 0

    def on_report(self, packets: Iterable[Tuple[int, Optional[int]]], now: Optional[float] = None) -> None:
        """(send time ns, arrival time ns or None when lost) of each packet one report covers,
        received at monotonic time `now` (tests pass their clock)."""
        with self._lock:
            self._report_at = time.monotonic() if now is None else now
            self.reports += 1
            for sent_ns, arrived_ns in packets:
                self.packets_reported += 1
                if arrived_ns is None:
                    self.packets_lost += 1
                    continue
                delay = arrived_ns - sent_ns
                self._packets.append((sent_ns, delay))
                while self._floor and self._floor[-1][1] >= delay:
                    self._floor.pop()
                self._floor.append((sent_ns, delay))
                if self._last_report_ns is None or sent_ns > self._last_report_ns:
                    self._last_report_ns = sent_ns
            newest = self._last_report_ns
            if newest is None:
                return
            while self._packets and newest - self._packets[0][0] > KEEP_S * _NS:
                self._packets.popleft()
            while self._floor and newest - self._floor[0][0] > BASE_WINDOW_S * _NS:
                self._floor.popleft()

    def delay_ms(self, span_s: float = RECENT_S) -> Optional[float]:
        """The queue's level: the median delay above the floor of the packets sent in the last
        `span_s` (at most KEEP_S) before the newest one reported; None before any report."""
        with self._lock:
            if not self._floor or self._last_report_ns is None:
                return None
            since = self._last_report_ns - int(span_s * _NS)
            recent: List[int] = [d for _t, d in itertools.takewhile(lambda p: p[0] >= since, reversed(self._packets))]
            floor = self._floor[0][1]
        if not recent:
            return None
        recent.sort()
        return (recent[len(recent) // 2] - floor) / 1e6

    def last_report_at(self) -> float:
        """Monotonic time the last report came (-inf before the first)."""
        return self._report_at


def report_packets(structure: Gst.Structure) -> List[Tuple[int, Optional[int]]]:
    """The (send ns, arrival ns or None) pairs of an `RTPTWCCPackets` structure (rtpsession's
    report: a `packets` array of structures with local-ts, remote-ts and lost). Packets rtpsession
    has no send time for (sent before the extension was on) are left out."""
    # A GValueArray (rtptwcc.c), which PyGObject hands over as a list.
    values = structure.get_value('packets') if structure.has_field('packets') else None
    out: List[Tuple[int, Optional[int]]] = []
    for packet in values if isinstance(values, list) else []:
        if not isinstance(packet, Gst.Structure):
            continue
        ok_local, local = packet.get_uint64('local-ts')
        if not ok_local or local == Gst.CLOCK_TIME_NONE:
            continue
        ok_lost, lost = packet.get_boolean('lost')
        ok_remote, remote = packet.get_uint64('remote-ts')
        if (ok_lost and lost) or not ok_remote or remote == Gst.CLOCK_TIME_NONE:
            out.append((local, None))
        else:
            out.append((local, remote))
    return out


def watch_reports(pad: Gst.Pad, meter: QueueDelay) -> int:
    """Read the viewer's TWCC reports as they pass `pad` (the branch's last element's src pad,
    linked to webrtcbin) and drop them there; returns the probe id. The probe closes over the
    meter only (no webrtcbin -> probe -> Peer cycle)."""
    def on_event(_pad, info):
        event = info.get_event()
        structure = event.get_structure() if event is not None else None
        if structure is None or structure.get_name() != 'RTPTWCCPackets':
            return Gst.PadProbeReturn.OK
        meter.on_report(report_packets(structure))
        return Gst.PadProbeReturn.DROP
    return pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, on_event)
