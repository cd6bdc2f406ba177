"""The registered codecs: adding a codec is adding an entry here.

Each entry states its facts (names, role, HDF5 filter id, how its chunks cross
to HDF5) and overrides the translations its role's defaults do not cover
(:class:`~dosna_like.codecs.registry.CodecEntry`).  What h5py accepts and
raises follows ``h5py._hl.filters``: gzip levels 0-9 (ValueError otherwise),
gzip-4 by default.  The Zarr JSON follows the Zarr v3 specification for
``gzip``, ``zstd``, ``blosc`` and ``crc32c``, and zarr-python's
``numcodecs.<id>`` names for the others, so zarr-python reads every codec
listed here.

HDF5 and this library do not have the same codecs: an import keeps deflate
(as gzip, or as zlib with ``deflate_as="zlib"``), shuffle and fletcher32 (as
crc32c) and lzf (as lzf, or as lz4 when python-lzf is missing) and stores
anything else as gzip-4; an export writes gzip and zlib as deflate, lzf and lz4
as lzf and other compressors as gzip-4.
"""
from __future__ import annotations

import numcodecs
import numcodecs.registry
import numpy as np

from ..format import dtypes
from .registry import AS_IS, DEFLATE, CodecEntry, Example, Hdf5Filter, RefusedCodecError, Role, register
from . import lzf
from .runtime import Crc32cRuntime, GzipRuntime, NumcodecRuntime, ZlibRuntime

__all__ = ["BLOSC", "BYTES", "CRC32C", "GZIP", "H5PY_COMPRESSION", "HDF5_FILTERS", "LZ4", "LZF", "NUMCODECS", "SHUFFLE",
           "VLEN_BYTES", "VLEN_UTF8", "ZLIB", "ZSTD", "gzip_level"]

# HDF5's filters (H5Zpublic.h and the HDF Group's registered plugins) as h5py knows them
HDF5_FILTERS = {f.filter_id: f for f in (
    Hdf5Filter(1, "gzip", h5py_compression=True),
    Hdf5Filter(2, "shuffle"),
    Hdf5Filter(3, "fletcher32"),
    Hdf5Filter(4, "szip", h5py_compression=True),
    Hdf5Filter(5, "nbit"),
    Hdf5Filter(6, "scaleoffset", values_only=True),
    Hdf5Filter(32000, "lzf", h5py_compression=True),
    Hdf5Filter(32001, "blosc"),
    Hdf5Filter(32004, "lz4"),
    Hdf5Filter(32015, "zstd"),
)}
H5PY_COMPRESSION = tuple(f.h5py_name for f in HDF5_FILTERS.values() if f.h5py_compression)


def gzip_level(opts) -> int:
    """h5py's check of a gzip ``compression_opts``: an integer 0-9, default 4."""
    level = 4 if opts is None else opts
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)) \
            or level != int(level) or not 0 <= level <= 9:
        raise ValueError(f"GZIP setting must be an integer from 0-9, not {opts!r}")
    return int(level)


def _numcodecs_runtime(codec_id: str, config: dict) -> NumcodecRuntime:
    return NumcodecRuntime(numcodecs.get_codec({"id": codec_id, **config}))


def _codec_object(codec_id: str, opts) -> dict:
    """``compression=`` a numcodecs object rebuilt from h5py's view of it; {}
    (stored uncompressed, as a copy does with lzf) when numcodecs lacks it."""
    if codec_id not in numcodecs.registry.codec_registry and codec_id not in numcodecs.registry.entries:
        return {}
    return {"compression": numcodecs.get_codec({"id": codec_id, **(opts or {})})}


# ------------------------------------------------------- array-to-bytes codecs
class _FixedSize(CodecEntry):
    def runtime(self, zarr_name: str, config: dict):
        return None  # the chunk's bytes are the array's memory

    def example(self) -> Example:
        return Example({}, "i2")


class _VlenUtf8(CodecEntry):
    def runtime(self, zarr_name: str, config: dict):
        return numcodecs.VLenUTF8()

    def example(self) -> Example:
        return Example({}, dtypes.string_dtype())


class _VlenBytes(CodecEntry):
    def runtime(self, zarr_name: str, config: dict):
        return numcodecs.VLenBytes()

    def example(self) -> Example:
        return Example({}, dtypes.string_dtype("ascii"))


BYTES = register(_FixedSize("bytes", "bytes", Role.ARRAY, hdf5_chunks=AS_IS))
VLEN_UTF8 = register(_VlenUtf8("vlen-utf8", "vlen-utf8", Role.ARRAY))
VLEN_BYTES = register(_VlenBytes("vlen-bytes", "vlen-bytes", Role.ARRAY))


# ------------------------------------------------------------------ compressors
class _Gzip(CodecEntry):
    """Zarr v3's gzip codec: h5py's own ``compression="gzip"``."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        return {"name": "gzip", "configuration": {"level": gzip_level(opts)}}

    def from_numcodecs(self, codec_id: str, config: dict) -> dict:
        return {"name": "gzip", "configuration": {"level": int(config.get("level", 1))}}

    def runtime(self, zarr_name: str, config: dict):
        return GzipRuntime(int(config.get("level", 5)))

    def view(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "gzip", "compression_opts": config.get("level")}

    def to_hdf5(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "gzip", "compression_opts": config.get("level")}

    def verifies(self, zarr_name: str, config: dict) -> bool:
        return True  # every gzip member ends with the CRC-32 of its data

    def example(self) -> Example:
        return Example({"compression": "gzip", "compression_opts": 5})


class _Zlib(CodecEntry):
    """numcodecs' zlib: HDF5's deflate stream kept as it is (``deflate_as="zlib"``)."""

    def runtime(self, zarr_name: str, config: dict):
        return ZlibRuntime(int(config.get("level", 1)))

    def keywords(self, compression, compression_opts) -> dict:
        return _codec_object("zlib", compression_opts)

    def to_hdf5(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "gzip", "compression_opts": int(config.get("level", 4))}

    def from_hdf5(self, compression_opts) -> dict:
        return {"compression": numcodecs.Zlib(level=4 if compression_opts is None else int(compression_opts))}

    def verifies(self, zarr_name: str, config: dict) -> bool:
        return True  # every zlib stream ends with the Adler-32 of its data

    def example(self) -> Example:
        return Example({"compression": numcodecs.Zlib(level=3)})


class _Zstd(CodecEntry):
    """Zarr v3's zstd codec (level 3 by default, no checksum)."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        return {"name": "zstd", "configuration": {"level": 3 if opts is None else int(opts), "checksum": False}}

    def from_numcodecs(self, codec_id: str, config: dict) -> dict:
        return {"name": "zstd", "configuration": {"level": int(config.get("level", 0)),
                                                   "checksum": bool(config.get("checksum", False))}}

    def runtime(self, zarr_name: str, config: dict):
        return NumcodecRuntime(numcodecs.Zstd(level=int(config.get("level", 0)),
                                              checksum=bool(config.get("checksum", False))))

    def view(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "zstd", "compression_opts": config.get("level")}

    def verifies(self, zarr_name: str, config: dict) -> bool:
        return bool(config.get("checksum", False))  # the frame's XXH64 of its content

    def example(self) -> Example:
        return Example({"compression": "zstd", "compression_opts": 5})


class _Lz4(CodecEntry):
    """numcodecs' lz4 (acceleration 1 by default); exported to HDF5 as lzf."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        return {"name": "numcodecs.lz4", "configuration": {"acceleration": 1 if opts is None else int(opts)}}

    def runtime(self, zarr_name: str, config: dict):
        return _numcodecs_runtime("lz4", config)

    def view(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "lz4", "compression_opts": config.get("acceleration")}

    def to_hdf5(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "lzf"}  # h5py's fast, light codec

    def from_hdf5(self, compression_opts) -> dict:
        return {"compression": "lz4"}  # lzf's options do not apply

    def example(self) -> Example:
        return Example({"compression": "lz4"})


class _Lzf(CodecEntry):
    """HDF5's LZF filter through liblzf (:mod:`dosna_like.codecs.lzf`); no options, as h5py."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        if opts is not None:
            raise ValueError("LZF compression filter accepts no options")
        if not lzf.AVAILABLE:
            raise ValueError(lzf.INSTALL_HINT)
        return {"name": self.zarr_name, "configuration": {}}

    def runtime(self, zarr_name: str, config: dict):
        if not lzf.AVAILABLE:
            raise ValueError(lzf.INSTALL_HINT)
        return lzf.LzfRuntime(header=bool(config.get("header", True)))  # false: HDF5's bare streams

    def view(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "lzf", "compression_opts": None}

    def from_hdf5(self, compression_opts) -> dict:
        # without python-lzf an import still keeps the data exact, in lz4
        return {"compression": "lzf" if lzf.AVAILABLE else "lz4"}

    def to_hdf5(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "lzf"}

    def example(self) -> Example:
        return Example({"compression": "lzf"})


_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_BLOSC_SHUFFLE_NAME = {v: k for k, v in _BLOSC_SHUFFLE.items()}


class _Blosc(CodecEntry):
    """Zarr v3's blosc codec; ``compression_opts`` is a clevel or a dict of
    cname / clevel / shuffle (lz4, 5, byte shuffle by default)."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        config = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}
        if isinstance(opts, dict):
            config.update(opts)
        elif opts is not None:
            config["clevel"] = int(opts)
        if isinstance(config["shuffle"], int):
            config["shuffle"] = _BLOSC_SHUFFLE_NAME[config["shuffle"]]
        config["typesize"] = np.dtype(dtype).itemsize
        config["blocksize"] = 0
        return {"name": "blosc", "configuration": config}

    def runtime(self, zarr_name: str, config: dict):
        shuffle = config.get("shuffle", "noshuffle")
        shuffle = _BLOSC_SHUFFLE[shuffle] if isinstance(shuffle, str) else int(shuffle)
        codec = numcodecs.Blosc(cname=config.get("cname", "lz4"), clevel=int(config.get("clevel", 5)),
                                shuffle=shuffle, blocksize=int(config.get("blocksize", 0)))
        return NumcodecRuntime(codec, int(config.get("typesize", 1)))

    def view(self, zarr_name: str, config: dict) -> dict:
        return {"compression": "blosc",
                "compression_opts": {k: config[k] for k in ("cname", "clevel", "shuffle") if k in config}}

    def example(self) -> Example:
        return Example({"compression": "blosc", "compression_opts": {"cname": "zstd", "clevel": 3,
                                                                     "shuffle": "bitshuffle"}})


GZIP = register(_Gzip("gzip", "gzip", Role.COMPRESSOR, h5py_keyword="compression", numcodecs_id="gzip",
                      hdf5_filter=DEFLATE, hdf5_imports=(DEFLATE,), hdf5_chunks="deflate"))
BLOSC = register(_Blosc("blosc", "blosc", Role.COMPRESSOR, h5py_keyword="compression", hdf5_filter=32001))
ZSTD = register(_Zstd("zstd", "zstd", Role.COMPRESSOR, h5py_keyword="compression", numcodecs_id="zstd",
                      hdf5_filter=32015))
LZ4 = register(_Lz4("lz4", "numcodecs.lz4", Role.COMPRESSOR, h5py_keyword="compression", numcodecs_id="lz4",
                    hdf5_filter=32004))
LZF = register(_Lzf("lzf", "numcodecs.lzf", Role.COMPRESSOR, h5py_keyword="compression", numcodecs_id="lzf",
                    hdf5_filter=32000, hdf5_imports=(32000,)))
ZLIB = register(_Zlib("zlib", "numcodecs.zlib", Role.COMPRESSOR, numcodecs_id="zlib",
                      hdf5_filter=DEFLATE, hdf5_imports=(DEFLATE,), hdf5_chunks="zlib"))


# ------------------------------------------------------- shuffle and checksum
class _Shuffle(CodecEntry):
    """numcodecs' shuffle by the item size: HDF5's shuffle filter, byte for byte."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        return {"name": "numcodecs.shuffle", "configuration": {"elementsize": np.dtype(dtype).itemsize}}

    def runtime(self, zarr_name: str, config: dict):
        return _numcodecs_runtime("shuffle", config)

    def chunks_cross(self, config: dict, itemsize: int) -> str | None:
        return AS_IS if config.get("elementsize") == itemsize else None

    def example(self) -> Example:
        return Example({"shuffle": True}, "i4")


class _Crc32c(CodecEntry):
    """Zarr v3's crc32c checksum: h5py's ``fletcher32=True`` (another checksum,
    the same job, so chunks are checked again when they cross)."""

    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        return {"name": "crc32c"}

    def runtime(self, zarr_name: str, config: dict):
        return Crc32cRuntime()

    def example(self) -> Example:
        return Example({"fletcher32": True})


SHUFFLE = register(_Shuffle("shuffle", "numcodecs.shuffle", Role.SHUFFLE, h5py_keyword="shuffle",
                            numcodecs_id="shuffle", hdf5_filter=2, hdf5_imports=(2,), hdf5_chunks=AS_IS))
CRC32C = register(_Crc32c("crc32c", "crc32c", Role.CHECKSUM, h5py_keyword="fletcher32",
                          hdf5_filter=3, hdf5_imports=(3,)))


# ------------------------------------------------- any other numcodecs codec
_REFUSED_IDS = frozenset({"pickle"})  # never unpickle anything read from a store
# numcodecs codecs that check what they decode: checksums, and bz2's per-block CRC
_VERIFYING_IDS = frozenset({"crc32", "crc32c", "adler32", "fletcher32", "jenkins_lookup3", "bz2"})


def _refuse(codec_id: str) -> None:
    if codec_id in _REFUSED_IDS:
        raise RefusedCodecError(f"codec {codec_id!r} is refused: it would unpickle stored data")


class _Numcodecs(CodecEntry):
    """Any numcodecs codec, stored as zarr-python names it (``numcodecs.<id>``)
    with its own configuration; h5py's view names it by its id."""

    def from_numcodecs(self, codec_id: str, config: dict) -> dict:
        _refuse(codec_id)
        return {"name": f"{self.zarr_name}{codec_id}", "configuration": config}

    def runtime(self, zarr_name: str, config: dict):
        codec_id = zarr_name[len(self.zarr_name):]
        _refuse(codec_id)
        return _numcodecs_runtime(codec_id, config)

    def view(self, zarr_name: str, config: dict) -> dict:
        return {"compression": zarr_name[len(self.zarr_name):], "compression_opts": config or None}

    def verifies(self, zarr_name: str, config: dict) -> bool:
        return zarr_name[len(self.zarr_name):] in _VERIFYING_IDS

    def keywords(self, compression, compression_opts) -> dict:
        _refuse(compression)
        return _codec_object(compression, compression_opts)

    def example(self) -> Example:
        return Example({"compression": numcodecs.BZ2(level=3)})


NUMCODECS = register(_Numcodecs("numcodecs", "numcodecs.", Role.COMPRESSOR, family=True))
