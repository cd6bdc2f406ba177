"""One array's codec list at run time: chunk arrays to stored bytes and back.

:class:`ChunkCodec` asks the registry once, when an array is opened, for the
runtime object of each codec in its list; encoding and decoding then only
call those objects, so the read path costs no lookup per chunk.  When the
list holds one fixed-size byte codec, a chunk decodes straight into its
destination (libdeflate for gzip, blosc into its output buffer).
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .chains import runtime_entry
from .registry import REGISTRY, Role
from .runtime import copy_exact

__all__ = ["ChunkCodec", "MAX_VLEN_CHUNK_NBYTES"]

MAX_VLEN_CHUNK_NBYTES = 256 * 2**20  # a string chunk decodes to at most this, or 64x its pointers


class ChunkCodec:
    """Encodes a chunk array to stored bytes and back, for one array's codec list."""

    def __init__(self, codecs: list, dtype: np.dtype, chunk_shape: tuple, quantize=None):
        self.dtype = np.dtype(dtype)
        # h5py's scaleoffset= (codecs/scaleoffset.py): chunk -> the values stored, applied first
        self.quantize = quantize
        self.chunk_shape = tuple(chunk_shape)
        self.items = math.prod(int(n) for n in self.chunk_shape)  # exact, and no numpy call per array opened
        self.nbytes = self.items * self.dtype.itemsize
        # the most bytes a stored chunk may decode to: its size, or for strings
        # (whose encoded size is unknown) a generous multiple of it
        self.max_decoded = self.nbytes
        entries = [REGISTRY.for_zarr(c["name"]) for c in codecs]
        if not entries or not _is_array(entries[0]) or any(_is_array(e) for e in entries[1:]):
            raise ValueError(f"unsupported codec list {[c['name'] for c in codecs]}: "
                             "expected one array codec first")
        self.vlen = entries[0].runtime(codecs[0]["name"], dict(codecs[0].get("configuration") or {}))
        # runtime_entry names a codec we do not know in its ValueError
        self.pipeline = [(entry or runtime_entry(spec)).runtime(spec["name"], dict(spec.get("configuration") or {}))
                         for spec, entry in zip(codecs[1:], entries[1:])]
        # a checksum last is checked first, on the stored bytes, and costs no copy
        self.checksum = self.pipeline.pop() if self.pipeline and self.pipeline[-1].checksum else None
        # one fixed-size byte codec (a checksum aside): it can decode straight into a destination;
        # so can a size-keeping filter (shuffle) before one, through a per-thread scratch buffer
        self.two_stage = self.vlen is None and len(self.pipeline) == 2 and \
            getattr(self.pipeline[0], "unshuffles_into", False)
        self.decodes_into = self.vlen is None and (len(self.pipeline) == 1 or self.two_stage
                                                   or (not self.pipeline and self.checksum is not None))
        # the last stage of a two-stage decode (unshuffle) writes any strided destination
        # of the chunk's shape: its place in a larger output, with no copy through a buffer
        self.decodes_into_strided = self.two_stage and not self.dtype.hasobject and \
            self.dtype.itemsize == getattr(getattr(self.pipeline[0], "codec", None), "elementsize", None)
        if self.vlen is not None:
            self.max_decoded = max(64 * self.nbytes, MAX_VLEN_CHUNK_NBYTES)

    @property
    def is_raw(self) -> bool:
        """Stored bytes are the chunk's bytes as they are."""
        return not self.pipeline and self.vlen is None and self.checksum is None and self.quantize is None

    @property
    def checked_raw(self) -> bool:
        """Stored bytes are the chunk's bytes as they are, then a checksum of
        :attr:`TRAILER` bytes (:meth:`trailer`, :meth:`check`)."""
        return not self.pipeline and self.vlen is None and self.checksum is not None and self.quantize is None

    TRAILER = 4

    def trailer(self, pieces) -> bytes:
        """The checksum stored after a :attr:`checked_raw` chunk made of ``pieces`` (in order)."""
        return self.checksum.trailer(pieces)

    def check(self, pieces, trailer) -> None:
        """ValueError unless ``trailer`` is the checksum of a :attr:`checked_raw`
        chunk read into ``pieces`` (in order)."""
        self.checksum.check(pieces, trailer)

    def encode(self, chunk: np.ndarray):
        """Stored bytes of ``chunk`` (a bytes-like object; no copy when uncompressed)."""
        if self.quantize is not None:
            chunk = self.quantize(np.asarray(chunk, dtype=self.dtype))
        if self.vlen is not None:
            buf = self.vlen.encode(np.asarray(chunk, dtype=object).reshape(-1))
        else:
            buf = np.ascontiguousarray(chunk, dtype=self.dtype).reshape(-1).view(np.uint8).data
        for codec in self.pipeline:
            buf = codec.encode(buf)
        return buf if self.checksum is None else self.checksum.encode(buf)

    def decode(self, raw) -> np.ndarray:
        """The chunk array (read-only view when no copy was needed). ValueError if corrupt."""
        buf = raw if self.checksum is None else self.checksum.decode(raw, 0)
        for codec in reversed(self.pipeline):
            buf = codec.decode(buf, self.max_decoded)
        if self.vlen is not None:
            head = bytes(memoryview(buf).cast("B")[:4])
            if len(head) < 4 or int.from_bytes(head, "little") != self.items:
                raise ValueError(f"string chunk header declares {int.from_bytes(head, 'little')} items, "
                                 f"expected {self.items}")
            arr = self.vlen.decode(buf)
            if arr.size != int(np.prod(self.chunk_shape)):
                raise ValueError(f"decoded {arr.size} items, expected {int(np.prod(self.chunk_shape))}")
            return arr.reshape(self.chunk_shape)
        arr = np.frombuffer(buf, dtype=self.dtype)
        if arr.size * self.dtype.itemsize != self.nbytes:
            raise ValueError(f"decoded {arr.nbytes} bytes, expected {self.nbytes}")
        return arr.reshape(self.chunk_shape)

    def decode_into(self, raw, dest: np.ndarray) -> np.ndarray:
        """Decode a fixed-size chunk into ``dest`` (the chunk's shape and dtype;
        C-contiguous unless :attr:`decodes_into_strided`) and return it.
        ValueError if corrupt.  Saves a copy over :meth:`decode` when
        :attr:`decodes_into`."""
        if self.vlen is not None:
            raise TypeError("variable-length chunks have no fixed-size destination")
        if self.decodes_into:
            buf = raw if self.checksum is None else self.checksum.decode(raw, 0)
            if self.two_stage:  # e.g. deflate into scratch, then unshuffle into dest
                scratch = _scratch(self.nbytes)
                self.pipeline[1].decode_into(buf, scratch)
                self.pipeline[0].decode_into(scratch, dest)
            elif self.pipeline:
                self.pipeline[0].decode_into(buf, dest)
            else:
                copy_exact(buf, dest)
        else:
            copy_exact(self.decode(raw), dest)
        return dest


_SCRATCH = threading.local()
_SCRATCH_KEPT = 64 << 20  # larger chunks get a buffer of their own, not kept per thread


def _scratch(nbytes: int) -> np.ndarray:
    """This thread's reusable byte buffer of ``nbytes`` (no page faults of a fresh one per chunk)."""
    if nbytes > _SCRATCH_KEPT:
        return np.empty(nbytes, np.uint8)
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _SCRATCH.buf = np.empty(nbytes, np.uint8)
    return buf[:nbytes]


def _is_array(entry) -> bool:
    return entry is not None and entry.role is Role.ARRAY
