"""One viewer: a branch off the shared tee (queue -> RTP payloader) into its own webrtcbin.

The viewer is the offerer (recvonly video + the `input` data channel); we answer. Flow per
JSEP (RFC 8829 section 5.3): setRemoteDescription(offer) -> createAnswer -> setLocalDescription.
All public methods run on the GLib main thread; webrtcbin callbacks hop back to it.
"""
import ctypes
import random
import time
from typing import Callable, List, Optional, Tuple

from gi.repository import GLib, Gst, GstSdp, GstVideo, GstWebRTC

from .config import Config
from .input_messages import INPUT_CHANNEL_LABEL, encode_feedback
from .log import get_logger
from .pipeline import SharedEncoder
from .playout_delay import PlayoutDelayWriter
from .protocol import Emitter
from .ice_servers import webrtcbin_ice_urls
from .liveness import Silence
from .sdp_munging import PLAYOUT_DELAY_URI, VideoOffer, add_extmap, parse_video_offer, ssrc_groups

log = get_logger('peer')


def _nick(value) -> str:
    try:
        return value.value_nick
    except AttributeError:
        return str(value)


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


_gobject = ctypes.CDLL('libgobject-2.0.so.0')
_gobject.g_object_unref.argtypes = [ctypes.c_void_p]


def set_ice_tcp(webrtc, enabled: bool) -> None:
    """webrtcbin's `ice-agent` object is never sunk by webrtcbin, so reading it through PyGObject
    steals the only reference and destroys the agent (GStreamer 1.22). Go through C instead."""
    agent = ctypes.c_void_p()
    ptr = ctypes.pythonapi.PyCapsule_GetPointer(webrtc.__gpointer__, None)
    _gobject.g_object_get(ctypes.c_void_p(ptr), b'ice-agent', ctypes.byref(agent), None)
    if agent.value:
        _gobject.g_object_set(agent, b'ice-tcp', ctypes.c_int(1 if enabled else 0), None)
        _gobject.g_object_unref(agent)


class Peer:
    def __init__(self, peer_id: str, ice_servers: list, cfg: Config, shared: SharedEncoder, emitter: Emitter,
                 on_input: Callable[[str, str], None], on_channel_open: Callable[[str], None],
                 on_failed: Callable[[str], None], ice_transport_policy: str = 'all'):
        self.id = peer_id
        self.cfg = cfg
        self.shared = shared
        self.emitter = emitter
        self._on_input = on_input
        self._on_channel_open = on_channel_open
        self._on_failed = on_failed
        self.closed = False
        self.offer: Optional[VideoOffer] = None
        self._pending_candidates: List[Tuple[int, str]] = []
        self._remote_set = False
        self._state = ('new', 'new', 'new')
        self.channel = None
        self._branch: List[Gst.Element] = []
        self._tee_pad: Optional[Gst.Pad] = None
        self._delay_writer: Optional[PlayoutDelayWriter] = None
        # Set when this viewer's offer lets us retransmit (cfg.rtx and rtx for our payload type).
        self._media_ssrc: Optional[int] = None
        self.stats_prev: Optional[Tuple[float, int]] = None
        # Stamped by every packet from the viewer, read by the main loop's SilenceWatch (main.py).
        self.silence = Silence()
        self._t0 = time.monotonic()
        self._first_packet_logged = False

        webrtc = Gst.ElementFactory.make('webrtcbin', 'webrtc-%s' % peer_id)
        self.webrtc = webrtc
        webrtc.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        set_ice_tcp(webrtc, cfg.ice_tcp)
        if ice_transport_policy == 'relay':
            # Relay candidates only (W3C webrtc-pc 4.2.1 RTCIceTransportPolicy): the VM's own
            # addresses never reach the viewer's side.
            webrtc.set_property('ice-transport-policy', GstWebRTC.WebRTCICETransportPolicy.RELAY)
        stun, turns = webrtcbin_ice_urls(ice_servers)
        if stun:
            webrtc.set_property('stun-server', stun)
        for turn in turns:
            webrtc.emit('add-turn-server', turn)
        # Handler ids are kept so dispose can disconnect them: a connected bound method makes a
        # webrtcbin -> closure -> Peer -> webrtcbin cycle that Python's GC cannot see, and every
        # removed viewer would keep its webrtcbin (~30 MB) alive.
        self._handlers = [(webrtc, webrtc.connect(signal, handler)) for signal, handler in (
            ('on-ice-candidate', self._on_ice_candidate),
            ('notify::ice-connection-state', self._on_state_notify),
            ('notify::connection-state', self._on_state_notify),
            ('notify::ice-gathering-state', self._on_gathering_notify),
            ('on-data-channel', self._on_data_channel),
            ('deep-element-added', self._on_element_added),
        )]
        shared.pipeline.add(webrtc)
        webrtc.sync_state_with_parent()

    # ---- signaling ----
    def set_remote_offer(self, sdp_text: str) -> None:
        if self._remote_set:
            raise ValueError('renegotiation is not supported; remove and re-add the peer')
        self.offer = parse_video_offer(sdp_text, self.cfg.codec)
        ok, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != GstSdp.SDPResult.OK:
            raise ValueError('the offer SDP does not parse')
        self._build_branch(self.offer)
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        promise = Gst.Promise.new_with_change_func(self._on_remote_set, None)
        self.webrtc.emit('set-remote-description', offer, promise)
        self._remote_set = True
        # webrtcbin runs its operations in order, so queued candidates land after the offer.
        for index, cand in self._pending_candidates:
            self.webrtc.emit('add-ice-candidate', index, cand)
        self._pending_candidates.clear()

    def add_remote_candidate(self, index: int, candidate: str) -> None:
        if not candidate:
            return  # end-of-candidates (RFC 8838 section 4.4): nothing to do for libnice
        if '.local ' in candidate:
            # Chromium hides host addresses behind mDNS names that libnice cannot resolve here; its
            # connectivity checks still reach us and become peer-reflexive candidates (RFC 8445 7.3.1.3).
            log.debug('[%s] skipping mDNS candidate', self.id)
            return
        if not self._remote_set:
            self._pending_candidates.append((index, candidate))
            return
        self.webrtc.emit('add-ice-candidate', index, candidate)

    def _on_remote_set(self, promise, _data):
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field('error'):
            GLib.idle_add(self._fail, 'set-remote-description failed: %s' % reply.get_value('error'))
            return
        webrtc = self.webrtc
        if webrtc is None or self.closed:
            return
        promise = Gst.Promise.new_with_change_func(self._on_answer_created, None)
        webrtc.emit('create-answer', None, promise)

    def _on_answer_created(self, promise, _data):
        promise.wait()
        reply = promise.get_reply()
        answer = reply.get_value('answer') if reply is not None and reply.has_field('answer') else None
        if answer is None:
            err = reply.get_value('error') if reply is not None and reply.has_field('error') else 'no answer'
            GLib.idle_add(self._fail, 'create-answer failed: %s' % err)
            return
        text = answer.sdp.as_text()
        offer = self.offer
        if self._media_ssrc is not None and offer is not None:
            groups = ssrc_groups(text, offer.mline_index)
            if [g[0] for g in groups] != [self._media_ssrc]:
                # A viewer that binds its track to an SSRC we do not send shows nothing (Peer._build_branch).
                log.error('[%s] the answer pairs RTX with %s, not our SSRC %d', self.id, groups, self._media_ssrc)
        if self.cfg.playout_delay and offer is not None and offer.playout_delay_id is not None:
            text = add_extmap(text, offer.mline_index, offer.playout_delay_id, PLAYOUT_DELAY_URI)
        ok, sdp = GstSdp.SDPMessage.new_from_text(text)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        webrtc = self.webrtc
        if webrtc is None or self.closed:
            return
        webrtc.emit('set-local-description', desc, Gst.Promise.new())
        self.emitter.emit({'type': 'local-description', 'peerId': self.id, 'sdpType': 'answer', 'sdp': text})
        log.info('[%s] answered at +%.0f ms (pt %d, rtx pt %s, playout-delay ext %s)', self.id, self._elapsed_ms(),
                 offer.payload_type, offer.rtx_payload_type if self._media_ssrc is not None else 'off',
                 offer.playout_delay_id if self._delay_writer else 'off')

    def _elapsed_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000

    def _fail(self, message: str) -> bool:
        if not self.closed:
            self.emitter.error('negotiation-failed', message, self.id)
            self._on_failed(self.id)
        return False

    # ---- media branch ----
    def _build_branch(self, offer: VideoOffer) -> None:
        cfg = self.cfg
        queue = Gst.ElementFactory.make('queue', None)
        # Normally holds at most a frame. It leaks only when this viewer's branch has been stuck
        # for 2 s (webrtcbin blocks its sink pads until negotiation completes, so a failed
        # negotiation would otherwise fill the queue and then block the tee, freezing every
        # viewer). Small leaky queues are what lose keyframe packets; this one never fills in
        # normal operation, and a stuck viewer asks for a keyframe (PLI) when it recovers.
        queue.set_property('max-size-buffers', 0)
        queue.set_property('max-size-bytes', 0)
        queue.set_property('max-size-time', 2 * Gst.SECOND)
        queue.set_property('leaky', 2)  # downstream: drop the oldest
        if cfg.codec == 'vp8':
            pay = Gst.ElementFactory.make('rtpvp8pay', None)
            pay.set_property('picture-id-mode', 2)  # 15-bit picture id, as libwebrtc sends
        else:
            pay = Gst.ElementFactory.make('rtph264pay', None)
            pay.set_property('config-interval', -1)
            pay.set_property('aggregate-mode', 'zero-latency')
        pay.set_property('pt', offer.payload_type)
        pay.set_property('mtu', cfg.mtu)
        if cfg.rtx and offer.rtx_payload_type is not None:
            # Loss repair (README "Loss repair"): the viewer NACKs what it missed, webrtcbin's
            # rtprtxsend resends it as RTX on its own SSRC. webrtcbin 1.22 writes the answer's
            # `a=ssrc-group:FID <media> <rtx>` from the `ssrc` of the codec preferences and, when
            # there is none, from 0: Chromium then binds the video track to SSRC 0, decodes the
            # real stream as an unsignaled one and shows none of it (no requestVideoFrameCallback,
            # framesDecoded rising). So the payloader gets an SSRC of our choosing and the codec
            # preferences announce it; the FID group, the a=ssrc lines and rtprtxsend's ssrc-map
            # then all name the stream actually sent.
            self._media_ssrc = random.SystemRandom().randint(1, 0xFFFFFFFF)
            pay.set_property('ssrc', self._media_ssrc)
        if cfg.codec == 'h264':
            # rtph264pay derives profile-level-id from x264's SPS (42c01f: Constrained Baseline with
            # constraint_set0+1) while the answer repeats the offer's (e.g. 42e01f, the same profile);
            # webrtcbin compares the strings, so overwrite the field with the answered value.
            capsfilter = Gst.ElementFactory.make('capssetter', None)
            capsfilter.set_property('caps', rtp_caps(cfg, offer, for_answer=True))
        else:
            capsfilter = Gst.ElementFactory.make('capsfilter', None)
            capsfilter.set_property('caps', rtp_caps(cfg, offer, for_answer=False))
        self._branch = [queue, pay, capsfilter]
        for element in self._branch:
            self.shared.pipeline.add(element)
        queue.link(pay)
        pay.link(capsfilter)
        sink = self.webrtc.request_pad_simple('sink_%u')
        capsfilter.get_static_pad('src').link(sink)
        transceiver = sink.get_property('transceiver')
        transceiver.set_property('direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        transceiver.set_property('codec-preferences', rtp_caps(cfg, offer, for_answer=True, ssrc=self._media_ssrc))
        if self._media_ssrc is not None:
            # Adds `a=rtcp-fb:<pt> nack` and the offer's rtx payload type (apt=<pt>) to the answer,
            # and an rtprtxsend keeping the last 500 packets (webrtcbin's fixed history, > 1 s at
            # this stream's packet rates; Chromium NACKs for 1 s). PLI/FIR stay on the throttle.
            transceiver.set_property('do-nack', True)
        if cfg.playout_delay and offer.playout_delay_id is not None:
            self._delay_writer = PlayoutDelayWriter(pay.get_static_pad('src'), offer.playout_delay_id)
        # PLI/FIR from this viewer arrive as upstream force-key-unit events: route them through the
        # shared throttle instead of letting every one reach the encoder.
        queue.get_static_pad('src').add_probe(Gst.PadProbeType.EVENT_UPSTREAM, self._on_upstream_event)
        pay.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST,
                                            self._on_first_packet)
        for element in self._branch:
            element.sync_state_with_parent()
        self._tee_pad = self.shared.tee.request_pad_simple('src_%u')
        self._tee_pad.link(queue.get_static_pad('sink'))

    def _on_first_packet(self, _pad, _info):
        if self._state[2] == 'connected':
            log.info('[%s] first RTP packet after connect at +%.0f ms', self.id, self._elapsed_ms())
            return Gst.PadProbeReturn.REMOVE
        return Gst.PadProbeReturn.OK

    def _on_upstream_event(self, _pad, info):
        event = info.get_event()
        if GstVideo.video_event_is_force_key_unit(event):
            self.shared.request_keyframe('PLI/FIR from %s' % self.id)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    # ---- webrtcbin callbacks (streaming / signaling threads) ----
    def _on_ice_candidate(self, _element, index, candidate):
        self.emitter.emit({'type': 'local-candidate', 'peerId': self.id, 'candidate': candidate,
                           'sdpMLineIndex': int(index)})

    def _on_gathering_notify(self, element, _pspec):
        if _nick(element.get_property('ice-gathering-state')) == 'complete' and not self.closed:
            # Empty candidate = end-of-candidates, as in the agent -> helper direction.
            index = self.offer.mline_index if self.offer else 0
            self.emitter.emit({'type': 'local-candidate', 'peerId': self.id, 'candidate': '', 'sdpMLineIndex': index})

    def _on_element_added(self, _bin, _sub_bin, element):
        """webrtcbin builds its transport when the offer is applied (on its own thread). The nicesrc
        in it delivers every packet the viewer sends except STUN (SRTCP, DTLS, SCTP): each stamps
        self.silence. The probe closes over the Silence only, not this Peer, so it makes no
        webrtcbin -> probe -> Peer -> webrtcbin cycle."""
        factory = element.get_factory()
        if factory is None or factory.get_name() != 'nicesrc':
            return
        silence = self.silence

        def on_packet(_pad, _info):
            silence.stamp()  # nicesrc streaming thread: one float store, see liveness.Silence
            return Gst.PadProbeReturn.OK
        element.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_packet)

    def _dtls_state(self) -> str:
        try:
            if self.webrtc is None:
                return 'closed'
            transceiver = self.webrtc.emit('get-transceiver', 0)
            transport = transceiver.get_property('sender').get_property('transport')
            return _nick(transport.get_property('state')) if transport is not None else 'new'
        except Exception:  # noqa: BLE001 - transport not created yet
            return 'new'

    def _on_state_notify(self, _element, _pspec):
        # Emitted on webrtcbin's and libnice's threads: read and act on the states on the main
        # loop, which owns self._state and self.silence. Each queued read sees the states as they
        # are by then, so a burst may be seen as its last state; an unchanged read does nothing.
        GLib.idle_add(self._update_state)

    def _update_state(self) -> bool:
        webrtc = self.webrtc
        if self.closed or webrtc is None:
            return False
        state = (_nick(webrtc.get_property('ice-connection-state')), self._dtls_state(),
                 _nick(webrtc.get_property('connection-state')))
        if state == self._state:
            return False
        previous, self._state = self._state, state
        self.emitter.emit({'type': 'peer-state', 'peerId': self.id, 'ice': state[0], 'dtls': state[1],
                           'connection': state[2]})
        log.info('[%s] +%.0f ms ice=%s dtls=%s connection=%s', self.id, self._elapsed_ms(), *state)
        if state[2] == 'connected' and previous[2] != 'connected':
            # A new viewer needs a keyframe, and only once DTLS is up can one reach it (a keyframe
            # forced at answer time would be dropped by the not-yet-keyed SRTP encoder).
            self.shared.request_keyframe('new viewer %s' % self.id)
            self.silence.start(time.monotonic())
        return False

    def connection_state(self) -> str:
        return self._state[2]

    def _on_data_channel(self, _element, channel):
        label = channel.get_property('label')
        if label != INPUT_CHANNEL_LABEL:
            log.info('[%s] ignoring data channel %r', self.id, label)
            return
        self.channel = channel
        self._handlers.append((channel, channel.connect(
            'on-message-string', lambda _ch, text: GLib.idle_add(self._on_input, self.id, text))))
        self._handlers.append((channel, channel.connect('on-message-data', lambda _ch, data: GLib.idle_add(
            self._on_input, self.id, bytes(data.get_data()).decode('utf-8', 'replace')))))
        GLib.idle_add(self._on_channel_open, self.id)

    def send_feedback(self, feedback: dict) -> None:
        """`feedback` is an InputFeedback message (protocol/src/input.ts)."""
        channel = self.channel
        if channel is not None and not self.closed:
            text = encode_feedback(feedback)
            try:
                if _nick(channel.get_property('ready-state')) == 'open':
                    channel.emit('send-string', text)
            except Exception as err:  # noqa: BLE001
                log.debug('[%s] feedback not sent: %s', self.id, err)

    # ---- teardown ----
    def close(self, done: Callable[[], None]) -> None:
        """Unlink from the tee at a buffer boundary, then dispose of the branch and webrtcbin."""
        if self.closed:
            return
        self.closed = True
        if self._delay_writer is not None:
            self._delay_writer.remove()
        tee_pad = self._tee_pad
        if tee_pad is None:
            GLib.idle_add(self._dispose, done)
            return

        def unlink(pad, _info):
            peer = pad.get_peer()
            if peer is not None:
                pad.unlink(peer)
            GLib.idle_add(self._dispose, done)
            return Gst.PadProbeReturn.REMOVE
        tee_pad.add_probe(Gst.PadProbeType.IDLE, unlink)

    def _dispose(self, done: Callable[[], None]) -> bool:
        pipeline = self.shared.pipeline
        if self._tee_pad is not None:
            self.shared.tee.release_request_pad(self._tee_pad)
            self._tee_pad = None
        for obj, handler_id in self._handlers:
            obj.disconnect(handler_id)
        self._handlers = []
        for element in self._branch + [self.webrtc]:
            element.set_state(Gst.State.NULL)
            pipeline.remove(element)
        self._branch = []
        self.channel = None
        self._delay_writer = None
        self.webrtc = None
        done()
        return False


def warm_up_webrtc(timeout_s: float = 3.0) -> float:
    """Negotiate a throwaway webrtcbin (video transceiver + data channel, create-offer and
    set-local-description) so that the first real viewer does not pay for loading the nice,
    DTLS, SRTP and SCTP plugins and starting their threads. Returns the milliseconds spent."""
    started = time.monotonic()
    pipeline = Gst.Pipeline.new('webrtc-warm-up')
    webrtc = Gst.ElementFactory.make('webrtcbin', None)
    webrtc.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    pipeline.add(webrtc)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        caps = Gst.Caps.from_string('application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=96')
        webrtc.emit('add-transceiver', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY, caps)
        webrtc.emit('create-data-channel', 'warm-up', None)
        promise = Gst.Promise.new()
        webrtc.emit('create-offer', None, promise)
        if promise.wait() == Gst.PromiseResult.REPLIED:
            reply = promise.get_reply()
            offer = reply.get_value('offer') if reply is not None and reply.has_field('offer') else None
            if offer is not None:
                done = Gst.Promise.new()
                webrtc.emit('set-local-description', offer, done)
                done.wait()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and \
                webrtc.get_property('ice-gathering-state') != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            time.sleep(0.01)
    finally:
        pipeline.set_state(Gst.State.NULL)
    return (time.monotonic() - started) * 1000
