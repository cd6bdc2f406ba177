"""HDF5's LZF filter (h5py's ``compression="lzf"``) as a real codec.

numcodecs has no LZF, and a pure-Python LZF runs at a few MB/s, so the
runtime uses the ``python-lzf`` binding of liblzf (the library h5py's own
filter is built from), an optional dependency (``pip install
dosna_like[lzf]``); without it ``compression="lzf"`` is a ValueError naming
the package.  A stored chunk is the decoded size (4 bytes, little-endian, as
numcodecs' LZ4 frames its blocks) followed by one liblzf stream of the whole
chunk, so a reader needs nothing but the bytes.  In ``zarr.json`` the codec
is ``numcodecs.lzf``; importing dosna_like registers ``lzf`` with numcodecs
(``numcodecs.get_codec({"id": "lzf"})``) and ``numcodecs.lzf`` with
zarr-python, so zarr reads these arrays in a process that imported
dosna_like (other processes: convert with ``compression="gzip"``).

HDF5's own LZF filter (an HDF5 file read in place) stores the bare stream:
configuration ``{"header": false}``; the decoded size is then the chunk's.
Decoding calls liblzf's ``lzf_decompress`` (which python-lzf's extension
exports) through ctypes: the GIL is released for the call and the output is
written straight into the caller's buffer (a place in the output array, or a
scratch buffer the shuffle filter reads), so chunks decode in parallel threads.
liblzf checks both the input and the output bounds, so a corrupt stream is an
error, never a read or write past a buffer.
"""
from __future__ import annotations

import ctypes

import numpy as np
import numcodecs
from numcodecs.abc import Codec

from .runtime import ByteCodec

try:  # zarr-python's numcodecs wrapper base (3.1.3+), to let zarr decode lzf chunks
    import zarr.registry
    from zarr.codecs.numcodecs._codecs import _NumcodecsBytesBytesCodec as _ZarrBytesBytes
except ImportError:  # pragma: no cover - older zarr-python: zarr cannot read lzf arrays
    _ZarrBytesBytes = None

try:  # optional: only arrays that use lzf need it
    import lzf as _liblzf
except ImportError:  # pragma: no cover - depends on the environment
    _liblzf = None

_decompress_c = None
if _liblzf is not None:
    try:  # unsigned int lzf_decompress(const void *in, unsigned int in_len, void *out, unsigned int out_len)
        _decompress_c = ctypes.CDLL(_liblzf.__file__).lzf_decompress
        _decompress_c.restype = ctypes.c_uint
        _decompress_c.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_uint]
    except (OSError, AttributeError):  # pragma: no cover - a build that hides the symbol: python-lzf's call
        _decompress_c = None

__all__ = ["AVAILABLE", "INSTALL_HINT", "LzfCodec", "LzfRuntime", "compress", "decoded_size", "decompress",
           "decompress_into"]

AVAILABLE = _liblzf is not None
INSTALL_HINT = 'Compression filter "lzf" needs the python-lzf package (pip install "dosna_like[lzf]")'


def _require() -> None:
    if _liblzf is None:
        raise ValueError(INSTALL_HINT)


def compress(buf, header: bool = True) -> bytes:
    """The size header (unless not ``header``) and one liblzf stream of ``buf``
    (room for the worst case is given)."""
    _require()
    data = bytes(memoryview(buf).cast("B"))
    if len(data) >= 1 << 32:
        raise ValueError("LZF chunks must be smaller than 4 GiB")
    stream = _liblzf.compress(data, len(data) + len(data) // 32 + 16) if data else b""
    return len(data).to_bytes(4, "little") + stream if header else stream


def decompress_into(stream, dest: np.ndarray) -> None:
    """Inflate the bare liblzf ``stream`` into the C-contiguous array ``dest``,
    which it must fill exactly (ValueError otherwise, or when it is corrupt)."""
    _require()
    src = np.frombuffer(stream, dtype=np.uint8)
    if not dest.nbytes and not src.size:
        return
    if dest.nbytes >= 1 << 32 or src.size >= 1 << 32:
        raise ValueError("LZF chunks must be smaller than 4 GiB")
    if _decompress_c is not None:
        done = _decompress_c(src.ctypes.data, src.size, dest.ctypes.data, dest.nbytes) if src.size else 0
    else:  # pragma: no cover - python-lzf's own call (holds the GIL, makes a bytes object)
        out = _liblzf.decompress(src.tobytes(), dest.nbytes) if src.size else None
        done = 0 if out is None else len(out)
        if done == dest.nbytes:
            dest.reshape(-1).view(np.uint8)[:] = np.frombuffer(out, np.uint8)
    if done != dest.nbytes:  # 0: corrupt, or more than dest holds
        raise ValueError(f"not a valid LZF stream of {dest.nbytes} bytes")


def decoded_size(buf) -> int:
    head = bytes(memoryview(buf).cast("B")[:4])
    if len(head) != 4:
        raise ValueError("truncated LZF chunk")
    return int.from_bytes(head, "little")


def decompress(buf, size: int | None = None) -> bytes:
    """The bytes of an LZF chunk; ValueError when it is corrupt or not ``size`` bytes."""
    _require()
    declared = decoded_size(buf)
    if size is not None and declared != size:
        raise ValueError(f"LZF chunk declares {declared} bytes, expected {size}")
    out = np.empty(declared, dtype=np.uint8)
    decompress_into(memoryview(buf).cast("B")[4:], out)
    return out.tobytes()


class LzfRuntime(ByteCodec):
    """The per-array runtime; ``header=False``: HDF5's bare streams, decoded to
    the chunk's size."""

    def __init__(self, header: bool = True):
        self.header = header

    def encode(self, buf) -> bytes:
        return compress(buf, self.header)

    def decode(self, buf, size_hint: int):
        if self.header:
            return decompress(buf, size_hint)
        out = np.empty(size_hint, dtype=np.uint8)
        self.decode_into(buf, out)
        return out

    def decode_into(self, buf, dest: np.ndarray) -> None:
        """Straight into ``dest`` (which the chunk must fill exactly), the GIL released."""
        if self.header:
            declared = decoded_size(buf)
            if declared != dest.nbytes:
                raise ValueError(f"LZF chunk declares {declared} bytes, expected {dest.nbytes}")
            buf = memoryview(buf).cast("B")[4:]
        decompress_into(buf, dest)


class LzfCodec(Codec):
    """numcodecs' face of the codec (``numcodecs.get_codec({"id": "lzf"})``),
    with the same bytes as a dosna_like chunk."""

    codec_id = "lzf"

    def encode(self, buf):
        return compress(np.ascontiguousarray(buf).view(np.uint8).reshape(-1))

    def decode(self, buf, out=None):
        data = decompress(buf)
        if out is None:
            return data
        view = np.asarray(out).view(np.uint8).reshape(-1)
        view[:] = np.frombuffer(data, np.uint8)
        return out


numcodecs.register_codec(LzfCodec)
if _ZarrBytesBytes is not None:
    class ZarrLzf(_ZarrBytesBytes, codec_name="lzf"):
        """zarr-python's wrapper of :class:`LzfCodec` (``numcodecs.lzf`` in ``zarr.json``)."""

    zarr.registry.register_codec("numcodecs.lzf", ZarrLzf)
