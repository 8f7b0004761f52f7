"""vmlive GStreamer WebRTC helper: one shared X11 capture/encode, one webrtcbin per viewer."""

VERSION = '0.1.0'
