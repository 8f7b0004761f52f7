"""The RTP caps of a viewer's branch and of its answer (codec preferences)."""
from typing import Optional

from gi.repository import Gst

from .config import Config
from .sdp_munging import VideoOffer


def rtp_caps(cfg: Config, offer: VideoOffer, for_answer: bool, ssrc: Optional[int] = None) -> Gst.Caps:
    """RTP caps of a viewer's branch. The answer (codec preferences) repeats the offered H.264
    fmtp; the payloader's output omits profile-level-id so that it does not constrain the shared
    encoder (a 1080p stream's level is above 42e01f's 3.1, which Chromium decodes anyway).
    `ssrc`, in the codec preferences, is what webrtcbin announces as the media SSRC (see
    Peer._build_branch: without it, RTX breaks the viewer's video)."""
    if cfg.codec == 'vp8':
        caps = 'application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=%d' % offer.payload_type
    else:
        caps = ('application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=%d,'
                'packetization-mode=(string)1' % offer.payload_type)
        if for_answer:
            caps += (',profile-level-id=(string)%s,level-asymmetry-allowed=(string)1'
                     % offer.fmtp.get('profile-level-id', '42e01f'))
    if ssrc is not None:
        caps += ',ssrc=(uint)%d' % ssrc
    return Gst.Caps.from_string(caps)
