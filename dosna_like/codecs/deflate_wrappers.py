"""Deflate data between its two wrappers without recompressing it.

HDF5's deflate filter stores zlib streams; Zarr v3's gzip codec stores gzip
members.  The deflate data inside is the same, so a chunk moves between the
two formats by rewriting a few header and trailer bytes, which needs the
checksum of the decompressed data (computed through libdeflate when it is
installed, else zlib).  Anything unusual returns None and the caller decodes.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

from . import libdeflate

__all__ = ["gzip_to_zlib", "zlib_to_gzip"]



_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0, OS unknown


# ============================================================ transcoding
def _fast_inflate(inflate_into, raw: bytes, nbytes: int):
    """The decompressed bytes (an array) of a one-stream ``raw`` through
    libdeflate, or None when libdeflate is missing or says no (the zlib code
    after it then gives the verdict)."""
    if not libdeflate.AVAILABLE:
        return None
    data = np.empty(nbytes, dtype=np.uint8)
    try:
        inflate_into(raw, data)
    except ValueError:
        return None
    return data


def zlib_to_gzip(raw, nbytes: int) -> bytes | None:
    """An HDF5 deflate chunk (zlib stream) as a gzip member, or None if it is not one.

    The deflate data is kept as it is; only the wrapper changes, which needs
    the CRC-32 of the decompressed bytes (checked against zlib's Adler-32).
    """
    raw = bytes(raw)
    if len(raw) < 6 or raw[0] & 0x0F != 8 or (raw[0] * 256 + raw[1]) % 31 or raw[1] & 0x20:
        return None
    data = _fast_inflate(libdeflate.unzlib_into, raw, nbytes)
    if data is not None:  # Adler-32 checked by libdeflate
        return _GZIP_HEADER + raw[2:-4] + struct.pack("<II", libdeflate.crc32(data), nbytes & 0xFFFFFFFF)
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw[2:])
    except zlib.error:
        return None
    tail = inflater.unused_data
    if not inflater.eof or len(data) != nbytes or len(tail) < 4 \
            or struct.unpack(">I", tail[:4])[0] != zlib.adler32(data):
        return None
    body = raw[2:len(raw) - len(tail)]
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _gzip_body(raw: bytes) -> int | None:
    """Offset of the deflate data in a gzip member (its header may carry extra fields)."""
    if len(raw) < 18 or raw[:3] != b"\x1f\x8b\x08":
        return None
    flags, pos = raw[3], 10
    if flags & 4:  # FEXTRA
        pos += 2 + struct.unpack("<H", raw[pos:pos + 2])[0]
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            pos = raw.index(b"\x00", pos) + 1
    if flags & 2:  # FHCRC
        pos += 2
    return pos


def gzip_to_zlib(raw, nbytes: int) -> bytes | None:
    """A gzip chunk as the zlib stream HDF5's deflate filter reads, or None if it is not one."""
    raw = bytes(raw)
    try:
        start = _gzip_body(raw)
    except ValueError:
        return None
    if start is None:
        return None
    data = _fast_inflate(libdeflate.gunzip_into, raw, nbytes)
    if data is not None:  # CRC-32 and size checked by libdeflate
        return b"\x78\x9c" + raw[start:len(raw) - 8] + struct.pack(">I", libdeflate.adler32(data))
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw[start:])
    except zlib.error:
        return None
    tail = inflater.unused_data
    if not inflater.eof or len(data) != nbytes or len(tail) != 8 \
            or struct.unpack("<I", tail[:4])[0] != zlib.crc32(data):
        return None  # multi-member or damaged: let the codecs handle it
    body = raw[start:len(raw) - 8]
    return b"\x78\x9c" + body + struct.pack(">I", zlib.adler32(data))
