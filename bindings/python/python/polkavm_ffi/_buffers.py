"""Guest memory and framebuffers read into, and written from, buffers the caller owns.

UniFFI moves ``bytes`` by copying them through a RustBuffer. These methods instead pass the
address of any contiguous buffer (``bytearray``, ``memoryview``, a NumPy array, ``array.array``,
an ``mmap``...) to the library, which copies straight between it and guest memory: no
intermediate ``bytes``. The buffer stays exported (so it cannot be resized or freed) for the
duration of the call. Errors are those of ``read_memory``/``write_memory``.
"""

import ctypes

from ._native.polkavm_ffi import Instance

_PyBUF_SIMPLE = 0
_PyBUF_WRITABLE = 1


class _PyBuffer(ctypes.Structure):
    """CPython's ``Py_buffer`` (stable layout, part of the limited API since 3.11)."""

    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


def _with_buffer(buffer, writable, use):
    """Calls ``use(address, length)`` with the buffer's memory held exported.

    Raises BufferError (from the exporter) for a buffer that is not contiguous, or read-only
    where ``writable``.
    """
    view = _PyBuffer()
    _get_buffer(buffer, ctypes.byref(view), _PyBUF_WRITABLE if writable else _PyBUF_SIMPLE)
    try:
        return use(view.buf or 0, view.len)
    finally:
        _release_buffer(ctypes.byref(view))


def read_memory_into(self, address: int, buffer) -> None:
    """Fills ``buffer`` (any writable contiguous buffer) with its size in bytes of guest memory
    at ``address``."""
    _with_buffer(buffer, True, lambda pointer, length: self.read_memory_to_pointer(address, pointer, length))


def write_memory_from(self, address: int, buffer) -> None:
    """Copies all of ``buffer`` (any contiguous buffer: bytes, bytearray, memoryview, NumPy...)
    into guest memory at ``address``."""
    _with_buffer(buffer, False, lambda pointer, length: self.write_memory_from_pointer(address, pointer, length))


def read_framebuffer_into(self, frame, buffer) -> None:
    """Writes the guest image ``frame`` (a ``Framebuffer``) as packed RGB24 into the first
    width × height × 3 bytes of ``buffer`` (any writable contiguous buffer)."""
    _with_buffer(buffer, True, lambda pointer, length: self.read_framebuffer_to_pointer(frame, pointer, length))


def apply() -> None:
    """Adds the methods above to ``Instance``."""
    Instance.read_memory_into = read_memory_into  # type: ignore[attr-defined]
    Instance.write_memory_from = write_memory_from  # type: ignore[attr-defined]
    if hasattr(Instance, "read_framebuffer_to_pointer"):  # a library built without the `doom` feature has none
        Instance.read_framebuffer_into = read_framebuffer_into  # type: ignore[attr-defined]
