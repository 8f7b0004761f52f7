"""The playout-delay RTP header extension (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay)
carries MIN_DELAY and MAX_DELAY, 12 bits each in 10 ms units; min = max = 0 tells the receiver to
render frames as soon as they are decoded (no jitter-buffer target). rtp_extensions.py writes it.
"""


def encode_delay(min_ms: int, max_ms: int) -> bytes:
    """3 bytes: MIN (12 bits) then MAX (12 bits), both in 10 ms units."""
    lo, hi = min(4095, max(0, min_ms // 10)), min(4095, max(0, max_ms // 10))
    return bytes(((lo >> 4) & 0xff, ((lo & 0x0f) << 4) | ((hi >> 8) & 0x0f), hi & 0xff))
