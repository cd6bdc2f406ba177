"""The codec registry: one entry per codec, looked up by every name it goes by.

A codec is known under several names at once: an h5py keyword
(``compression="gzip"``, ``shuffle=True``), a numcodecs codec id
(``numcodecs.GZip``'s ``"gzip"``), its name in ``zarr.json`` (``"gzip"``,
``"numcodecs.lz4"``), the name h5py's view reports back (``ds.compression``)
and an HDF5 filter id (deflate is 1).  The code that used to switch on these
names (creating datasets, the h5py view, the runtime, copying, HDF5 import
and export) asks the :class:`Registry` instead, so adding a codec is one
:class:`CodecEntry` in :mod:`dosna_like.codecs.entries` and nothing else
(zarr's codec registry and fsspec's ``known_implementations`` are the models).

An entry is a frozen dataclass: its fields are the facts (names, role, HDF5
filter id), its methods the translations, which a subclass overrides where a
codec needs to.  The defaults follow from the entry's :class:`Role`, so
shuffle, checksum and array codecs need almost nothing of their own.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ..errors import DosnaError

__all__ = ["AS_IS", "CHECKSUMMED", "DEFLATE", "FALLBACK", "RAW", "REGISTRY", "CodecEntry", "Example", "H5pyView", "Hdf5Filter",
           "RefusedCodecError", "Registry", "Role", "register"]


class RefusedCodecError(DosnaError, TypeError, ValueError):
    """A codec the library never runs (``pickle``: it would unpickle stored data).

    A TypeError, as h5py raises for a numcodecs object given as ``compression``,
    and a ValueError, as for a compression filter h5py does not have."""


class Role(enum.Enum):
    """What a codec does in a Zarr v3 codec list; it fixes how h5py sees the codec
    and where it goes in the list (in the order of this enumeration)."""

    ARRAY = "array"  # array -> bytes, first in the list (bytes, vlen-utf8, vlen-bytes)
    SHUFFLE = "shuffle"  # h5py's ``shuffle=True``
    COMPRESSOR = "compressor"  # h5py's ``compression=`` and ``compression_opts=``
    CHECKSUM = "checksum"  # h5py's ``fletcher32=True``

    @property
    def order(self) -> int:
        """Where a codec of this role goes in a codec list."""
        return list(Role).index(self)


@dataclass(frozen=True)
class H5pyView:
    """A codec list as h5py's dataset properties report it."""

    compression: Any = None
    compression_opts: Any = None
    shuffle: bool = False
    fletcher32: bool = False


@dataclass(frozen=True)
class Example:
    """``create_dataset`` keywords and a dtype that select one codec: its
    round-trip test uses them, and they show how a user asks for it."""

    keywords: dict = field(default_factory=dict)
    dtype: Any = "f8"


@dataclass(frozen=True)
class Hdf5Filter:
    """An HDF5 filter as h5py knows it."""

    filter_id: int
    h5py_name: str  # its name in h5py (``ds.compression``, or the flag's name)
    h5py_compression: bool = False  # h5py takes it as ``compression=h5py_name``
    values_only: bool = False  # it changes values, which HDF5 hands over decoded


# How stored chunks cross to and from an HDF5 file without being decoded
AS_IS = "as-is"  # a codec whose bytes are those of its HDF5 filter (shuffle)
RAW = "raw"  # a list of AS_IS codecs (or none): the chunk's bytes, checked by their size
CHECKSUMMED = "crc32c"  # RAW plus the crc32c the library adds by default: appended / checked and cut off
DEFLATE = 1  # HDF5's deflate filter: import_hdf5(deflate_as=...) names who holds its data
FALLBACK = {"compression": "gzip", "compression_opts": 4}  # what a format lacking a codec gets


@dataclass(frozen=True)
class CodecEntry:
    """Everything the library knows about one codec.

    Attributes
    ----------
    name : the registry key; for a compressor also what ``ds.compression`` says.
    zarr_name : its ``name`` in ``zarr.json``; for a ``family`` the prefix of
        every name in the family (``numcodecs.``).
    role : what it does in a codec list (:class:`Role`).
    h5py_keyword : how h5py's ``create_dataset`` asks for it: ``"compression"``
        (``compression=name``), a flag (``"shuffle"``, ``"fletcher32"``) or
        None (only as a numcodecs object).
    numcodecs_id : numcodecs codec objects with this id become this entry.
    hdf5_filter : the HDF5 filter id doing the same job (None: HDF5 has none).
    hdf5_imports : HDF5 filter ids that an import stores as this codec.
    hdf5_chunks : how a stored chunk crosses to and from ``hdf5_filter``'s
        without decoding: :data:`AS_IS`, a rewrapping the transfer layer
        performs (``"deflate"``: zlib stream <-> gzip member; ``"zlib"``: the
        zlib stream kept), or None (decoded and encoded again).
    family : the entry stands for every Zarr name starting with ``zarr_name``
        and for every numcodecs id that no other entry claims.
    """

    name: str
    zarr_name: str
    role: Role
    h5py_keyword: str | None = None
    numcodecs_id: str | None = None
    hdf5_filter: int | None = None
    hdf5_imports: tuple = ()
    hdf5_chunks: str | None = None
    family: bool = False

    # ------------------------------------------------ h5py keywords -> Zarr JSON
    def from_h5py(self, opts, dtype: np.dtype) -> dict:
        """Zarr JSON for this codec asked for by its h5py keyword (``opts``:
        ``compression_opts``) on a dataset of ``dtype``; raises what h5py
        raises for bad options."""
        return {"name": self.zarr_name, "configuration": {}}

    def from_numcodecs(self, codec_id: str, config: dict) -> dict:
        """Zarr JSON for a numcodecs object given as ``compression=``
        (``config``: its ``get_config()`` without the id)."""
        return {"name": self.zarr_name, "configuration": config}

    # ------------------------------------------------------------- runtime
    def runtime(self, zarr_name: str, config: dict):
        """What runs the codec: for an array codec a numcodecs variable-length
        codec, or None for fixed-size items; else a byte codec of
        :mod:`dosna_like.codecs.runtime`."""
        raise NotImplementedError(f"codec {self.name!r} has no runtime")

    # ------------------------------------------------------------ h5py view
    def view(self, zarr_name: str, config: dict) -> dict:
        """The :class:`H5pyView` fields this codec sets."""
        if self.role is Role.COMPRESSOR:
            return {"compression": self.name, "compression_opts": config or None}
        return self.keywords(self.name, None)

    def keywords(self, compression, compression_opts) -> dict:
        """``create_dataset`` keywords that give a dataset of this library this
        codec again, from h5py's view of it (``compression``, ``compression_opts``)."""
        if self.role is Role.COMPRESSOR:
            return {"compression": self.name, "compression_opts": compression_opts}
        if self.role is Role.SHUFFLE:
            return {"shuffle": True}
        if self.role is Role.CHECKSUM:
            return {"fletcher32": True}
        return {}

    # ------------------------------------------------------- HDF5 crossings
    def to_hdf5(self, zarr_name: str, config: dict) -> dict:
        """h5py ``create_dataset`` keywords that hold this codec's data in an
        HDF5 file (export): its own filter where h5py has one, else gzip-4."""
        if self.role is Role.COMPRESSOR:
            return dict(FALLBACK)
        return self.keywords(self.name, None)

    def from_hdf5(self, compression_opts) -> dict:
        """``create_dataset`` keywords for data an HDF5 file holds with one of
        :attr:`hdf5_imports` (``compression_opts``: what h5py reports)."""
        return self.keywords(self.name, compression_opts)

    def chunks_cross(self, config: dict, itemsize: int) -> str | None:
        """:attr:`hdf5_chunks` for this configuration on items of ``itemsize`` bytes."""
        return self.hdf5_chunks

    # ------------------------------------------------------------ integrity
    def verifies(self, zarr_name: str, config: dict) -> bool:
        """Whether decoding checks the stored bytes against a checksum, so that a
        damaged chunk fails to decode (a checksum codec; gzip's CRC-32 trailer;
        zstd written with its checksum on...)."""
        return self.role is Role.CHECKSUM

    # ----------------------------------------------------------- testing
    def example(self) -> Example:
        """Keywords that select this codec (fresh objects on each call)."""
        raise NotImplementedError(f"codec {self.name!r} gives no example")


class Registry:
    """The registered codecs, indexed by each of their names.

    Lookups are dictionary gets; they run when a codec list is built, viewed
    or turned into a runtime pipeline, never per chunk.
    """

    def __init__(self) -> None:
        self._entries: dict[str, CodecEntry] = {}
        self._by_zarr: dict[str, CodecEntry] = {}
        self._by_compression: dict[str, CodecEntry] = {}  # compression=<name>
        self._by_flag: dict[str, CodecEntry] = {}  # shuffle=True, fletcher32=True
        self._by_numcodecs: dict[str, CodecEntry] = {}
        self.family: CodecEntry | None = None

    def register(self, entry: CodecEntry) -> CodecEntry:
        """Add ``entry`` (its names must be new) and return it."""
        if entry.name in self._entries or entry.zarr_name in self._by_zarr:
            raise ValueError(f"codec {entry.name!r} ({entry.zarr_name!r}) is registered already")
        if entry.family and self.family is not None:
            raise ValueError(f"codec family {self.family.name!r} is registered already")
        self._entries[entry.name] = entry
        if entry.family:
            self.family = entry
        else:
            self._by_zarr[entry.zarr_name] = entry
        if entry.h5py_keyword == "compression":
            self._by_compression[entry.name] = entry
        elif entry.h5py_keyword is not None:
            self._by_flag[entry.h5py_keyword] = entry
        if entry.numcodecs_id is not None:
            self._by_numcodecs[entry.numcodecs_id] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests register throwaway codecs)."""
        entry = self._entries.pop(name)
        for index in (self._by_zarr, self._by_compression, self._by_flag, self._by_numcodecs):
            for key in [k for k, v in index.items() if v is entry]:
                del index[key]
        if self.family is entry:
            self.family = None

    def __iter__(self) -> Iterator[CodecEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> CodecEntry:
        return self._entries[name]

    def compression_names(self) -> tuple:
        """The names ``create_dataset(compression=...)`` accepts, in registration order."""
        return tuple(self._by_compression)

    def for_compression(self, name: str) -> CodecEntry | None:
        """The entry for ``create_dataset(compression=name)``."""
        return self._by_compression.get(name)

    def for_flag(self, flag: str) -> CodecEntry | None:
        """The entry for ``create_dataset(flag=True)`` (``"shuffle"``, ``"fletcher32"``)."""
        return self._by_flag.get(flag)

    def for_zarr(self, zarr_name: str) -> CodecEntry | None:
        """The entry for a name in ``zarr.json`` (None: no codec of ours)."""
        entry = self._by_zarr.get(zarr_name)
        if entry is None and self.family is not None and zarr_name.startswith(self.family.zarr_name):
            return self.family
        return entry

    def for_numcodecs(self, codec_id: str) -> CodecEntry | None:
        """The entry that takes numcodecs objects with ``codec_id``."""
        return self._by_numcodecs.get(codec_id, self.family)

    def for_view(self, compression: str) -> CodecEntry | None:
        """The entry behind a ``ds.compression`` value: the compressor of that
        name, else the family (a numcodecs id)."""
        entry = self._entries.get(compression)
        if entry is not None and entry.role is Role.COMPRESSOR:
            return entry
        return self.family

    def importing(self, filter_id: int, prefer: str | None = None) -> CodecEntry | None:
        """The entry an HDF5 filter is imported as: the one named ``prefer`` among
        those that import it, else the first registered (None: no entry does)."""
        found = [e for e in self._entries.values() if filter_id in e.hdf5_imports]
        for entry in found:
            if entry.name == prefer:
                return entry
        return found[0] if found else None

    def importers(self, filter_id: int) -> tuple:
        """Names of the entries that can hold an HDF5 filter's data on import."""
        return tuple(e.name for e in self._entries.values() if filter_id in e.hdf5_imports)


REGISTRY = Registry()
register = REGISTRY.register
