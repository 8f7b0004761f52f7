"""Start-up check that every typelib, GStreamer element and shared library the helper uses
exists, naming the Debian package that provides whatever is missing (exit 42 if not)."""
import ctypes
from typing import List, Optional

TYPELIBS = (
    ('Gst', '1.0', 'gir1.2-gstreamer-1.0'),
    ('GstVideo', '1.0', 'gir1.2-gst-plugins-base-1.0'),
    ('GstSdp', '1.0', 'gir1.2-gst-plugins-base-1.0'),
    ('GstRtp', '1.0', 'gir1.2-gst-plugins-base-1.0'),
    ('GstWebRTC', '1.0', 'gir1.2-gst-plugins-bad-1.0'),
)
COMMON_ELEMENTS = (
    ('ximagesrc', 'gstreamer1.0-plugins-good (and gstreamer1.0-x)'),
    ('queue', 'libgstreamer1.0-0'),
    ('tee', 'libgstreamer1.0-0'),
    ('capsfilter', 'libgstreamer1.0-0'),
    ('videoconvert', 'gstreamer1.0-plugins-base'),
    ('videoscale', 'gstreamer1.0-plugins-base'),
    ('appsink', 'gstreamer1.0-plugins-base'),
    ('jpegenc', 'gstreamer1.0-plugins-good'),
    ('webrtcbin', 'gstreamer1.0-plugins-bad (and gstreamer1.0-nice)'),
    ('dtlsdec', 'gstreamer1.0-plugins-bad'),
    ('rtpbin', 'gstreamer1.0-plugins-good'),
    ('rtphdrexttwcc', 'gstreamer1.0-plugins-good'),
    ('srtpenc', 'gstreamer1.0-plugins-bad'),
    ('sctpenc', 'gstreamer1.0-plugins-bad'),
)
CODEC_ELEMENTS = {
    'vp8': (('vp8enc', 'gstreamer1.0-plugins-good'), ('rtpvp8pay', 'gstreamer1.0-plugins-good')),
    'h264': (('x264enc', 'gstreamer1.0-plugins-ugly'), ('h264parse', 'gstreamer1.0-plugins-bad'),
             ('rtph264pay', 'gstreamer1.0-plugins-good'), ('capssetter', 'gstreamer1.0-plugins-good')),
}


# Loaded with ctypes by the damage capture (x11_shm.py, capture_damage.py).
DAMAGE_LIBRARIES = (
    ('libX11.so.6', 'libx11-6'),
    ('libXext.so.6', 'libxext6'),
    ('libXdamage.so.1', 'libxdamage1'),
    ('libXfixes.so.3', 'libxfixes3'),
    ('libyuv.so.0', 'libyuv0'),
    ('libgstapp-1.0.so.0', 'libgstreamer-plugins-base1.0-0'),
)


def check_typelibs() -> List[str]:
    problems = []
    try:
        import gi
    except ImportError:
        return ['python3-gi is missing (apt-get install python3-gi); run with /usr/bin/python3']
    for name, version, package in TYPELIBS:
        try:
            gi.require_version(name, version)
        except ValueError:
            problems.append('typelib %s-%s missing (apt-get install %s)' % (name, version, package))
    try:
        import Xlib.display  # noqa: F401
        from Xlib.ext import xtest  # noqa: F401
    except ImportError:
        problems.append('python Xlib missing (apt-get install python3-xlib)')
    return problems


def check_elements(codec: str, capture: str = 'timer') -> List[str]:
    from gi.repository import Gst
    problems = []
    elements = COMMON_ELEMENTS + CODEC_ELEMENTS[codec]
    if capture == 'damage':
        elements += (('appsrc', 'gstreamer1.0-plugins-base'),)
    for name, package in elements:
        if Gst.ElementFactory.find(name) is None:
            problems.append('GStreamer element %s missing (apt-get install %s)' % (name, package))
    return problems


def damage_unavailable(display: str) -> Optional[str]:
    """Why damage capture cannot run here (a library, or an X extension the server lacks), or None.

    Not a reason to stop: the timer capture (ximagesrc) works without any of these, so the caller
    falls back to it. An X display that cannot be opened is no reason either: that is a start-up
    failure (exit 1, retried by the agent) for either capture.
    """
    for library, package in DAMAGE_LIBRARIES:
        try:
            ctypes.CDLL(library)
        except OSError:
            return '%s missing (apt-get install %s)' % (library, package)
    from .x11_shm import DamageConnection, DisplayUnreachable, XError
    try:
        DamageConnection(display).close()
    except DisplayUnreachable:
        return None
    except XError as err:
        return str(err)
    return None
