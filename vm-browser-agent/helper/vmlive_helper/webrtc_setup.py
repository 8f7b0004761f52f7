"""webrtcbin set-up outside a viewer's flow: the ICE-TCP switch (through C, see there) and the
start-up warm-up negotiation."""
import ctypes
import time

from gi.repository import Gst, GstWebRTC

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
