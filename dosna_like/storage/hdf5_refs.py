"""An HDF5 file as a read-only store: node documents plus chunks as byte ranges.

Why a store: the object layer and the engine already read any store through
the contract in :mod:`dosna_like.storage.base`, so an HDF5 file opened in
place gets the same ``File``/``Group``/``Dataset`` handles, the same parallel
reads and the same codecs as a Zarr store, with nothing HDF5-specific above
this layer.  The file's metadata is read once with h5py (which opens fsspec
file objects) into a *reference map* (:mod:`.hdf5_map`): a Zarr v3
document per node and, per dataset, where each chunk's bytes are in the file.
A chunk read is then one range request (``cat_ranges`` on S3, many in flight;
``pread`` locally) decoded by the project's codecs: HDF5's deflate is a zlib
stream, its shuffle and fletcher32 filters are numcodecs' byte for byte, its
LZF filter a bare liblzf stream (:mod:`dosna_like.codecs.lzf`, ``header: false``).
A chunk whose filter mask says a filter was skipped (HDF5 stores a chunk
unfiltered when an optional filter such as LZF cannot shrink it) needs other
codecs than its neighbours: a dataset with such chunks is decoded here, chunk
by chunk with the filters each went through (in the engine's worker threads),
and handed to the engine as raw chunks.
Contiguous data is cut into virtual chunks of about :data:`VIRTUAL_CHUNK_BYTES`
so it is read in parallel too; compact data is kept in the map itself.

A dataset whose bytes the codecs cannot decode (szip, scaleoffset, plugins,
LZF without python-lzf, variable-length or compound types) is read
through h5py instead, chunk by chunk, with a warning naming it once.

The map can be saved (:func:`save_reference_map`) and is checked against the
file's size and mtime or ETag when loaded, so reopening a large remote file
costs one HEAD and one GET; a stale map is rebuilt.
"""
from __future__ import annotations

import base64
import functools
import math
import os
import threading
import warnings

import numpy as np

from ..codecs.pipeline import ChunkCodec
from ..errors import CorruptChunkError, DosnaError
from ..format.documents import ArrayMeta, dumps
from ..format.dtypes import check_vlen_dtype, stored_form, to_stored
from ..format.keys import META_KEY, SIDE_KEY, node_key, parse_chunk_key
from ..format.references import is_h5py_ref_dtype, refs_from_h5py
from .base import Store
from .hdf5_map import (HDF5_SIGNATURE, MAP_FORMAT, VIRTUAL_CHUNK_BYTES, build_reference_map, hdf5_fingerprint,
                       load_reference_map, save_reference_map, stored_chunks, userblock_of)
from .hdf5_ranges import RunFetcher, read_range, read_ranges
from .pipeline import in_threads, run_pipeline
from .real_h5py import real_h5py

__all__ = [  # the map's names too, where callers have always found them
    "HDF5_SIGNATURE", "Hdf5FallbackWarning", "Hdf5LeftOutWarning", "Hdf5RefStore", "MAP_FORMAT", "VIRTUAL_CHUNK_BYTES",
    "build_reference_map", "hdf5_fingerprint", "stored_chunks", "load_reference_map", "real_h5py",
    "save_reference_map", "userblock_of",
]


class Hdf5FallbackWarning(UserWarning):
    """A dataset of an HDF5 file opened in place is read through h5py (its filters or type)."""


class Hdf5LeftOutWarning(UserWarning):
    """Objects or attributes of an HDF5 file opened in place that its view leaves out
    (h5py shows them): named once, when the file opens."""



# ------------------------------------------------------------------ store
class _Dataset:
    """One dataset's references, indexed for chunk lookups."""

    def __init__(self, path: str, doc: dict, ref: dict):
        self.path = path
        self.meta = ArrayMeta.from_document(doc, path)
        self.kind = ref["kind"]
        self.ref = ref
        self.chunk_nbytes = math.prod(self.meta.chunks) * self.meta.dtype.itemsize
        # a dataset with chunks some filters skipped: its filters' codecs, applied here (see decoded)
        self.filters = ref.get("codecs")
        self.masks: dict = {}  # chunk coords -> HDF5 filter mask, for the chunks with one
        if self.kind == "chunks":
            self.table = {tuple(c): (o, s) for c, o, s in zip(ref["coords"], ref["offsets"], ref["sizes"])}
            self.masks = {tuple(c): m for c, m in zip(ref["coords"], ref.get("masks") or ()) if m}
        self._codecs: dict = {}

    @functools.cached_property
    def codec(self) -> ChunkCodec:
        """The dataset's whole codec pipeline (what a chunk read through h5py is encoded with)."""
        return ChunkCodec(self.meta.codecs, self.meta.dtype, self.meta.chunks)

    def decoded(self, coords: tuple, data) -> bytes:
        """The raw chunk a dataset with :attr:`filters` stores as ``data``, decoded with
        the filters its mask did not skip (bit i: the i-th filter skipped)."""
        mask = self.masks.get(coords, 0)
        codec = self._codecs.get(mask)
        if codec is None:
            specs = [self.meta.codecs[0]] + [c for i, c in enumerate(self.filters) if not mask >> i & 1]
            codec = self._codecs[mask] = ChunkCodec(specs, self.meta.dtype, self.meta.chunks)
        try:
            return codec.decode(data).tobytes()
        except ValueError as exc:
            raise CorruptChunkError(f"/{self.path}: chunk {coords} cannot be decoded ({exc})") from exc

    def stored_sizes(self) -> list:
        """(chunk coordinates, bytes in the file) of what the map locates: the chunks, the
        contiguous data cut into the virtual chunks, or compact data (datasets read
        through h5py and empty ones list nothing)."""
        if self.kind == "chunks":
            return [(coords, size) for coords, (_, size) in self.table.items()]
        if self.kind == "inline":
            return [((0,) * len(self.meta.chunks), len(base64.b64decode(self.ref["data"])))]
        if self.kind == "contiguous" and self.ref["offset"] is not None:
            rows = -(-self.ref["size"] // self.chunk_nbytes) if self.meta.chunks else 1
            coords = [((i,) + (0,) * (len(self.meta.chunks) - 1))[:len(self.meta.chunks)] for i in range(rows)]
            return [(c, self.range_of(c)[1]) for c in coords]
        return []

    def range_of(self, coords: tuple) -> tuple | None:
        """(file offset, size, bytes to pad) of a chunk, or None when it is not stored."""
        if self.kind == "chunks":
            found = self.table.get(coords)
            return None if found is None else (found[0], found[1], 0)
        if self.kind == "contiguous" and self.ref["offset"] is not None:
            start = (coords[0] if coords else 0) * self.chunk_nbytes
            if any(coords[1:]) or start >= self.ref["size"]:
                return None
            size = min(self.chunk_nbytes, self.ref["size"] - start)
            return self.ref["offset"] + start, size, self.chunk_nbytes - size
        return None


class Hdf5RefStore(Store):
    """A read-only store over one HDF5 file, from its reference map.

    Parameters
    ----------
    refmap: from :func:`build_reference_map`.
    source: where the bytes are: ``("fs", fs, path)``, ``("fd", fd)`` for a
        local file, ``("buffer", memoryview)`` or ``("fileobj", file)``.
    open_h5py: returns an open ``h5py.File`` of the same file, for the
        datasets read through h5py (called once, when first needed).
    """

    fingerprint_kind = "md5"
    hdf5_refs = None  # where the reference map is kept (File(..., hdf5_refs=)), so a pickled handle reopens alike

    def __init__(self, url: str, refmap: dict, source: tuple, open_h5py, *, protocol: str = "hdf5",
                 fs=None, batches_async: bool = False, io_concurrency: int = 32):
        super().__init__(url, url, fs, protocol=protocol, read_only=True, io_concurrency=io_concurrency)
        self.refmap = refmap
        self.source = source
        self.batches_async = batches_async
        self.can_read_into = source[0] == "fd"
        # the groups' reserved entries inline: only this library reads these documents (no side objects)
        self._docs = {path: dumps(doc, inline=True) for path, doc in refmap["nodes"].items()}
        self._datasets = {p: _Dataset(p, refmap["nodes"][p], r) for p, r in refmap["refs"].items()}
        self._open_h5py = open_h5py
        self._h5 = None
        self._h5_lock = threading.Lock()
        self._warned: set = set()
        children: dict = {}
        for path in self._docs:
            if path:
                parent, _, name = path.rpartition("/")
                children.setdefault(parent, []).append(name)
        self._children = children

    @property
    def identity(self) -> tuple:
        return ("hdf5", self.url)

    @property
    def basename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def close(self) -> None:
        super().close()
        with self._h5_lock, real_h5py():
            if self._h5 is not None:
                with real_h5py():
                    self._h5.close()
                self._h5 = None
        if self.source[0] == "fd" and self.source[1] is not None:
            os.close(self.source[1])
            self.source = ("fd", None)

    # ---------------------------------------------------------- lookups
    def _locate(self, key: str):
        """(dataset, chunk coords) a chunk key names, or None."""
        parts = key.split("/c")
        for i in range(len(parts) - 1, -1, -1):
            path = "/c".join(parts[:i])
            ds = self._datasets.get(path)
            if ds is not None:
                coords = parse_chunk_key(path, key, len(ds.meta.shape))
                if coords is not None:
                    return ds, coords
        return None

    def _read_range(self, offset: int, size: int) -> bytes:
        return read_range(self.source, offset, size)

    def _via_h5py(self, ds: _Dataset, coords: tuple) -> bytes:
        if ds.path not in self._warned and ds.ref.get("why") == "filter":
            self._warned.add(ds.path)
            warnings.warn(f"/{ds.path}: its HDF5 filters have no decoder here (szip, a plugin, or a "
                          "skipped filter); read through h5py", Hdf5FallbackWarning, stacklevel=2)
        box = tuple(slice(c * n, min((c + 1) * n, s)) for c, n, s in zip(coords, ds.meta.chunks, ds.meta.shape))
        box = box[:len(box) - len(ds.meta.subshape)]  # h5py gives a subarray's axes whole
        with self._h5_lock, real_h5py():
            if self._h5 is None:
                self._h5 = self._open_h5py()
            dset = self._h5["/" + ds.path]
            part = dset[box] if box else dset[()]
            if is_h5py_ref_dtype(dset.dtype):  # addresses in the file -> target paths (members too)
                part = refs_from_h5py(part, self._h5)
        chunk = np.full(ds.meta.chunks, ds.meta.fill_value, dtype=ds.meta.dtype) if ds.meta.dtype.kind != "O" \
            else np.empty(ds.meta.chunks, dtype=object)
        if check_vlen_dtype(ds.meta.dtype) is str:  # h5py hands variable-length text back as bytes
            part = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(part) \
                if np.size(part) else part
        elif ds.meta.dtype.kind == "O" and stored_form(ds.meta.dtype) in ("vlen", "compound", "ref"):
            # numeric sequences, records of compounds Zarr's structured type cannot hold, references: as stored
            part = to_stored(part, ds.meta.dtype, () if not box else None)  # a scalar's value is one sequence
        chunk[tuple(slice(0, b.stop - b.start) for b in box) + (...,)] = part
        return bytes(ds.codec.encode(chunk))

    def _chunk(self, ds: _Dataset, coords: tuple, data: bytes | None = None) -> bytes | None:
        if ds.kind == "h5py":
            return self._via_h5py(ds, coords)
        if ds.kind == "inline":
            return base64.b64decode(ds.ref["data"]) if not any(coords) else None
        found = ds.range_of(coords)
        if found is None:
            return None
        offset, size, pad = found
        if data is None:
            data = self._read_range(offset, size)
        if ds.filters is not None:
            data = ds.decoded(coords, data)
        return bytes(data) + bytes(pad) if pad else data

    # ------------------------------------------------- counted requests
    def _doc_of(self, key: str):
        """The document bytes ``key`` names, or False when it names no document."""
        if key == META_KEY or key.endswith("/" + META_KEY):
            return self._docs.get(key[:-len(META_KEY)].rstrip("/"))
        if key == SIDE_KEY or key.endswith("/" + SIDE_KEY):
            return None  # the documents hold their reserved entries (dumps(inline=True))
        return False

    def get(self, key: str) -> bytes | None:
        """Node documents come from the map in memory: no request is counted for them."""
        doc = self._doc_of(key)
        return super().get(key) if doc is False else doc

    def get_many(self, keys) -> dict:
        docs, rest = {}, []
        for key in keys:
            doc = self._doc_of(key)
            if doc is False:
                rest.append(key)
            elif doc is not None:
                docs[key] = doc
        docs.update(super().get_many(rest))
        return docs

    # -------------------------------------------------- store primitives
    def _get(self, key: str) -> bytes | None:
        doc = self._doc_of(key)
        if doc is not False:
            return doc
        located = self._locate(key)
        return None if located is None else self._chunk(*located)

    def _get_many(self, keys: list) -> dict:
        if self.source[0] != "fs" or not self.batches_async:
            return super()._get_many(keys)
        ranged, out = {}, {}
        for key in keys:
            located = self._locate(key)
            found = located[0].range_of(located[1]) if located is not None else None
            if found is None:
                value = self._get(key)
                if value is not None:
                    out[key] = value
            else:
                ranged[key] = (located, found)
        if ranged:
            pieces, requests = read_ranges(self.source, [f[:2] for _, f in ranged.values()], self.io_concurrency)
            self.requests.add("get", requests - len(ranged))  # touching ranges went as one request
            for (key, (located, _)), data in zip(ranged.items(), pieces):
                out[key] = self._chunk(*located, data=data)
        return out

    def _get_each(self, keys: list, handle, submit, room: int | None = None) -> None:
        """On an async filesystem: touching ranges merged into runs (:func:`merged_runs`),
        ``io_concurrency`` runs in flight, each chunk of a run handed to a worker of its own
        as soon as the run's bytes arrive (:class:`RunFetcher`), so decoding overlaps the
        transfers and the chunks of one run are decoded in parallel."""
        if self.source[0] != "fs" or not self.batches_async:
            return super()._get_each(keys, handle, submit, room)
        ranged, rest = [], []
        for key in keys:
            located = self._locate(key)
            found = located[0].range_of(located[1]) if located is not None else None
            if found is None:
                rest.append(key)
            else:
                ranged.append((key, located, found))
        fetcher = RunFetcher(self.source, [found[:2] for _, _, found in ranged], self.io_concurrency)
        self.requests.add("get", len(fetcher.runs) - len(ranged))  # touching ranges go as one request

        def decode(i: int, piece) -> None:
            key, located, _ = ranged[i]
            handle(key, self._chunk(*located, data=piece))

        if ranged:
            # unless the caller bounds it: every range of the first 2 * io_concurrency runs
            # may be under way at once
            room = room or 2 * self.io_concurrency * fetcher.widest_run
            try:
                run_pipeline(self.source[1].loop, fetcher.order(), decode, submit, limit=len(ranged),
                             fetch=fetcher.piece, room=room)
            finally:
                fetcher.cancel(self.source[1].loop)
        if rest:
            in_threads(rest, lambda key: handle(key, self._get(key)), submit)

    def _read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        located = self._locate(key)
        direct = located is not None and located[0].kind != "h5py" and located[0].filters is None
        found = located[0].range_of(located[1]) if direct else None
        if found is None or found[1] != nbytes:
            data = self._get(key)
            if data is None:
                return False
            if len(data) != nbytes:
                raise ValueError(f"{key}: {len(data)} bytes, expected {nbytes}")
            view = memoryview(data)
            for offset, buffers in ranges:
                for buf in buffers:
                    n = len(buf)
                    buf[:] = view[offset:offset + n]
                    offset += n
            return True
        base = found[0]
        for offset, buffers in ranges:
            done = os.preadv(self.source[1], list(buffers), base + offset)
            if done != sum(len(b) for b in buffers):
                raise ValueError(f"{key}: the HDF5 file ended early")
        return True

    def _exists(self, key: str) -> bool:
        return key.rstrip("/") in self._docs or self._get(key) is not None

    def _list_entries(self, prefix: str) -> list:
        prefix = prefix.rstrip("/")
        if prefix not in self._docs:
            return []
        entries = [(META_KEY, False)] + [(name, True) for name in sorted(self._children.get(prefix, []))]
        return entries

    def _list_keys(self, prefix: str) -> list:
        """The documents and every stored chunk below ``prefix`` (a copy of the store
        walks these: listing documents alone copied no data, silently)."""
        return sorted(self._list_sizes(prefix))

    def _list_sizes(self, prefix: str) -> dict:
        within = prefix.rstrip("/")
        sizes = {node_key(p): len(doc) for p, doc in self._docs.items()
                 if not within or p == within or p.startswith(within + "/")}
        for path, ds in self._datasets.items():
            base = f"{path}/c".lstrip("/")
            if within and not (base == within or base.startswith(within + "/") or within.startswith(base + "/")):
                continue  # nothing of this dataset under the prefix: h5py is not asked
            for coords, size in (self._h5py_sizes(ds) if ds.kind == "h5py" else ds.stored_sizes()):
                key = "/".join([path, "c", *map(str, coords)]).lstrip("/")
                if not prefix or key == prefix or key.startswith(prefix.rstrip("/") + "/"):
                    sizes[key] = size
        return sizes

    def _h5py_sizes(self, ds: _Dataset) -> list:
        """(chunk coordinates, bytes) of a dataset read through h5py: HDF5's chunk records,
        or its whole storage size as one entry."""
        with self._h5_lock, real_h5py():
            if self._h5 is None:
                self._h5 = self._open_h5py()
            dset = self._h5["/" + ds.path]
            if dset.chunks is not None:
                tail = (0,) * len(ds.meta.subshape)
                return [(tuple(o // c for o, c in zip(r.chunk_offset, dset.chunks)) + tail, int(r.size))
                        for r in stored_chunks(dset)]
            size = int(dset.id.get_storage_size())
        return [((0,) * len(ds.meta.chunks), size)] if size else []

    def _is_empty_root(self) -> bool:
        return False

    def _set(self, key: str, value) -> None:  # pragma: no cover - read_only refuses first
        raise DosnaError("an HDF5 file opened in place is read-only")

    def _delete_many(self, keys: list) -> None:  # pragma: no cover
        raise DosnaError("an HDF5 file opened in place is read-only")

    def _delete_prefix(self, prefix: str) -> None:  # pragma: no cover
        raise DosnaError("an HDF5 file opened in place is read-only")
