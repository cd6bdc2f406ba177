"""An fsspec filesystem whose reads run under the S3 retry budget.

Why: an HDF5 file opened in place (:mod:`.hdf5_open`) and a store importing
one by reference read it through fsspec directly (``info``, ``cat_file``,
``cat_ranges``, and h5py's metadata walk through a file object), not through
a :class:`~.s3.S3Store`; those reads would otherwise run under botocore's
and s3fs's own stacked retry loops, or, with them turned off as the S3 back
end turns them off, under none.  :class:`BudgetedFilesystem` wraps the
filesystem :func:`~.registry.filesystem_for` returns for an ``s3://`` URL
(also under cache layers, ``simplecache::s3://...``) so that each of those
requests gets :class:`~.retrying.RetryBudget`'s attempts and seconds and ends
in the same builtin errors.

On an async filesystem (s3fs) each attempt is its coroutine on fsspec's
loop, cut off when its time is spent.  A synchronous layer (a cache) is
called in a thread: the budget stops waiting for an attempt that outlives
it, and the thread ends when the client's own socket timeout does.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from fsspec.asyn import sync_wrapper

from .fsspec_store import one_request_kwargs
from .pipeline import call_on_loop
from .retrying import RequestRefused, RetryBudget, TruncatedBodyError

__all__ = ["BudgetedFilesystem", "RangeReader", "check_downloads"]

# h5py reads an HDF5 file's metadata in small pieces: fetch ahead as much as the
# filesystem's own files would (s3fs: 50 MiB read-ahead), else this
_READ_AHEAD = 5 << 20
_LAYER_THREADS = ThreadPoolExecutor(8, thread_name_prefix="dosna-budget")


def check_downloads(s3fs) -> None:
    """Make the cache layers' fetches from ``s3fs`` whole or an error.

    * ``simplecache`` fetches an object into its local file with s3fs's
      ``get_file``, which writes whatever body arrives straight into that file
      and never compares it with the ``Content-Length``: a cut connection left
      a short copy that every later read of the object got.  The download is
      made here instead, into a temporary file renamed into place only when
      its length is the one announced, else
      :class:`~.retrying.TruncatedBodyError`, which the retry budget retries.
    * ``blockcache`` fetches blocks with ``cat_ranges(on_error="return")`` and
      copies each result into its cache file, an exception included (a
      ``TypeError`` that hides the I/O error): here a failed range raises.
    """
    if getattr(s3fs, "_get_file", None) is None or hasattr(s3fs, "_dosna_checked"):
        return
    s3fs._get_file = functools.partial(_checked_get_file, s3fs)
    s3fs.get_file = sync_wrapper(s3fs._get_file, obj=s3fs)  # fsspec bound the old one at start
    cat_ranges = s3fs.cat_ranges
    s3fs.cat_ranges = lambda *args, **kwargs: cat_ranges(*args, **{**kwargs, "on_error": "raise"})
    s3fs._dosna_checked = True


async def _checked_get_file(s3fs, rpath: str, lpath: str, callback=None, version_id=None, **kwargs) -> None:
    if os.path.isdir(lpath):
        return
    bucket, key, vers = s3fs.split_path(rpath)
    version = {"VersionId": version_id or vers} if (version_id or vers) else {}
    resp = await s3fs._call_s3("get_object", Bucket=bucket, Key=key, **version, **s3fs.req_kw)
    expected, done = resp.get("ContentLength"), 0
    partial = f"{lpath}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        with open(partial, "wb") as out:
            async with resp["Body"] as body:
                while True:
                    piece = await body.read(1 << 20)
                    if not piece:
                        break
                    out.write(piece)
                    done += len(piece)
        if expected is not None and done != expected:
            raise TruncatedBodyError(f"got {done} of {expected} bytes of {rpath}")
        os.replace(partial, lpath)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)


class BudgetedFilesystem:
    """``fs`` with ``info``, ``cat_file``, ``cat_ranges``, ``open`` (reading) and
    ``pipe_file`` under ``budget``; every other attribute is ``fs``'s.

    Parameters
    ----------
    fs: the filesystem fsspec opened for the URL (its outer layer when chained).
    inner_fs: the async filesystem underneath (s3fs), whose loop runs the budget.
    budget: attempts and seconds per request.
    """

    def __init__(self, fs, inner_fs, budget: RetryBudget):
        self.fs = fs
        self.inner_fs = inner_fs
        self.budget = budget
        self._native = fs is inner_fs and bool(getattr(fs, "async_impl", False))
        # ranged GETs read in pieces (``_cat_file_into``): s3fs itself, no cache layer above it
        self.streams_ranges = self._native and hasattr(fs, "_call_s3")
        self._cat_kwargs = one_request_kwargs(fs) if self._native else {}
        if not self._native:
            check_downloads(inner_fs)

    def __getattr__(self, name):
        return getattr(self.fs, name)

    def __repr__(self) -> str:
        return f"<BudgetedFilesystem {self.fs!r} {self.budget}>"

    def _url(self, path: str) -> str:
        return self.fs.unstrip_protocol(path)

    def _attempt(self, name: str, *args, **kwargs):
        """A coroutine factory for one try of ``fs.<name>(*args, **kwargs)``."""
        if self._native:
            method = getattr(self.fs, "_" + name)
            return lambda: method(*args, **kwargs)
        call = functools.partial(getattr(self.fs, name), *args, **kwargs)
        return lambda: asyncio.get_running_loop().run_in_executor(_LAYER_THREADS, call)

    def _run(self, op: str, path: str, name: str, *args, **kwargs):
        return call_on_loop(self.inner_fs.loop, self.budget.run, op, self._url(path),
                            self._attempt(name, *args, **kwargs))

    def info(self, path: str, **kwargs) -> dict:
        return self._run("HEAD", path, "info", path, **kwargs)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs) -> bytes:
        return call_on_loop(self.inner_fs.loop, self._cat_file, path, start, end, **kwargs)

    async def _cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs) -> bytes:
        """One budgeted GET on the filesystem's event loop: what the HDF5 reader's request
        pipeline awaits (``fs._cat_file`` of the wrapped filesystem would bypass the budget)."""
        return await self.budget.run("GET", self._url(path), self._attempt(
            "cat_file", path, start=start, end=end, **{**self._cat_kwargs, **kwargs}))

    async def _cat_file_into(self, path: str, start: int, buffer, arrived) -> None:
        """Bytes ``start`` to ``start + len(buffer)`` of ``path`` into ``buffer`` (a writable
        byte memoryview) with one budgeted GET, ``arrived(n)`` called whenever the first
        ``n`` bytes are in: a caller decodes what has arrived while the rest is on the way.
        On s3fs the body is read in pieces; an attempt that ends early (a cut connection)
        is retried for the bytes still missing.  Elsewhere the whole range arrives at once."""
        size = len(buffer)
        if not self.streams_ranges:
            data = await self._cat_file(path, start, start + size)
            if len(data) != size:
                raise _ended(self._url(path), start, len(data), size)
            buffer[:] = data
            arrived(size)
            return
        bucket, key, version = self.fs.split_path(path)
        extra = {"VersionId": version} if version else {}
        done = [0]

        async def attempt() -> None:
            first = done[0]
            resp = await self.fs._call_s3("get_object", Bucket=bucket, Key=key,
                                          Range=f"bytes={start + first}-{start + size - 1}", **extra)
            body, length = resp["Body"], resp.get("ContentLength")
            if length is not None and length < size - first:
                body.close()
                raise _ended(self._url(path), start + first, length, size - first)
            try:
                while done[0] < size:
                    piece = await body.read(size - done[0])  # what has arrived, up to the rest
                    if not piece:
                        break
                    buffer[done[0]:done[0] + len(piece)] = piece
                    done[0] += len(piece)
                    arrived(done[0])
            finally:
                body.close()
            if done[0] != size:
                raise TruncatedBodyError(f"got {done[0] - first} of {size - first} bytes")
        await self.budget.run("GET", self._url(path), attempt)

    def pipe_file(self, path: str, value, **kwargs) -> None:
        return self._run("PUT", path, "pipe_file", path, value, **kwargs)

    def cat_ranges(self, paths: list, starts: list, ends: list, batch_size: int = 32, **kwargs) -> list:
        """Each range under its own budget, ``batch_size`` in flight; the first failure raises."""
        kwargs.pop("on_error", None)

        async def every():
            room = asyncio.Semaphore(max(1, batch_size))

            async def one(path, start, end):
                async with room:
                    return await self._cat_file(path, start, end, **kwargs)
            return await asyncio.gather(*(one(*r) for r in zip(paths, starts, ends)))
        return call_on_loop(self.inner_fs.loop, every)

    def open(self, path: str, mode: str = "rb", **kwargs):
        """A read-only file object whose reads are budgeted ``cat_file`` ranges."""
        if mode != "rb":
            raise ValueError(f"a budgeted filesystem opens files for reading ('rb'), not {mode!r}")
        size = int(self.info(path).get("size") or 0)
        raw = RangeReader(lambda start, end: self.cat_file(path, start=start, end=end), size)
        ahead = kwargs.get("block_size") or getattr(self.fs, "default_block_size", None) or _READ_AHEAD
        return io.BufferedReader(raw, buffer_size=int(ahead))


def _ended(url: str, start: int, got: int, size: int) -> OSError:
    """The object is shorter than a range asked of it (not retried: it will not grow)."""
    return RequestRefused(errno.EIO, f"S3 GET {url}: {got} of {size} bytes at {start}: the object ends there")


class RangeReader(io.RawIOBase):
    """A seekable binary file of ``size`` bytes read with ``fetch(start, end)``."""

    def __init__(self, fetch, size: int):
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self._size, self._pos + len(view))
        if end <= self._pos:
            return 0
        data = self._fetch(self._pos, end)
        view[:len(data)] = data
        self._pos += len(data)
        return len(data)
