"""Byte codecs at run time: encode, decode, and decode into a destination.

Each runtime object is built once per array (by :class:`~dosna_like.codecs.pipeline.ChunkCodec`)
and then only called, so nothing here looks anything up per chunk.  gzip (the
container Zarr v3 specifies) goes through libdeflate when the ``deflate``
package is installed (:mod:`dosna_like.codecs.libdeflate`) and the standard
library's zlib otherwise; both release the GIL, so chunks decode in parallel
threads.  blosc decodes straight into the destination when the frame's
declared size fits it.  Everything else goes through numcodecs.
"""
from __future__ import annotations

import bz2
import lzma
import zlib

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from . import libdeflate
from .crc32c import crc32c, crc32c_pieces
from .shuffle import unshuffle_into

__all__ = ["ByteCodec", "Crc32cRuntime", "DeflateRuntime", "GzipRuntime", "ZlibRuntime", "NumcodecRuntime", "bounded_inflate", "copy_exact",
           "declared_size"]


def copy_exact(buf, dest: np.ndarray) -> None:
    """Copy decoded bytes into ``dest``, which they must fill exactly (ValueError if not)."""
    src = np.frombuffer(buf, dtype=np.uint8)
    if src.size != dest.nbytes:
        raise ValueError(f"decoded {src.size} bytes, expected {dest.nbytes}")
    if dest.flags.c_contiguous:
        dest.reshape(-1).view(np.uint8)[:] = src
    else:  # a chunk's place in a larger array (reshape would copy, and the bytes be lost)
        dest[...] = src.view(dest.dtype).reshape(dest.shape)


def bounded_inflate(buf, wbits: int, limit: int) -> bytes:
    """A deflate stream (zlib, gzip or raw by ``wbits``) inflated, refusing to
    produce more than ``limit`` bytes (ValueError): a corrupt or hostile chunk
    never costs more memory than its declared size."""
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(buf, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"not a valid deflate stream ({exc})") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise ValueError(f"inflates to more than the {limit} bytes expected")
    if not inflater.eof:
        raise ValueError("truncated deflate stream")
    return out


def _bounded_stream(decompressor, buf, limit: int) -> bytes:
    """``buf`` through a standard-library decompressor object (bz2, lzma),
    refusing to produce more than ``limit`` bytes (ValueError)."""
    try:
        out = decompressor.decompress(bytes(memoryview(buf).cast("B")), limit + 1)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ValueError(f"not a valid compressed stream ({exc})") from exc
    if len(out) > limit:
        raise ValueError(f"decompresses to more than the {limit} bytes expected")
    if not decompressor.eof:
        raise ValueError("truncated compressed stream")
    return out


def _zstd_content_size(buf) -> int | None:
    """The content size a zstd frame header declares, None when it declares none."""
    head = bytes(memoryview(buf).cast("B")[:18])
    if len(head) < 5 or head[:4] != b"\x28\xb5\x2f\xfd":
        raise ValueError("not a zstd frame")
    descriptor = head[4]
    fcs_flag, single_segment, dict_flag = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if not size:
        return None
    start = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    field = head[start:start + size]
    if len(field) < size:
        raise ValueError("truncated zstd frame header")
    return int.from_bytes(field, "little") + (256 if size == 2 else 0)


def declared_size(codec: Codec, buf) -> int | None:
    """The decoded size a compressed frame's header declares, read before any
    allocation (None when the format or frame declares none)."""
    if isinstance(codec, numcodecs.Blosc):
        return _blosc_nbytes(buf)
    if isinstance(codec, numcodecs.Zstd):
        return _zstd_content_size(buf)
    if isinstance(codec, numcodecs.LZ4):
        head = bytes(memoryview(buf).cast("B")[:4])
        return int.from_bytes(head, "little") if len(head) == 4 else -1
    return None


class ByteCodec:
    """A byte-to-byte codec: ``encode(buf)``, ``decode(buf, size_hint)`` and
    ``decode_into(buf, dest)`` (the last one a copy unless a codec does better).
    ``checksum``: the codec only checks, and decodes to a view of its input."""

    checksum = False

    def encode(self, buf):
        raise NotImplementedError

    def decode(self, buf, size_hint: int):
        raise NotImplementedError

    def decode_into(self, buf, dest: np.ndarray) -> None:
        copy_exact(self.decode(buf, dest.nbytes), dest)


class DeflateRuntime(ByteCodec):
    """Deflate data in a container (``wbits``: 31 gzip, 15 zlib): libdeflate when
    available (``fast``), zlib otherwise or on anything libdeflate refuses, so
    both paths give zlib's verdict on bad data; never more than the size asked."""

    wbits = 31

    def __init__(self, level: int, fast: bool | None = None):
        self.level = level
        self.fast = libdeflate.AVAILABLE if fast is None else fast

    def _fast_inflate_into(self, buf, dest: np.ndarray) -> None:
        raise NotImplementedError

    def decode(self, buf, size_hint: int):
        """The inflated bytes (a uint8 array when libdeflate made them: no extra copy)."""
        if self.fast and size_hint:
            out = np.empty(size_hint, np.uint8)
            try:
                self._fast_inflate_into(buf, out)
                return out
            except ValueError:
                pass  # zlib's verdict (and error message) on anything unusual
        return bounded_inflate(buf, self.wbits, size_hint)

    def decode_into(self, buf, dest: np.ndarray) -> None:
        """Inflate into ``dest`` (C-contiguous bytes it must fill exactly)."""
        if self.fast:
            try:
                return self._fast_inflate_into(buf, dest)
            except ValueError:
                pass  # zlib's verdict (and error message) on anything unusual
        copy_exact(bounded_inflate(buf, self.wbits, dest.nbytes), dest)


class GzipRuntime(DeflateRuntime):
    """Zarr v3's gzip codec (RFC 1952 members)."""

    wbits = 31

    def _fast_inflate_into(self, buf, dest: np.ndarray) -> None:
        libdeflate.gunzip_into(buf, dest)

    def encode(self, buf) -> bytes:
        if self.fast:
            return libdeflate.gzip(buf, self.level)
        comp = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return comp.compress(buf) + comp.flush()


class ZlibRuntime(DeflateRuntime):
    """numcodecs' zlib codec (RFC 1950 streams): exactly what HDF5's deflate filter
    writes, so HDF5 files read in place and ``deflate_as="zlib"`` imports decode
    straight into the output."""

    wbits = 15

    def _fast_inflate_into(self, buf, dest: np.ndarray) -> None:
        libdeflate.unzlib_into(buf, dest)

    def encode(self, buf) -> bytes:
        return zlib.compress(buf, self.level)


class NumcodecRuntime(ByteCodec):
    """A numcodecs codec object; ``typesize`` > 1 hands blosc items of that size
    (blosc shuffles by the item size of what it is given)."""

    def __init__(self, codec: Codec, typesize: int = 0):
        self.codec = codec
        self.typesize = typesize
        self.blosc = isinstance(codec, numcodecs.Blosc)
        self.zlib = isinstance(codec, numcodecs.Zlib)
        # byte shuffle unshuffles straight into a destination of its size (no allocation)
        self.unshuffles_into = isinstance(codec, numcodecs.Shuffle) and codec.elementsize > 1
        self.zstd = isinstance(codec, numcodecs.Zstd)
        # bz2 and lzma through the standard library's decompressors, which take a bound
        self.stream = {"bz2": bz2.BZ2Decompressor,
                       "lzma": lambda: lzma.LZMADecompressor(format=getattr(codec, "format", lzma.FORMAT_AUTO),
                                                             filters=getattr(codec, "filters", None))
                       }.get(getattr(codec, "codec_id", None))

    def encode(self, buf):
        if self.typesize > 1:
            buf = np.frombuffer(buf, dtype=np.dtype((np.void, self.typesize)))
        return self.codec.encode(buf)

    def decode(self, buf, size_hint: int):
        """Decoded bytes, at most ``size_hint`` of them (ValueError, before
        allocating, when the frame declares more)."""
        if self.zlib:
            return bounded_inflate(buf, 15, size_hint)
        if self.stream is not None:
            return _bounded_stream(self.stream(), buf, size_hint)
        declared = declared_size(self.codec, buf)
        if declared is not None and not 0 <= declared <= size_hint:
            raise ValueError(f"frame declares {declared} bytes, at most {size_hint} expected")
        if declared is None and self.zstd:
            # no content size in the frame: decoded into a buffer of the expected
            # size, which zstd refuses to overrun (a frame of another size fails)
            out = np.empty(size_hint, dtype=np.uint8)
            try:
                self.codec.decode(buf, out=out)
            except RuntimeError as exc:
                raise ValueError(f"zstd frame without a content size: {exc}") from exc
            return out
        out = self.codec.decode(buf)
        if np.asarray(out).nbytes > size_hint:  # a codec that declares nothing: checked after the fact
            raise ValueError(f"decoded {np.asarray(out).nbytes} bytes, at most {size_hint} expected")
        return out

    def decode_into(self, buf, dest: np.ndarray) -> None:
        if self.blosc and _blosc_nbytes(buf) == dest.nbytes:
            self.codec.decode(buf, out=dest.reshape(-1).view(np.uint8))  # blosc writes into dest
        elif self.unshuffles_into and memoryview(buf).nbytes == dest.nbytes:
            unshuffle_into(buf, dest, self.codec.elementsize)  # numcodecs' loop would hold the GIL
        else:
            super().decode_into(buf, dest)


def _blosc_nbytes(buf) -> int:
    """Uncompressed size a blosc frame's header declares (bytes 4-7, little-endian)."""
    head = memoryview(buf).cast("B")[:16]
    return int.from_bytes(head[4:8], "little") if len(head) == 16 else -1


class Crc32cRuntime(ByteCodec):
    """Zarr v3's crc32c codec: the data, then its CRC-32C (4 bytes, little-endian).

    Through the library google-crc32c wraps (a dependency of zarr; hardware CRC
    instructions where the CPU has them), with the GIL released so that chunk
    threads sum in parallel (:mod:`.crc32c`).  Decoding checks and returns a
    view of the data, never a copy."""

    checksum = True  # decoding only checks: the data comes back as it was given

    def encode(self, buf):
        data = np.frombuffer(buf, dtype=np.uint8)
        out = np.empty(data.size + 4, dtype=np.uint8)
        out[:-4] = data
        out[-4:].view("<u4")[0] = crc32c(out[:-4])
        return out

    def decode(self, buf, size_hint: int):
        """The data without its checksum (a view); ValueError when they do not match."""
        arr = np.frombuffer(buf, dtype=np.uint8)
        if arr.size < 4:
            raise ValueError(f"{arr.size} bytes cannot hold a crc32c checksum")
        data = arr[:-4]
        stored = int(arr[-4:].view("<u4")[0])
        computed = crc32c(data)
        if stored != computed:
            raise ValueError(f"crc32c checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")
        return data

    # A raw chunk and its checksum, moved between a file and the caller's
    # buffers with no intermediate bytes (the local store's preadv/pwritev paths)
    @staticmethod
    def _value_of(pieces) -> int:
        return crc32c_pieces(pieces)

    def trailer(self, pieces) -> bytes:
        """The 4 bytes stored after data made of ``pieces`` (bytes-likes, in order)."""
        return self._value_of(pieces).to_bytes(4, "little")

    def check(self, pieces, trailer) -> None:
        """ValueError unless ``trailer`` is the checksum of ``pieces``."""
        stored = int.from_bytes(bytes(trailer), "little")
        computed = self._value_of(pieces)
        if stored != computed:
            raise ValueError(f"crc32c checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")
