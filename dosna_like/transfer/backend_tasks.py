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
from ..format.grid import chunk_box
from .common import require_h5py
from .references import holds_refs, refs_from_h5py

__all__ = ["DecodedImportBatch", "ExportFetchBatch", "MappedExportBatch", "WINDOW_PER_WORKER", "backend_windows"]

WINDOW_PER_WORKER = 16  # chunks per worker held by the caller at once during an export


class DecodedImportBatch:
    """Boxes of an HDF5 dataset decoded by h5py and written into ``dest`` (a handle)."""

    def __init__(self, filename: str, h5path: str, dest):
        self.filename, self.h5path, self.dest = filename, h5path, dest

    def __call__(self, boxes: list) -> list:
        with require_h5py().File(self.filename, "r") as h5:
            src = h5[self.h5path]
            for box in boxes:
                block = src[box]
                if holds_refs(block):
                    block = refs_from_h5py(block, h5)
                self.dest[box] = block
        return [os.getpid()] * len(boxes)


class ExportFetchBatch:
    """Chunks of a dosna_like dataset as HDF5 will take them: stored bytes where
    ``mode`` says they cross as they are, else the decoded block."""

    def __init__(self, ds, mode: str | None):
        self.ds, self.mode = ds, mode

    def __call__(self, coords_list: list) -> list:
        ds, io = self.ds, self.ds._io
        nbytes = int(np.prod(ds.chunks, dtype=np.int64)) * ds.dtype.itemsize
        out = []
        for coords in coords_list:
            box = chunk_box(coords, ds.chunks, ds.shape)
            data = None
            if self.mode is not None:
                raw = io.get_raw(coords)
                if raw is not None:
                    if self.mode == "deflate":
                        data = gzip_to_zlib(raw, nbytes)
                    elif self.mode == "zlib":
                        data = bytes(raw)
                    elif len(raw) == nbytes:
                        data = bytes(raw)
            out.append((coords, box, data, None if data is not None else ds[box], os.getpid()))
        return out


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
