"""CRC-32C (Zarr v3's ``crc32c`` codec) computed where it costs least.

Why not call google-crc32c's ``value``/``extend`` on everything: measured
here (google-crc32c 1.9), they release the GIL only for a ``bytes`` object of
1 MiB or more.  Chunk data reaches the checksum as numpy arrays and
memoryviews (a chunk read straight into the caller's array is a list of row
pieces), so every check held the GIL: the chunk threads took turns, and a
second thread blocked for the whole call (68 ms median for 512 MiB).  The C
library google-crc32c wraps (``crc32c_extend``, SSE4.2 or ARM CRC
instructions, chosen at run time) is called here through ctypes, which
releases the GIL for the call and takes the buffer's address, so nothing is
copied: whole chunks (encoding, and decoding what a store returned) are
summed in parallel threads.

Pieces under 1 MiB keep the GIL (``google_crc32c.extend``), as the library
itself chooses: a chunk read straight into the caller's array is summed in
row pieces (2048 of 32 KiB for a 64 MiB read of 4 MiB chunks), and releasing
the GIL for each made that read slower, not faster (163 against 136 ms,
median of 9, on a loaded 2-core machine): every release means waiting to
take the GIL back.  Systems where the symbol cannot be found use the
extension for everything.
"""
from __future__ import annotations

import ctypes

import google_crc32c
import numpy as np

try:
    from google_crc32c import _crc32c as _extension
except ImportError:  # google-crc32c's pure-Python build
    _extension = None

__all__ = ["crc32c", "crc32c_pieces", "releases_gil"]

# below this many bytes the sum keeps the GIL (the extension module's path)
_THROUGH_CTYPES_FROM = 1 << 20


def _c_extend():
    """``crc32c_extend(crc, address, size)`` of the library google-crc32c links, or None."""
    try:
        extend = ctypes.CDLL(_extension.__file__).crc32c_extend
    except (OSError, AttributeError, TypeError):
        return None
    extend.restype = ctypes.c_uint32
    extend.argtypes = (ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
    return extend


_EXTEND = _c_extend()


def releases_gil() -> bool:
    """Whether large sums run with the GIL released (the ctypes path was found)."""
    return _EXTEND is not None


def crc32c(buf, crc: int = 0) -> int:
    """The CRC-32C of the bytes of ``buf`` (any C-contiguous buffer), continuing ``crc``."""
    view = memoryview(buf)
    size = view.nbytes
    if _EXTEND is None or size < _THROUGH_CTYPES_FROM or not view.c_contiguous:
        return google_crc32c.extend(crc, np.frombuffer(view, dtype=np.uint8) if size else b"")
    if view.readonly:
        address = np.frombuffer(view, dtype=np.uint8).ctypes.data
    else:
        address = ctypes.addressof(ctypes.c_char.from_buffer(view.cast("B") if view.format != "B" else view))
    return _EXTEND(crc, address, size)


def crc32c_pieces(pieces) -> int:
    """The CRC-32C of the bytes of ``pieces`` (buffers) one after the other."""
    crc = 0
    for piece in pieces:
        crc = crc32c(piece, crc)
    return crc
