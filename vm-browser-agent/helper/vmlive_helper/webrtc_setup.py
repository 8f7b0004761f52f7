"""webrtcbin set-up outside a viewer's flow: the ICE-TCP switch and the ICE restart of a peer's
libnice agent (both through C, see set_ice_tcp), and the start-up warm-up negotiation."""
import ctypes
import time
from typing import List, NamedTuple

from gi.repository import Gst, GstWebRTC

from .gobject_pointer import gobject_pointer

_gobject = ctypes.CDLL('libgobject-2.0.so.0')
_gobject.g_object_unref.argtypes = [ctypes.c_void_p]

_VP = ctypes.c_void_p
# libnice, for what GStreamer 1.22's webrtcbin does not do (its libgstwebrtcnice never calls
# nice_agent_restart_stream; vm-browser-agent/helper/tools/ice_restart_probe.py shows it). There is
# no Nice GI typelib on Debian without gir1.2-nice-0.1, and the C entry points are stable since 0.1.
_nice = ctypes.CDLL('libnice.so.10')
_nice.nice_agent_restart_stream.argtypes = [_VP, ctypes.c_uint]
_nice.nice_agent_restart_stream.restype = ctypes.c_int
_nice.nice_agent_get_local_candidates.argtypes = [_VP, ctypes.c_uint, ctypes.c_uint]
_nice.nice_agent_get_local_candidates.restype = _VP
_nice.nice_agent_generate_local_candidate_sdp.argtypes = [_VP, _VP]
_nice.nice_agent_generate_local_candidate_sdp.restype = _VP
_nice.nice_candidate_free.argtypes = [_VP]
_nice.nice_agent_get_local_credentials.argtypes = [_VP, ctypes.c_uint, ctypes.POINTER(_VP), ctypes.POINTER(_VP)]
_nice.nice_agent_set_local_credentials.argtypes = [_VP, ctypes.c_uint, ctypes.c_char_p, ctypes.c_char_p]
_nice.nice_agent_set_local_credentials.restype = ctypes.c_int
_glib = ctypes.CDLL('libglib-2.0.so.0')
_glib.g_free.argtypes = [_VP]
_glib.g_slist_free.argtypes = [_VP]


class _GSList(ctypes.Structure):
    pass


_GSList._fields_ = [('data', _VP), ('next', ctypes.POINTER(_GSList))]


class IceRestartError(Exception):
    pass


def _nice_agent(webrtc) -> _VP:
    """webrtcbin's GstWebRTCNice, then its NiceAgent (`agent`), each read through C (see set_ice_tcp).
    The caller unrefs the agent."""
    ice = _VP()
    _gobject.g_object_get(_VP(gobject_pointer(webrtc)), b'ice-agent', ctypes.byref(ice), None)
    if not ice.value:
        raise IceRestartError('webrtcbin has no ICE agent')
    agent = _VP()
    _gobject.g_object_get(ice, b'agent', ctypes.byref(agent), None)
    _gobject.g_object_unref(ice)
    if not agent.value:
        raise IceRestartError('the ICE agent has no NiceAgent')
    return agent


def _stream_id(webrtc) -> int:
    """The libnice stream of the bundled transport (max-bundle: one for every m-line)."""
    transceiver = webrtc.emit('get-transceiver', 0)
    dtls = transceiver.get_property('sender').get_property('transport') if transceiver is not None else None
    ice_transport = dtls.get_property('transport') if dtls is not None else None
    if ice_transport is None:
        raise IceRestartError('no ICE transport yet')
    stream = _VP()
    _gobject.g_object_get(_VP(gobject_pointer(ice_transport)), b'stream', ctypes.byref(stream), None)
    if not stream.value:
        raise IceRestartError('the ICE transport has no stream')
    stream_id = ctypes.c_uint()
    _gobject.g_object_get(stream, b'stream-id', ctypes.byref(stream_id), None)
    _gobject.g_object_unref(stream)
    return stream_id.value


def restart_ice_agent(webrtc, ufrag: str, pwd: str) -> int:
    """Restarts the libnice stream under webrtcbin (RFC 8445 section 9: remote candidates and
    checklist cleared, local candidates and the selected pair kept until a new one is nominated)
    and gives it the local credentials the restart's answer carries. Call before applying the
    restart offer, so its remote credentials and candidates land in the new checklist.

    The credentials are set here, not left to set-local-description alone:
    nice_agent_restart_stream rewrites only the first 4 characters of the ufrag (and 22 of the
    pwd) in place, and measured through e2e/nat.e2e.test.ts before this call existed, libnice
    still checked against that half-new ufrag after the re-answer was applied, while the viewer
    held the answer's, so no check could match (which step of webrtcbin's misses the bundled
    stream was not established; the helper logs it if set-local-description reports an error).
    Returns the stream id."""
    agent = _nice_agent(webrtc)
    try:
        stream_id = _stream_id(webrtc)
        if not _nice.nice_agent_restart_stream(agent, stream_id):
            raise IceRestartError('nice_agent_restart_stream(%d) failed' % stream_id)
        if not _nice.nice_agent_set_local_credentials(agent, stream_id, ufrag.encode(), pwd.encode()):
            raise IceRestartError('nice_agent_set_local_credentials(%d) failed' % stream_id)
        return stream_id
    finally:
        _gobject.g_object_unref(agent)


def local_candidates(webrtc, stream_id: int) -> List[str]:
    """The agent's local candidates of RTP component 1 as `candidate:` attribute values (RFC 8839
    section 5.1). A restart keeps them but webrtcbin does not announce them again, so the helper
    trickles these for the new generation."""
    agent = _nice_agent(webrtc)
    out: List[str] = []
    try:
        head = _nice.nice_agent_get_local_candidates(agent, stream_id, 1)
        node = ctypes.cast(head, ctypes.POINTER(_GSList)) if head else None
        while node:
            line = _nice.nice_agent_generate_local_candidate_sdp(agent, node.contents.data)
            if line:
                text = ctypes.string_at(line).decode('utf-8', 'replace')
                _glib.g_free(line)
                out.append(text[2:] if text.startswith('a=') else text)
            _nice.nice_candidate_free(node.contents.data)
            node = node.contents.next if node.contents.next else None
        if head:
            _glib.g_slist_free(head)
    finally:
        _gobject.g_object_unref(agent)
    return out


def set_ice_tcp(webrtc, enabled: bool) -> None:
    """webrtcbin's `ice-agent` object is never sunk by webrtcbin, so reading it through PyGObject
    steals the only reference and destroys the agent (GStreamer 1.22). Go through C instead."""
    agent = ctypes.c_void_p()
    ptr = gobject_pointer(webrtc)
    _gobject.g_object_get(ctypes.c_void_p(ptr), b'ice-agent', ctypes.byref(agent), None)
    if agent.value:
        _gobject.g_object_set(agent, b'ice-tcp', ctypes.c_int(1 if enabled else 0), None)
        _gobject.g_object_unref(agent)


def _await_reply(promise, field: str):
    """(the `field` of a webrtcbin promise's reply or None, the reply). The value lives inside the
    reply, which PyGObject frees with its wrapper: the caller holds the reply while it uses it."""
    if promise.wait() != Gst.PromiseResult.REPLIED:
        return None, None
    reply = promise.get_reply()
    return (reply.get_value(field) if reply is not None and reply.has_field(field) else None), reply


# The elements a viewer's branch is built from (peer.py _build_branch), besides what the shared
# pipeline already has: their plugins (libgstrtp, libgstdebug) load on first use.
_BRANCH_ELEMENTS = {'vp8': ('rtpvp8pay', 'capssetter'), 'h264': ('rtph264pay', 'capssetter')}


class WarmUp(NamedTuple):
    ms: float
    answered: bool  # the answerer set its own answer: the whole answering path ran


def warm_up_webrtc(codec: str = 'vp8', timeout_s: float = 3.0) -> WarmUp:
    """Negotiate once between two throwaway webrtcbins the way a viewer does with the helper: an
    offerer with a receive-only video transceiver and a data channel, an answerer that sets that
    offer, answers and sets its answer, then gathers. The first real viewer then does not pay for
    loading the nice, DTLS, SRTP, SCTP and RTP plugins, starting their threads, or the answering
    path's first run: measured on a cold helper beside two busy Chromiums, that first viewer's
    add-peer + remote-description took 80-160 ms against 20-30 for every later one; with this
    warm-up (and peer.py imported at start) 18-31 ms."""
    started = time.monotonic()
    for name in _BRANCH_ELEMENTS.get(codec, ()):
        Gst.ElementFactory.make(name, None)
    pipeline = Gst.Pipeline.new('webrtc-warm-up')
    offerer = Gst.ElementFactory.make('webrtcbin', None)
    answerer = Gst.ElementFactory.make('webrtcbin', None)
    for webrtc in (offerer, answerer):
        webrtc.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        pipeline.add(webrtc)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        encoding = 'H264' if codec == 'h264' else 'VP8'
        caps = Gst.Caps.from_string('application/x-rtp,media=video,encoding-name=%s,clock-rate=90000,payload=96'
                                    % encoding)
        offerer.emit('add-transceiver', GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY, caps)
        offerer.emit('create-data-channel', 'warm-up', None)
        offered = Gst.Promise.new()
        offerer.emit('create-offer', None, offered)
        offer, _offer_reply = _await_reply(offered, 'offer')
        if offer is None:
            return WarmUp((time.monotonic() - started) * 1000, False)
        offerer.emit('set-local-description', offer, None)
        applied = Gst.Promise.new()
        answerer.emit('set-remote-description', offer, applied)
        applied.wait()
        answered = Gst.Promise.new()
        answerer.emit('create-answer', None, answered)
        answer, _answer_reply = _await_reply(answered, 'answer')
        done = False
        if answer is not None:
            applied = Gst.Promise.new()
            answerer.emit('set-local-description', answer, applied)
            done = (applied.wait() == Gst.PromiseResult.REPLIED
                    and answerer.get_property('local-description') is not None)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and \
                answerer.get_property('ice-gathering-state') != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            time.sleep(0.01)
    finally:
        pipeline.set_state(Gst.State.NULL)
    return WarmUp((time.monotonic() - started) * 1000, done)
