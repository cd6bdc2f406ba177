"""Per-chunk HDF5 import and export work that runs on the joblib backend the caller chose.

Inside ``with joblib.parallel_config(backend="dask"):`` an import or export
sends its per-chunk work to that backend's workers (a dask.distributed
cluster's processes), a few batches per worker: each batch is an object that
pickles as plain names (the HDF5 file's path, a dataset path, a dosna_like
handle, which reopens its store once per process) and opens what it needs
itself.  Every task returns the id of the process that ran it, so a report
says where the work went.

What stays in the calling process: h5py writes of the exported HDF5 file
(one writer per HDF5 file), fed window by window so memory stays bounded.
Workers share the caller's filesystem for the HDF5 file (a LocalCluster, or
a shared mount), as an import on the backend already assumes.
"""
from __future__ import annotations

import os

import numpy as np

from ..chunks.pools import backend_batch_map
from ..codecs.deflate_wrappers import gzip_to_zlib
from ..codecs.registry import CHECKSUMMED
from ..codecs.runtime import Crc32cRuntime
from ..format.grid import chunk_box
from .common import holding_real_h5py, require_h5py
from .references import holds_refs, refs_from_h5py

__all__ = ["DecodedImportBatch", "ExportFetchBatch", "MappedExportBatch", "WINDOW_PER_WORKER", "backend_windows",
           "exported_chunk"]

WINDOW_PER_WORKER = 16  # chunks per worker held by the caller at once during an export


class DecodedImportBatch:
    """Boxes of an HDF5 dataset decoded by h5py and written into ``dest`` (a handle)."""

    def __init__(self, filename: str, h5path: str, dest):
        self.filename, self.h5path, self.dest = filename, h5path, dest

    @holding_real_h5py
    def __call__(self, boxes: list) -> list:
        with require_h5py().File(self.filename, "r") as h5:
            src = h5[self.h5path]
            for box in boxes:
                block = src[box]
                if holds_refs(block):
                    block = refs_from_h5py(block, h5)
                self.dest[box] = block
        return [os.getpid()] * len(boxes)


def exported_chunk(ds, mode: str | None, coords: tuple) -> tuple:
    """(box, data, block) of one stored chunk of ``ds`` for an HDF5 dataset with its
    chunk shape: ``data`` the bytes ``write_direct_chunk`` takes where ``mode``
    (:func:`~dosna_like.transfer.common.raw_mode`) says they cross as they are,
    else None and ``block`` the decoded values."""
    chunks = ds._meta.h5_chunks  # the engine's grid (an HDF5 file's unchunked dataset in place has one too)
    box = chunk_box(coords, chunks, ds.shape)
    raw = ds._io.get_raw(coords) if mode is not None else None
    data = None
    if raw is not None:
        nbytes = int(np.prod(chunks, dtype=np.int64)) * ds.dtype.itemsize
        if mode == "deflate":
            data = gzip_to_zlib(raw, nbytes)
        elif mode == "zlib":
            data = bytes(raw)
        elif mode == CHECKSUMMED:  # checked, then cut off; a damaged chunk decodes below and raises
            data = _checked(raw, nbytes)
        elif len(raw) == nbytes:
            data = bytes(raw)
    return box, data, None if data is not None else ds[box]


def _checked(raw, nbytes: int) -> bytes | None:
    """The data of a raw chunk stored with the default checksum, None when it does not check."""
    try:
        data = Crc32cRuntime().decode(raw, nbytes)
    except ValueError:
        return None
    return data.tobytes() if data.size == nbytes else None


class ExportFetchBatch:
    """Chunks of a dosna_like dataset as HDF5 will take them (:func:`exported_chunk`)."""

    def __init__(self, ds, mode: str | None):
        self.ds, self.mode = ds, mode

    def __call__(self, coords_list: list) -> list:
        return [(*exported_chunk(self.ds, self.mode, coords), os.getpid()) for coords in coords_list]


class MappedExportBatch:
    """Boxes of a dosna_like dataset written into a contiguous HDF5 dataset's bytes
    (a memory map of the file at ``offset``, which the caller allocated)."""

    def __init__(self, ds, filename: str, offset: int):
        self.ds, self.filename, self.offset = ds, filename, offset

    def __call__(self, boxes: list) -> list:
        mapped = np.memmap(self.filename, dtype=self.ds.dtype, mode="r+", offset=self.offset, shape=self.ds.shape)
        for box in boxes:
            mapped[box] = self.ds[box]
        mapped.flush()
        return [os.getpid()] * len(boxes)


def backend_windows(batch, items: list, window: int):
    """``batch``'s results for ``items``, window by window (each window one round on the backend)."""
    for start in range(0, len(items), window):
        yield from backend_batch_map(batch, items[start:start + window])
