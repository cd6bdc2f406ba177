"""Key/value access to a store root through fsspec.

``Store`` turns a URL plus ``storage_options`` into an fsspec filesystem and a
root path (``fsspec.core.url_to_fs``, so chained URLs such as
``simplecache::s3://...`` work) and offers the small contract the rest of the
library needs: get, set, delete, list, each also batched.  Batches run
concurrently: on async filesystems (s3fs...) through fsspec's own event loop,
elsewhere in a thread pool.  Writes to a read-only store are refused here, in
one place.  Every request is counted so tests and benchmarks can check
request economy.
"""
from __future__ import annotations

import functools
import inspect
import os
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Mapping

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from ..errors import ReadOnlyError, StoreUnreachableError



DEFAULT_IO_CONCURRENCY = 32


_HAS_PREADV = hasattr(os, "preadv")
_IOV_MAX = 1024  # Linux's limit on buffers per preadv call


def _vectored_all(call, fd: int, buffers: list, offset: int) -> None:
    """Run ``call`` (``os.preadv`` or ``os.pwritev``) until every buffer is
    done, resuming after short transfers; ValueError if one makes no progress."""
    buffers = list(buffers)
    i = 0
    while i < len(buffers):
        done = call(fd, buffers[i:i + _IOV_MAX], offset)
        if done <= 0:
            raise ValueError("file ended early" if call is os.preadv else "nothing written")
        offset += done
        while i < len(buffers) and done >= len(buffers[i]):
            done -= len(buffers[i])
            i += 1
        if done:
            buffers[i] = buffers[i][done:]


def _preadv_all(fd: int, buffers: list, offset: int) -> None:
    """Fill ``buffers`` from ``fd`` at ``offset``."""
    _vectored_all(os.preadv, fd, buffers, offset)


def _pwritev_all(fd: int, buffers: list, offset: int) -> None:
    """Write ``buffers`` to ``fd`` at ``offset``."""
    _vectored_all(os.pwritev, fd, buffers, offset)


def local_name(name) -> str:
    """Plain paths (no URL scheme) are local directories, made absolute."""
    name = os.fspath(name)
    if "://" in name or "::" in name:
        return name
    return os.path.abspath(name)


class RequestCounter:
    """Thread-safe counts of store requests by kind (get, put, delete, list, head)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter = Counter()

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def _is_missing(exc: BaseException) -> bool:
    return isinstance(exc, (FileNotFoundError, KeyError))


def _as_builtin(exc: BaseException, url: str) -> BaseException:
    """Client-library errors (botocore...) as the builtin a user catches."""
    if isinstance(exc, OSError):
        return exc
    name = type(exc).__name__
    if "Credential" in name or "Signature" in name:
        return PermissionError(f"{url}: {exc}")
    if "Connect" in name or "Timeout" in name or "Endpoint" in name:
        return StoreUnreachableError(f"{url}: {exc}")
    return exc


def _translating(method):
    """Make a Store method raise builtins for client-library errors."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            translated = _as_builtin(exc, self.url)
            if translated is exc:
                raise
            raise translated from exc

    return wrapper


class Store:
    """A store root: keys are '/'-separated paths relative to it.

    Parameters
    ----------
    url: a local path or any fsspec URL.
    storage_options: passed to the fsspec filesystem (e.g. s3fs ``key``, ``secret``,
        ``client_kwargs``).
    read_only: refuse every write.
    io_concurrency: how many requests a batch keeps in flight.
    """

    def __init__(
        self,
        url: str,
        storage_options: Mapping | None = None,
        *,
        read_only: bool = False,
        io_concurrency: int = DEFAULT_IO_CONCURRENCY,
    ):
        self.url = str(url)
        options = dict(storage_options or {})
        if self.url.startswith(("s3://", "s3a://")):
            # another writer may change the bucket: never answer listings from a stale cache
            options.setdefault("use_listings_cache", False)
        self.fs, root = fsspec.core.url_to_fs(self.url, **options)
        self.root = root.rstrip("/")
        self.read_only = read_only
        self.io_concurrency = io_concurrency
        self.requests = RequestCounter()
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.is_memory = isinstance(self.fs, MemoryFileSystem)
        self._async = bool(getattr(self.fs, "async_impl", False))
        # s3fs HEADs an object before a GET to split large ones; chunks are small
        # enough for one GET, so turn the split (and its HEAD) off
        cat = getattr(self.fs, "_cat_file", None)
        self._cat_kwargs = (
            {"max_concurrency": 1}
            if cat is not None and "max_concurrency" in inspect.signature(cat).parameters else {}
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._made_dirs: set = set()

    # ------------------------------------------------------------ helpers
    def path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("no write intent on file")

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.io_concurrency, thread_name_prefix="dosna-io")
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    # --------------------------------------------------------------- reads
    @_translating
    def get(self, key: str) -> bytes | None:
        """The bytes stored at ``key``, or None when there is no such object."""
        self.requests.add("get")
        try:
            if self.is_local:
                with open(self.path(key), "rb") as fh:
                    return fh.read()
            if self.is_memory:  # the stored bytes themselves: cat_file would copy them
                entry = self.fs.store.get(self.fs._strip_protocol(self.path(key)))
                return None if entry is None else entry.getvalue()
            return self.fs.cat_file(self.path(key), **self._cat_kwargs)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    @property
    def can_read_into(self) -> bool:
        """:meth:`read_into` and :meth:`write_from` work here (local files, ``preadv``/``pwritev``)."""
        return self.is_local and _HAS_PREADV and hasattr(os, "pwritev")

    @_translating
    def read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        """Scatter parts of the object at ``key`` straight into caller buffers.

        ``ranges`` holds ``(offset, buffers)`` pairs: the bytes from ``offset``
        on fill ``buffers`` (writable memoryviews) in order, with one ``preadv``
        call per pair, so no intermediate ``bytes`` object is made.  Local
        stores only (:attr:`can_read_into`).  Returns False when there is no
        such object; raises ValueError when it is not ``nbytes`` long.
        """
        self.requests.add("get")
        try:
            fd = os.open(self.path(key), os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        try:
            size = os.fstat(fd).st_size
            if size != nbytes:
                raise ValueError(f"stored {size} bytes, expected {nbytes}")
            for offset, buffers in ranges:
                _preadv_all(fd, buffers, offset)
        finally:
            os.close(fd)
        return True

    @_translating
    def get_many(self, keys: Iterable[str]) -> dict:
        """Fetch many keys concurrently; missing keys are left out of the result."""
        keys = list(keys)
        if not keys:
            return {}
        if len(keys) == 1:
            value = self.get(keys[0])
            return {} if value is None else {keys[0]: value}
        if self._async:
            self.requests.add("get", len(keys))
            # cat_ranges issues one GET per key; the list form of cat() would HEAD each first.
            results = self.fs.cat_ranges(
                [self.path(k) for k in keys], None, None,
                batch_size=self.io_concurrency, on_error="return", **self._cat_kwargs,
            )
            out = {}
            for key, res in zip(keys, results):
                if isinstance(res, BaseException):
                    if _is_missing(res):
                        continue
                    raise res
                out[key] = res
            return out
        fetched = self._threads().map(self.get, keys)
        return {k: v for k, v in zip(keys, fetched) if v is not None}

    @_translating
    def exists(self, key: str) -> bool:
        self.requests.add("head")
        return self.fs.exists(self.path(key))

    @_translating
    def list_dir(self, prefix: str) -> list:
        """Names of the entries directly under ``prefix`` (one LIST, delimiter-style)."""
        self.requests.add("list")
        base = self.path(prefix)
        try:
            if self.is_local:
                return [e.name for e in os.scandir(base)]
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_children(self, prefix: str) -> list:
        """Sorted names directly under ``prefix`` that hold a ``zarr.json`` (child nodes)."""
        return sorted(self.get_children(prefix, "zarr.json"))

    def get_children(self, prefix: str, name: str) -> dict:
        """``{child: bytes of child/name}`` for the entries under ``prefix`` that hold ``name``.

        One listing plus one concurrent batch of GETs, however many children
        there are (a recursive listing would walk into every child).
        """
        children = [n for n in self.list_dir(prefix) if n != name and not n.endswith(".partial")]
        keys = {(f"{prefix}/{n}" if prefix else n) + "/" + name: n for n in children}
        return {keys[k]: raw for k, raw in self.get_many(keys).items()}

    @_translating
    def list_keys(self, prefix: str) -> list:
        """Every key under ``prefix`` (used by rare maintenance calls, not the read path)."""
        self.requests.add("list")
        base = self.path(prefix)
        try:
            found = self.fs.find(base, withdirs=False)
        except FileNotFoundError:
            return []
        root = self.root + "/"
        return [p[len(root):] if p.startswith(root) else p for p in found if not p.endswith(".partial")]

    # -------------------------------------------------------------- writes
    @_translating
    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` at ``key`` atomically (local: temp file + rename)."""
        self._check_writable()
        self.requests.add("put")
        path = self.path(key)
        if self.is_local:
            parent = os.path.dirname(path)
            if parent not in self._made_dirs:
                os.makedirs(parent, exist_ok=True)
                self._made_dirs.add(parent)
            tmp = f"{path}.{uuid.uuid4().hex}.partial"
            with open(tmp, "wb") as fh:
                fh.write(value)
            os.replace(tmp, path)
        else:
            self.fs.pipe_file(path, bytes(value))

    @_translating
    def write_from(self, key: str, ranges: list) -> None:
        """Store an object gathered from caller buffers, atomically (local stores only).

        ``ranges`` holds ``(offset, buffers)`` pairs: the object's bytes from
        ``offset`` on are ``buffers`` (memoryviews) in order, written with one
        ``pwritev`` call per pair, so the object is never assembled in memory.
        """
        self._check_writable()
        self.requests.add("put")
        path = self.path(key)
        parent = os.path.dirname(path)
        if parent not in self._made_dirs:
            os.makedirs(parent, exist_ok=True)
            self._made_dirs.add(parent)
        tmp = f"{path}.{uuid.uuid4().hex}.partial"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            for offset, buffers in ranges:
                _pwritev_all(fd, buffers, offset)
        except BaseException:
            os.close(fd)
            os.remove(tmp)
            raise
        os.close(fd)
        os.replace(tmp, path)

    @_translating
    def set_many(self, items: Mapping) -> None:
        items = dict(items)
        if not items:
            return
        self._check_writable()
        if len(items) == 1:
            (key, value), = items.items()
            self.set(key, value)
        elif self._async:
            self.requests.add("put", len(items))
            self.fs.pipe({self.path(k): bytes(v) for k, v in items.items()},
                         batch_size=self.io_concurrency)
        else:
            list(self._threads().map(lambda kv: self.set(*kv), items.items()))

    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""
        self.delete_many([key])

    @_translating
    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        self._check_writable()
        self.requests.add("delete", len(keys))
        if self.is_local:
            for key in keys:
                try:
                    os.remove(self.path(key))
                except FileNotFoundError:
                    pass
            return
        paths = [self.path(k) for k in keys]
        try:
            self.fs.rm(paths)
        except FileNotFoundError:
            for p in paths:
                try:
                    self.fs.rm_file(p)
                except FileNotFoundError:
                    pass

    @_translating
    def delete_prefix(self, prefix: str) -> None:
        """Remove everything under ``prefix`` (a node and its children)."""
        self._check_writable()
        self.requests.add("delete")
        path = self.path(prefix)
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        self._made_dirs = {d for d in self._made_dirs if not d.startswith(path)}

    @_translating
    def move_prefix(self, src: str, dest: str) -> None:
        """Move every key under ``src`` to ``dest`` (a node and its children).

        Local directories are renamed.  Elsewhere the objects are copied (server
        side on S3), documents last, then removed, documents first, so neither
        place ever shows a node whose chunks are missing.
        """
        self._check_writable()
        if self.is_local:
            os.makedirs(os.path.dirname(self.path(dest)), exist_ok=True)
            os.rename(self.path(src), self.path(dest))
            self._made_dirs.clear()
            return
        keys = sorted(self.list_keys(src), key=lambda k: k.endswith("zarr.json"))
        self.requests.add("put", len(keys))
        moved = [dest + k[len(src):] for k in keys]
        if keys:
            self.fs.copy([self.path(k) for k in keys], [self.path(k) for k in moved])
        self.delete_many(sorted(keys, key=lambda k: not k.endswith("zarr.json")))

    @_translating
    def is_empty_root(self) -> bool:
        """True when nothing at all is stored at the root."""
        self.requests.add("list")
        try:
            return not self.fs.exists(self.root) or not self.fs.ls(self.root)
        except FileNotFoundError:
            return True
