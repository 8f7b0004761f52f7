"""ctypes bindings for damage capture: one libX11 connection with the DAMAGE, XFixes and MIT-SHM
extensions, used by one thread only (capture_damage.py).

Why ctypes and not python-xlib: python-xlib has DAMAGE but no MIT-SHM, and a pure-Python reply
parser would copy every grabbed pixel through Python. Here a grab is one XShmGetImage round trip
into shared memory the converter reads directly (libX11, libXext, libXdamage and libXfixes are
already loaded by ximagesrc and Chromium on the VM).
"""
import ctypes
from typing import List, Optional, Tuple

from .log import get_logger

log = get_logger('x11')

VP = ctypes.c_void_p
Rect = Tuple[int, int, int, int]  # x, y, width, height

_x11 = ctypes.CDLL('libX11.so.6')
_xext = ctypes.CDLL('libXext.so.6')
_xdamage = ctypes.CDLL('libXdamage.so.1')
_xfixes = ctypes.CDLL('libXfixes.so.3')
_libc = ctypes.CDLL('libc.so.6', use_errno=True)

_ZPIXMAP = 2
_ALL_PLANES = ctypes.c_ulong(0xffffffff)
_DAMAGE_REPORT_NON_EMPTY = 3  # one event when the damage region goes from empty to non-empty
_DAMAGE_NOTIFY = 0
_IPC_PRIVATE, _IPC_CREAT, _IPC_RMID = 0, 0o1000, 0


class XImage(ctypes.Structure):
    # The public head of Xlib's XImage (the function table that follows is not used here).
    _fields_ = [('width', ctypes.c_int), ('height', ctypes.c_int), ('xoffset', ctypes.c_int),
                ('format', ctypes.c_int), ('data', VP), ('byte_order', ctypes.c_int),
                ('bitmap_unit', ctypes.c_int), ('bitmap_bit_order', ctypes.c_int), ('bitmap_pad', ctypes.c_int),
                ('depth', ctypes.c_int), ('bytes_per_line', ctypes.c_int), ('bits_per_pixel', ctypes.c_int)]


class XShmSegmentInfo(ctypes.Structure):
    _fields_ = [('shmseg', ctypes.c_ulong), ('shmid', ctypes.c_int), ('shmaddr', VP), ('readOnly', ctypes.c_int)]


class XRectangle(ctypes.Structure):
    _fields_ = [('x', ctypes.c_short), ('y', ctypes.c_short), ('width', ctypes.c_ushort), ('height', ctypes.c_ushort)]


class XErrorEvent(ctypes.Structure):
    _fields_ = [('type', ctypes.c_int), ('display', VP), ('resourceid', ctypes.c_ulong),
                ('serial', ctypes.c_ulong), ('error_code', ctypes.c_ubyte), ('request_code', ctypes.c_ubyte),
                ('minor_code', ctypes.c_ubyte)]


def _sig(lib, name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


_INT_P = ctypes.POINTER(ctypes.c_int)
XInitThreads = _sig(_x11, 'XInitThreads', ctypes.c_int)
XOpenDisplay = _sig(_x11, 'XOpenDisplay', VP, ctypes.c_char_p)
XCloseDisplay = _sig(_x11, 'XCloseDisplay', ctypes.c_int, VP)
XDefaultScreen = _sig(_x11, 'XDefaultScreen', ctypes.c_int, VP)
XRootWindow = _sig(_x11, 'XRootWindow', ctypes.c_ulong, VP, ctypes.c_int)
XDisplayWidth = _sig(_x11, 'XDisplayWidth', ctypes.c_int, VP, ctypes.c_int)
XDisplayHeight = _sig(_x11, 'XDisplayHeight', ctypes.c_int, VP, ctypes.c_int)
XDefaultVisual = _sig(_x11, 'XDefaultVisual', VP, VP, ctypes.c_int)
XDefaultDepth = _sig(_x11, 'XDefaultDepth', ctypes.c_int, VP, ctypes.c_int)
XConnectionNumber = _sig(_x11, 'XConnectionNumber', ctypes.c_int, VP)
XPending = _sig(_x11, 'XPending', ctypes.c_int, VP)
XNextEvent = _sig(_x11, 'XNextEvent', ctypes.c_int, VP, VP)
XSync = _sig(_x11, 'XSync', ctypes.c_int, VP, ctypes.c_int)
XFree = _sig(_x11, 'XFree', ctypes.c_int, VP)
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, VP, ctypes.POINTER(XErrorEvent))
_IO_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, VP)
XSetErrorHandler = _sig(_x11, 'XSetErrorHandler', VP, _ERROR_HANDLER)
XSetIOErrorHandler = _sig(_x11, 'XSetIOErrorHandler', VP, _IO_ERROR_HANDLER)
XShmQueryExtension = _sig(_xext, 'XShmQueryExtension', ctypes.c_int, VP)
XShmCreateImage = _sig(_xext, 'XShmCreateImage', ctypes.POINTER(XImage), VP, VP, ctypes.c_uint, ctypes.c_int,
                       VP, ctypes.POINTER(XShmSegmentInfo), ctypes.c_uint, ctypes.c_uint)
XShmAttach = _sig(_xext, 'XShmAttach', ctypes.c_int, VP, ctypes.POINTER(XShmSegmentInfo))
XShmDetach = _sig(_xext, 'XShmDetach', ctypes.c_int, VP, ctypes.POINTER(XShmSegmentInfo))
XShmGetImage = _sig(_xext, 'XShmGetImage', ctypes.c_int, VP, ctypes.c_ulong, ctypes.POINTER(XImage),
                    ctypes.c_int, ctypes.c_int, ctypes.c_ulong)
XDamageQueryExtension = _sig(_xdamage, 'XDamageQueryExtension', ctypes.c_int, VP, _INT_P, _INT_P)
XDamageQueryVersion = _sig(_xdamage, 'XDamageQueryVersion', ctypes.c_int, VP, _INT_P, _INT_P)
XDamageCreate = _sig(_xdamage, 'XDamageCreate', ctypes.c_ulong, VP, ctypes.c_ulong, ctypes.c_int)
XDamageDestroy = _sig(_xdamage, 'XDamageDestroy', None, VP, ctypes.c_ulong)
XDamageSubtract = _sig(_xdamage, 'XDamageSubtract', None, VP, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
XFixesQueryVersion = _sig(_xfixes, 'XFixesQueryVersion', ctypes.c_int, VP, _INT_P, _INT_P)
XFixesCreateRegion = _sig(_xfixes, 'XFixesCreateRegion', ctypes.c_ulong, VP, VP, ctypes.c_int)
XFixesDestroyRegion = _sig(_xfixes, 'XFixesDestroyRegion', None, VP, ctypes.c_ulong)
XFixesFetchRegion = _sig(_xfixes, 'XFixesFetchRegion', ctypes.POINTER(XRectangle), VP, ctypes.c_ulong, _INT_P)
shmget = _sig(_libc, 'shmget', ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
shmat = _sig(_libc, 'shmat', VP, ctypes.c_int, VP, ctypes.c_int)
shmdt = _sig(_libc, 'shmdt', ctypes.c_int, VP)
shmctl = _sig(_libc, 'shmctl', ctypes.c_int, ctypes.c_int, ctypes.c_int, VP)

# Xlib's default error handler exits the process (a grab racing a screen resize would kill every
# viewer): record the error instead; the grab that caused it reports failure.
_last_error = [0]


def _on_error(_display, event) -> int:
    _last_error[0] = event.contents.error_code or 1
    return 0


def _on_io_error(_display) -> int:
    # Called when the X server goes away; Xlib exits the process when this returns, as it does
    # for ximagesrc on the timer path. Exit code 1 = retryable: the agent restarts the helper.
    log.error('lost the connection to the X server; exiting')
    return 0


_error_handler = _ERROR_HANDLER(_on_error)
_io_error_handler = _IO_ERROR_HANDLER(_on_io_error)
_initialised = [False]


def _init_xlib() -> None:
    if not _initialised[0]:
        # The snapshot's ximagesrc uses libX11 on another thread (its own connection).
        XInitThreads()
        XSetErrorHandler(_error_handler)
        XSetIOErrorHandler(_io_error_handler)
        _initialised[0] = True


class XError(RuntimeError):
    pass


class DisplayUnreachable(XError):
    """The display could not be opened at all (not a missing extension)."""


class DamageConnection:
    """The root window's damage and grabs of its rectangles into one shared-memory segment."""

    def __init__(self, display: str):
        _init_xlib()
        self.dpy = XOpenDisplay(display.encode())
        if not self.dpy:
            raise DisplayUnreachable('cannot open X display %s' % display)
        screen = XDefaultScreen(self.dpy)
        self.root = XRootWindow(self.dpy, screen)
        self.width = XDisplayWidth(self.dpy, screen)
        self.height = XDisplayHeight(self.dpy, screen)
        self._visual = XDefaultVisual(self.dpy, screen)
        self._depth = XDefaultDepth(self.dpy, screen)
        self.fd = XConnectionNumber(self.dpy)
        self._shm: Optional[XShmSegmentInfo] = None
        self._images = {}
        self.damage = 0
        self._region = 0
        try:
            self._init_damage()
            self._init_shm()
        except Exception:
            self.close()
            raise

    def _init_damage(self) -> None:
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        major, minor = ctypes.c_int(5), ctypes.c_int(0)
        if not XFixesQueryVersion(self.dpy, ctypes.byref(major), ctypes.byref(minor)) or major.value < 2:
            raise XError('the X server has no XFixes >= 2 (regions)')
        if not XDamageQueryExtension(self.dpy, ctypes.byref(event_base), ctypes.byref(error_base)):
            raise XError('the X server has no DAMAGE extension')
        major, minor = ctypes.c_int(1), ctypes.c_int(1)
        XDamageQueryVersion(self.dpy, ctypes.byref(major), ctypes.byref(minor))
        self.damage_event = event_base.value + _DAMAGE_NOTIFY
        self.damage = XDamageCreate(self.dpy, self.root, _DAMAGE_REPORT_NON_EMPTY)
        self._region = XFixesCreateRegion(self.dpy, None, 0)
        self._event = ctypes.create_string_buffer(192)  # sizeof(XEvent): 24 longs

    def _init_shm(self) -> None:
        if not XShmQueryExtension(self.dpy):
            raise XError('the X server has no MIT-SHM extension')
        size = self.width * self.height * 4
        shm = XShmSegmentInfo()
        shm.shmid = shmget(_IPC_PRIVATE, size, _IPC_CREAT | 0o600)
        if shm.shmid < 0:
            raise XError('shmget(%d) failed: errno %d' % (size, ctypes.get_errno()))
        addr = shmat(shm.shmid, None, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            shmctl(shm.shmid, _IPC_RMID, None)
            raise XError('shmat failed: errno %d' % ctypes.get_errno())
        shm.shmaddr = addr
        shm.readOnly = 0
        _last_error[0] = 0
        ok = XShmAttach(self.dpy, ctypes.byref(shm))
        XSync(self.dpy, 0)
        # Marked for removal now: the segment goes away with the last detach, even if we crash.
        shmctl(shm.shmid, _IPC_RMID, None)
        if not ok or _last_error[0]:
            shmdt(addr)
            raise XError('XShmAttach failed (X error %d)' % _last_error[0])
        self._shm = shm
        self.pixels = addr  # BGRx, packed rows of the last grabbed rectangle

    def pending_damage(self) -> bool:
        """Reads every queued event; True if one was a damage notification."""
        damaged = False
        while XPending(self.dpy):
            XNextEvent(self.dpy, self._event)
            if ctypes.c_int.from_buffer(self._event).value == self.damage_event:
                damaged = True
        return damaged

    def take_damage(self) -> List[Rect]:
        """The rectangles damaged since the last call; the server's damage is emptied, so the next
        change sends a new notification."""
        XDamageSubtract(self.dpy, self.damage, 0, self._region)
        count = ctypes.c_int()
        rects = XFixesFetchRegion(self.dpy, self._region, ctypes.byref(count))
        if not rects:
            return []
        try:
            return [(r.x, r.y, r.width, r.height) for r in rects[:count.value]]
        finally:
            XFree(rects)

    def grab(self, x: int, y: int, width: int, height: int) -> bool:
        """Copies the rectangle into `pixels` (stride width*4). False on an X error."""
        key = (width, height)
        image = self._images.get(key)
        if image is None:
            if len(self._images) >= 32:
                self._drop_images()
            image = XShmCreateImage(self.dpy, self._visual, self._depth, _ZPIXMAP, self.pixels,
                                    ctypes.byref(self._shm), width, height)
            if not image:
                return False
            self._images[key] = image
        _last_error[0] = 0
        ok = XShmGetImage(self.dpy, self.root, image, x, y, _ALL_PLANES)
        return bool(ok) and not _last_error[0]

    def _drop_images(self) -> None:
        for image in self._images.values():
            XFree(image)  # an XShm image's destroy hook frees only the header
        self._images.clear()

    def close(self) -> None:
        if not self.dpy:
            return
        self._drop_images()
        if self._shm is not None:
            XShmDetach(self.dpy, ctypes.byref(self._shm))
            XSync(self.dpy, 0)
            shmdt(self._shm.shmaddr)
            self._shm = None
        if self._region:
            XFixesDestroyRegion(self.dpy, self._region)
        if self.damage:
            XDamageDestroy(self.dpy, self.damage)
        XCloseDisplay(self.dpy)
        self.dpy = None
