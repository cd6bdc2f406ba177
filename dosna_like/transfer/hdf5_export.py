"""``export_hdf5``: a store into an HDF5 file, chunk by chunk.

Chunks go across without decoding where both formats hold the same bytes
(``write_direct_chunk``); contiguous datasets are written through a memory
map of the new file by the workers.  The file is written as
``DEST.partial`` and renamed at the end, so ``DEST`` is only ever complete.
"""
from __future__ import annotations

import errno
import numpy as np
import os
import time

import joblib

from ..chunks.pools import backend_batch_map, joblib_backend_chosen
from ..codecs.chains import hdf5_export_keywords
from ..format.dtypes import Empty, check_vlen_dtype
from ..format.grid import iter_chunk_boxes, iter_chunks
from ..format.links import ExternalLink, SoftLink
from ..format.reserved import reserved_of
from ..hl.copying import fill_option
from ..hl.files import File
from ..index.nodes import doc_nbytes
from ..index.query import node_kind
from ..format.references import check_ref_dtype, holds_refs_dtype, refs_as
from .references import holds_refs, refs_to_h5py
from .scales import export_scales
from .backend_tasks import WINDOW_PER_WORKER, ExportFetchBatch, MappedExportBatch, backend_windows, exported_chunk
from ..hl.scale_attrs import is_derived
from .common import TransferReport, attr_to_copy, holding_real_h5py, Workers, box_nbytes, codec_options, contiguous_map, progress_bar, raw_mode, require_h5py, set_attrs, worker_count

__all__ = ["export_hdf5"]


# ================================================================= export
def _h5_compression(ds, compression) -> dict:
    """h5py create_dataset keywords for an exported dataset's codecs."""
    return codec_options(ds, compression, _kept_h5_codec)


def _kept_h5_codec(ds) -> dict:
    """A dosna_like dataset's codecs as h5py keywords (the registry's HDF5 side of each)."""
    return hdf5_export_keywords(ds._meta.codecs, ds._meta.attributes)


def _h5_chunks(ds) -> tuple:
    """The dataset's chunks, cut to what HDF5 accepts (no larger than a fixed maximum)."""
    return tuple(c if m is None else max(1, min(c, m)) for c, m in zip(ds._meta.h5_chunks, ds.maxshape))


def _is_contiguous(doc: dict, path: str) -> bool:
    return bool(reserved_of(doc, path).get("h5py_contiguous"))


def _h5_options(ds, doc: dict, compression) -> dict:
    opts = {"shape": ds.shape, "dtype": ds.dtype}
    h5_compression = _h5_compression(ds, compression)
    if ds.shape and not (_is_contiguous(doc, ds._path) and not h5_compression):
        opts["chunks"] = _h5_chunks(ds)
        if tuple(ds.maxshape) != tuple(ds.shape):
            opts["maxshape"] = ds.maxshape
    opts.update(h5_compression)
    opts.update(fill_option(ds))
    if ds.scaleoffset is not None and ds.shape:
        opts["scaleoffset"] = ds.scaleoffset  # HDF5's filter again: the stored values are already its own
    fill_time = reserved_of(doc, ds._path).get("fill_time")
    if fill_time:
        opts["fill_time"] = fill_time
    return opts


def _export_dataset(ds, doc: dict, h5, path: str, compression, workers: Workers, bar, report) -> None:

    h5py = require_h5py()
    if ds.shape is None:  # an Empty (null dataspace) dataset
        h5.create_dataset(path, data=h5py.Empty(ds.dtype))
        return
    if ds.shape == ():
        value = ds[()]
        if ds.dtype.subdtype is not None:  # h5py writes a subarray element only into an existing dataset
            h5.create_dataset(path, shape=(), dtype=ds.dtype)[()] = value
            return
        h5.create_dataset(path, data=h5py.Empty(ds.dtype) if isinstance(value, Empty)
                          else value, dtype=ds.dtype)
        return
    options = _h5_options(ds, doc, compression)
    contiguous = "chunks" not in options and ds.dtype.kind in "biufc" and ds.size and h5.driver == "sec2"
    if contiguous:  # space allocated now, never pre-filled: the workers write it all through a map
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        options.update(dcpl=dcpl, fill_time="never")
    h5ds = h5.create_dataset(path, **options)
    report.nbytes += ds.size * ds.dtype.itemsize
    if not ds.size:
        return
    ds.njobs = 1  # one chunk per task: the pool gives the parallelism
    on_backend = joblib_backend_chosen()
    if contiguous:
        mapped = contiguous_map(h5ds, "r+", h5.filename)
        if isinstance(mapped, np.memmap) and on_backend:
            boxes = [box for _, box in iter_chunk_boxes(ds.shape, ds._meta.h5_chunks)]
            batch = MappedExportBatch(ds, os.path.abspath(h5.filename), int(mapped.offset))
            workers.processes.update(backend_batch_map(batch, boxes))
            bar.update(ds.size * ds.dtype.itemsize)
            return
        if isinstance(mapped, np.memmap):
            _export_mapped(ds, mapped, workers, bar)
            return
    mode = raw_mode(h5ds, ds)  # raw chunks come from the engine
    if ds._hdf5_view():  # an HDF5 file opened in place lists no chunks: its whole grid (fill where none)
        coords_list = list(iter_chunks(ds._meta.shape, ds._meta.chunks))
    else:
        coords_list = ds._io.stored_chunks()
    if on_backend:  # fetched (and decoded where need be) on the backend's workers, a window at a time
        window = WINDOW_PER_WORKER * max(1, joblib.effective_n_jobs())
        fetched = backend_windows(ExportFetchBatch(ds, mode), coords_list, window)
    else:
        fetched = workers.ordered(lambda coords: (*exported_chunk(ds, mode, coords), None), coords_list)
    for box, data, block, pid in fetched:
        if data is not None:
            h5ds.id.write_direct_chunk(tuple(s.start for s in box), data, 0)
            report.raw_chunks += 1
        elif check_vlen_dtype(h5ds.dtype) not in (None, str, bytes):
            h5ds.write_direct(_sequences(block, h5ds.dtype), dest_sel=box)
        else:
            h5ds[box] = block
        if pid is not None:
            workers.processes.add(pid)
        bar.update(box_nbytes(box, ds.dtype.itemsize))


def _sequences(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A block of variable-length sequences as an array of h5py's vlen type, item by item:
    h5py's ``ds[box] = block`` reads sequences that all have one length as a 2-d array of
    numbers and refuses to broadcast it."""
    out = np.empty(block.shape, dtype)
    flat = out.reshape(-1)
    for i, item in enumerate(block.reshape(-1)):
        flat[i] = item
    return out


def _export_mapped(ds, mapped: np.memmap, workers: Workers, bar) -> None:
    """Every chunk of ``ds`` (fill values where none is stored) written into the map by the workers."""
    itemsize = ds.dtype.itemsize

    def copy(box) -> None:
        mapped[box] = ds[box]
        bar.update(box_nbytes(box, itemsize))

    for _, box in iter_chunk_boxes(ds.shape, ds._meta.h5_chunks):
        workers.submit(copy, box)
    workers.after(mapped.flush)  # before h5py closes the file


def _set_attrs_but_refs(h5, path: str, obj) -> list:
    """Set ``obj``'s attributes on ``h5[path]`` except references: those are
    returned as (path, name, value) to write once every target exists."""
    values, later = {}, []
    for name, value in obj.attrs.items():
        if is_derived(obj, name):  # dimension scales: remade by export_scales
            continue
        value = attr_to_copy(obj.attrs, name)  # a scalar's enum, opaque..., a subarray type
        if holds_refs(value):
            later.append((path, name, value))
        else:
            values[name] = value
    set_attrs(h5[path], values)
    return later


def _write_refs(h5, later: list) -> None:
    """Reference attributes (name given) and reference datasets (name None)."""
    h5py = require_h5py()
    for path, name, value in later:
        if name is not None:
            set_attrs(h5[path], {name: refs_to_h5py(value, h5, h5py)})
            continue
        if value.shape is not None:
            h5[path][()] = refs_to_h5py(value[()], h5, h5py)


def _export_links(src, h5, doc_paths: list, report) -> None:
    """Soft, external and hard links (group members that are not nodes of their own)."""
    h5py = require_h5py()
    for gpath in doc_paths:
        group = src[gpath] if gpath != "/" else src
        for name in group:
            link = group.get(name, getlink=True)
            target = f"{gpath.rstrip('/')}/{name}"
            if isinstance(link, SoftLink):
                h5[target] = h5py.SoftLink(link.path)
            elif isinstance(link, ExternalLink):
                h5[target] = h5py.ExternalLink(link.filename, link.path)
            elif target not in h5:  # a second name (hard link) for a node exported already
                obj = group.get(name)
                if obj is None or "/" + obj._path not in h5:
                    continue
                h5[target] = h5["/" + obj._path]
            else:
                continue
            report.links += 1


def _link_groups(nodes: dict) -> list:
    """Names of the groups whose documents record links."""
    out = []
    for path, node in sorted(nodes.items()):
        if node.kind != "group":
            continue
        if reserved_of(node.doc, path).get("links"):
            out.append("/" + path)
    return out


@holding_real_h5py
def export_hdf5(src_url, dest_path, *, storage_options: dict | None = None, overwrite: bool = False,
                njobs: int | None = None, progress=None, compression="keep") -> TransferReport:
    """Write the file at ``src_url`` (groups, datasets, attributes, links) to an HDF5 file.

    The HDF5 file is written as ``dest_path + ".partial"`` and renamed at the
    end, so ``dest_path`` only ever holds a complete file.  ``compression``:
    "keep" (gzip and shuffle as they are; codecs HDF5 lacks, such as zstd or
    blosc, become gzip-4), None, a name or a gzip level.  Datasets created
    without chunks in h5py come back contiguous.
    """
    h5py = require_h5py()

    start = time.perf_counter()
    dest_path = os.fspath(dest_path)
    if os.path.exists(dest_path) and not overwrite:
        raise FileExistsError(f"{dest_path} exists (overwrite=True / --overwrite replaces it)")
    if os.path.isdir(dest_path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory, not an HDF5 file", dest_path)
    folder = os.path.dirname(os.path.abspath(dest_path))
    if not os.path.isdir(folder):  # checked first: h5py's error would name DEST.partial
        raise FileNotFoundError(errno.ENOENT, "No such directory for the HDF5 file", folder)
    partial = dest_path + ".partial"
    with File(src_url, "r", njobs=njobs, storage_options=storage_options) as src:
        nodes = src._state.index.nodes()  # an unfinished source has warned as it opened: what is there goes
        report = TransferReport(source=str(src_url), dest=dest_path)
        total = sum(doc_nbytes(node.doc) for node in nodes.values() if node.kind == "dataset")
        bar = progress_bar(total, "export", progress)
        try:
            with h5py.File(partial, "w") as h5, Workers(worker_count(njobs, src.store)) as workers:
                later = []  # reference values: written once every target exists
                later += _set_attrs_but_refs(h5, "/", src)
                for path in sorted(p for p in nodes if p):
                    doc = nodes[path].doc
                    if node_kind(doc) == "datatype":
                        h5[path] = src[path].dtype
                        later += _set_attrs_but_refs(h5, path, src[path])
                    elif doc.get("node_type") == "group":
                        h5.create_group(path)
                        later += _set_attrs_but_refs(h5, path, src[path])
                        report.groups += 1
                    else:
                        ds = src[path]
                        if holds_refs_dtype(ds.dtype):  # created now, filled once targets exist
                            h5_kind = refs_as(ds.dtype, lambda kind: check_ref_dtype(kind) is not None,
                                              h5py.ref_dtype)
                            h5.create_dataset(path, shape=ds.shape, dtype=h5_kind,
                                              maxshape=ds.maxshape if ds.shape and ds.maxshape != ds.shape else None)
                            later.append((path, None, ds))
                        else:
                            _export_dataset(ds, doc, h5, path, compression, workers, bar, report)
                        later += _set_attrs_but_refs(h5, path, ds)
                        report.datasets += 1
                workers.drain()  # every task done (and the maps flushed) before h5py closes the file
                report.processes = sorted(workers.processes)
                _write_refs(h5, later)
                _export_links(src, h5, _link_groups(nodes), report)
                export_scales(src, h5, ["/" + p for p in sorted(nodes)
                                        if p and nodes[p].doc.get("node_type") == "array"])
        finally:
            bar.close()
    os.replace(partial, dest_path)
    report.seconds = time.perf_counter() - start
    return report
