"""One viewer: a branch off the shared tee (queue -> RTP payloader) into its own webrtcbin.

The viewer is the offerer (recvonly video + the `input` data channel); we answer. Flow per
JSEP (RFC 8829 section 5.3): setRemoteDescription(offer) -> createAnswer -> setLocalDescription.
All public methods run on the GLib main thread; webrtcbin callbacks hop back to it.
"""
import random
import time
from typing import Callable, List, Optional, Tuple

from gi.repository import GLib, Gst, GstRtp, GstSdp, GstVideo, GstWebRTC

from .config import Config
from .input_messages import INPUT_CHANNEL_LABEL, InputCounts, encode_feedback
from .log import get_logger
from .pipeline import SharedEncoder
from .playout_delay import encode_delay
from .protocol import Emitter
from .rtp_caps import rtp_caps
from .ice_servers import webrtcbin_ice_urls
from .webrtc_setup import local_candidates, restart_ice_agent, set_ice_tcp
from .liveness import Silence
from .link_adapt import LayerSelector, LinkAdapter, PaddingProbe, SwitchBoundary, attach_adapter
from .twcc import QueueDelay, watch_reports
from .rtp_extensions import HeaderExtensionWriter
from .sdp_munging import (ABS_CAPTURE_TIME_URI, PLAYOUT_DELAY_URI, TRANSPORT_CC_URI, VideoOffer, add_extmap,
                          add_rtcp_fb, ice_credentials,
                          new_ice_credentials, parse_video_offer, ssrc_groups, with_ice_credentials)

log = get_logger('peer')

# Packets rtprtxsend keeps for retransmission. webrtcbin 1.22 leaves it at 500, about 1.8 s of the
# full layer at 2.5 Mbit/s: after a 2 s blackout the viewer NACKed all ~560 packets it missed, the
# oldest were gone, and it waited ~1 s for its NACKs to give up and its PLI to bring a keyframe
# (scripts/networks.ts --thin step,blackout, VP8: video back 1.0 s, 490 RTX received, a PLI at
# 1.01 s). 2,000 packets cover 3 s at 5 Mbit/s; they are the payloader's own buffers, referenced.
RTX_HISTORY_PACKETS = 2000


def _nick(value) -> str:
    try:
        return value.value_nick
    except AttributeError:
        return str(value)


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
        self._relay_only = ice_transport_policy == 'relay'
        # ICE restart (restart_ice): the remote credentials in force, and while a restart is being
        # answered, the local credentials it answers with and the libnice stream it restarted.
        self._remote_credentials: Optional[Tuple[str, str]] = None
        self._restart: Optional[Tuple[Tuple[str, str], int]] = None
        self._candidate_mline = 0
        self.restarts = 0
        self._state = ('new', 'new', 'new')
        self.channel = None
        self._branch: List[Gst.Element] = []
        self._tee_pad: Optional[Gst.Pad] = None
        # Link adaptation (link_adapt.py): the selector heads the branch when there is a reduced layer.
        self._selector: Optional[LayerSelector] = None
        self.adapter: Optional[LinkAdapter] = None
        self._feedback = None
        self._ext_writer: Optional[HeaderExtensionWriter] = None
        # Set when this viewer's offer lets us retransmit (cfg.rtx and rtx for our payload type).
        self._media_ssrc: Optional[int] = None
        self.stats_prev: Optional[Tuple[float, int]] = None
        # Input injected from this viewer since it was added (counts only; the audit trail reads them).
        self.input_counts = InputCounts()
        # Stamped by every packet from the viewer, read by the main loop's SilenceWatch (main.py).
        self.silence = Silence()
        # Where this viewer's branch last switched layers; gates RTX (link_adapt.SwitchBoundary).
        self.switch_boundary = SwitchBoundary()
        # Pads the reduced layer up to the full one's rate to probe the link (link_adapt.PaddingProbe).
        self.padding = PaddingProbe()
        # The viewer's queueing delay, from its TWCC feedback (twcc.py); None without it.
        self.queue_delay: Optional[QueueDelay] = None
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
        self._remote_credentials = ice_credentials(sdp_text)
        self._build_branch(self.offer)
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        promise = Gst.Promise.new_with_change_func(self._on_remote_set, None)
        self.webrtc.emit('set-remote-description', offer, promise)
        self._remote_set = True
        # webrtcbin runs its operations in order, so queued candidates land after the offer.
        for index, cand in self._pending_candidates:
            self.webrtc.emit('add-ice-candidate', index, cand)
        self._pending_candidates.clear()

    def restart_ice(self, sdp_text: str) -> None:
        """The viewer's ICE restart (RFC 8445 section 9): a new offer for the same media with new
        ice-ufrag/ice-pwd. webrtcbin 1.22 would answer it with its old credentials and keep its
        old checklist (tools/ice_restart_probe.py), so the helper restarts the libnice stream
        itself, answers with fresh local credentials (RFC 8839 section 4.4.1.1.1: an answer to a
        restart offer MUST change them) and trickles its candidates again. Media, DTLS (same
        fingerprint, no new handshake: RFC 8445 section 9 leaves the upper layers alone) and the
        data channel go on; frames resume once a pair of the new checklist is nominated."""
        if not self._remote_set or self.offer is None or self.webrtc is None:
            raise ValueError('no negotiated offer to restart from')
        if self._restart is not None:
            raise ValueError('an ICE restart is already being answered')
        credentials = ice_credentials(sdp_text)
        if credentials is None:
            raise ValueError('the restart offer has no ice-ufrag/ice-pwd')
        if credentials == self._remote_credentials:
            raise ValueError('the restart offer keeps the previous ice-ufrag/ice-pwd (RFC 8839 4.4.1.1.1)')
        offer = parse_video_offer(sdp_text, self.cfg.codec)
        if offer.mline_index != self.offer.mline_index or offer.payload_type != self.offer.payload_type:
            raise ValueError('the restart offer changes the media; only ICE may change')
        ok, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != GstSdp.SDPResult.OK:
            raise ValueError('the offer SDP does not parse')
        # Restarted before the offer is applied, so the new remote credentials and candidates
        # (set-remote-description, then add-ice-candidate, run in order on webrtcbin's thread)
        # land in the new checklist rather than being cleared by the restart.
        local = new_ice_credentials()
        stream_id = restart_ice_agent(self.webrtc, *local)
        self._restart = (local, stream_id)
        self._remote_credentials = credentials
        self.restarts += 1
        self.silence.restart(time.monotonic())
        log.info('[%s] ICE restart %d (stream %d)', self.id, self.restarts, stream_id)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        self.webrtc.emit('set-remote-description', desc,
                         Gst.Promise.new_with_change_func(self._on_remote_set, None))

    def _announce_restart(self, webrtc, stream_id: int, ufrag: str) -> None:
        """After a restart's answer: the agent's candidates again (libnice keeps them and webrtcbin
        does not re-announce them), then end-of-candidates (RFC 8838 section 4.4). Each names the
        restart's ufrag (the `ufrag` extension attribute libwebrtc reads, RFC 8839 section 5.1
        allows extensions): a viewer that adds it before applying the answer then files it under
        the new generation instead of the previous one, whose addresses are the same."""
        for cand in local_candidates(webrtc, stream_id):
            if self._relay_only and ' typ relay' not in cand:
                continue  # as webrtcbin's relay policy: the VM's own addresses never leave it
            self.emitter.emit({'type': 'local-candidate', 'peerId': self.id, 'candidate': '%s ufrag %s' % (cand, ufrag),
                               'sdpMLineIndex': self._candidate_mline})
        self.emitter.emit({'type': 'local-candidate', 'peerId': self.id, 'candidate': '',
                           'sdpMLineIndex': self.offer.mline_index if self.offer else 0})

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
        if offer is not None and offer.abs_capture_time_id is not None:
            # The viewer's latency meter (README "Glass-to-glass, live"): webrtcbin 1.22 does not
            # echo an extension it does not implement, and RFC 8285 section 6 lets the answerer
            # use only what the answer declares.
            text = add_extmap(text, offer.mline_index, offer.abs_capture_time_id, ABS_CAPTURE_TIME_URI)
        if self.queue_delay is not None and offer is not None and offer.transport_cc_id is not None:
            # Asks the viewer for its arrival reports (draft-holmer-rmcat-transport-wide-cc-extensions-01
            # section 4): webrtcbin 1.22 answers neither line.
            text = add_extmap(text, offer.mline_index, offer.transport_cc_id, TRANSPORT_CC_URI)
            text = add_rtcp_fb(text, offer.mline_index, offer.payload_type, 'transport-cc')
        restart = self._restart
        if restart is not None:
            # set-local-description hands these to libnice (nice_agent_set_local_credentials).
            text = with_ice_credentials(text, *restart[0])
        ok, sdp = GstSdp.SDPMessage.new_from_text(text)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        webrtc = self.webrtc
        if webrtc is None or self.closed:
            return
        applied = Gst.Promise.new() if restart is None else Gst.Promise.new_with_change_func(self._on_local_set, None)
        webrtc.emit('set-local-description', desc, applied)
        self.emitter.emit({'type': 'local-description', 'peerId': self.id, 'sdpType': 'answer', 'sdp': text})
        if restart is not None:
            self._restart = None
            self._announce_restart(webrtc, restart[1], restart[0][0])
            log.info('[%s] ICE restart answered at +%.0f ms', self.id, self._elapsed_ms())
            return
        log.info('[%s] answered at +%.0f ms (pt %d, rtx pt %s, playout-delay ext %s, abs-capture-time ext %s)',
                 self.id, self._elapsed_ms(), offer.payload_type,
                 offer.rtx_payload_type if self._media_ssrc is not None else 'off',
                 offer.playout_delay_id if self.cfg.playout_delay and offer.playout_delay_id else 'off',
                 offer.abs_capture_time_id or 'off')

    def _on_local_set(self, promise, _data):
        """webrtcbin's thread: a restart's answer applied (or not: libnice already holds its
        credentials, see restart_ice_agent, so ICE goes on either way; logged for the record)."""
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field('error'):
            log.warning('[%s] webrtcbin refused the restart answer (ICE goes on): %s', self.id,
                        reply.get_value('error'))

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
        if cfg.twcc and offer.transport_cc_id is not None:
            # The payloader reserves the transport-wide sequence number in every packet and names
            # the extension in its caps (extmap-<id>), which is what makes webrtcbin's rtpsession
            # number each packet it sends on this transport and read the viewer's reports (twcc.py).
            ext = GstRtp.RTPHeaderExtension.create_from_uri(TRANSPORT_CC_URI)
            if ext is None:
                log.warning('[%s] no rtphdrexttwcc element: no congestion feedback from this viewer', self.id)
            else:
                ext.set_id(offer.transport_cc_id)
                pay.emit('add-extension', ext)
                self.queue_delay = QueueDelay()
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
        if self.shared.reduced is not None:
            self._selector = LayerSelector(self.shared.pipeline, self.shared.tee, self.shared.reduced.tee,
                                           self.switch_boundary)
            self._branch.insert(0, self._selector.element)
            self._selector.element.link(queue)
        queue.link(pay)
        pay.link(capsfilter)
        if self.queue_delay is not None:
            watch_reports(capsfilter.get_static_pad('src'), self.queue_delay)
        sink = self.webrtc.request_pad_simple('sink_%u')
        capsfilter.get_static_pad('src').link(sink)
        transceiver = sink.get_property('transceiver')
        transceiver.set_property('direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        transceiver.set_property('codec-preferences', rtp_caps(cfg, offer, for_answer=True, ssrc=self._media_ssrc))
        if self._media_ssrc is not None:
            # Adds `a=rtcp-fb:<pt> nack` and the offer's rtx payload type (apt=<pt>) to the answer,
            # and an rtprtxsend, whose history _on_element_added sets (RTX_HISTORY_PACKETS). PLI/FIR
            # stay on the throttle.
            transceiver.set_property('do-nack', True)
        constant = ([(offer.playout_delay_id, encode_delay(0, 0))]
                    if cfg.playout_delay and offer.playout_delay_id is not None else [])
        if constant or offer.abs_capture_time_id is not None:
            damage = self.shared.damage
            self._ext_writer = HeaderExtensionWriter(pay.get_static_pad('src'), constant, offer.abs_capture_time_id,
                                                     self.shared.capture.get_base_time,
                                                     damage.grab_log.change_time if damage is not None else None,
                                                     self.shared.note_capture_to_send)
        # PLI/FIR from this viewer arrive as upstream force-key-unit events: route them through the
        # shared throttle instead of letting every one reach the encoder.
        queue.get_static_pad('src').add_probe(Gst.PadProbeType.EVENT_UPSTREAM, self._on_upstream_event)
        pay.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST,
                                            self._on_first_packet)
        for element in self._branch:
            element.sync_state_with_parent()
        if self._selector is not None:
            self._selector.link()
            return
        self._tee_pad = self.shared.tee.request_pad_simple('src_%u')
        self._tee_pad.link(queue.get_static_pad('sink'))

    def _start_adapting(self) -> None:
        """Once connected (the rtpsession exists and the viewer's RTCP flows)."""
        if self._selector is None or self.adapter is not None:
            return
        attached = attach_adapter(self.id, self.webrtc, self._selector, self.shared, self._branch[2],
                                  self.silence.silent_s, self.padding, self.queue_delay)
        if attached is None:
            log.warning('[%s] no rtpsession to read feedback from: link adaptation off', self.id)
            return
        self.adapter, self._feedback = attached

    def queue_delay_ms(self) -> Optional[float]:
        level = self.queue_delay.delay_ms() if self.queue_delay is not None else None
        return round(level, 1) if level is not None else None

    def layer(self) -> str:
        return self._selector.layer if self._selector is not None else 'full'

    def request_keyframe(self, reason: str) -> None:
        if self.adapter is not None:
            self.adapter.request_keyframe(reason)
        else:
            self.shared.request_keyframe(reason)

    def _on_first_packet(self, _pad, _info):
        if self._state[2] == 'connected':
            log.info('[%s] first RTP packet after connect at +%.0f ms', self.id, self._elapsed_ms())
            return Gst.PadProbeReturn.REMOVE
        return Gst.PadProbeReturn.OK

    def _on_upstream_event(self, _pad, info):
        event = info.get_event()
        if GstVideo.video_event_is_force_key_unit(event):
            self.request_keyframe('PLI/FIR from %s' % self.id)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    # ---- webrtcbin callbacks (streaming / signaling threads) ----
    def _on_ice_candidate(self, _element, index, candidate):
        self._candidate_mline = int(index)
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
        if factory is not None and factory.get_name() == 'rtprtxsend' and self._media_ssrc is not None:
            element.set_property('max-size-packets', RTX_HISTORY_PACKETS)
            self.switch_boundary.gate(element, self._media_ssrc)
            self.padding.bind(element, self._media_ssrc)
            return
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
            self._start_adapting()
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
        if self._ext_writer is not None:
            self._ext_writer.remove()
            log.info('[%s] header extensions written: %s', self.id, self._ext_writer.stats())
        if self.adapter is not None:
            self.adapter.close()
        if self._feedback is not None:
            self._feedback[0].disconnect(self._feedback[1])
            self._feedback = None
        tee_pads = [self._tee_pad] if self._tee_pad is not None else []
        if self._selector is not None:
            tee_pads = list(self._selector.tee_pads.values())
        if not tee_pads:
            GLib.idle_add(self._dispose, done)
            return
        left = [len(tee_pads)]

        def one_unlinked() -> bool:  # main loop: the pads go idle on their own threads
            left[0] -= 1
            if left[0] == 0:
                self._dispose(done)
            return False

        def unlink(pad, _info):
            peer = pad.get_peer()
            if peer is not None:
                pad.unlink(peer)
            GLib.idle_add(one_unlinked)
            return Gst.PadProbeReturn.REMOVE
        for tee_pad in tee_pads:
            tee_pad.add_probe(Gst.PadProbeType.IDLE, unlink)

    def _dispose(self, done: Callable[[], None]) -> bool:
        pipeline = self.shared.pipeline
        if self._tee_pad is not None:
            self.shared.tee.release_request_pad(self._tee_pad)
            self._tee_pad = None
        if self._selector is not None:
            for name, pad in self._selector.tee_pads.items():
                self._selector.tees[name].release_request_pad(pad)
            self._selector = None
        self.adapter = None
        for obj, handler_id in self._handlers:
            obj.disconnect(handler_id)
        self._handlers = []
        # webrtcbin first: while a negotiation is unfinished (or failed) it blocks its sink pads, so
        # the branch queue's thread sits in a push into it, and setting the queue to NULL first would
        # wait for that thread forever, on the main loop (every later command, shutdown and SIGTERM
        # included). Deactivating webrtcbin's pads makes that push return FLUSHING.
        for element in [self.webrtc] + self._branch:
            element.set_state(Gst.State.NULL)
            pipeline.remove(element)
        self._branch = []
        self.channel = None
        self._ext_writer = None
        self.webrtc = None
        done()
        return False
