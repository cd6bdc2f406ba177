"""What import, export and copy share: their report, a bounded worker pool,
progress bars, and the root's "transfer not finished" mark.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
import datetime
import errno
import functools
import numpy as np
import os
import threading
from typing import NamedTuple

from tqdm import tqdm

from ..chunks.pools import default_njobs
from ..codecs.chains import raw_crossing
from ..errors import DosnaError
from ..format.attrvalues import typed_value
from ..format.dtypes import is_empty
from ..format.reserved import edit_reserved, reserved_of
from ..hl.copying import library_of
from ..hl.files import INCOMPLETE, File  # INCOMPLETE: the reserved key of an unfinished import or copy
from ..storage import is_url
from ..storage.real_h5py import real_h5py

__all__ = [
    "attr_to_copy", "box_nbytes", "check_hdf5_source", "codec_options", "contiguous_map", "create_destination", "hdf5_filter_ids", "holding_real_h5py", "INCOMPLETE", "incomplete_mark", "mark_incomplete",
    "progress_bar", "raw_mode", "REMOTE_WORKERS", "require_h5py", "set_attrs", "Subarray", "TransferReport", "UnsupportedObjectError", "utc_now",
    "worker_count", "Workers",
]




class UnsupportedObjectError(DosnaError, TypeError):
    """An HDF5 object (dataset type, attribute, link...) the store cannot hold; names it."""


REMOTE_WORKERS = 16  # workers on object stores, where a worker mostly waits on a request


@dataclass
class TransferReport:
    """What an import, export or copy did."""

    source: str
    dest: str
    groups: int = 0
    datasets: int = 0
    links: int = 0
    nbytes: int = 0  # logical bytes of the datasets copied
    raw_chunks: int = 0  # chunks copied without decoding
    referenced_chunks: int = 0  # chunks left in the HDF5 file, referenced (zero-copy import)
    copied_datasets: list = field(default_factory=list)  # a zero-copy import's datasets copied anyway
    skipped: list = field(default_factory=list)  # (name, why)
    processes: list = field(default_factory=list)  # process ids that ran chunk work on a joblib backend
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """Logical bytes per second."""
        return self.nbytes / self.seconds if self.seconds else 0.0


def require_h5py():
    """The real h5py module, also while ``install_as_h5py()`` stands in for it
    (storage.real_h5py).  Its objects are used inside a ``real_h5py()`` block
    (h5py imports some of its modules lazily): import and export hold one."""
    try:
        with real_h5py() as h5py:  # optional: only HDF5 import and export need it
            return h5py
    except ImportError as exc:  # pragma: no cover - h5py is in the test extra
        raise ImportError("HDF5 import and export need h5py: pip install h5py") from exc


def holding_real_h5py(func):
    """``func`` run inside a ``real_h5py()`` block (HDF5 import and export, and their
    backend tasks): h5py's objects stay the real h5py's for the whole run."""
    @functools.wraps(func)
    def run(*args, **kwargs):
        require_h5py()  # the message above when h5py is missing
        with real_h5py():
            return func(*args, **kwargs)
    return run


# ================================================================ plumbing
class Workers:
    """A thread pool that keeps at most ``2 * workers`` tasks queued or running."""

    def __init__(self, workers: int):
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="dosna-transfer")
        self._slots = threading.BoundedSemaphore(2 * workers)
        self._error: BaseException | None = None
        self._cleanups: list = []
        self._lock = threading.Lock()
        self.ahead = 2 * workers
        self.counts: dict = {}
        self.processes: set = set()  # ids of the processes that ran chunk work on a joblib backend

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def after(self, func) -> None:
        """Call ``func()`` once every task has finished (resources the tasks use)."""
        self._cleanups.append(func)

    def _shutdown(self, cancel: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)
        while self._cleanups:
            self._cleanups.pop()()

    def _done(self, future) -> None:
        self._slots.release()
        if not future.cancelled() and future.exception() is not None and self._error is None:
            self._error = future.exception()

    def submit(self, func, *args) -> None:
        """Run ``func(*args)`` on a worker; waits while the pool is full; re-raises a worker's error."""
        if self._error is not None:
            raise self._error
        self._slots.acquire()
        self.pool.submit(func, *args).add_done_callback(self._done)

    def ordered(self, func, items):
        """``func(item)`` for each item on the workers, yielded in order, a bounded window ahead."""
        pending: deque = deque()
        for item in items:
            pending.append(self.pool.submit(func, item))
            if len(pending) >= self.ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def drain(self) -> None:
        """Wait for every task; raise the first error."""
        self._shutdown(cancel=False)
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self._shutdown(cancel=True)


class _NoBar:
    def update(self, n=1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled):
    """A tqdm byte counter on a terminal (``enabled=None``: only if stderr is one)."""
    if enabled is False:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=None if enabled is None else not enabled, dynamic_ncols=True)


def worker_count(njobs, store) -> int:
    n = njobs or default_njobs()
    return max(n, REMOTE_WORKERS) if store.batches_async else n


def box_nbytes(box: tuple, itemsize: int) -> int:
    return int(np.prod([s.stop - s.start for s in box], dtype=np.int64)) * itemsize


def check_hdf5_source(src) -> None:
    """A one-line error for an import source that h5py would answer with HDF5's
    error stack: a URL, a directory (often a store given by mistake), a missing
    file, a file that is not HDF5.  The types are those h5py raises."""
    if not isinstance(src, (str, os.PathLike)):
        return  # an open file object: h5py's to judge
    path = os.fspath(src)
    if is_url(path):
        raise FileNotFoundError(errno.ENOENT, "import reads a local HDF5 file, not a URL (copy_store or "
                                "`dosna-like cp` copies a store)", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "a directory (a dosna_like store?), not an HDF5 file "
                                "(copy_store or `dosna-like cp` copies a store)", path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such HDF5 file", path)
    if not require_h5py().is_hdf5(path):
        raise OSError(errno.EINVAL, "Not an HDF5 file", path)


def create_destination(url, overwrite: bool, **file_kwargs) -> File:
    """The new file an import or copy writes (mode "w" with ``overwrite``, else "w-");
    an existing one is refused with the way to replace it, as export does."""
    try:
        return File(url, "w" if overwrite else "w-", **file_kwargs)
    except FileExistsError as exc:
        if overwrite:
            raise
        raise FileExistsError(errno.EEXIST, "Unable to create file (it exists; overwrite=True or --overwrite "
                              "replaces it)", str(url)) from exc


def mark_incomplete(f, mark: dict | None) -> None:
    """Set (or, with None, remove) the 'transfer not finished' mark of a file's
    root, or of a dataset whose data an import has not finished writing."""
    def update(attributes: dict) -> None:
        reserved = edit_reserved(attributes, f._path)
        if mark is None:
            reserved.pop(INCOMPLETE, None)
        else:
            reserved[INCOMPLETE] = mark

    f._update_attributes(update)


def incomplete_mark(root_doc: dict) -> dict | None:
    """The mark an unfinished import or copy left in a root document, or None."""
    return reserved_of(root_doc, "").get(INCOMPLETE)


def hdf5_filter_ids(dset) -> list:
    """The HDF5 filter ids of an h5py dataset, in pipeline order."""
    plist = dset.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def raw_mode(h5ds, ds) -> str | None:
    """How stored chunks cross between the h5py dataset ``h5ds`` and the dosna_like
    dataset ``ds`` without decoding (:func:`~dosna_like.codecs.chains.raw_crossing`:
    'raw', 'crc32c', 'deflate', 'zlib'), or None (decode them): for import and export."""
    if h5ds.chunks is None or tuple(h5ds.chunks) != tuple(ds._meta.h5_chunks):  # the chunks ds is stored in
        return None
    if ds.dtype.kind not in "biufc" or ds.dtype.str != h5ds.dtype.str:
        return None
    return raw_crossing(hdf5_filter_ids(h5ds), ds._meta.codecs, ds.dtype.itemsize, ds._meta.attributes)


def codec_options(obj, compression, keep) -> dict:
    """create_dataset keywords for the destination's codecs: ``compression``
    as given (None, a gzip level or a codec), or with "keep" ``keep(obj)``'s
    mapping of the source's compressor, plus its shuffle and fletcher32."""
    if compression != "keep":
        if compression is None:
            return {}
        if isinstance(compression, int) and not isinstance(compression, bool):
            return {"compression": "gzip", "compression_opts": compression}
        return {"compression": compression}
    opts = keep(obj)
    for flag in ("shuffle", "fletcher32"):
        if getattr(obj, flag):
            opts[flag] = True
    return opts


def contiguous_map(dset, mode: str, path: str | None = None):
    """A memory map of a contiguous HDF5 dataset's data in a plain local file, or None.

    Only for fixed-size numeric types, the contiguous layout (not compact, not
    external) and allocated space; ``"unallocated"`` when no space exists yet
    (everything reads as the fill value).
    """
    h5py = require_h5py()
    plist = dset.id.get_create_plist()
    if (dset.dtype.kind not in "biufc" or plist.get_layout() != h5py.h5d.CONTIGUOUS
            or plist.get_external_count() or dset.file.driver != "sec2" or not dset.size):
        return None
    offset = dset.id.get_offset()
    if offset is None:
        return "unallocated"
    return np.memmap(path or dset.file.filename, dtype=dset.dtype, mode=mode, offset=offset, shape=dset.shape)


class Subarray(NamedTuple):
    """An attribute value of a subarray type (``np.dtype(("i4", (2,)))``), which its value
    as read has lost (trailing axes): :func:`set_attrs` creates it with that type again."""

    value: object
    dtype: np.dtype


def attr_to_copy(attrs, name: str):
    """Attribute ``name`` of ``attrs`` (either library's), as :func:`set_attrs` sets it on a copy
    with its stored type: a scalar that has lost h5py's marks as ``typed_value`` gives it, a
    value of a subarray type as a :class:`Subarray`, other values as read."""
    value, dtype = attrs[name], attrs.get_id(name).dtype
    if dtype.subdtype is not None and not is_empty(value):
        return Subarray(value, dtype)
    return typed_value(value, dtype)


def set_attrs(obj, values: dict) -> None:
    """Set attributes, turning one library's ``Empty`` into the other's and creating a
    :class:`Subarray` value with its type."""
    for name, value in values.items():
        if is_empty(value):
            value = library_of(obj).Empty(value.dtype)
        if isinstance(value, Subarray):
            obj.attrs.create(name, value.value, dtype=value.dtype)
        else:
            obj.attrs[name] = value


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
