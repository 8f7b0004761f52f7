"""Noticing a viewer that went away without a word (README.md, "Dead viewers").

Measured on GStreamer 1.22 webrtcbin, libnice 0.1.21 and Chromium 156: a viewer whose tab is closed
or whose browser is killed sends nothing more, and nothing in webrtcbin notices. ICE, DTLS and
connection state stay `connected` (watched for 70 s), no RTCP BYE arrives, no data channel closes.
webrtcbin 1.22 creates its libnice agent without ICE consent freshness (RFC 7675; libnice's
`consent-freshness` is construct-only, webrtcbin turns it on from 1.24), libnice's keepalive
conncheck gives up only after 50 s, and rtpsession times the viewer's SSRC out after five RTCP
intervals (RFC 3550 section 6.3.5): 29.5 s measured.

What is reliable is the viewer's own traffic. A live Chromium receiving our video sends RTCP for it
(receiver reports and feedback, RFC 3550 section 6.4.2): every 0.2 s at the median, at most 2.2 s
apart over 10 viewers x 60 s at load average 30 on 2 cores. So every packet the viewer's
transport delivers (SRTCP, DTLS, SCTP; libnice keeps STUN to itself) stamps the peer's Silence,
and the main loop reports a connected peer from which nothing came for `peer_silence_ms`
(default 5 s, more than twice the longest healthy gap measured). That is RFC 3550 section 6.3.5's
member timeout, with our own bound instead of five computed intervals.
"""
import time
from typing import Iterable, List, Optional, Tuple

# The main-loop check runs this often: a peer is reported at most one tick after its limit.
TICK_S = 0.5
# A tick that comes this late means the whole helper was not running (CPU starvation, a stop):
# the streaming threads that stamp packets did not run either, so silence measured across the
# stall says nothing about the viewer. The next tick, on time, judges again.
STALL_S = 3 * TICK_S


class Silence:
    """When anything last arrived from one viewer.

    Threads: `stamp` runs on the viewer's nicesrc streaming thread, once per packet. It stores
    one float (a single attribute write, atomic under the GIL, with one writer per attribute) and
    touches nothing else; every decision, and everything it changes, runs on the main loop
    (SilenceWatch.check). Not a GLib.idle_add per packet: queued behind a busy main loop, those
    stamps would land after the check that needs them, and a late check would see a silence that
    was never there.
    """

    def __init__(self) -> None:
        self.last_packet: Optional[float] = None  # time.monotonic(), written by streaming threads
        self.packets = 0  # only for logs; increments may race, which is harmless
        self.watch_since: Optional[float] = None  # main loop: set when the peer first connects
        self.reported = False  # main loop

    def stamp(self) -> None:
        """A packet arrived (nicesrc streaming thread; see the class docstring)."""
        self.last_packet = time.monotonic()
        self.packets += 1

    def start(self, now: float) -> None:
        """Main loop: the peer connected; silence counts from now at the latest."""
        if self.watch_since is None:
            self.watch_since = now

    def restart(self, now: float) -> None:
        """Main loop: the viewer restarted ICE. Its new offer came through the controller, so it is
        alive; its packets may have stopped because its path changed (why it restarts), and
        silence counts afresh from now, leaving the new checks a whole window."""
        if self.watch_since is not None:
            self.watch_since = max(self.watch_since, now)

    def silent_s(self, now: float) -> float:
        """Seconds since the last packet, or since the peer connected if none came after that."""
        if self.watch_since is None:
            return 0.0
        last = self.last_packet
        return max(0.0, now - max(last if last is not None else self.watch_since, self.watch_since))


class SilenceWatch:
    """The main loop's periodic check over every peer's Silence (main thread only)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._last_tick: Optional[float] = None

    def check(self, peers: Iterable[Tuple[str, Silence]], now: float) -> List[Tuple[str, float]]:
        """(peerId, silent seconds) of each watched peer silent for the limit, once per peer."""
        stalled = self._last_tick is not None and now - self._last_tick > STALL_S
        self._last_tick = now
        if stalled:
            return []
        lost = []
        for peer_id, silence in peers:
            if silence.reported or silence.watch_since is None:
                continue
            silent = silence.silent_s(now)
            if silent >= self.limit_s:
                silence.reported = True
                lost.append((peer_id, silent))
        return lost
