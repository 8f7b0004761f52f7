"""Pure SDP text helpers: read what the viewer's offer proposes, adjust our answer.

RFC 8866 (SDP) line syntax; RFC 8285 (a=extmap); RFC 6184 section 8.1 (H.264 fmtp:
packetization-mode, profile-level-id); RFC 7741 (VP8 RTP payload); RFC 4588 section 8.6 (rtx and
its `apt` fmtp); RFC 8839 (ice-ufrag/ice-pwd, for ICE restarts).
"""
import re
import secrets
import string
from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay'
ABS_CAPTURE_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time'
TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'


class OfferError(Exception):
    pass


@dataclass(frozen=True)
class VideoOffer:
    mline_index: int
    mid: Optional[str]
    payload_type: int
    fmtp: Dict[str, str]
    playout_delay_id: Optional[int]
    # The offer's rtx payload type whose apt is payload_type (RFC 4588 section 8.6), if any.
    rtx_payload_type: Optional[int] = None
    # The offer's id for abs-capture-time (rtp_extensions.py), if it asked for it.
    abs_capture_time_id: Optional[int] = None
    # The offer's id for the transport-wide sequence number (twcc.py), when it also offered
    # `a=rtcp-fb:<payload_type> transport-cc` (draft-holmer-rmcat-transport-wide-cc-extensions-01
    # section 4): the viewer reports arrivals only for payload types that name it.
    transport_cc_id: Optional[int] = None


def split_sections(sdp: str) -> List[List[str]]:
    """[session lines, m-section 0 lines, m-section 1 lines, ...] without line endings."""
    sections: List[List[str]] = [[]]
    for line in sdp.replace('\r\n', '\n').split('\n'):
        if not line:
            continue
        if line.startswith('m='):
            sections.append([])
        sections[-1].append(line)
    return sections


def join_sections(sections: List[List[str]]) -> str:
    return ''.join(line + '\r\n' for section in sections for line in section)


def _parse_fmtp(value: str) -> Dict[str, str]:
    params = {}
    for part in value.split(';'):
        if '=' in part:
            key, _, val = part.strip().partition('=')
            params[key.strip().lower()] = val.strip()
    return params


def _media_info(lines: List[str]):
    rtpmap: Dict[int, str] = {}
    fmtp: Dict[int, Dict[str, str]] = {}
    extmap: Dict[str, int] = {}
    rtcp_fb: Dict[int, Set[str]] = {}  # RFC 4585 section 4.2: a=rtcp-fb:<pt> <type> [<subtype>]
    mid = None
    for line in lines:
        if line.startswith('a=rtcp-fb:'):
            pt, _, kind = line[10:].partition(' ')
            if pt.isdigit():
                rtcp_fb.setdefault(int(pt), set()).add(kind.strip().lower())
        if line.startswith('a=rtpmap:'):
            pt, _, enc = line[9:].partition(' ')
            if pt.isdigit():
                rtpmap[int(pt)] = enc.strip()
        elif line.startswith('a=fmtp:'):
            pt, _, params = line[7:].partition(' ')
            if pt.isdigit():
                fmtp[int(pt)] = _parse_fmtp(params)
        elif line.startswith('a=extmap:'):
            ident, _, rest = line[9:].partition(' ')
            ident = ident.split('/')[0]  # a=extmap:<id>[/<direction>] <uri>
            if ident.isdigit():
                extmap[rest.split(' ')[0]] = int(ident)
        elif line.startswith('a=mid:'):
            mid = line[6:].strip()
    return rtpmap, fmtp, extmap, mid, rtcp_fb


def _h264_rank(params: Dict[str, str]) -> Optional[int]:
    """Lower is better; None = unusable. Our encoder emits Constrained Baseline (x264 ultrafast,
    no CABAC/B-frames), packetized with FU-A/STAP-A, which needs packetization-mode=1."""
    if params.get('packetization-mode') != '1':
        return None
    pli = params.get('profile-level-id', '42001f').lower()
    if len(pli) != 6:
        return None
    try:
        profile_idc, iop = int(pli[0:2], 16), int(pli[2:4], 16)
    except ValueError:
        return None
    if profile_idc == 0x42 and iop & 0x40:  # constrained_set1_flag: Constrained Baseline
        return 0 if pli == '42e01f' else 1
    if profile_idc == 0x4d and iop & 0x80:  # Main with constraint_set0: CB-compatible
        return 3
    if profile_idc == 0x42:
        return 2
    return None


def _rtx_for(pt: int, order: List[int], rtpmap: Dict[int, str], fmtp: Dict[int, Dict[str, str]]) -> Optional[int]:
    """The first listed rtx/90000 payload type retransmitting `pt` (its fmtp apt=pt)."""
    for rtx in order:
        if rtpmap.get(rtx, '').lower().startswith('rtx/90000') and fmtp.get(rtx, {}).get('apt') == str(pt):
            return rtx
    return None


def parse_video_offer(sdp: str, codec: str) -> VideoOffer:
    """Find the first video m-line that can receive our codec and the payload type to use."""
    sections = split_sections(sdp)
    for index, lines in enumerate(sections[1:]):
        fields = lines[0][2:].split()
        if not fields or fields[0] != 'video':
            continue
        if len(fields) >= 2 and fields[1] == '0':
            continue  # port 0: rejected/disabled m-line
        if any(line in ('a=sendonly', 'a=inactive') for line in lines):
            continue  # the viewer must be able to receive
        rtpmap, fmtp, extmap, mid, rtcp_fb = _media_info(lines)
        order = [int(pt) for pt in fields[3:] if pt.isdigit()]
        candidates = []
        for pt in order:
            enc = rtpmap.get(pt, '').lower()
            if codec == 'vp8' and enc.startswith('vp8/90000'):
                candidates.append((0, pt))
            elif codec == 'h264' and enc.startswith('h264/90000'):
                rank = _h264_rank(fmtp.get(pt, {}))
                if rank is not None:
                    candidates.append((rank, pt))
        if not candidates:
            continue
        candidates.sort(key=lambda c: c[0])  # stable: keeps the offer's preference order per rank
        pt = candidates[0][1]
        # RFC 8285 one-byte form carries ids 1..14 only; an extension offered with another id is not sent.
        delay_id, capture_id, cc_id = (i if i is not None and 1 <= i <= 14 else None
                                       for i in (extmap.get(PLAYOUT_DELAY_URI), extmap.get(ABS_CAPTURE_TIME_URI),
                                                 extmap.get(TRANSPORT_CC_URI)))
        if 'transport-cc' not in rtcp_fb.get(pt, set()):
            cc_id = None
        return VideoOffer(index, mid, pt, fmtp.get(pt, {}), delay_id, _rtx_for(pt, order, rtpmap, fmtp), capture_id,
                          cc_id)
    raise OfferError('the offer has no receivable video m-line with %s' % codec.upper())


def add_extmap(sdp: str, mline_index: int, ext_id: int, uri: str) -> str:
    """Declare a header extension in one m-section of our answer (RFC 8285 section 6: the answerer
    may only use extensions the offer listed, with the same id), unless already present."""
    sections = split_sections(sdp)
    if mline_index + 1 >= len(sections):
        raise ValueError('no m-line %d in the answer' % mline_index)
    lines = sections[mline_index + 1]
    if any(line.startswith('a=extmap:') and line.split(' ')[1:2] == [uri] for line in lines):
        return join_sections(sections)
    # Place it after the last a=extmap, else after a=mid, else at the end of the section.
    insert_at = len(lines)
    for i, line in enumerate(lines):
        if line.startswith('a=extmap:') or line.startswith('a=mid:'):
            insert_at = i + 1
    lines.insert(insert_at, 'a=extmap:%d %s' % (ext_id, uri))
    return join_sections(sections)


def add_rtcp_fb(sdp: str, mline_index: int, payload_type: int, value: str) -> str:
    """Declare `a=rtcp-fb:<payload_type> <value>` in one m-section of our answer (RFC 4585
    section 4.2), after its other rtcp-fb lines for that payload type or after its rtpmap, unless
    already there."""
    sections = split_sections(sdp)
    if mline_index + 1 >= len(sections):
        raise ValueError('no m-line %d in the answer' % mline_index)
    lines = sections[mline_index + 1]
    line = 'a=rtcp-fb:%d %s' % (payload_type, value)
    if line in lines:
        return join_sections(sections)
    insert_at = len(lines)
    for i, existing in enumerate(lines):
        if existing.startswith('a=rtpmap:%d ' % payload_type) or existing.startswith('a=rtcp-fb:%d ' % payload_type):
            insert_at = i + 1
    lines.insert(insert_at, line)
    return join_sections(sections)


def has_extmap(sdp: str, mline_index: int, uri: str) -> bool:
    sections = split_sections(sdp)
    if mline_index + 1 >= len(sections):
        return False
    return uri in _media_info(sections[mline_index + 1])[2]


def ssrc_groups(sdp: str, mline_index: int, semantics: str = 'FID') -> List[List[int]]:
    """The SSRCs of each `a=ssrc-group:<semantics>` in one m-section (RFC 5576 section 4.2)."""
    sections = split_sections(sdp)
    if mline_index + 1 >= len(sections):
        return []
    prefix = 'a=ssrc-group:%s ' % semantics
    return [[int(x) for x in line[len(prefix):].split() if x.isdigit()]
            for line in sections[mline_index + 1] if line.startswith(prefix)]


# ---- ICE restart (RFC 8445 section 9, RFC 8839 section 4.4.1.1.1) ----
_UFRAG = re.compile(r'^(a=ice-ufrag:)(\S+)', re.M)
_PWD = re.compile(r'^(a=ice-pwd:)(\S+)', re.M)
# ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 section 5.4)
_ICE_CHARS = string.ascii_letters + string.digits + '+/'


def ice_credentials(sdp: str) -> Optional[Tuple[str, str]]:
    """The first ice-ufrag/ice-pwd pair of `sdp` (bundled: every section carries the same)."""
    ufrag, pwd = _UFRAG.search(sdp), _PWD.search(sdp)
    return (ufrag.group(2), pwd.group(2)) if ufrag and pwd else None


def new_ice_credentials() -> Tuple[str, str]:
    """Fresh local credentials for a restart: 32 ice-chars each, above RFC 8839 section 5.4's
    minimum of 4 (ufrag) and 22 (pwd) characters, from a CSPRNG (the pwd keys the STUN
    MESSAGE-INTEGRITY of every check)."""
    rng = secrets.SystemRandom()
    return (''.join(rng.choice(_ICE_CHARS) for _ in range(32)),
            ''.join(rng.choice(_ICE_CHARS) for _ in range(32)))


def with_ice_credentials(sdp: str, ufrag: str, pwd: str) -> str:
    """`sdp` with every ice-ufrag/ice-pwd line replaced (webrtcbin 1.22 answers a restart offer
    with the previous ones, which RFC 8839 section 4.4.1.1.1 forbids)."""
    sdp = _UFRAG.sub(lambda m: m.group(1) + ufrag, sdp)
    return _PWD.sub(lambda m: m.group(1) + pwd, sdp)
