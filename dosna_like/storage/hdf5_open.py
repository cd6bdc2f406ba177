"""Opening an HDF5 file in place: a path, any fsspec URL or a file object.

:func:`open_hdf5_store` recognises an HDF5 file by its signature (at offset
0 or after a userblock of 512, 1024, 2048... bytes), reads or loads its
reference map and returns an :class:`~dosna_like.storage.hdf5_refs.Hdf5RefStore`.
Where the map is kept (``refs=``): nowhere (``None``, it is built at each
open), ``"beside"`` the file (``<file>.dosna-refs.json``) or in a cache
folder (a path or URL).  A saved map carries the file's size and ETag or
mtime; when they differ the map is rebuilt and saved again.  On a remote
file the saved map is fetched while the file's HEAD is under way: reopening
costs one round trip for both, not two.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import warnings

from .base import DEFAULT_IO_CONCURRENCY, is_url, join_url, normalize_url
from .hdf5_ranges import read_range
from .real_h5py import real_h5py
from .hdf5_refs import (Hdf5LeftOutWarning, Hdf5RefStore, build_reference_map, hdf5_fingerprint, load_reference_map,
                        save_reference_map, userblock_of)
from .registry import filesystem_for
from .threads import io_threads

__all__ = ["HDF5ReadOnlyError", "HDF5_SUFFIXES", "REFS_SUFFIX", "is_file_object", "is_hdf5", "open_hdf5_store",
           "open_source", "refs_location"]

REFS_SUFFIX = ".dosna-refs.json"
# names a search of a prefix tries as HDF5 files (netCDF4 files are HDF5 files)
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".nc", ".nc4", ".h5ad", ".nwb")


def is_file_object(name) -> bool:
    """Whether ``name`` is a Python file object (``io.BytesIO``, an fsspec file...)."""
    return hasattr(name, "read") and hasattr(name, "seek")


def refs_location(url: str, refs, storage_options: dict | None):
    """(fs, path) where the reference map of the file at ``url`` is kept, or None."""
    if refs is None or refs is False:
        return None
    if refs == "beside":
        target = url + REFS_SUFFIX
    else:
        folder = normalize_url(os.fspath(refs))
        target = join_url(folder, hashlib.sha256(url.encode()).hexdigest()[:32] + REFS_SUFFIX)
        if not is_url(target):
            os.makedirs(folder, exist_ok=True)
    options = storage_options if is_url(target) and refs == "beside" else {}
    return filesystem_for(target, options)


def _import_h5py():
    """The real h5py module (callers hold ``real_h5py()`` around its use)."""
    return sys.modules["h5py"]


class HDF5ReadOnlyError(OSError):
    """A write mode asked of an HDF5 file, which opens in place read-only."""

    def __init__(self, url):
        super().__init__(f"Unable to open {url} for writing: an HDF5 file opens in place read-only "
                         "(mode 'r'); to write, copy it into a store first (`dosna-like import FILE STORE` "
                         "or dosna_like.import_hdf5), or open it with h5py itself")
        self.url = url


def _source_of(name, storage_options: dict | None):
    """(url, source, fingerprint, read_at, size, fs, h5py opener, counts) for ``name``, or None."""
    counts = {"head": 0, "get": 0}
    if is_file_object(name):
        fs, path = getattr(name, "fs", None), getattr(name, "path", None)
        if fs is not None and isinstance(path, str):  # an fsspec file: ranges through its filesystem
            info = fs.info(path)
            url = fs.unstrip_protocol(path)
            source = ("fs", fs, path)
            opener = lambda: _import_h5py().File(fs.open(path, "rb"), "r")  # noqa: E731
            return url, source, hdf5_fingerprint(info), int(info.get("size") or 0), fs, opener, counts
        if isinstance(name, io.BytesIO):
            source = ("buffer", name.getbuffer().toreadonly())
            size = len(source[1])
        else:
            source = ("fileobj", name)
            size = name.seek(0, os.SEEK_END)
        url = getattr(name, "name", None) if isinstance(getattr(name, "name", None), str) else repr(name)
        return url, source, None, size, None, lambda: _import_h5py().File(name, "r"), counts
    url = normalize_url(name)
    if not is_url(url):
        if not os.path.isfile(url):
            return None
        st = os.stat(url)
        fingerprint = {"size": st.st_size, "mtime": str(st.st_mtime_ns)}
        source = ("fd", os.open(url, os.O_RDONLY))
        return url, source, fingerprint, st.st_size, None, lambda: _import_h5py().File(url, "r"), counts
    fs, path = filesystem_for(url, storage_options)
    counts["head"] += 1
    try:
        info = fs.info(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if info.get("type") != "file":
        return None
    opener = lambda: _import_h5py().File(fs.open(path, "rb"), "r")  # noqa: E731
    return url, ("fs", fs, path), hdf5_fingerprint(info), int(info.get("size") or 0), fs, opener, counts


def open_source(url: str, storage_options: dict | None) -> tuple | None:
    """(source, fingerprint) of the file at the path or URL ``url`` (see
    :mod:`~dosna_like.storage.hdf5_ranges`), or None when there is no file there."""
    found = _source_of(url, storage_options)
    return None if found is None else (found[1], found[2])


def _saved_map(location) -> bytes | None:
    """The bytes of the reference map saved at ``location`` (fs, path), or None."""
    try:
        return location[0].cat_file(location[1])
    except OSError:  # FileNotFoundError, or a store that refuses
        return None


def _prefetched_map(name, refs, storage_options: dict | None, writable: bool):
    """A future of the saved map of the remote file ``name``, fetched in an I/O thread (so
    alongside the file's HEAD), or None where there is no map to read or no round trip to save."""
    if refs is None or refs is False or writable or is_file_object(name):
        return None
    url = normalize_url(name)
    if not is_url(url):
        return None
    return io_threads(DEFAULT_IO_CONCURRENCY).submit(_saved_map, refs_location(url, refs, storage_options))


def _read_at(source, counts: dict):
    def read_at(offset: int, n: int) -> bytes:
        if source[0] == "fs":
            counts["get"] += 1
        return read_range(source, offset, n)
    return read_at


def is_hdf5(name, storage_options: dict | None = None) -> bool:
    """Whether the path or URL ``name`` is an HDF5 file (a stat or HEAD, and its signature)."""
    found = _source_of(name, storage_options)
    if found is None:
        return False
    source, size = found[1], found[3]
    try:
        return userblock_of(_read_at(source, {"get": 0}), size) is not None
    finally:
        if source[0] == "fd":
            os.close(source[1])


def open_hdf5_store(name, storage_options: dict | None = None, *, writable: bool = False, refs=None,
                    io_concurrency: int = DEFAULT_IO_CONCURRENCY) -> Hdf5RefStore | None:
    """The HDF5 file at ``name`` as a read-only store, or None when it is not one.

    Raises OSError when ``writable`` (h5py's r+/a/w on a file it cannot write
    here), naming the ways forward.
    """
    prefetched = _prefetched_map(name, refs, storage_options, writable)
    found = _source_of(name, storage_options)
    if found is None:
        return None
    url, source, fingerprint, size, fs, opener, counts = found
    location = refs_location(url, refs, storage_options) if fingerprint is not None else None
    refmap = None
    if location is not None and not writable:  # a map that matches the file says it is HDF5
        counts["get"] += 1
        raw = prefetched.result() if prefetched is not None else _saved_map(location)
        refmap = load_reference_map(raw, fingerprint)
    userblock = refmap["userblock"] if refmap is not None else userblock_of(_read_at(source, counts), size)
    if userblock is None or writable:
        if source[0] == "fd":
            os.close(source[1])
        if userblock is None and is_file_object(name):
            raise OSError("Unable to open file (file signature not found)")
        if userblock is None:
            return None
        raise HDF5ReadOnlyError(url)
    if refmap is None:
        with real_h5py():  # the real one, also while install_as_h5py() is on
            h5 = opener()
            try:
                refmap = build_reference_map(h5, fingerprint, userblock)
            finally:
                h5.close()
        if location is not None:
            save_reference_map(refmap, *location)
    if refmap["skipped"]:  # never silently: h5py would show these
        shown = ", ".join(refmap["skipped"][:10]) + (", ..." if len(refmap["skipped"]) > 10 else "")
        warnings.warn(f"{url}: {len(refmap['skipped'])} object(s) or attribute(s) of this HDF5 file are "
                      f"not in its in-place view: {shown}; h5py.File reads them", Hdf5LeftOutWarning,
                      stacklevel=3)
    protocol = getattr(fs, "protocol", "file") if fs is not None else "file"
    protocol = protocol[0] if isinstance(protocol, (tuple, list)) else protocol
    store = Hdf5RefStore(url, refmap, source, opener, protocol=protocol, fs=fs,
                         batches_async=bool(getattr(fs, "async_impl", False)), io_concurrency=io_concurrency)
    store.hdf5_refs = None if refs is None or refs is False else (refs if refs == "beside" else os.fspath(refs))
    for kind, n in counts.items():
        if n:
            store.requests.add(kind, n)
    return store
