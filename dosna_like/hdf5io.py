"""HDF5 files into stores and back: ``import_hdf5``, ``export_hdf5``, ``copy_store``.

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

import datetime
import itertools
import os
import posixpath
import struct
import threading
import time
import warnings
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import libdeflate
from .copying import fill_option
from .engine import default_njobs
from .errors import DosnaError
from .metadata import RESERVED, chunk_key
from .query import node_kind

INCOMPLETE = "incomplete"  # the root's reserved key while an import or copy runs
REMOTE_WORKERS = 16  # workers on object stores, where a worker mostly waits on a request
_DEFLATE, _SHUFFLE = 1, 2  # HDF5 filter ids (H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE)
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0, OS unknown


class UnsupportedObjectError(DosnaError, TypeError):
    """An HDF5 object (dataset type, attribute, link...) the store cannot hold; names it."""


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
    skipped: list = field(default_factory=list)  # (name, why)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """Logical bytes per second."""
        return self.nbytes / self.seconds if self.seconds else 0.0


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is in the test extra
        raise ImportError("HDF5 import and export need h5py: pip install h5py") from exc
    return h5py


# ================================================================ plumbing
class _Workers:
    """A thread pool that keeps at most ``2 * workers`` tasks queued or running."""

    def __init__(self, workers: int):
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="dosna-transfer")
        self._slots = threading.BoundedSemaphore(2 * workers)
        self._error: BaseException | None = None
        self._cleanups: list = []
        self._lock = threading.Lock()
        self.ahead = 2 * workers
        self.counts: dict = {}

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

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *exc) -> None:
        self._shutdown(cancel=True)


class _NoBar:
    def update(self, n=1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled):
    """A tqdm byte counter on a terminal (``enabled=None``: only if stderr is one)."""
    if enabled is False:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=None if enabled is None else not enabled, dynamic_ncols=True)


def _worker_count(njobs, store) -> int:
    n = njobs or default_njobs()
    return max(n, REMOTE_WORKERS) if getattr(store, "_async", False) else n


def regions(shape: tuple, chunks: tuple):
    """The chunk-aligned boxes covering ``shape``, in C order, with their chunk coordinates."""
    grid = [range(-(-s // c)) for s, c in zip(shape, chunks)]
    for coords in itertools.product(*grid):
        yield coords, tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, shape))


def _box_nbytes(box: tuple, itemsize: int) -> int:
    return int(np.prod([s.stop - s.start for s in box], dtype=np.int64)) * itemsize


def _mark_incomplete(f, mark: dict | None) -> None:
    """Set (or, with None, remove) the root's 'transfer not finished' mark."""
    def update(attributes: dict) -> None:
        reserved = attributes.setdefault(RESERVED, {})
        if mark is None:
            reserved.pop(INCOMPLETE, None)
        else:
            reserved[INCOMPLETE] = mark

    f._update_attributes(update)


def incomplete_mark(root_doc: dict) -> dict | None:
    """The mark an unfinished import or copy left in a root document, or None."""
    reserved = (root_doc.get("attributes") or {}).get(RESERVED)
    return reserved.get(INCOMPLETE) if isinstance(reserved, dict) else None


# ============================================================ transcoding
def _fast_inflate(inflate_into, raw: bytes, nbytes: int):
    """The decompressed bytes (an array) of a one-stream ``raw`` through
    libdeflate, or None when libdeflate is missing or says no (the zlib code
    after it then gives the verdict)."""
    if not libdeflate.AVAILABLE:
        return None
    data = np.empty(nbytes, dtype=np.uint8)
    try:
        inflate_into(raw, data)
    except ValueError:
        return None
    return data


def zlib_to_gzip(raw, nbytes: int) -> bytes | None:
    """An HDF5 deflate chunk (zlib stream) as a gzip member, or None if it is not one.

    The deflate data is kept as it is; only the wrapper changes, which needs
    the CRC-32 of the decompressed bytes (checked against zlib's Adler-32).
    """
    raw = bytes(raw)
    if len(raw) < 6 or raw[0] & 0x0F != 8 or (raw[0] * 256 + raw[1]) % 31 or raw[1] & 0x20:
        return None
    data = _fast_inflate(libdeflate.unzlib_into, raw, nbytes)
    if data is not None:  # Adler-32 checked by libdeflate
        return _GZIP_HEADER + raw[2:-4] + struct.pack("<II", libdeflate.crc32(data), nbytes & 0xFFFFFFFF)
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw[2:])
    except zlib.error:
        return None
    tail = inflater.unused_data
    if not inflater.eof or len(data) != nbytes or len(tail) < 4 \
            or struct.unpack(">I", tail[:4])[0] != zlib.adler32(data):
        return None
    body = raw[2:len(raw) - len(tail)]
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _gzip_body(raw: bytes) -> int | None:
    """Offset of the deflate data in a gzip member (its header may carry extra fields)."""
    if len(raw) < 18 or raw[:3] != b"\x1f\x8b\x08":
        return None
    flags, pos = raw[3], 10
    if flags & 4:  # FEXTRA
        pos += 2 + struct.unpack("<H", raw[pos:pos + 2])[0]
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            pos = raw.index(b"\x00", pos) + 1
    if flags & 2:  # FHCRC
        pos += 2
    return pos


def gzip_to_zlib(raw, nbytes: int) -> bytes | None:
    """A gzip chunk as the zlib stream HDF5's deflate filter reads, or None if it is not one."""
    raw = bytes(raw)
    try:
        start = _gzip_body(raw)
    except ValueError:
        return None
    if start is None:
        return None
    data = _fast_inflate(libdeflate.gunzip_into, raw, nbytes)
    if data is not None:  # CRC-32 and size checked by libdeflate
        return b"\x78\x9c" + raw[start:len(raw) - 8] + struct.pack(">I", libdeflate.adler32(data))
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw[start:])
    except zlib.error:
        return None
    tail = inflater.unused_data
    if not inflater.eof or len(data) != nbytes or len(tail) != 8 \
            or struct.unpack("<I", tail[:4])[0] != zlib.crc32(data):
        return None  # multi-member or damaged: let the codecs handle it
    body = raw[start:len(raw) - 8]
    return b"\x78\x9c" + body + struct.pack(">I", zlib.adler32(data))


# ================================================================= import
@dataclass
class _Planned:
    kind: str  # group, dataset, soft, external, hard
    path: str  # absolute name
    obj: object = None
    target: tuple = ()


def _attr_problems(h5obj, path: str) -> tuple:
    """(readable {name: value}, [(name, why)]) for an HDF5 object's attributes."""
    from .attrs import encode_attr

    values, problems = {}, []
    for name in h5obj.attrs:
        try:
            value = h5obj.attrs[name]
            encode_attr(value)
        except Exception as exc:  # h5py raises many types for exotic attributes
            problems.append((f"{path}@{name}", f"attribute type not supported ({exc})"))
            continue
        values[name] = value
    return values, problems


def _dataset_problem(dset) -> str | None:
    from .creation import new_array

    if dset.shape is None:
        import dosna_like

        return None if hasattr(dosna_like, "Empty") else "empty (null dataspace) datasets are not supported"
    try:
        new_array(shape=dset.shape, dtype=dset.dtype)
    except (TypeError, ValueError) as exc:
        return f"dtype {dset.dtype} not supported ({exc})"
    return None


def _object_key(obj) -> tuple:
    """Identity of an HDF5 object (hard links share it)."""
    h5py = _h5py()
    info = h5py.h5o.get_info(obj.id)
    token = getattr(info, "token", None)
    return (obj.file.id.fileno, token if token is not None else info.addr)


def _plan(h5file, skip_unsupported: bool) -> tuple:
    """Everything to copy, parents first, and what cannot be copied: (items, attrs, problems)."""
    h5py = _h5py()
    import dosna_like

    items, attrs, problems, first_name = [], {}, [], {}
    values, bad = _attr_problems(h5file, "/")
    attrs["/"] = values
    problems += bad

    def walk(group, prefix: str, ancestors: tuple) -> None:
        for name in group:
            path = f"{prefix}/{name}" if prefix != "/" else f"/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                if hasattr(dosna_like, "SoftLink"):
                    items.append(_Planned("soft", path, target=(link.path,)))
                else:
                    problems.append((path, "soft links are not supported yet"))
                continue
            if isinstance(link, h5py.ExternalLink):
                if hasattr(dosna_like, "ExternalLink"):
                    items.append(_Planned("external", path, target=(link.filename, link.path)))
                else:
                    problems.append((path, "external links are not supported yet"))
                continue
            obj = group[name]
            key = _object_key(obj)
            if key in first_name:  # a second hard link to an object already planned
                if key in ancestors:
                    problems.append((path, "hard link cycle (a group containing itself)"))
                elif hasattr(dosna_like, "HardLink"):  # dest[name] = dest[other] makes a second name
                    items.append(_Planned("hard", path, target=(first_name[key],)))
                    continue
                else:
                    problems.append((path, "hard links are not supported yet"))
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
            elif isinstance(obj, h5py.Datatype) and hasattr(dosna_like, "Datatype"):
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


def _codec_options(obj, compression, keep) -> dict:
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


def _compression(src, compression, deflate_as: str = "gzip") -> dict:
    """create_dataset keywords for an imported dataset's codecs."""
    return _codec_options(src, compression, lambda s: _kept_codec(s, deflate_as))


def _kept_codec(src, deflate_as: str) -> dict:
    """An HDF5 dataset's compressor as dosna_like keywords."""
    name = src.compression
    opts: dict = {}
    if name == "gzip" and deflate_as == "zlib":
        import numcodecs

        opts = {"compression": numcodecs.Zlib(level=int(src.compression_opts or 4))}
    elif name == "gzip":
        opts = {"compression": "gzip", "compression_opts": src.compression_opts}
    elif name == "lzf":
        opts = {"compression": "lz4"}  # the closest fast, light codec
    elif name is not None or _unknown_filters(src):
        opts = {"compression": "gzip", "compression_opts": 4}
    return opts


def _filter_ids(dset) -> list:
    plist = dset.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def _unknown_filters(dset) -> bool:
    return any(f not in (1, 2, 3, 4, 6, 32000) for f in _filter_ids(dset))


def _dataset_options(src, compression, deflate_as: str = "gzip") -> dict:
    opts = {"shape": src.shape, "dtype": src.dtype}
    if src.chunks is not None:
        opts["chunks"] = src.chunks
    if src.maxshape is not None and tuple(src.maxshape) != tuple(src.shape):
        opts["maxshape"] = src.maxshape
    opts.update(fill_option(src))
    opts.update(_compression(src, compression, deflate_as))
    return opts


def _raw_mode(src, dest) -> str | None:
    """How ``src``'s stored chunks become ``dest``'s without decoding: 'raw' (as they are),
    'deflate' (zlib wrapper rewritten as gzip), 'zlib' (as they are), or None (decode them)."""
    if src.chunks is None or dest.chunks != src.chunks or src.dtype.kind not in "biufc":
        return None
    if dest.dtype.str != src.dtype.str or dest.fletcher32:
        return None
    filters = _filter_ids(src)
    if filters not in ([], [_SHUFFLE], [_DEFLATE], [_SHUFFLE, _DEFLATE]):
        return None
    deflate = _DEFLATE in filters
    if bool(dest.shuffle) != (_SHUFFLE in filters):
        return None
    if not deflate:
        return "raw" if dest.compression is None else None
    return {"gzip": "deflate", "zlib": "zlib"}.get(dest.compression)


def stored_chunks(dset) -> list:
    """HDF5's records (offset, filter mask, address, size) of a dataset's allocated chunks."""
    if hasattr(dset.id, "chunk_iter"):
        infos: list = []
        dset.id.chunk_iter(infos.append)
        return infos
    return [dset.id.get_chunk_info(i) for i in range(dset.id.get_num_chunks())]  # pragma: no cover


class _HDF5Chunks:
    """Stored chunks of an HDF5 dataset, read with ``pread`` from the file when possible."""

    def __init__(self, dset):
        self.dset = dset
        self.infos = stored_chunks(dset)
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


def _import_raw(src, dest, mode: str, workers: _Workers, bar) -> None:
    store, path = dest.file.store, dest._path
    chunks, itemsize = src.chunks, src.dtype.itemsize
    nbytes = int(np.prod(chunks, dtype=np.int64)) * itemsize
    chunked = _HDF5Chunks(src)

    def copy(info) -> None:
        coords = tuple(o // c for o, c in zip(info.chunk_offset, chunks))
        box = tuple(slice(o, min(o + c, s)) for o, c, s in zip(info.chunk_offset, chunks, src.shape))
        mask, raw = chunked.read(info)
        data = None
        if mask == 0:
            if mode == "deflate":
                data = zlib_to_gzip(raw, nbytes)
            elif mode == "zlib":  # HDF5's deflate output is a zlib stream: stored as it is
                data = raw if len(raw) > 2 and raw[0] & 0x0F == 8 and (raw[0] * 256 + raw[1]) % 31 == 0 else None
            else:
                data = raw if len(raw) == nbytes else None
        if data is None:  # a filter was skipped for this chunk, or bytes we do not recognise
            dest[box] = src[box]
        else:
            store.set(chunk_key(path, coords), data)
            workers.count("raw_chunks")
        bar.update(_box_nbytes(box, itemsize))

    workers.after(chunked.close)  # tasks still in flight read through its descriptor
    for info in chunked.infos:
        workers.submit(copy, info)


def _contiguous_map(dset, mode: str, path: str | None = None):
    """A memory map of a contiguous HDF5 dataset's data in a plain local file, or None.

    Only for fixed-size numeric types, the contiguous layout (not compact, not
    external) and allocated space; ``"unallocated"`` when no space exists yet
    (everything reads as the fill value).
    """
    h5py = _h5py()
    plist = dset.id.get_create_plist()
    if (dset.dtype.kind not in "biufc" or plist.get_layout() != h5py.h5d.CONTIGUOUS
            or plist.get_external_count() or dset.file.driver != "sec2" or not dset.size):
        return None
    offset = dset.id.get_offset()
    if offset is None:
        return "unallocated"
    return np.memmap(path or dset.file.filename, dtype=dset.dtype, mode=mode, offset=offset, shape=dset.shape)


def _import_decoded(src, dest, workers: _Workers, bar) -> None:
    itemsize = src.dtype.itemsize

    def store_box(box, block) -> None:
        dest[box] = block
        bar.update(_box_nbytes(box, itemsize))

    if src.chunks is None:
        mapped = _contiguous_map(src, "r")
        if mapped is not None:
            for _, box in regions(src.shape, dest.chunks):
                if isinstance(mapped, str):  # no data was ever written: all fill
                    bar.update(_box_nbytes(box, itemsize))
                else:  # the workers read the file themselves, in parallel
                    workers.submit(lambda b: store_box(b, mapped[b]), box)
            return
    if src.chunks is not None:
        boxes = [tuple(slice(o, min(o + c, s)) for o, c, s in zip(info.chunk_offset, src.chunks, src.shape))
                 for info in stored_chunks(src)]
    else:
        boxes = [box for _, box in regions(src.shape, dest.chunks)]
    for box in boxes:
        workers.submit(store_box, box, src[box])  # h5py reads in this thread, one box at a time


def _import_dataset(src, dest_file, path: str, compression, workers: _Workers, bar, report,
                    deflate_as: str = "gzip") -> None:
    import dosna_like

    if src.shape is None:
        dest_file.create_dataset(path, data=dosna_like.Empty(src.dtype))
        return
    if src.shape == () or src.size == 0:
        if src.shape == ():
            dest_file.create_dataset(path, data=src[()], dtype=src.dtype)
        else:
            dest_file.create_dataset(path, **_dataset_options(src, compression, deflate_as))
        report.nbytes += src.size * src.dtype.itemsize
        return
    dest = dest_file.create_dataset(path, **_dataset_options(src, compression, deflate_as))
    dest.njobs = 1  # one chunk per task: the pool gives the parallelism
    mode = _raw_mode(src, dest)
    if mode is not None:
        _import_raw(src, dest, mode, workers, bar)
    else:
        _import_decoded(src, dest, workers, bar)
    report.nbytes += src.size * src.dtype.itemsize


def _set_attrs(obj, values: dict) -> None:
    """Set attributes, turning one library's ``Empty`` into the other's."""
    lib = None
    for name, value in values.items():
        if type(value).__name__ == "Empty" and hasattr(value, "dtype"):
            if lib is None:
                lib = _h5py() if type(obj).__module__.startswith("h5py") else __import__("dosna_like")
            value = lib.Empty(value.dtype)
        obj.attrs[name] = value


def import_hdf5(src, dest_url, *, storage_options: dict | None = None, overwrite: bool = False,
                skip_unsupported: bool = False, njobs: int | None = None, progress=None,
                compression="keep", deflate_as: str = "gzip") -> TransferReport:
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

    Returns a :class:`TransferReport`.  On failure the destination keeps its
    root mark ``_dosna_like.incomplete``; ``dosna-like ls`` shows it.
    """
    h5py = _h5py()
    from .files import File

    if deflate_as not in ("gzip", "zlib"):
        raise ValueError(f"deflate_as is 'gzip' or 'zlib', not {deflate_as!r}")
    start = time.perf_counter()
    owned = not isinstance(src, h5py.File)
    h5 = h5py.File(src, "r") if owned else src
    try:
        items, attrs, problems = _plan(h5, skip_unsupported)
        report = TransferReport(source=h5.filename, dest=str(dest_url), skipped=problems)
        dest = File(dest_url, "w" if overwrite else "w-", njobs=njobs, storage_options=storage_options)
        try:
            _mark_incomplete(dest, {"source": h5.filename, "started": _now()})
            _copy_items(h5, dest, items, attrs, compression, report, njobs, progress, deflate_as)
            _set_attrs(dest, attrs["/"])
            _mark_incomplete(dest, None)
        finally:
            dest.close()
    finally:
        if owned:
            h5.close()
    report.seconds = time.perf_counter() - start
    return report


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _copy_items(h5, dest, items, attrs, compression, report, njobs, progress, deflate_as) -> None:
    import dosna_like

    total = sum(i.obj.size * i.obj.dtype.itemsize for i in items
                if i.kind == "dataset" and i.obj.shape is not None)
    bar = _progress(total, "import", progress)
    try:
        with _Workers(_worker_count(njobs, dest.store)) as workers:
            for item in items:
                if item.kind == "group":
                    _set_attrs(dest.create_group(item.path), attrs[item.path])
                    report.groups += 1
                elif item.kind == "dataset":
                    _import_dataset(item.obj, dest, item.path, compression, workers, bar, report, deflate_as)
                    report.datasets += 1
                elif item.kind == "datatype":
                    dest[item.path] = item.obj.dtype
            workers.drain()
        report.raw_chunks += workers.counts.get("raw_chunks", 0)
        for item in items:  # attributes and links once the data is in
            if item.kind in ("dataset", "datatype"):
                _set_attrs(dest[item.path], attrs[item.path])
            elif item.kind == "soft":
                dest[item.path] = dosna_like.SoftLink(item.target[0])
                report.links += 1
            elif item.kind == "external":
                dest[item.path] = dosna_like.ExternalLink(*item.target)
                report.links += 1
            elif item.kind == "hard":
                dest[item.path] = dest[item.target[0]]
                report.links += 1
    finally:
        bar.close()


# ================================================================= export
def _h5_compression(ds, compression) -> dict:
    """h5py create_dataset keywords for an exported dataset's codecs."""
    return _codec_options(ds, compression, _kept_h5_codec)


def _kept_h5_codec(ds) -> dict:
    """A dosna_like dataset's compressor as h5py keywords."""
    from .codecs import SUPPORTED

    opts: dict = {}
    name = ds.compression
    if name == "gzip":
        opts = {"compression": "gzip", "compression_opts": ds.compression_opts}
    elif name == "zlib":  # HDF5's own deflate stream (import_hdf5(deflate_as="zlib"))
        level = (ds.compression_opts or {}).get("level", 4) if isinstance(ds.compression_opts, dict) else 4
        opts = {"compression": "gzip", "compression_opts": int(level)}
    elif name == "lz4":
        opts = {"compression": "lzf"}  # h5py's fast, light codec (an import maps lzf to lz4)
    elif name in SUPPORTED or (name is not None and not name.startswith("vlen")):
        opts = {"compression": "gzip", "compression_opts": 4}  # HDF5 has no zstd, blosc... filter
    return opts


def _h5_chunks(ds) -> tuple:
    """The dataset's chunks, cut to what HDF5 accepts (no larger than a fixed maximum)."""
    return tuple(c if m is None else max(1, min(c, m)) for c, m in zip(ds.chunks, ds.maxshape))


def _is_contiguous(doc: dict) -> bool:
    return bool(((doc.get("attributes") or {}).get(RESERVED) or {}).get("h5py_contiguous"))


def _h5_options(ds, doc: dict, compression) -> dict:
    opts = {"shape": ds.shape, "dtype": ds.dtype}
    h5_compression = _h5_compression(ds, compression)
    if ds.shape and not (_is_contiguous(doc) and not h5_compression):
        opts["chunks"] = _h5_chunks(ds)
        if tuple(ds.maxshape) != tuple(ds.shape):
            opts["maxshape"] = ds.maxshape
    opts.update(h5_compression)
    opts.update(fill_option(ds))
    return opts


def _stored_coords(ds) -> list:
    """Chunk coordinates of the chunks a dataset has stored (one listing)."""
    prefix = chunk_key(ds._path, ())
    coords = []
    for key in ds.file.store.list_keys(prefix):
        if not key.startswith(prefix + "/"):
            continue
        tail = key[len(prefix) + 1:]
        try:
            coords.append(tuple(int(x) for x in tail.split("/")))
        except ValueError:
            continue
    return sorted(c for c in coords if len(c) == len(ds.shape))


def _export_raw_mode(ds, h5ds) -> str | None:
    if h5ds.chunks is None or tuple(h5ds.chunks) != tuple(ds.chunks) or ds.dtype.kind not in "biufc":
        return None
    if ds.dtype.str != h5ds.dtype.str or ds.fletcher32 or h5ds.fletcher32:
        return None
    if bool(ds.shuffle) != bool(h5ds.shuffle):
        return None
    wanted = {None: (None, "raw"), "gzip": ("gzip", "deflate"), "zlib": ("gzip", "zlib")}.get(ds.compression)
    if wanted is None or h5ds.compression != wanted[0]:
        return None
    return wanted[1]


def _export_dataset(ds, doc: dict, h5, path: str, compression, workers: _Workers, bar, report) -> None:
    import dosna_like

    h5py = _h5py()
    if ds.shape is None:  # an Empty (null dataspace) dataset
        h5.create_dataset(path, data=h5py.Empty(ds.dtype))
        return
    if ds.shape == ():
        value = ds[()]
        h5.create_dataset(path, data=h5py.Empty(ds.dtype) if isinstance(value, getattr(dosna_like, "Empty", ()))
                          else value, dtype=ds.dtype)
        return
    options = _h5_options(ds, doc, compression)
    contiguous = "chunks" not in options and ds.dtype.kind in "biufc" and ds.size and h5.driver == "sec2"
    if contiguous:  # space allocated now, never pre-filled: the workers write it all through a map
        import h5py as h5py_module

        dcpl = h5py_module.h5p.create(h5py_module.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py_module.h5d.ALLOC_TIME_EARLY)
        options.update(dcpl=dcpl, fill_time="never")
    h5ds = h5.create_dataset(path, **options)
    report.nbytes += ds.size * ds.dtype.itemsize
    if not ds.size:
        return
    ds.njobs = 1  # one chunk per task: the pool gives the parallelism
    if contiguous:
        mapped = _contiguous_map(h5ds, "r+", h5.filename)
        if isinstance(mapped, np.memmap):
            _export_mapped(ds, mapped, workers, bar)
            return
    chunks, itemsize = ds.chunks, ds.dtype.itemsize
    nbytes = int(np.prod(chunks, dtype=np.int64)) * itemsize
    store, mode = ds.file.store, _export_raw_mode(ds, h5ds)

    def box_of(coords):
        return tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, ds.shape))

    def fetch(coords):
        box = box_of(coords)
        if mode is not None:
            raw = store.get(chunk_key(ds._path, coords))
            if raw is not None:
                if mode == "deflate":
                    data = gzip_to_zlib(raw, nbytes)
                elif mode == "zlib":
                    data = bytes(raw)
                else:
                    data = bytes(raw) if len(raw) == nbytes else None
                if data is not None:
                    return coords, box, data, None
        return coords, box, None, ds[box]

    for coords, box, data, block in workers.ordered(fetch, _stored_coords(ds)):
        if data is not None:
            h5ds.id.write_direct_chunk(tuple(s.start for s in box), data, 0)
            report.raw_chunks += 1
        else:
            h5ds[box] = block
        bar.update(_box_nbytes(box, itemsize))


def _export_mapped(ds, mapped: np.memmap, workers: _Workers, bar) -> None:
    """Every chunk of ``ds`` (fill values where none is stored) written into the map by the workers."""
    itemsize = ds.dtype.itemsize

    def copy(box) -> None:
        mapped[box] = ds[box]
        bar.update(_box_nbytes(box, itemsize))

    for _, box in regions(ds.shape, ds.chunks):
        workers.submit(copy, box)
    workers.after(mapped.flush)  # before h5py closes the file


def _export_links(src, h5, doc_paths: list, report) -> None:
    """Soft, external and hard links (group members that are not nodes of their own)."""
    import dosna_like

    h5py = _h5py()
    if not hasattr(dosna_like, "SoftLink"):
        return
    for gpath in doc_paths:
        group = src[gpath] if gpath != "/" else src
        for name in group:
            link = group.get(name, getlink=True)
            target = f"{gpath.rstrip('/')}/{name}"
            if isinstance(link, dosna_like.SoftLink):
                h5[target] = h5py.SoftLink(link.path)
            elif isinstance(link, dosna_like.ExternalLink):
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
        reserved = (node.doc.get("attributes") or {}).get(RESERVED)
        if isinstance(reserved, dict) and reserved.get("links"):
            out.append("/" + path)
    return out


def export_hdf5(src_url, dest_path, *, storage_options: dict | None = None, overwrite: bool = False,
                njobs: int | None = None, progress=None, compression="keep") -> TransferReport:
    """Write the file at ``src_url`` (groups, datasets, attributes, links) to an HDF5 file.

    The HDF5 file is written as ``dest_path + ".partial"`` and renamed at the
    end, so ``dest_path`` only ever holds a complete file.  ``compression``:
    "keep" (gzip and shuffle as they are; codecs HDF5 lacks, such as zstd or
    blosc, become gzip-4), None, a name or a gzip level.  Datasets created
    without chunks in h5py come back contiguous.
    """
    h5py = _h5py()
    from .files import File

    start = time.perf_counter()
    dest_path = os.fspath(dest_path)
    if os.path.exists(dest_path) and not overwrite:
        raise FileExistsError(f"{dest_path} exists (overwrite=True / --overwrite replaces it)")
    partial = dest_path + ".partial"
    with File(src_url, "r", njobs=njobs, storage_options=storage_options) as src:
        nodes = src._state.index.nodes()
        mark = incomplete_mark(nodes[""].doc)
        if mark is not None:
            warnings.warn(f"{src_url} is an unfinished import or copy ({mark}); exporting what is there",
                          stacklevel=2)
        report = TransferReport(source=str(src_url), dest=dest_path)
        total = sum(_doc_nbytes(node.doc) for node in nodes.values() if node.kind == "dataset")
        bar = _progress(total, "export", progress)
        try:
            with h5py.File(partial, "w") as h5, _Workers(_worker_count(njobs, src.store)) as workers:
                _set_attrs(h5, dict(src.attrs.items()))
                for path in sorted(p for p in nodes if p):
                    doc = nodes[path].doc
                    if node_kind(doc) == "datatype":
                        h5[path] = src[path].dtype
                        _set_attrs(h5[path], dict(src[path].attrs.items()))
                    elif doc.get("node_type") == "group":
                        _set_attrs(h5.create_group(path), dict(src[path].attrs.items()))
                        report.groups += 1
                    else:
                        ds = src[path]
                        _export_dataset(ds, doc, h5, path, compression, workers, bar, report)
                        _set_attrs(h5[path], dict(ds.attrs.items()))
                        report.datasets += 1
                workers.drain()  # every task done (and the maps flushed) before h5py closes the file
                _export_links(src, h5, _link_groups(nodes), report)
        finally:
            bar.close()
    os.replace(partial, dest_path)
    report.seconds = time.perf_counter() - start
    return report


# ============================================================ store copy
def copy_store(src_url, dest_url, *, storage_options: dict | None = None,
               dest_storage_options: dict | None = None, overwrite: bool = False,
               njobs: int | None = None, progress=None, path: str = "") -> TransferReport:
    """Copy a file (or the subtree at ``path`` of it) to a new store, chunk objects as they are.

    Documents are copied unchanged (codecs, attributes, links), each array's
    after its chunks; the new file's root gets the subtree's attributes.
    Nothing is decoded: throughput is that of the two stores.
    """
    from .files import File

    start = time.perf_counter()
    report = TransferReport(source=str(src_url), dest=str(dest_url))
    with File(src_url, "r", njobs=njobs, storage_options=storage_options) as src:
        nodes = src._state.index.nodes()
        base = path.strip("/")
        if base and base not in nodes:
            raise KeyError(f"{path!r} does not exist in {src_url}")
        prefix = base + "/" if base else ""
        if base and nodes[base].kind == "dataset":  # one dataset: keep its name
            prefix = posixpath.dirname(base)
            prefix = prefix + "/" if prefix else ""
            wanted = [base]
        else:
            wanted = sorted(p for p in nodes if p.startswith(prefix) and p != base)
        dest = File(dest_url, "w" if overwrite else "w-", njobs=njobs,
                    storage_options=dest_storage_options if dest_storage_options is not None else storage_options)
        try:
            _copy_nodes(src, dest, nodes, base, prefix, wanted, njobs, progress, report)
        finally:
            dest.close()
    report.seconds = time.perf_counter() - start
    return report


def _doc_nbytes(doc: dict) -> int:
    """Logical bytes of an array document (0 for groups and unknown types)."""
    from .index import doc_dtype

    dtype = doc_dtype(doc)
    if dtype is None:
        return 0
    return int(np.prod(doc["shape"], dtype=np.int64)) * dtype.itemsize


def _copy_nodes(src, dest, nodes, base, prefix, wanted, njobs, progress, report) -> None:
    import copy as copymod

    root_doc = copymod.deepcopy(nodes[base].doc) if nodes[base].kind == "group" else None
    _mark_incomplete(dest, {"source": str(src.filename), "started": _now()})
    sstore, dstore, state = src.store, dest.store, dest._state
    arrays = [p for p in wanted if nodes[p].kind == "dataset"]
    total = sum(_doc_nbytes(nodes[p].doc) for p in arrays)
    bar = _progress(total, "copy", progress)
    try:
        with _Workers(_worker_count(njobs, dstore)) as workers:
            def copy_chunk(item):
                old_key, new_key = item
                raw = sstore.get(old_key)
                if raw is not None:
                    dstore.set(new_key, raw)

            for p in wanted:
                new = p[len(prefix):]
                doc = copymod.deepcopy(nodes[p].doc)
                if doc.get("node_type") == "group":
                    state.write_doc(new, doc)
                    report.groups += 1
                    continue
                keys = sstore.list_keys(chunk_key(p, ()))
                for _ in workers.ordered(copy_chunk, [(k, chunk_key(new, ()) + k[len(chunk_key(p, ())):])
                                                       for k in keys]):
                    pass
                state.write_doc(new, doc)  # the document after its chunks
                report.datasets += 1
                report.raw_chunks += len(keys)
                n = _doc_nbytes(doc)
                report.nbytes += n
                bar.update(n)
            workers.drain()
        if root_doc is not None:
            root_doc.setdefault("attributes", {}).setdefault(RESERVED, {}).pop(INCOMPLETE, None)
            state.write_doc("", root_doc)  # the subtree's attributes and links, and no mark
        else:
            _mark_incomplete(dest, None)
    finally:
        bar.close()
