"""Zero-copy import: a store whose chunks are byte ranges of the HDF5 file.

``import_hdf5(src, dest, reference=True)`` reads the file's metadata once
(the reference map of :mod:`dosna_like.storage.hdf5_refs`, the same one an
in-place open builds) and writes only node documents and, per dataset, a
reference table (:mod:`dosna_like.storage.hdf5_referencing`): no chunk is
read or written, so the time does not grow with the data.  The store then
opens like any other; writes are copy on write; :func:`materialize_references`
copies the referenced bytes into chunk objects later (``dosna-like import
--materialize STORE``), after which the store no longer needs the file.

What is still copied: compact datasets (their bytes live in the file's
metadata), datasets the codecs cannot decode (szip, plugins, variable-length
and compound types), read through h5py, and chunks stored with a filter
skipped for some chunks (an optional filter, such as LZF, that could not shrink
them), stored decoded.
"""
from __future__ import annotations

import base64
import math
import os
import time
import warnings

from ..format.documents import ArrayMeta, editable_copy
from ..format.grid import iter_chunk_boxes
from ..format.reserved import edit_reserved, reserved_in
from ..format.keys import chunk_key, chunk_prefix, node_key
from ..hl.files import File
from ..storage import is_url, parent_url
from ..storage.hdf5_open import open_hdf5_store
from ..storage.hdf5_referencing import TABLE_NAME, TRANSFORMER, ReferencingStore, dump_table, transformer_record
from .common import TransferReport, UnsupportedObjectError, create_destination, mark_incomplete, utc_now

__all__ = ["import_by_reference", "materialize_references", "reference_name"]

_MATERIALIZE_WINDOW = 64  # chunks fetched and stored per batch


def reference_name(file_url: str, store_url: str) -> str:
    """How a store at ``store_url`` names the file at ``file_url``: relative to the
    directory holding the store when the file is under it (so the store reads it
    without ``trust_links``), else the full path or URL."""
    parent = parent_url(store_url).rstrip("/").rstrip(os.sep)
    if is_url(file_url) != is_url(store_url):
        return file_url
    if not is_url(file_url):
        rel = os.path.relpath(file_url, parent)
        return file_url if rel.startswith("..") else rel.replace(os.sep, "/")
    return file_url[len(parent) + 1:] if file_url.startswith(parent + "/") else file_url


def _table_of(ref: dict, meta_chunks: tuple, shape: tuple, itemsize: int) -> tuple:
    """(reference table chunks, pad_to) of a dataset's record in the reference map."""
    if ref["kind"] == "chunks":
        tails = ("".join(f"/{c}" for c in coords) for coords in ref["coords"])
        return {t: [o, s] for t, o, s in zip(tails, ref["offsets"], ref["sizes"])}, 0
    # contiguous: pieces of whole chunks along the first axis (the chunk shape is
    # the full extent on the other axes), the last one padded
    nbytes = math.prod(meta_chunks) * itemsize
    rest = "/0" * (len(shape) - 1)
    table = {}
    for i in range(math.ceil(ref["size"] / nbytes) if nbytes else 0):
        tail = f"/{i}{rest}" if shape else ""
        table[tail] = [ref["offset"] + i * nbytes, min(nbytes, ref["size"] - i * nbytes)]
    return table, nbytes


def import_by_reference(src, dest_url, *, storage_options: dict | None = None, overwrite: bool = False,
                        skip_unsupported: bool = False, njobs: int | None = None) -> TransferReport:
    """A store at ``dest_url`` whose datasets read their chunks from the HDF5 file ``src``
    (a path or URL; ``storage_options`` serve both).  See :func:`~dosna_like.import_hdf5`."""
    start = time.perf_counter()
    name = os.fspath(src)
    h5store = open_hdf5_store(name, storage_options if is_url(name) else None)
    if h5store is None:
        raise OSError(f"{name}: not an HDF5 file")
    try:
        refmap = h5store.refmap
        skipped = [(s, "not supported") for s in refmap["skipped"]]
        if skipped and not skip_unsupported:
            raise UnsupportedObjectError(f"cannot import {len(skipped)} object(s) of {h5store.url}: "
                                         + "; ".join(s for s, _ in skipped)
                                         + " (skip_unsupported=True / --skip-unsupported leaves them out)")
        for what, _ in skipped:
            warnings.warn(f"skipped {what}", stacklevel=2)
        report = TransferReport(source=h5store.url, dest=str(dest_url), skipped=skipped)
        dest = create_destination(dest_url, overwrite, njobs=njobs, storage_options=storage_options)
        try:
            mark_incomplete(dest, {"source": h5store.url, "started": utc_now()})
            _write_nodes(h5store, dest, refmap, report)
        finally:
            dest.close()
    finally:
        h5store.close()
    report.seconds = time.perf_counter() - start
    return report


def _write_nodes(h5store, dest, refmap: dict, report: TransferReport) -> None:
    state, store = dest._state, dest._state.store
    file_name = reference_name(h5store.url, store.url)
    fingerprint = refmap["source"]
    for path in sorted(refmap["nodes"], key=lambda p: (p.count("/"), p)):
        doc = refmap["nodes"][path]
        ref = refmap["refs"].get(path)
        if ref is None:
            report.links += len(reserved_in(doc.get("attributes") or {}, path).get("links") or {})
        if not path:
            continue  # the root document goes last: it also removes the incomplete mark
        if ref is None:
            state.write_doc(path, doc)
            report.groups += 1
            continue
        report.datasets += 1
        doc = _as_store_dataset(doc, path)
        shape = tuple(doc["shape"])
        chunks = tuple(doc["chunk_grid"]["configuration"]["chunk_shape"])
        itemsize = _itemsize(doc)
        report.nbytes += math.prod(shape) * itemsize
        if ref.get("masks"):  # chunks with filters skipped: the in-place store decodes them, copied raw
            state.write_doc(path, doc)
            for coords in ref["coords"]:
                key = chunk_key(path, tuple(coords))
                store.set(key, h5store.get(key))
            report.copied_datasets.append("/" + path)
        elif ref["kind"] in ("chunks", "contiguous") and (ref["kind"] == "chunks" or ref["offset"] is not None):
            table, pad_to = _table_of(ref, chunks, shape, itemsize)
            if table:  # the table before the document that declares it
                store.set(node_key(path, TABLE_NAME), dump_table(table, pad_to))
                doc = {**doc, **transformer_record(file_name, fingerprint)}
                report.referenced_chunks += len(table)
            state.write_doc(path, doc)
        elif ref["kind"] == "inline":
            store.set(chunk_key(path, (0,) * len(shape)), base64.b64decode(ref["data"]))
            state.write_doc(path, doc)
        elif ref["kind"] == "h5py":  # bytes nothing here decodes: copied, through h5py
            state.write_doc(path, doc)
            io = state.array_io(path)
            with warnings.catch_warnings():  # the import reports these as copied instead
                warnings.simplefilter("ignore")
                for coords in _grid_coords(shape, chunks):
                    io.put_raw(coords, h5store.get(chunk_key(path, coords)))
            report.copied_datasets.append("/" + path)
        else:
            state.write_doc(path, doc)
    root = dict(refmap["nodes"][""])
    state.write_doc("", root)


def _as_store_dataset(doc: dict, path: str) -> dict:
    """``doc`` of a dataset in place, as a store's: chunked in h5py's view too (the
    chunks are the file's, or virtual ones for contiguous data), as a copying import is."""
    hdf5 = reserved_in(doc.get("attributes") or {}, path).get("hdf5") or {}
    if "layout" not in hdf5:
        return doc
    doc = editable_copy(doc)
    reserved = edit_reserved(doc["attributes"], path)
    reserved["hdf5"] = {k: v for k, v in hdf5.items() if k != "layout"}
    if not reserved["hdf5"]:
        del reserved["hdf5"]
    return doc


def _itemsize(doc: dict) -> int:
    return ArrayMeta.from_document(doc).dtype.itemsize


def _grid_coords(shape: tuple, chunks: tuple):
    if not shape:
        yield ()
        return
    for coords, _ in iter_chunk_boxes(shape, chunks):
        yield tuple(coords)


def materialize_references(url, *, storage_options: dict | None = None, trust_links: bool = False,
                           njobs: int | None = None) -> TransferReport:
    """Copy every referenced chunk of the store at ``url`` into a chunk object of its own,
    so the store no longer needs the HDF5 file (and zarr-python reads it).

    Per dataset: the chunks are stored first, then the document loses its
    reference record, then the reference table goes; a stopped run leaves
    every dataset readable and can be run again.
    """
    start = time.perf_counter()
    report = TransferReport(source=str(url), dest=str(url))
    with File(url, "r+", storage_options=storage_options, trust_links=trust_links, njobs=njobs) as f:
        state = f._state
        tables = [k for k in state.store.list_keys("") if k.endswith("/" + TABLE_NAME) or k == TABLE_NAME]
        for key in tables:
            path = key[:-len(TABLE_NAME)].rstrip("/")
            io = state.array_io(path)
            if isinstance(io.store, ReferencingStore):
                keys = [chunk_prefix(path) + tail for tail in io.store.table()]
                for i in range(0, len(keys), _MATERIALIZE_WINDOW):
                    window = io.store.get_many(keys[i:i + _MATERIALIZE_WINDOW])
                    io.store.inner.set_many(window)
                    report.nbytes += sum(len(v) for v in window.values())
                report.referenced_chunks += len(keys)
            doc = dict(state.read_doc(path, required=True))
            doc.pop(TRANSFORMER, None)
            state.write_doc(path, doc)
            state.store.delete(key)
            state.forget(path)
            report.datasets += 1
    report.seconds = time.perf_counter() - start
    return report

