"""Chunk encoding and decoding, and h5py's compression keywords.

h5py's ``compression`` / ``compression_opts`` / ``shuffle`` map onto a Zarr v3
codec list (``bytes`` then byte-to-byte codecs), which :class:`ChunkCodec`
applies.  gzip (the container Zarr v3 specifies) goes through libdeflate when
the ``deflate`` package is installed (:mod:`dosna_like.libdeflate`) and the
standard library's zlib otherwise; both release the GIL, so chunks decode in
parallel threads.  Everything else goes through numcodecs.
"""
from __future__ import annotations

import zlib

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from . import libdeflate
from ..format.dtypes import to_zarr



SUPPORTED = ("gzip", "blosc", "zstd", "lz4")
_REFUSED_IDS = {"pickle"}  # never unpickle anything read from a store
_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_BLOSC_SHUFFLE_NAME = {v: k for k, v in _BLOSC_SHUFFLE.items()}


# ------------------------------------------------------ h5py keywords -> codecs
def _gzip_level(opts) -> int:
    level = 4 if opts is None else opts
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)) \
            or level != int(level) or not 0 <= level <= 9:
        raise ValueError(f"GZIP setting must be an integer from 0-9, not {opts!r}")
    return int(level)


def _named_codec(name: str, opts, dtype: np.dtype) -> dict:
    if name == "gzip":
        return {"name": "gzip", "configuration": {"level": _gzip_level(opts)}}
    if name == "zstd":
        level = 3 if opts is None else int(opts)
        return {"name": "zstd", "configuration": {"level": level, "checksum": False}}
    if name == "lz4":
        accel = 1 if opts is None else int(opts)
        return {"name": "numcodecs.lz4", "configuration": {"acceleration": accel}}
    if name == "blosc":
        cfg = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}
        if isinstance(opts, dict):
            cfg.update(opts)
        elif opts is not None:
            cfg["clevel"] = int(opts)
        if isinstance(cfg["shuffle"], int):
            cfg["shuffle"] = _BLOSC_SHUFFLE_NAME[cfg["shuffle"]]
        cfg["typesize"] = np.dtype(dtype).itemsize
        cfg["blocksize"] = 0
        return {"name": "blosc", "configuration": cfg}
    raise ValueError(
        f'Compression filter "{name}" is unavailable; supported: '
        + ", ".join(SUPPORTED) + " or a numcodecs codec object"
    )


def _codec_object(codec: Codec) -> dict:
    config = codec.get_config()
    codec_id = config.pop("id")
    if codec_id in _REFUSED_IDS:
        raise ValueError(f"codec {codec_id!r} is refused: it would unpickle stored data")
    if codec_id == "gzip":
        return {"name": "gzip", "configuration": {"level": int(config.get("level", 1))}}
    if codec_id == "zstd":
        return {"name": "zstd", "configuration": {"level": int(config.get("level", 0)),
                                                   "checksum": bool(config.get("checksum", False))}}
    return {"name": f"numcodecs.{codec_id}", "configuration": config}


def build_codecs(dtype: np.dtype, compression=None, compression_opts=None, shuffle=None) -> list:
    """Zarr v3 codec list for h5py's compression keywords.

    Mirrors h5py: no compression by default; ``compression`` is a name
    ('gzip', plus 'blosc', 'zstd', 'lz4' here), an int 0-9 meaning gzip at
    that level, or any numcodecs codec object.
    """
    chain = [to_zarr(dtype)[1]]  # the array-to-bytes codec: bytes, or vlen-utf8/vlen-bytes
    if compression is None and compression_opts is not None:
        raise TypeError("Compression method must be specified")
    if isinstance(compression, (int, np.integer)) and not isinstance(compression, bool):
        compression, compression_opts = "gzip", int(compression)
    if shuffle:
        chain.append({"name": "numcodecs.shuffle",
                      "configuration": {"elementsize": np.dtype(dtype).itemsize}})
    if compression is None or compression is False:
        return chain
    if isinstance(compression, Codec):
        chain.append(_codec_object(compression))
    elif isinstance(compression, str):
        chain.append(_named_codec(compression, compression_opts, dtype))
    else:
        raise TypeError(f"compression must be a name, a gzip level or a numcodecs codec, not {compression!r}")
    return chain


def describe(codecs: list) -> tuple:
    """h5py's view of a codec list: (compression, compression_opts, shuffle)."""
    compression, opts, shuffle = None, None, False
    for c in codecs:
        name, cfg = c["name"], c.get("configuration") or {}
        if name == "bytes":
            continue
        if name in ("numcodecs.shuffle", "shuffle"):
            shuffle = True
        elif name == "gzip":
            compression, opts = "gzip", cfg.get("level")
        elif name == "zstd":
            compression, opts = "zstd", cfg.get("level")
        elif name == "numcodecs.lz4":
            compression, opts = "lz4", cfg.get("acceleration")
        elif name == "blosc":
            compression = "blosc"
            opts = {k: cfg[k] for k in ("cname", "clevel", "shuffle") if k in cfg}
        elif name != "crc32c":
            compression, opts = name.removeprefix("numcodecs."), cfg or None
    return compression, opts, shuffle


# --------------------------------------------------------------- runtime
class _ByteCodec:
    """A byte-to-byte codec: ``encode(buf)``, ``decode(buf, size_hint)`` and
    ``decode_into(buf, dest)`` (the last one a copy unless a codec does better)."""

    def decode_into(self, buf, dest: np.ndarray) -> None:
        _copy_exact(self.decode(buf, dest.nbytes), dest)


class _Gzip(_ByteCodec):
    def __init__(self, level: int, fast: bool | None = None):
        self.level = level
        self.fast = libdeflate.AVAILABLE if fast is None else fast

    def encode(self, buf) -> bytes:
        if self.fast:
            return libdeflate.gzip(buf, self.level)
        comp = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return comp.compress(buf) + comp.flush()

    def decode(self, buf, size_hint: int) -> bytes:
        return zlib.decompress(buf, 31, size_hint or zlib.DEF_BUF_SIZE)

    def decode_into(self, buf, dest: np.ndarray) -> None:
        """Inflate into ``dest`` (C-contiguous bytes it must fill exactly)."""
        if self.fast:
            try:
                return libdeflate.gunzip_into(buf, dest)
            except ValueError:
                pass  # zlib's verdict (and error message) on anything unusual
        super().decode_into(buf, dest)


class _Numcodec(_ByteCodec):
    def __init__(self, codec: Codec, typesize: int = 0):
        self.codec = codec
        self.typesize = typesize
        self.blosc = isinstance(codec, numcodecs.Blosc)

    def encode(self, buf):
        if self.typesize > 1:  # blosc shuffles by the item size of what it is given
            buf = np.frombuffer(buf, dtype=np.dtype((np.void, self.typesize)))
        return self.codec.encode(buf)

    def decode(self, buf, size_hint: int):
        return self.codec.decode(buf)

    def decode_into(self, buf, dest: np.ndarray) -> None:
        if self.blosc and _blosc_nbytes(buf) == dest.nbytes:
            self.codec.decode(buf, out=dest.reshape(-1).view(np.uint8))  # blosc writes into dest
        else:
            super().decode_into(buf, dest)


def _blosc_nbytes(buf) -> int:
    """Uncompressed size a blosc frame's header declares (bytes 4-7, little-endian)."""
    head = memoryview(buf).cast("B")[:16]
    return int.from_bytes(head[4:8], "little") if len(head) == 16 else -1


def _copy_exact(buf, dest: np.ndarray) -> None:
    src = np.frombuffer(buf, dtype=np.uint8)
    if src.size != dest.nbytes:
        raise ValueError(f"decoded {src.size} bytes, expected {dest.nbytes}")
    dest.reshape(-1).view(np.uint8)[:] = src


def _runtime_codec(spec: dict):
    name, cfg = spec["name"], dict(spec.get("configuration") or {})
    if name == "gzip":
        return _Gzip(int(cfg.get("level", 5)))
    if name == "zstd":
        return _Numcodec(numcodecs.Zstd(level=int(cfg.get("level", 0)),
                                         checksum=bool(cfg.get("checksum", False))))
    if name == "blosc":
        shuffle = cfg.get("shuffle", "noshuffle")
        shuffle = _BLOSC_SHUFFLE[shuffle] if isinstance(shuffle, str) else int(shuffle)
        codec = numcodecs.Blosc(cname=cfg.get("cname", "lz4"), clevel=int(cfg.get("clevel", 5)),
                                shuffle=shuffle, blocksize=int(cfg.get("blocksize", 0)))
        return _Numcodec(codec, int(cfg.get("typesize", 1)))
    if name == "crc32c":
        return _Crc32c()
    if name.startswith("numcodecs."):
        codec_id = name.removeprefix("numcodecs.")
        if codec_id in _REFUSED_IDS:
            raise ValueError(f"codec {codec_id!r} is refused: it would unpickle stored data")
        return _Numcodec(numcodecs.get_codec({"id": codec_id, **cfg}))
    raise ValueError(f"unsupported codec {name!r}")


class _Crc32c(_ByteCodec):
    """Zarr v3's crc32c codec: a 4-byte little-endian checksum after the data."""

    def encode(self, buf) -> bytes:
        from numcodecs.checksum32 import CRC32C
        return CRC32C().encode(buf)

    def decode(self, buf, size_hint: int):
        from numcodecs.checksum32 import CRC32C
        return CRC32C().decode(buf)  # raises when the checksum does not match


# Zarr v3 array-to-bytes codecs (the first in a codec list)
_ARRAY_CODECS = {"bytes": None, "vlen-utf8": numcodecs.VLenUTF8, "vlen-bytes": numcodecs.VLenBytes}


class ChunkCodec:
    """Encodes a chunk array to stored bytes and back, for one array's codec list."""

    def __init__(self, codecs: list, dtype: np.dtype, chunk_shape: tuple):
        self.dtype = np.dtype(dtype)
        self.chunk_shape = tuple(chunk_shape)
        self.nbytes = int(np.prod(self.chunk_shape, dtype=np.int64)) * self.dtype.itemsize
        names = [c["name"] for c in codecs]
        if names[0] not in _ARRAY_CODECS or any(n in _ARRAY_CODECS for n in names[1:]):
            raise ValueError(f"unsupported codec list {names}: expected one array codec first")
        self.vlen = None if names[0] == "bytes" else _ARRAY_CODECS[names[0]]()
        self.pipeline = [_runtime_codec(c) for c in codecs[1:]]
        # one fixed-size byte codec: it can decode straight into a destination
        self.decodes_into = self.vlen is None and len(self.pipeline) == 1

    @property
    def is_raw(self) -> bool:
        """Stored bytes are the chunk's bytes as they are."""
        return not self.pipeline and self.vlen is None

    def encode(self, chunk: np.ndarray):
        """Stored bytes of ``chunk`` (a bytes-like object; no copy when uncompressed)."""
        if self.vlen is not None:
            buf = self.vlen.encode(np.asarray(chunk, dtype=object).reshape(-1))
        else:
            buf = np.ascontiguousarray(chunk, dtype=self.dtype).reshape(-1).view(np.uint8).data
        for codec in self.pipeline:
            buf = codec.encode(buf)
        return buf

    def decode(self, raw) -> np.ndarray:
        """The chunk array (read-only view when no copy was needed). ValueError if corrupt."""
        buf = raw
        for codec in reversed(self.pipeline):
            buf = codec.decode(buf, self.nbytes)
        if self.vlen is not None:
            arr = self.vlen.decode(buf)
            if arr.size != int(np.prod(self.chunk_shape)):
                raise ValueError(f"decoded {arr.size} items, expected {int(np.prod(self.chunk_shape))}")
            return arr.reshape(self.chunk_shape)
        arr = np.frombuffer(buf, dtype=self.dtype)
        if arr.size * self.dtype.itemsize != self.nbytes:
            raise ValueError(f"decoded {arr.nbytes} bytes, expected {self.nbytes}")
        return arr.reshape(self.chunk_shape)

    def decode_into(self, raw, dest: np.ndarray) -> np.ndarray:
        """Decode a fixed-size chunk into ``dest`` (C-contiguous, the chunk's
        shape and dtype) and return it.  ValueError if corrupt.  Saves a copy
        over :meth:`decode` when :attr:`decodes_into`."""
        if self.vlen is not None:
            raise TypeError("variable-length chunks have no fixed-size destination")
        if self.decodes_into:
            self.pipeline[0].decode_into(raw, dest)
        else:
            _copy_exact(self.decode(raw), dest)
        return dest
