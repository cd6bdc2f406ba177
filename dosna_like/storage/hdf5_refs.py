"""An HDF5 file as a read-only store: node documents plus chunks as byte ranges.

Why a store: the object layer and the engine already read any store through
the contract in :mod:`dosna_like.storage.base`, so an HDF5 file opened in
place gets the same ``File``/``Group``/``Dataset`` handles, the same parallel
reads and the same codecs as a Zarr store, with nothing HDF5-specific above
this layer.  The file's metadata is read once with h5py (which opens fsspec
file objects) into a *reference map* (:func:`build_reference_map`): a Zarr v3
document per node and, per dataset, where each chunk's bytes are in the file.
A chunk read is then one range request (``cat_ranges`` on S3, many in flight;
``pread`` locally) decoded by the project's codecs: HDF5's deflate is a zlib
stream, its shuffle and fletcher32 filters are numcodecs' byte for byte.
Contiguous data is cut into virtual chunks of about :data:`VIRTUAL_CHUNK_BYTES`
so it is read in parallel too; compact data is kept in the map itself.

A dataset whose bytes the codecs cannot decode (szip, lzf, plugins, a chunk
whose filter mask skipped a filter, variable-length or compound types) is read
through h5py instead, chunk by chunk, with a warning naming it once.

The map can be saved (:func:`save_reference_map`) and is checked against the
file's size and mtime or ETag when loaded, so reopening a large remote file
costs one HEAD and one GET; a stale map is rebuilt.
"""
from __future__ import annotations

import base64
import json
import math
import os
import threading
import warnings

import numpy as np

from ..codecs.pipeline import ChunkCodec
from ..errors import DosnaError
from ..format.attrvalues import encode_attr
from ..format.documents import ArrayMeta, dumps, group_document
from ..format.dtypes import check_vlen_dtype, to_zarr
from ..format.keys import META_KEY, node_key, parse_chunk_key
from ..format.reserved import RESERVED
from .base import Store
from .hdf5_ranges import read_range, read_ranges
from .real_h5py import real_h5py

__all__ = [
    "HDF5_SIGNATURE", "Hdf5FallbackWarning", "Hdf5RefStore", "MAP_FORMAT", "VIRTUAL_CHUNK_BYTES",
    "build_reference_map", "hdf5_fingerprint", "stored_chunks", "load_reference_map", "real_h5py",
    "save_reference_map", "userblock_of",
]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAP_FORMAT = "dosna_like.hdf5-refs/1"
VIRTUAL_CHUNK_BYTES = 4 << 20  # contiguous data is read in pieces of about this size
_DEFLATE, _SHUFFLE, _FLETCHER32 = 1, 2, 3


class Hdf5FallbackWarning(UserWarning):
    """A dataset of an HDF5 file opened in place is read through h5py (its filters or type)."""


# ------------------------------------------------------------ detection
def userblock_of(read_at, size: int | None) -> int | None:
    """Where the HDF5 superblock starts (0, 512, 1024, 2048...), or None when the
    bytes are not HDF5.  ``read_at(offset, n)`` reads ``n`` bytes at ``offset``."""
    offset = 0
    while size is None or offset + 8 <= size:
        head = read_at(offset, 8)
        if head == HDF5_SIGNATURE:
            return offset
        if len(head) < 8 or (size is None and offset > (1 << 30)):
            return None
        offset = 512 if offset == 0 else offset * 2
    return None


def hdf5_fingerprint(info: dict) -> dict:
    """What says a file changed: its size and ETag, else its modification time."""
    found = {"size": int(info.get("size") or 0)}
    for name in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created"):
        value = info.get(name)
        if value is not None:
            found[name.lower()] = str(value)
            break
    return found


# -------------------------------------------------------- the reference map
_SCALE_ATTRS = frozenset({"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS"})


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dimension_records(dset, h5ds) -> dict:
    """Dimension scales as the project keeps them (reserved ``scale``, ``dim_scales``,
    ``dim_labels``); HDF5's own attributes for them are then hidden, as in a store."""
    reserved: dict = {}
    if h5ds.is_scale(dset.id):
        reserved["scale"] = _text(dset.attrs.get("NAME", b""))
    if dset.shape and ("DIMENSION_LIST" in dset.attrs or "DIMENSION_LABELS" in dset.attrs):
        scales, labels = [], []
        for axis in dset.dims:
            scales.append([[s.name.lstrip("/"), _text(s.attrs.get("NAME", b""))] for s in axis.values()])
            labels.append(axis.label or None)
        if any(scales):
            reserved["dim_scales"] = scales
        if any(labels):
            reserved["dim_labels"] = labels
    return reserved


def _attributes(h5obj, where: str, hidden=frozenset()) -> tuple:
    """(attributes with their reserved type records, [names skipped])."""
    attributes, records, skipped = {}, {}, []
    for name in h5obj.attrs:
        if name in hidden:
            continue
        try:
            value, record = encode_attr(h5obj.attrs[name])
        except Exception:  # h5py raises many types for exotic attributes
            skipped.append(f"{where}@{name}")
            continue
        attributes[name] = value
        records[name] = record
    return attributes, {"attrs": records} if records else {}


def stored_chunks(dset) -> list:
    """HDF5's records (offset, filter mask, address, size) of a dataset's allocated chunks."""
    if hasattr(dset.id, "chunk_iter"):
        infos: list = []
        dset.id.chunk_iter(infos.append)
        return infos
    return [dset.id.get_chunk_info(i) for i in range(dset.id.get_num_chunks())]  # pragma: no cover


def _filter_codecs(dset) -> list | None:
    """The Zarr codecs after the bytes codec for the dataset's HDF5 filters, or None
    when one has no decoder here."""
    plist = dset.id.get_create_plist()
    codecs = []
    for i in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(i)
        if code == _SHUFFLE:
            codecs.append({"name": "numcodecs.shuffle", "configuration": {"elementsize": dset.dtype.itemsize}})
        elif code == _DEFLATE:
            codecs.append({"name": "numcodecs.zlib", "configuration": {"level": int(values[0]) if values else 4}})
        elif code == _FLETCHER32:
            codecs.append({"name": "numcodecs.fletcher32", "configuration": {}})
        else:  # LZF too: HDF5 stores a bare liblzf stream, the project's lzf chunks carry a size header
            return None
            return None
    return codecs


def _virtual_chunks(shape: tuple, itemsize: int) -> tuple:
    if not shape:
        return ()
    row = max(1, math.prod(shape[1:]) * itemsize)
    rows = max(1, min(shape[0], VIRTUAL_CHUNK_BYTES // row))
    return (rows,) + tuple(max(1, n) for n in shape[1:])


def _dataset_entry(dset, path: str, attributes: dict, reserved: dict) -> tuple:
    """(node document, reference record) of one dataset."""
    dtype = dset.dtype
    if dset.shape is None:
        meta = ArrayMeta((), dtype, (), dset.fillvalue, [to_zarr(dtype)[1]], (), attributes, empty=True)
        return _with_reserved(meta.to_document(), reserved), {"kind": "empty"}
    shape = tuple(dset.shape)
    maxshape = tuple(dset.maxshape) if dset.maxshape is not None else shape
    fill = dset.fillvalue
    subshape = ()
    if dtype.subdtype is not None:  # stored as trailing axes, each chunk holding whole elements
        dtype, subshape = dtype.subdtype
        fill = np.asarray(fill, dtype=dtype).reshape(-1)[0]  # HDF5 sets no fill value of an array type
    bytes_codec = to_zarr(dtype)[1]
    plist = dset.id.get_create_plist()
    layout = plist.get_layout()
    # virtual datasets and external raw-data files have no bytes of their own in this file
    plain = dtype.kind in "biufS" and dtype.fields is None and layout in (0, 1, 2) and not plist.get_external_count()
    codecs = _filter_codecs(dset) if dset.chunks is not None else []
    chunks = tuple(dset.chunks) if dset.chunks is not None else \
        _virtual_chunks(shape, dset.dtype.itemsize)
    ref: dict
    if not plain or codecs is None:  # types are read through h5py quietly, filters with a warning
        ref, codecs = {"kind": "h5py", "why": "filter" if plain else "type"}, []
    elif dset.chunks is not None:
        records = stored_chunks(dset)
        if any(r.filter_mask for r in records):
            ref, codecs = {"kind": "h5py", "why": "filter"}, []
        else:
            ref = {"kind": "chunks",
                   "coords": [[o // c for o, c in zip(r.chunk_offset, chunks)] + [0] * len(subshape)
                              for r in records],
                   "offsets": [int(r.byte_offset) for r in records], "sizes": [int(r.size) for r in records]}
    elif layout == 0:  # compact: the bytes live in the object header, so in the map
        ref = {"kind": "inline", "data": base64.b64encode(np.ascontiguousarray(dset[()]).tobytes()).decode()}
        chunks = shape
    else:
        offset = dset.id.get_offset()
        ref = {"kind": "contiguous", "offset": None if offset is None else int(offset),
               "size": int(dset.id.get_storage_size())}
    chunks = tuple(max(1, c) for c in chunks)
    if dset.chunks is None:  # the project's mark for data h5py holds unchunked
        reserved = {**reserved, "h5py_contiguous": True}
    hdf5 = {"layout": "compact" if layout == 0 else "contiguous"} if dset.chunks is None else {}
    # as h5py reports the filters, whatever the codecs that read them (deflate is "gzip"; a
    # dataset read through h5py has none; fletcher32 is numcodecs' own checksum here)
    hdf5["compression"] = "" if dset.compression is None else str(dset.compression)
    if dset.compression == "gzip":
        hdf5["gzip_level"] = str(dset.compression_opts)
    hdf5["filters"] = ",".join(name for name, on in (("shuffle", dset.shuffle), ("fletcher32", dset.fletcher32)) if on)
    reserved = {**reserved, "hdf5": hdf5}
    meta = ArrayMeta(shape + subshape, dtype, chunks + subshape, fill, [bytes_codec] + codecs, maxshape + subshape,
                     attributes, subshape=subshape)
    return _with_reserved(meta.to_document(), reserved), ref


def _with_reserved(doc: dict, reserved: dict) -> dict:
    if reserved:
        doc["attributes"].setdefault(RESERVED, {}).update(reserved)
    return doc


def build_reference_map(h5file, fingerprint: dict | None = None, userblock: int = 0) -> dict:
    """Node documents and chunk references of every object of an open ``h5py.File``.

    Soft and external links become link records, and so does every name of an
    object after the first one it is reached by (a hard link record), so the
    object is one node, as in h5py.  Attributes whose type the
    store cannot hold are left out, named in ``"skipped"``.
    """
    import h5py  # why here: h5py is only needed to build a map, not to read one (callers hold real_h5py())

    nodes, refs, skipped = {}, {}, []
    first_name: dict = {}  # object identity -> the path it was first reached by

    def identity(obj) -> tuple:
        info = h5py.h5o.get_info(obj.id)
        token = getattr(info, "token", None)
        return ("token", token) if token is not None else ("addr", info.addr)

    def visit(group, path: str) -> None:
        attributes, reserved = _attributes(group, path or "/")
        links = {}
        for name in group:
            link = group.get(name, getlink=True)
            child = f"{path}/{name}" if path else name
            if isinstance(link, h5py.SoftLink):
                links[name] = {"type": "soft", "path": link.path}
                continue
            if isinstance(link, h5py.ExternalLink):
                links[name] = {"type": "external", "file": link.filename, "path": link.path}
                continue
            obj = group.get(name)
            key = identity(obj)
            if key in first_name:  # another name of an object already mapped: one node, as in h5py
                links[name] = {"type": "hard", "path": "/" + first_name[key]}
                continue
            first_name[key] = child
            if isinstance(obj, h5py.Group):
                visit(obj, child)
            elif isinstance(obj, h5py.Dataset):
                dims = _dimension_records(obj, h5py.h5ds)
                attrs, res = _attributes(obj, child, _SCALE_ATTRS if dims else frozenset())
                res.update(dims)
                try:
                    nodes[child], refs[child] = _dataset_entry(obj, child, attrs, res)
                except (TypeError, ValueError) as exc:
                    skipped.append(f"{child} ({exc})")
            else:
                skipped.append(f"{child} (committed datatype)")
        if links:
            reserved["links"] = links
        nodes[path] = _with_reserved(group_document(attributes), reserved)

    first_name[identity(h5file)] = ""
    visit(h5file, "")
    return {"format": MAP_FORMAT, "source": fingerprint or {}, "userblock": userblock,
            "nodes": nodes, "refs": refs, "skipped": skipped}


def save_reference_map(refmap: dict, fs, path: str) -> None:
    """Write a reference map (JSON) at ``path`` on ``fs``."""
    fs.pipe_file(path, json.dumps(refmap, allow_nan=False).encode())


def load_reference_map(raw: bytes | None, fingerprint: dict) -> dict | None:
    """The saved map in ``raw`` when it describes the file as it is now, else None."""
    if raw is None:
        return None
    try:
        refmap = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(refmap, dict) or refmap.get("format") != MAP_FORMAT or refmap.get("source") != fingerprint:
        return None
    return refmap


# ------------------------------------------------------------------ store
class _Dataset:
    """One dataset's references, indexed for chunk lookups."""

    def __init__(self, path: str, doc: dict, ref: dict):
        self.path = path
        self.meta = ArrayMeta.from_document(doc, path)
        self.kind = ref["kind"]
        self.ref = ref
        self.chunk_nbytes = math.prod(self.meta.chunks) * self.meta.dtype.itemsize
        if self.kind == "chunks":
            self.table = {tuple(c): (o, s) for c, o, s in zip(ref["coords"], ref["offsets"], ref["sizes"])}

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
        self._docs = {path: dumps(doc) for path, doc in refmap["nodes"].items()}
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
            part = self._h5["/" + ds.path][box] if box else self._h5["/" + ds.path][()]
        chunk = np.full(ds.meta.chunks, ds.meta.fill_value, dtype=ds.meta.dtype) if ds.meta.dtype.kind != "O" \
            else np.empty(ds.meta.chunks, dtype=object)
        if check_vlen_dtype(ds.meta.dtype) is str:  # h5py hands variable-length text back as bytes
            part = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(part) \
                if np.size(part) else part
        chunk[tuple(slice(0, b.stop - b.start) for b in box) + (...,)] = part
        return bytes(ChunkCodec(ds.meta.codecs, ds.meta.dtype, ds.meta.chunks).encode(chunk))

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
        return data + bytes(pad) if pad else data

    # ------------------------------------------------- counted requests
    def _doc_of(self, key: str):
        """The document bytes ``key`` names, or False when it names no document."""
        if key == META_KEY or key.endswith("/" + META_KEY):
            return self._docs.get(key[:-len(META_KEY)].rstrip("/"))
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

    def _read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        located = self._locate(key)
        found = located[0].range_of(located[1]) if located is not None and located[0].kind != "h5py" else None
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
        prefix = prefix.rstrip("/")
        found = [node_key(p) for p in self._docs if not prefix or p == prefix or p.startswith(prefix + "/")]
        return sorted(found)

    def _list_sizes(self, prefix: str) -> dict:
        sizes = {k: len(self._docs[k[:-len(META_KEY)].rstrip("/")]) for k in self._list_keys(prefix)}
        within = prefix.rstrip("/")
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
