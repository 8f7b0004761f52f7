"""Per-peer numbers from webrtcbin's get-stats (W3C webrtc-stats dictionaries) and process usage."""
import os
import time
from typing import Any, Dict, Optional, Tuple

_PAGE = os.sysconf('SC_PAGE_SIZE')


def rss_bytes() -> Optional[int]:
    """This process's resident set size from /proc/self/statm; None where it cannot be read."""
    try:
        with open('/proc/self/statm') as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _structure_items(structure) -> Dict[str, Any]:
    items: Dict[str, Any] = {}
    for i in range(structure.n_fields()):
        name = structure.nth_field_name(i)
        items[name] = structure.get_value(name)
    return items


def stats_to_dicts(reply) -> Dict[str, Dict[str, Any]]:
    """webrtcbin's get-stats reply: one GstStructure per stats object, keyed by stats id."""
    result = {}
    for key, value in _structure_items(reply).items():
        if hasattr(value, 'n_fields'):
            entry = _structure_items(value)
            kind = entry.get('type')
            entry['type'] = getattr(kind, 'value_nick', str(kind))
            result[key] = entry
    return result


def _num(value: Any) -> Optional[float]:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def summarize_peer(stats: Dict[str, Dict[str, Any]], connection_state: str,
                   prev: Optional[Tuple[float, int]], now: float) -> Tuple[Dict[str, Any], Tuple[float, int]]:
    """Sum outbound-rtp counters and pick RTT/loss from remote-inbound-rtp (RTCP receiver reports)."""
    out = {'bytesSent': 0.0, 'packetsSent': 0.0, 'nackCount': 0.0, 'pliCount': 0.0, 'firCount': 0.0}
    rtt = None
    lost = None
    for entry in stats.values():
        kind = entry.get('type')
        if kind == 'outbound-rtp':
            for field, key in (('bytes-sent', 'bytesSent'), ('packets-sent', 'packetsSent'),
                               ('nack-count', 'nackCount'), ('pli-count', 'pliCount'), ('fir-count', 'firCount')):
                out[key] += _num(entry.get(field)) or 0.0
        elif kind == 'remote-inbound-rtp':
            value = _num(entry.get('round-trip-time'))
            if value is not None:
                rtt = value
            value = _num(entry.get('packets-lost'))
            if value is not None:
                lost = (lost or 0.0) + value
    bitrate = None
    if prev is not None and now - prev[0] > 0.2 and out['bytesSent'] >= prev[1]:
        bitrate = round((out['bytesSent'] - prev[1]) * 8 / 1000.0 / (now - prev[0]), 1)
    peer = dict(out)
    peer.update({'roundTripTime': rtt, 'packetsLost': lost, 'bitrateKbps': bitrate,
                 'connectionState': connection_state})
    return peer, (now, int(out['bytesSent']))


class ProcessUsage:
    """CPU % of one core since the previous call (since start for the first) and RSS."""

    def __init__(self):
        self._last = (time.monotonic(), self._cpu_seconds())

    @staticmethod
    def _cpu_seconds() -> float:
        times = os.times()
        return times.user + times.system

    def sample(self) -> Dict[str, float]:
        now, cpu = time.monotonic(), self._cpu_seconds()
        last_t, last_cpu = self._last
        percent = 100.0 * (cpu - last_cpu) / max(1e-3, now - last_t)
        self._last = (now, cpu)
        return {'cpuPercent': round(percent, 1), 'rssBytes': rss_bytes() or 0}
