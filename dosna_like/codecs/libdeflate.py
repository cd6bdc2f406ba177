"""gzip through libdeflate when the ``deflate`` package is installed (extra ``fast``).

libdeflate inflates about twice as fast as zlib and deflates several times
faster at the same level, and it writes the standard gzip container, so what it
stores reads back through any zlib.  Decoding goes through libdeflate's C
functions (which the ``deflate`` wheel exports) by ctypes: ctypes releases the
GIL for the call, and the output lands in a buffer the caller owns, so a chunk
is inflated straight into its place in the output array without an
intermediate bytes object.

``AVAILABLE`` is False without the package (or with a build that hides those
symbols); :mod:`dosna_like.codecs` then uses the standard library's zlib.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

try:
    import deflate as _deflate
    from deflate import _deflate as _ext
    _lib = ctypes.CDLL(_ext.__file__)
    _alloc = _lib.libdeflate_alloc_decompressor
    _free = _lib.libdeflate_free_decompressor
    _gunzip = _lib.libdeflate_gzip_decompress_ex
    _unzlib = _lib.libdeflate_zlib_decompress_ex
    _crc32 = _lib.libdeflate_crc32
    _adler32 = _lib.libdeflate_adler32
except (ImportError, OSError, AttributeError):  # pragma: no cover - depends on the install
    AVAILABLE = False
else:
    AVAILABLE = True
    _alloc.restype = ctypes.c_void_p
    _alloc.argtypes = []
    _free.restype = None
    _free.argtypes = [ctypes.c_void_p]
    for _fn in (_gunzip, _unzlib):
        # (decompressor, in, in_nbytes, out, out_nbytes_avail, *actual_in, *actual_out) -> result
        _fn.restype = ctypes.c_int
        _fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
                        ctypes.POINTER(ctypes.c_size_t)]
    for _fn in (_crc32, _adler32):  # (running value, buffer, nbytes) -> value
        _fn.restype = ctypes.c_uint32
        _fn.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t]

__all__ = ["adler32", "crc32", "gunzip_into", "gzip", "unzlib_into"]  # and AVAILABLE, set above

_RESULTS = {1: "bad data", 2: "short output", 3: "output buffer too small"}


class _Decompressor:
    """One libdeflate decompressor (they are not thread-safe: one per thread)."""

    def __init__(self):
        self.handle = _alloc()
        self._free = _free  # module globals may be gone when a thread ends at exit
        if not self.handle:
            raise MemoryError("libdeflate_alloc_decompressor failed")
        self.in_used = ctypes.c_size_t()
        self.out_used = ctypes.c_size_t()

    def __del__(self):
        if self.handle:
            self._free(self.handle)
            self.handle = None


_local = threading.local()


def _inflate(func, container: str, src, dest: np.ndarray) -> None:
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = _Decompressor()
    inp = np.frombuffer(src, dtype=np.uint8)
    result = func(d.handle, inp.ctypes.data, inp.size, dest.ctypes.data, dest.nbytes,
                  ctypes.byref(d.in_used), ctypes.byref(d.out_used))
    if result:
        raise ValueError(f"{container} stream cannot be inflated ({_RESULTS.get(result, result)})")
    if d.out_used.value != dest.nbytes or d.in_used.value != inp.size:
        raise ValueError(f"{container} stream holds {d.out_used.value} bytes in {d.in_used.value} "
                         f"of {inp.size} input bytes; expected {dest.nbytes} in all of them")


def gunzip_into(src, dest: np.ndarray) -> None:
    """Inflate the gzip stream ``src`` (its CRC-32 and size checked) into the
    C-contiguous array ``dest``, which it must fill exactly.  ValueError if the
    stream is corrupt, holds another size, or has anything after its one member."""
    _inflate(_gunzip, "gzip", src, dest)


def unzlib_into(src, dest: np.ndarray) -> None:
    """:func:`gunzip_into` for a zlib stream (its Adler-32 checked)."""
    _inflate(_unzlib, "zlib", src, dest)


def crc32(data: np.ndarray) -> int:
    """CRC-32 (gzip's) of a C-contiguous array's bytes."""
    return _crc32(0, data.ctypes.data, data.nbytes)


def adler32(data: np.ndarray) -> int:
    """Adler-32 (zlib's) of a C-contiguous array's bytes."""
    return _adler32(1, data.ctypes.data, data.nbytes)


def gzip(buf, level: int) -> bytes:
    """``buf`` deflated at ``level`` (0-9, as zlib's levels) in a gzip container."""
    return _deflate.gzip_compress(buf, level)
