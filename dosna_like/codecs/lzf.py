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
"""
from __future__ import annotations

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

__all__ = ["AVAILABLE", "INSTALL_HINT", "LzfCodec", "LzfRuntime", "compress", "decoded_size", "decompress"]

AVAILABLE = _liblzf is not None
INSTALL_HINT = 'Compression filter "lzf" needs the python-lzf package (pip install "dosna_like[lzf]")'


def _require() -> None:
    if _liblzf is None:
        raise ValueError(INSTALL_HINT)


def compress(buf) -> bytes:
    """The size header and one liblzf stream of ``buf`` (room for the worst case is given)."""
    _require()
    data = bytes(memoryview(buf).cast("B"))
    if len(data) >= 1 << 32:
        raise ValueError("LZF chunks must be smaller than 4 GiB")
    stream = _liblzf.compress(data, len(data) + len(data) // 32 + 16) if data else b""
    return len(data).to_bytes(4, "little") + stream


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
    stream = bytes(memoryview(buf).cast("B")[4:])
    if not declared:
        return b""
    out = _liblzf.decompress(stream, declared) if stream else None
    if out is None or len(out) != declared:
        raise ValueError(f"not a valid LZF stream of {declared} bytes")
    return out


class LzfRuntime(ByteCodec):
    """The per-array runtime."""

    def encode(self, buf) -> bytes:
        return compress(buf)

    def decode(self, buf, size_hint: int) -> bytes:
        return decompress(buf, size_hint)


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
