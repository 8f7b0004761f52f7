"""Does GStreamer's webrtcbin restart ICE when the remote side does? (issue 15, ICE restart)

An ICE restart is a new offer whose ice-ufrag/ice-pwd differ from the previous ones (RFC 8839
§4.4.1.1.1); the answerer must then answer with new local ice-ufrag/ice-pwd too and start a new
checklist (RFC 8445 §9), keeping DTLS (same fingerprint). This probe gives one webrtcbin (the VM's
side, answering, as in vmlive) a first offer, then a re-offer with new remote credentials, and
prints what each answer carries.

On Debian's GStreamer 1.22 it prints the SAME local ice-ufrag in both answers (and the same
fingerprint): webrtcbin accepts the re-offer but does not restart its ICE stream, and its libnice
backend (libgstwebrtcnice) never calls nice_agent_restart_stream (not in its import table). An
ICE restart towards a browser therefore needs more than set-remote-description/create-answer.

The second part does what the helper does (peer.py restart_ice): restart the libnice stream through
C before applying the re-offer, answer with fresh credentials, and read back what libnice uses.

Run: /usr/bin/python3 vm-browser-agent/helper/tools/ice_restart_probe.py
"""
import ctypes
import os
import re
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import Gst, GstSdp, GstWebRTC  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vmlive_helper.sdp_munging import new_ice_credentials, with_ice_credentials  # noqa: E402
from vmlive_helper.webrtc_setup import _glib, _gobject, _nice, _nice_agent, restart_ice_agent  # noqa: E402

CAPS = 'application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000'


def settle(element, signal, *args):
    """Emits a promise-taking signal and waits for it. A reply (and any description read from it)
    belongs to its promise, so callers that need one keep the promise: see replied()."""
    promise = Gst.Promise.new()
    element.emit(signal, *args, promise)
    promise.wait()
    return promise


def replied(promise, field):
    """The promise's reply, checked to hold `field`. Keep it while using the field's value: the
    description read from it lives only as long as this structure's wrapper."""
    reply = promise.get_reply()
    if reply is None or not reply.has_field(field):
        raise RuntimeError('no %s: %s' % (field, reply.to_string() if reply else None))
    return reply


def description(text, kind):
    _, msg = GstSdp.SDPMessage.new_from_text(text)
    return GstWebRTC.WebRTCSessionDescription.new(kind, msg)


def answer_to(vm, offer_text, fixed=False):
    """Answers `offer_text`; with `fixed`, as the helper answers a restart."""
    local = new_ice_credentials()
    stream_id = restart_ice_agent(vm, *local) if fixed else None
    settle(vm, 'set-remote-description', description(offer_text, GstWebRTC.WebRTCSDPType.OFFER))
    created = settle(vm, 'create-answer', None)
    reply = replied(created, 'answer')
    text = reply.get_value('answer').sdp.as_text()
    if fixed:
        text = with_ice_credentials(text, *local)
    settle(vm, 'set-local-description', description(text, GstWebRTC.WebRTCSDPType.ANSWER))
    ufrag = re.search(r'a=ice-ufrag:(\S+)', text).group(1)
    if stream_id is not None and agent_ufrag(vm, stream_id) != ufrag:
        raise RuntimeError('libnice does not use the answered credentials')
    return ufrag, re.search(r'a=fingerprint:(.+)', text).group(1).strip()


def agent_ufrag(vm, stream_id):
    """The local ice-ufrag libnice checks incoming STUN against."""
    agent = _nice_agent(vm)
    ufrag, pwd = ctypes.c_void_p(), ctypes.c_void_p()
    try:
        _nice.nice_agent_get_local_credentials(agent, stream_id, ctypes.byref(ufrag), ctypes.byref(pwd))
        return ctypes.string_at(ufrag).decode() if ufrag.value else None
    finally:
        _glib.g_free(ufrag)
        _glib.g_free(pwd)
        _gobject.g_object_unref(agent)


def run(fixed):
    vm_pipe = Gst.parse_launch(
        'videotestsrc is-live=true ! vp8enc deadline=1 ! rtpvp8pay ! %s ! '
        'webrtcbin name=vm bundle-policy=max-bundle' % CAPS.replace(',clock-rate=90000', ''))
    vm = vm_pipe.get_by_name('vm')
    viewer_pipe = Gst.Pipeline.new('viewer')
    viewer = Gst.ElementFactory.make('webrtcbin', 'viewer')
    viewer.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    viewer_pipe.add(viewer)
    vm_pipe.set_state(Gst.State.PLAYING)
    viewer_pipe.set_state(Gst.State.PLAYING)
    vm_pipe.get_state(Gst.CLOCK_TIME_NONE)  # live source: create-offer before PLAYING gives no offer
    try:
        viewer.emit('add-transceiver', GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY, Gst.Caps.from_string(CAPS))
        created = settle(viewer, 'create-offer', None)
        reply = replied(created, 'offer')
        offer = reply.get_value('offer').sdp.as_text()
        first = answer_to(vm, offer)
        restarted = re.sub(r'a=ice-ufrag:\S+', 'a=ice-ufrag:restart1', offer)
        restarted = re.sub(r'a=ice-pwd:\S+', 'a=ice-pwd:restartrestartrestartrestar', restarted)
        second = answer_to(vm, restarted, fixed)
        print('--- %s' % ('as the helper restarts ICE (peer.py restart_ice)' if fixed else 'webrtcbin alone'))
        print('first answer:  ice-ufrag %s  fingerprint %s' % first)
        print('re-offer with new ice-ufrag/pwd, answer: ice-ufrag %s  fingerprint %s' % second)
        print('local ICE credentials changed (ICE restarted): %s' % (first[0] != second[0]))
        print('DTLS fingerprint kept: %s' % (first[1] == second[1]))
    finally:
        vm_pipe.set_state(Gst.State.NULL)
        viewer_pipe.set_state(Gst.State.NULL)


def main():
    Gst.init(None)
    run(fixed=False)
    run(fixed=True)


if __name__ == '__main__':
    main()
