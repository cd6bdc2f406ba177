"""``import_hdf5``: an HDF5 file into a store, chunk by chunk.

Everything streams chunk by chunk: a reader produces one chunk's worth of
data at a time and a pool of ``njobs`` workers (more on object stores, where
the work is waiting on requests) encodes and stores it; at most two pieces
per worker are in flight, so memory is bounded by a few chunks per worker,
not by the size of a dataset.

Chunks are copied without decoding where both formats can hold the same
bytes: an HDF5 chunk with no filter, or with shuffle and/or deflate, is
read straight from the file (``pread`` in the workers, so reads run in
parallel too) and stored as the Zarr chunk; deflate's zlib wrapper is
rewritten as the gzip wrapper Zarr v3 specifies (one decompression for the
checksum, no recompression), or, with ``deflate_as="zlib"``, kept as it is
(codec ``numcodecs.zlib``, which zarr-python reads; ``compression`` then says
"zlib"): no decompression at all.  Export does the reverse with
``write_direct_chunk``.  Contiguous HDF5 data is read (import) or written
(export, the dataset's space allocated up front) through a memory map of
the file by the workers.  Other datasets go through h5py's and dosna_like's
own reading and writing, chunk by chunk.

A failed run never looks finished: an import marks the store's root as
incomplete (reserved attribute ``_dosna_like.incomplete``, which ``dosna-like
ls``/``info``/``search`` report) until its last step removes the mark; an
export writes ``DEST.partial`` and renames it to ``DEST`` only at the end.

What the library cannot store yet (a dtype, an attribute type, a link kind,
a committed datatype) fails the import before anything is written, naming
every such object; with ``skip_unsupported=True`` they are left out with a
warning and listed in the report.  Soft and external links are kept as links
(an external link's target file is not imported); an object with several hard
links is copied once and its other names become hard links to it.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..chunks.pools import backend_batch_map, joblib_backend_chosen
from ..codecs.chains import hdf5_import_keywords
from ..codecs.deflate_wrappers import zlib_to_gzip
from ..codecs.registry import CHECKSUMMED, DEFLATE, REGISTRY
from ..codecs.runtime import Crc32cRuntime
from ..format.attrvalues import encode_attr
from ..format.dtypes import Empty
from ..format.grid import chunk_box, chunk_of, iter_chunk_boxes
from ..format.links import ExternalLink, SoftLink
from ..hl.copying import fill_option
from ..storage.hdf5_refs import stored_chunks
from ..hl.creation import new_array
from .backend_tasks import DecodedImportBatch
from .hdf5_reference import import_by_reference
from .references import holds_refs, refs_from_h5py
from .scales import import_scales, is_scale_attribute
from .common import Subarray, TransferReport, attr_to_copy, holding_real_h5py, UnsupportedObjectError, Workers, box_nbytes, check_hdf5_source, codec_options, contiguous_map, create_destination, hdf5_filter_ids, mark_incomplete, progress_bar, raw_mode, require_h5py, set_attrs, utc_now, worker_count

__all__ = ["import_hdf5", "UnsupportedObjectError"]


# ================================================================= import
@dataclass
class _Planned:
    kind: str  # group, dataset, soft, external, hard
    path: str  # absolute name
    obj: object = None
    target: tuple = ()


def _attr_problems(h5obj, path: str) -> tuple:
    """(readable {name: value}, [(name, why)]) for an HDF5 object's attributes."""

    values, problems = {}, []
    for name in h5obj.attrs:
        if is_scale_attribute(h5obj, name):  # kept as dimension scales (transfer/scales.py)
            continue
        try:
            value = attr_to_copy(h5obj.attrs, name)  # a scalar's enum..., a subarray type
            if holds_refs(value):  # addresses in the HDF5 file -> target paths
                value = refs_from_h5py(value, h5obj.file)
            encode_attr(*value) if isinstance(value, Subarray) else encode_attr(value)
        except Exception as exc:  # h5py raises many types for exotic attributes
            problems.append((f"{path}@{name}", f"attribute type not supported ({exc})"))
            continue
        values[name] = value
    return values, problems


def _dataset_problem(dset) -> str | None:

    if dset.shape is None:
        return None
    try:
        new_array(shape=dset.shape, dtype=dset.dtype)
    except (TypeError, ValueError) as exc:
        return f"dtype {dset.dtype} not supported ({exc})"
    return None


def _object_key(obj) -> tuple:
    """Identity of an HDF5 object (hard links share it)."""
    h5py = require_h5py()
    info = h5py.h5o.get_info(obj.id)
    token = getattr(info, "token", None)
    return (obj.file.id.fileno, token if token is not None else info.addr)


def _plan(h5file, skip_unsupported: bool) -> tuple:
    """Everything to copy, parents first, and what cannot be copied: (items, attrs, problems)."""
    h5py = require_h5py()

    items, attrs, problems, first_name = [], {}, [], {}
    values, bad = _attr_problems(h5file, "/")
    attrs["/"] = values
    problems += bad

    def walk(group, prefix: str, ancestors: tuple) -> None:
        for name in group:
            path = f"{prefix}/{name}" if prefix != "/" else f"/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                items.append(_Planned("soft", path, target=(link.path,)))
                continue
            if isinstance(link, h5py.ExternalLink):
                items.append(_Planned("external", path, target=(link.filename, link.path)))
                continue
            obj = group[name]
            key = _object_key(obj)
            if key in first_name:  # a second hard link to an object already planned
                if key in ancestors:
                    problems.append((path, "hard link cycle (a group containing itself)"))
                else:  # dest[name] = dest[other] makes a second name
                    items.append(_Planned("hard", path, target=(first_name[key],)))
                continue
            first_name[key] = path
            if isinstance(obj, h5py.Group):
                items.append(_Planned("group", path, obj))
            elif isinstance(obj, h5py.Dataset):
                why = _dataset_problem(obj)
                if why is not None:
                    problems.append((path, why))
                    continue
                items.append(_Planned("dataset", path, obj))
            elif isinstance(obj, h5py.Datatype):
                items.append(_Planned("datatype", path, obj))
            else:
                problems.append((path, f"{type(obj).__name__} objects (committed datatypes) are not supported"))
                continue
            values, bad = _attr_problems(obj, path)
            attrs[path] = values
            problems.extend(bad)
            if isinstance(obj, h5py.Group):
                walk(obj, path, ancestors + (key,))

    walk(h5file, "/", (_object_key(h5file),))
    if problems and not skip_unsupported:
        listing = "; ".join(f"{name}: {why}" for name, why in problems)
        raise UnsupportedObjectError(
            f"cannot import {len(problems)} object(s) of {h5file.filename}: {listing} "
            "(skip_unsupported=True / --skip-unsupported leaves them out)")
    for name, why in problems:
        warnings.warn(f"skipped {name}: {why}", stacklevel=3)
    return items, attrs, problems


def _compression(src, compression, deflate_as: str = "gzip") -> dict:
    """create_dataset keywords for an imported dataset's codecs."""
    return codec_options(src, compression, lambda s: _kept_codec(s, deflate_as))


def _kept_codec(src, deflate_as: str) -> dict:
    """An HDF5 dataset's filters as dosna_like keywords (the registry's import side
    of each: deflate as ``deflate_as``, lzf as lz4, others as gzip-4)."""
    return hdf5_import_keywords(hdf5_filter_ids(src), src.compression_opts, prefer=deflate_as)


def _dataset_options(src, compression, deflate_as: str = "gzip") -> dict:
    # shards=False: HDF5's chunks are copied one by one as they are (raw); inside default
    # shards (object storage) each copy would be a read-modify-write of its whole shard
    opts = {"shape": src.shape, "dtype": src.dtype, "shards": False}
    if src.chunks is not None:
        opts["chunks"] = src.chunks
    if src.maxshape is not None and tuple(src.maxshape) != tuple(src.shape):
        opts["maxshape"] = src.maxshape
    opts.update(fill_option(src))
    opts.update(_compression(src, compression, deflate_as))
    if src.scaleoffset is not None and not opts.get("fletcher32"):
        opts["scaleoffset"] = src.scaleoffset  # the values come decoded; new writes are quantized alike
    return opts


class _HDF5Chunks:
    """Stored chunks of an HDF5 dataset, read with ``pread`` from the file when possible."""

    def __init__(self, dset, infos: list | None = None):
        self.dset = dset
        self.infos = stored_chunks(dset) if infos is None else infos  # a batch: no walk of the whole index
        self.fd = None
        filename = dset.file.filename
        if self.infos and dset.file.driver == "sec2" and os.path.isfile(filename):
            fd = os.open(filename, os.O_RDONLY)
            first = self.infos[0]
            if os.pread(fd, first.size, first.byte_offset) == dset.id.read_direct_chunk(first.chunk_offset)[1]:
                self.fd = fd
            else:
                os.close(fd)

    def read(self, info):
        """(filter mask, stored bytes) of one chunk; safe to call from many threads."""
        if self.fd is not None:
            return info.filter_mask, os.pread(self.fd, info.size, info.byte_offset)
        return self.dset.id.read_direct_chunk(info.chunk_offset)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _raw_chunk_data(raw: bytes, mask: int, mode: str, nbytes: int):
    """The bytes to store for one HDF5 chunk as it is, or None when it must be decoded."""
    if mask != 0:  # a filter was skipped for this chunk
        return None
    if mode == "deflate":
        return zlib_to_gzip(raw, nbytes)
    if mode == "zlib":  # HDF5's deflate output is a zlib stream: stored as it is
        return raw if len(raw) > 2 and raw[0] & 0x0F == 8 and (raw[0] * 256 + raw[1]) % 31 == 0 else None
    if len(raw) != nbytes:
        return None
    return Crc32cRuntime().encode(raw) if mode == CHECKSUMMED else raw


def _copy_raw_chunk(src, dest, mode: str, chunked: "_HDF5Chunks", info) -> int:
    """Copy one stored chunk of ``src`` into ``dest``: 1 when its bytes went as they are."""
    chunks = src.chunks
    coords = chunk_of(info.chunk_offset, chunks)  # HDF5 names a chunk by its first element
    nbytes = int(np.prod(chunks, dtype=np.int64)) * src.dtype.itemsize
    mask, raw = chunked.read(info)
    data = _raw_chunk_data(raw, mask, mode, nbytes)
    if data is None:  # bytes we do not recognise: through h5py's filters
        box = chunk_box(coords, chunks, src.shape)
        dest[box] = src[box]
        return 0
    dest._io.put_raw(coords, data)  # through the engine: its cache and fill-value rule
    return 1


class _ChunkRecord(NamedTuple):
    """What ``_HDF5Chunks.read`` needs of h5py's ``StoreInfo``, in plain numbers (it travels)."""

    chunk_offset: tuple
    filter_mask: int
    byte_offset: int
    size: int


class _RawChunkBatch:
    """A batch of stored chunks copied by whichever process runs it (joblib backend):
    it opens the HDF5 file by name, and ``dest`` is a handle that reopens its store."""

    def __init__(self, filename: str, h5path: str, dest, mode: str):
        self.filename, self.h5path, self.dest, self.mode = filename, h5path, dest, mode

    @holding_real_h5py
    def __call__(self, batch: list) -> list:
        with require_h5py().File(self.filename, "r") as h5:
            src = h5[self.h5path]
            chunked = _HDF5Chunks(src, batch)
            try:
                return [(_copy_raw_chunk(src, self.dest, self.mode, chunked, info), os.getpid()) for info in batch]
            finally:
                chunked.close()


def _import_raw(src, dest, mode: str, workers: Workers, bar) -> None:
    if joblib_backend_chosen() and os.path.isfile(src.file.filename):
        _import_raw_on_backend(src, dest, mode, workers, bar)
        return
    chunked = _HDF5Chunks(src)
    itemsize = src.dtype.itemsize

    def copy(info) -> None:
        workers.count("raw_chunks", _copy_raw_chunk(src, dest, mode, chunked, info))
        bar.update(box_nbytes(chunk_box(chunk_of(info.chunk_offset, src.chunks), src.chunks, src.shape), itemsize))

    workers.after(chunked.close)  # tasks still in flight read through its descriptor
    for info in chunked.infos:
        workers.submit(copy, info)


def _import_raw_on_backend(src, dest, mode: str, workers: Workers, bar) -> None:
    """The chunks of one dataset on the joblib backend the caller chose
    (``joblib.parallel_config(backend="dask")``: a cluster's workers)."""
    records = [_ChunkRecord(tuple(i.chunk_offset), int(i.filter_mask), int(i.byte_offset), int(i.size))
               for i in stored_chunks(src)]
    copied = backend_batch_map(_RawChunkBatch(os.path.abspath(src.file.filename), src.name, dest, mode), records)
    workers.count("raw_chunks", sum(n for n, _ in copied))
    workers.processes.update(pid for _, pid in copied)
    dest._io.cache.clear()  # other processes wrote these chunks
    bar.update(src.size * src.dtype.itemsize)


def _import_decoded(src, dest, workers: Workers, bar) -> None:
    itemsize = src.dtype.itemsize
    if joblib_backend_chosen() and os.path.isfile(src.file.filename):
        _import_decoded_on_backend(src, dest, workers, bar)
        return

    def store_box(box, block) -> None:
        if holds_refs(block):
            block = refs_from_h5py(block, src.file)
        dest[box] = block
        bar.update(box_nbytes(box, itemsize))

    if src.chunks is None:
        mapped = contiguous_map(src, "r")
        if mapped is not None:
            for _, box in iter_chunk_boxes(src.shape, dest._meta.h5_chunks):
                if isinstance(mapped, str):  # no data was ever written: all fill
                    bar.update(box_nbytes(box, itemsize))
                else:  # the workers read the file themselves, in parallel
                    workers.submit(lambda b: store_box(b, mapped[b]), box)
            return
    if src.chunks is not None:
        boxes = [chunk_box(chunk_of(info.chunk_offset, src.chunks), src.chunks, src.shape)
                 for info in stored_chunks(src)]
    else:
        boxes = [box for _, box in iter_chunk_boxes(src.shape, dest._meta.h5_chunks)]
    for box in boxes:
        workers.submit(store_box, box, src[box])  # h5py reads in this thread, one box at a time


def _import_decoded_on_backend(src, dest, workers: Workers, bar) -> None:
    """The boxes of one dataset decoded by h5py on the chosen joblib backend's workers."""
    if src.chunks is not None:
        boxes = [chunk_box(chunk_of(info.chunk_offset, src.chunks), src.chunks, src.shape)
                 for info in stored_chunks(src)]
    elif isinstance(contiguous_map(src, "r"), str):  # never written: all fill
        boxes = []
    else:
        boxes = [box for _, box in iter_chunk_boxes(src.shape, dest._meta.h5_chunks)]
    if boxes:
        batch = DecodedImportBatch(os.path.abspath(src.file.filename), src.name, dest)
        workers.processes.update(backend_batch_map(batch, boxes))
    dest._io.cache.clear()  # other processes wrote these chunks
    bar.update(src.size * src.dtype.itemsize)


def _import_dataset(src, dest_file, path: str, compression, workers: Workers, bar, report,
                    deflate_as: str = "gzip", mark: dict | None = None) -> bool:
    """Create ``path`` and queue its chunks; True when it was marked incomplete
    with ``mark`` first (its data comes later, so a failed run names it)."""

    if src.shape is None:
        dest_file.create_dataset(path, data=Empty(src.dtype))
        return False
    if src.shape == () or src.size == 0:
        if src.shape == () and src.dtype.subdtype is not None:  # as h5py: created, then written
            dest_file.create_dataset(path, shape=(), dtype=src.dtype)[()] = src[()]
        elif src.shape == ():
            value = src[()]
            dest_file.create_dataset(path, data=refs_from_h5py(value, src.file) if holds_refs(value) else value,
                                     dtype=src.dtype)
        else:
            dest_file.create_dataset(path, **_dataset_options(src, compression, deflate_as))
        report.nbytes += src.size * src.dtype.itemsize
        return False
    dest = dest_file.create_dataset(path, **_dataset_options(src, compression, deflate_as))
    if mark is not None:
        mark_incomplete(dest, mark)
    dest.njobs = 1  # one chunk per task: the pool gives the parallelism
    mode = raw_mode(src, dest)
    if mode is not None:
        _import_raw(src, dest, mode, workers, bar)
    else:
        _import_decoded(src, dest, workers, bar)
    report.nbytes += src.size * src.dtype.itemsize
    return mark is not None


@holding_real_h5py
def import_hdf5(src, dest_url, *, storage_options: dict | None = None, overwrite: bool = False,
                skip_unsupported: bool = False, njobs: int | None = None, progress=None,
                compression="keep", deflate_as: str = "gzip", reference: bool = False) -> TransferReport:
    """Copy an HDF5 file (groups, datasets, attributes, links) into a store at ``dest_url``.

    Parameters
    ----------
    src: path of the HDF5 file, or an open ``h5py.File``.
    dest_url: where the new file goes (a directory or any fsspec URL); it must
        not exist unless ``overwrite``.
    skip_unsupported: leave out (with a warning) what the store cannot hold,
        instead of failing before anything is written.
    njobs: worker threads (default: CPU count; at least 16 on object stores).
    progress: a tqdm bar; None shows one only when stderr is a terminal.
    compression: "keep" (each dataset's own: gzip and shuffle as they are,
        lzf as lz4, other filters as gzip-4), None, a name, or a gzip level.
    deflate_as: for kept gzip (deflate) data: "gzip", Zarr v3's gzip codec
        (each chunk decompressed once, for the checksum), or "zlib", HDF5's
        bytes unchanged (codec ``numcodecs.zlib``; ``compression`` reads
        "zlib"; no decompression, the fastest).
    reference: zero-copy import (``dosna-like import --reference``): the store
        keeps only metadata and, per dataset, where its chunks are in ``src``
        (which may then be a URL too); reads go to the file, a write stores the
        written chunk in the store (the file is never written), and
        :func:`~dosna_like.materialize_references` copies the rest later.
        zarr-python refuses such datasets until then (docs/hdf5.md).
        ``compression`` and ``deflate_as`` do not apply.

    Returns a :class:`TransferReport`.  On failure the destination keeps its
    root mark ``_dosna_like.incomplete``, and so does each dataset whose chunks
    and attributes were not all written; ``dosna-like ls`` and ``File`` (an
    :class:`~dosna_like.errors.IncompleteFileWarning`) report them.
    """
    h5py = require_h5py()
    if reference:
        if isinstance(src, h5py.File):
            src = src.filename
        return import_by_reference(src, dest_url, storage_options=storage_options, overwrite=overwrite,
                                   skip_unsupported=skip_unsupported, njobs=njobs)
    if deflate_as not in REGISTRY.importers(DEFLATE):
        raise ValueError(f"deflate_as is one of {REGISTRY.importers(DEFLATE)}, not {deflate_as!r}")
    start = time.perf_counter()
    owned = not isinstance(src, h5py.File)
    if owned:
        check_hdf5_source(src)
    h5 = h5py.File(src, "r") if owned else src
    try:
        items, attrs, problems = _plan(h5, skip_unsupported)
        report = TransferReport(source=h5.filename, dest=str(dest_url), skipped=problems)
        dest = create_destination(dest_url, overwrite, njobs=njobs, storage_options=storage_options)
        try:
            mark = {"source": h5.filename, "started": utc_now()}
            mark_incomplete(dest, mark)
            _copy_items(h5, dest, items, attrs, compression, report, njobs, progress, deflate_as, mark)
            set_attrs(dest, attrs["/"])
            mark_incomplete(dest, None)
        finally:
            dest.close()
    finally:
        if owned:
            h5.close()
    report.seconds = time.perf_counter() - start
    return report


def _copy_items(h5, dest, items, attrs, compression, report, njobs, progress, deflate_as, mark) -> None:

    total = sum(i.obj.size * i.obj.dtype.itemsize for i in items
                if i.kind == "dataset" and i.obj.shape is not None)
    bar = progress_bar(total, "import", progress)
    marked = set()  # datasets whose mark goes once their data and attributes are in
    try:
        with Workers(worker_count(njobs, dest.store)) as workers:
            for item in items:
                if item.kind == "group":
                    set_attrs(dest.create_group(item.path), attrs[item.path])
                    report.groups += 1
                elif item.kind == "dataset":
                    if _import_dataset(item.obj, dest, item.path, compression, workers, bar, report,
                                       deflate_as, mark):
                        marked.add(item.path)
                    report.datasets += 1
                elif item.kind == "datatype":
                    dest[item.path] = item.obj.dtype
            workers.drain()
        report.raw_chunks += workers.counts.get("raw_chunks", 0)
        report.processes = sorted(workers.processes)
        for item in items:  # attributes and links once the data is in
            if item.kind in ("dataset", "datatype"):
                set_attrs(dest[item.path], attrs[item.path])
                if item.path in marked:
                    mark_incomplete(dest[item.path], None)
            elif item.kind == "soft":
                dest[item.path] = SoftLink(item.target[0])
                report.links += 1
            elif item.kind == "external":
                dest[item.path] = ExternalLink(*item.target)
                report.links += 1
            elif item.kind == "hard":
                dest[item.path] = dest[item.target[0]]
                report.links += 1
        import_scales(h5, dest, [i.path for i in items if i.kind == "dataset"])
    finally:
        bar.close()


