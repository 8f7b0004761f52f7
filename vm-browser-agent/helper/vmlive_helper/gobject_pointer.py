"""The C address of a PyGObject wrapper, for the few calls the helper makes through ctypes
(GStreamer 1.22 functions that PyGObject cannot call safely or at all: see each caller)."""
import ctypes

ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def gobject_pointer(obj) -> int:
    """The GObject*/GstMiniObject* behind a PyGObject wrapper (borrowed: `obj` keeps it alive)."""
    return ctypes.pythonapi.PyCapsule_GetPointer(obj.__gpointer__, None)
