"""Whole codec lists through the registry: h5py keywords to Zarr JSON and back,
h5py's view of a list, and how a list crosses to and from HDF5.

Every function here walks a list and asks each codec's
:class:`~dosna_like.codecs.registry.CodecEntry`; none switches on a codec's
name (h5py's own rule that a bare number means gzip aside), which is what
keeps adding a codec to one place (:mod:`dosna_like.codecs.entries`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numcodecs.abc import Codec

from ..format.dtypes import to_zarr
from ..format.reserved import reserved_in
from .entries import H5PY_COMPRESSION, HDF5_FILTERS
from .registry import AS_IS, CHECKSUMMED, FALLBACK, RAW, REGISTRY, CodecEntry, H5pyView, Role

__all__ = ["CHECKSUM_MARK", "asked_codecs", "build_codecs", "h5py_keywords", "h5py_view", "hdf5_export_keywords",
           "hdf5_filters", "hdf5_import_keywords", "raw_crossing", "rebuild_keywords", "runtime_entry", "verifies",
           "with_checksum"]

# HDF5's own name of a filter where it is not h5py's keyword (h5py's ``filter_names``)
_STORED_FILTER_NAMES = {1: "deflate"}


_COMPRESSOR = Role.COMPRESSOR.order


def _config(spec: dict) -> dict:
    return dict(spec.get("configuration") or {})


def _compressor(compression, compression_opts, dtype: np.dtype) -> dict:
    """Zarr JSON for h5py's ``compression`` (a name or a numcodecs object)."""
    if isinstance(compression, Codec):
        config = compression.get_config()
        codec_id = config.pop("id")
        return REGISTRY.for_numcodecs(codec_id).from_numcodecs(codec_id, config)
    entry = REGISTRY.for_compression(compression) if isinstance(compression, str) else None
    if entry is None:
        raise ValueError(f'Compression filter "{compression}" is unavailable; supported: '
                         + ", ".join(REGISTRY.compression_names()) + " or a numcodecs codec object")
    return entry.from_h5py(compression_opts, dtype)


def _by_filter_id(filter_id: int, options: tuple) -> tuple:
    """(compression, compression_opts) for an HDF5 filter id h5py takes as a compression."""
    known = HDF5_FILTERS.get(filter_id)
    if filter_id < 0:
        raise ValueError(f"Invalid filter id: {filter_id}")
    if known is None or not known.h5py_compression or known.h5py_name not in REGISTRY.compression_names():
        raise ValueError(f"Unknown compression filter number: {filter_id}")
    if known.h5py_name == "gzip":
        return "gzip", options[0] if options else None
    return known.h5py_name, options or None


def build_codecs(dtype: np.dtype, compression=None, compression_opts=None, shuffle=None,
                 fletcher32=None) -> list:
    """Zarr v3 codec list for h5py's ``create_dataset`` filter keywords.

    Mirrors ``h5py._hl.filters``: no compression by default; ``compression``
    is a name (h5py's 'gzip', plus the registry's others), True (gzip at its
    default level), an int 0-9 (gzip at that level), or, beyond h5py, any
    numcodecs codec object; options without a compression are a TypeError,
    a name h5py does not know a ValueError.
    """
    chain = [to_zarr(dtype)[1]]  # the array-to-bytes codec: bytes, or vlen-utf8/vlen-bytes
    if hasattr(compression, "filter_id") and hasattr(compression, "filter_options"):
        # h5py's filter objects (h5py.filters.Gzip, hdf5plugin's): an HDF5 filter id and its options
        compression, compression_opts = _by_filter_id(compression.filter_id, tuple(compression.filter_options))
    if compression is None and compression_opts is not None:
        raise TypeError("Compression method must be specified")
    if compression is True:  # h5py: gzip at its default level
        compression = "gzip"
    elif isinstance(compression, (int, np.integer)) and not isinstance(compression, bool):
        if 0 <= compression <= 9:  # h5py's legacy gzip levels: the number is the level
            if compression_opts is not None:
                raise TypeError("Conflict in compression options")
            compression, compression_opts = "gzip", int(compression)
        else:  # h5py takes other numbers as HDF5 filter ids (negative ones are invalid)
            options = compression_opts if isinstance(compression_opts, tuple) else \
                (() if compression_opts is None else (compression_opts,))
            compression, compression_opts = _by_filter_id(int(compression), options)
    flagged = [REGISTRY.for_flag(flag) for flag, on in (("shuffle", shuffle), ("fletcher32", fletcher32)) if on]
    chain.extend(e.from_h5py(None, dtype) for e in flagged if e.role.order < _COMPRESSOR)
    if compression is not None and compression is not False:
        chain.append(_compressor(compression, compression_opts, dtype))
    chain.extend(e.from_h5py(None, dtype) for e in flagged if e.role.order > _COMPRESSOR)
    return chain


# Integrity by default: a chunk whose codecs check nothing gets Zarr v3's crc32c
# last, so a damaged chunk fails to decode (zarr-python reads and checks it
# too).  The array's reserved entry then says ``"checksum": "crc32c"``: the
# codec was added for integrity, not asked for, so h5py's view shows no
# ``fletcher32`` and an HDF5 export adds no filter for it.
CHECKSUM_MARK = ("checksum", "crc32c")  # (reserved key, value)


def verifies(codecs: list) -> bool:
    """Whether decoding a chunk with ``codecs`` checks its stored bytes."""
    for spec in codecs:
        entry = REGISTRY.for_zarr(spec["name"])
        if entry is not None and entry.verifies(spec["name"], _config(spec)):
            return True
    return False


def with_checksum(codecs: list) -> tuple:
    """``(codecs, added)``: the list with crc32c appended when nothing in it
    verifies the stored bytes (``added`` True), else the list unchanged."""
    if verifies(codecs):
        return codecs, False
    return [*codecs, REGISTRY.for_flag("fletcher32").from_h5py(None, np.dtype("u1"))], True


def asked_codecs(codecs: list, attributes=None) -> list:
    """The codecs a dataset was asked for: ``codecs`` without the checksum the
    library added by default (``attributes``: the array's, holding the mark)."""
    key, value = CHECKSUM_MARK
    if codecs and codecs[-1]["name"] == value and reserved_in(attributes, None).get(key) == value:
        return codecs[:-1]
    return codecs


def h5py_view(codecs: list, attributes=None) -> H5pyView:
    """What h5py's ``compression``, ``compression_opts``, ``shuffle`` and
    ``fletcher32`` report for a codec list (a codec we do not know shows as
    its name, as numcodecs codecs do); ``attributes`` (the array's) tell a
    checksum added by default, which h5py's view does not show."""
    fields: dict = {}
    for spec in asked_codecs(codecs, attributes):
        name, config = spec["name"], _config(spec)
        entry = REGISTRY.for_zarr(name)
        if entry is None:
            fields.update(compression=name, compression_opts=config or None)
        else:
            fields.update(entry.view(name, config))
    return H5pyView(**fields)


def rebuild_keywords(compression, compression_opts) -> dict:
    """``create_dataset`` keywords giving a dataset of this library the
    compressor h5py's view reports for another dataset (of either library);
    {} when there is none, or no codec of that name (lzf, szip: stored
    uncompressed)."""
    if compression is None:
        return {}
    entry = REGISTRY.for_view(compression)
    return {} if entry is None else entry.keywords(compression, compression_opts)


def h5py_keywords(compression, compression_opts) -> dict:
    """``create_dataset`` keywords giving an h5py dataset the compressor a view
    reports, if h5py has it (gzip, lzf, szip); else {} (stored uncompressed)."""
    if compression in H5PY_COMPRESSION:
        return {"compression": compression, "compression_opts": compression_opts}
    return {}


def runtime_entry(spec: dict) -> CodecEntry:
    """The registry entry behind one codec of a stored list (ValueError if none)."""
    entry = REGISTRY.for_zarr(spec["name"])
    if entry is None:
        raise ValueError(f"unsupported codec {spec['name']!r}")
    return entry


# ------------------------------------------------------------- HDF5 crossings
def hdf5_import_keywords(filter_ids: Sequence[int], compression_opts, prefer: str | None = None) -> dict:
    """``create_dataset`` keywords for an HDF5 dataset's filters (in pipeline
    order; ``compression_opts`` as h5py reports it) on import.

    A filter an entry imports becomes that codec (``prefer`` names the entry
    when several can, as ``import_hdf5(deflate_as=...)`` does for deflate); a
    filter that only changes values (scaleoffset) leaves nothing here, since HDF5
    hands the values over decoded; any other filter makes the data gzip-4.
    """
    keywords: dict = {}
    replaced = False
    for filter_id in filter_ids:
        entry = REGISTRY.importing(filter_id, prefer)
        if entry is not None:
            part = entry.from_hdf5(compression_opts)
            if "compression" in part and "compression" in keywords:
                continue  # the first compressor is the data's
            keywords.update(part)
        elif not getattr(HDF5_FILTERS.get(filter_id), "values_only", False):
            replaced = True
    if replaced and "compression" not in keywords:
        keywords.update(FALLBACK)
    return keywords


def hdf5_filters(codecs: list) -> tuple:
    """((HDF5 filter id, HDF5's name), ...) of the codecs after the array codec,
    in pipeline order: h5py's ``filter_ids`` and ``filter_names``.  A codec no
    HDF5 filter does the job of has no entry."""
    out = []
    for spec in codecs[1:]:
        entry = REGISTRY.for_zarr(spec["name"])
        filter_id = None if entry is None else entry.hdf5_filter
        if filter_id is not None:
            known = HDF5_FILTERS.get(filter_id)
            out.append((filter_id, _STORED_FILTER_NAMES.get(filter_id, known.h5py_name if known else str(filter_id))))
    return tuple(out)


def hdf5_export_keywords(codecs: list, attributes=None) -> dict:
    """h5py ``create_dataset`` keywords that hold data stored with ``codecs`` in
    an HDF5 file: each codec's own filter where h5py has it, else gzip-4 (a
    checksum added by default, see :func:`asked_codecs`, is left out)."""
    keywords: dict = {}
    for spec in asked_codecs(codecs, attributes):
        name, config = spec["name"], _config(spec)
        entry = REGISTRY.for_zarr(name)
        keywords.update(FALLBACK if entry is None else entry.to_hdf5(name, config))
    return keywords


def raw_crossing(filter_ids: Sequence[int], codecs: list, itemsize: int, attributes=None) -> str | None:
    """How stored chunks move between an HDF5 dataset with these filters (in
    pipeline order) and an array with these codecs without being decoded:
    :data:`~dosna_like.codecs.registry.RAW` (the same bytes),
    :data:`~dosna_like.codecs.registry.CHECKSUMMED` (the same bytes plus the
    checksum added by default, see :func:`asked_codecs`; ``attributes`` are
    the array's), the outermost codec's rewrapping (``"deflate"``, ``"zlib"``),
    or None (they must be decoded).  The dtypes and chunk shapes are the
    caller's to compare."""
    asked = asked_codecs(codecs, attributes)
    mode = _crossing(filter_ids, asked, itemsize)
    if len(asked) == len(codecs):
        return mode
    return CHECKSUMMED if mode == RAW else None


def _crossing(filter_ids: Sequence[int], codecs: list, itemsize: int) -> str | None:
    entries = [REGISTRY.for_zarr(spec["name"]) for spec in codecs]
    if not entries or entries[0] is None or entries[0].chunks_cross(_config(codecs[0]), itemsize) != AS_IS:
        return None
    modes = []
    for spec, entry in zip(codecs[1:], entries[1:]):
        if entry is None:
            return None
        modes.append(entry.chunks_cross(_config(spec), itemsize))
    if None in modes or [e.hdf5_filter for e in entries[1:]] != list(filter_ids):
        return None
    if any(mode != AS_IS for mode in modes[:-1]):
        return None  # only the outermost codec may rewrap its bytes
    return RAW if not modes or modes[-1] == AS_IS else modes[-1]
