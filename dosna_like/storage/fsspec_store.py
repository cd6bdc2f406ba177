"""Any fsspec filesystem as a store: the generic back end.

Batches are what make a distant store fast: on an async filesystem
(``async_impl``: s3fs, the latency test store...) every batch is a
continuous pipeline on fsspec's own event loop (:mod:`.pipeline`) keeping
``io_concurrency`` requests in flight until it is done; elsewhere a thread
pool does.  For a chained URL whose outer layers are a
cache (``simplecache::...``), content goes through the outer filesystem (so
the cache serves repeated reads) while listings go to the innermost one,
which is the truth about what exists.  Such a cache keeps its copy of an
object it fetched even after the object is deleted or rewritten: this store
drops its copies of what it writes or deletes itself (:func:`forget_cached`),
but a change made by another process or handle is not seen until the cache
is cleared (fsspec's simplecache is meant for read-mostly data, as the README
says).
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import threading
import weakref

from .base import Store, is_missing
from .pipeline import Submit, inline_submit, polling_guard, run_pipeline

__all__ = ["FsspecStore", "forget_cached", "one_request_kwargs"]

_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def forget_cached(fs, paths: list) -> None:
    """Drop the local copies that the cache layers of ``fs`` (fsspec's caching filesystems:
    ``simplecache``, ``filecache``, ``blockcache``) keep of ``paths``."""
    layer = fs
    while layer is not None:
        storage, mapper = getattr(layer, "storage", None), getattr(layer, "_mapper", None)
        if isinstance(storage, list) and callable(mapper):
            for path in paths:
                path = layer._strip_protocol(path)
                with contextlib.suppress(FileNotFoundError, PermissionError):
                    layer.pop_from_cache(path)  # the layers that keep metadata (filecache, blockcache)
                for folder in storage:  # simplecache keeps none: its copy is a file named by the mapper
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(folder, mapper(path)))
        layer = getattr(layer, "fs", None)


def one_request_kwargs(fs) -> dict:
    """``cat_file`` keywords for one GET: s3fs HEADs an object before a GET to split
    large ones; chunks and HDF5 ranges are small enough for one GET, so the split
    (and its HEAD) is turned off."""
    cat = getattr(fs, "_cat_file", None)
    return {"max_concurrency": 1} if cat is not None and "max_concurrency" in inspect.signature(cat).parameters \
        else {}


def _keeps_shared_metadata(fs) -> bool:
    """Whether a layer of ``fs`` is a cache whose metadata file its threads share unguarded
    (fsspec's ``blockcache`` and ``filecache``: concurrent reads raise ``KeyError`` from it;
    ``simplecache`` keeps none)."""
    layer = fs
    while layer is not None:
        protocols = layer.protocol if isinstance(layer.protocol, (tuple, list)) else (layer.protocol,)
        if callable(getattr(layer, "pop_from_cache", None)) and "simplecache" not in protocols:
            return True
        layer = getattr(layer, "fs", None)
    return False


class _Serialised:
    """A filesystem whose method calls take turns (one lock per filesystem object)."""

    _locks: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    def __init__(self, fs):
        self.fs = fs
        self._lock = self._locks.setdefault(fs, threading.RLock())

    def __getattr__(self, name):
        value = getattr(self.fs, name)
        if not callable(value):
            return value

        def serialised(*args, **kwargs):
            with self._lock:
                return value(*args, **kwargs)
        return serialised


class FsspecStore(Store):
    """A store root on any fsspec filesystem; node documents fingerprinted by MD5.

    Parameters
    ----------
    inner_fs: the filesystem of the URL's innermost protocol, when the URL is a
        chain of layers over the same paths (a cache); listings use it.
    """

    def __init__(self, url: str, root: str, fs, *, inner_fs=None, **settings):
        super().__init__(url, root, fs, **settings)
        self.inner_fs = fs if inner_fs is None else inner_fs
        self.batches_async = bool(getattr(self.inner_fs, "async_impl", False))
        self.object_storage = self.protocol not in ("file", "local", "memory")
        # a chain's outer layers (a cache) are synchronous: its batches run them in threads
        self._through_layers = self.inner_fs is not fs
        if self._through_layers and _keeps_shared_metadata(fs):
            self.fs = _Serialised(fs)
        self._cat_kwargs = one_request_kwargs(fs)

    def _key_of(self, path: str) -> str:
        """The root-relative key of a path the filesystem reported."""
        path = path.rstrip("/")
        root = self.root + "/"
        return path[len(root):] if path.startswith(root) else path.lstrip("/")

    # --------------------------------------------------------------- reads
    def _get(self, key: str) -> bytes | None:
        try:
            return self.fs.cat_file(self.path(key), **self._cat_kwargs)
        except _MISSING:
            return None

    # The async primitives every batch is made of (the S3 back end adds its retry budget).
    async def _fetch_async(self, key: str):
        if self._through_layers:
            return await asyncio.get_running_loop().run_in_executor(self._threads(), self._get, key)
        try:
            return await self.fs._cat_file(self.path(key), **self._cat_kwargs)
        except _MISSING:
            return None

    async def _store_async(self, key: str, value) -> None:
        """Store ``value`` at ``key``, or delete the key when ``value`` is None."""
        if self._through_layers:
            store = self._set if value is not None else lambda k, _: self._delete_many([k])
            await asyncio.get_running_loop().run_in_executor(self._threads(), store, key, value)
        elif value is None:
            try:
                await self.fs._rm_file(self.path(key))
            except FileNotFoundError:
                pass
        else:
            await self.fs._pipe_file(self.path(key), bytes(value))

    def _get_many(self, keys: list) -> dict:
        if not self.batches_async:
            return super()._get_many(keys)
        out: dict = {}
        self._get_each(keys, out.__setitem__, inline_submit)
        return {k: v for k, v in out.items() if v is not None}

    def _get_each(self, keys: list, handle, submit: Submit, room: int | None = None) -> None:
        if not self.batches_async:
            super()._get_each(keys, handle, submit, room)
            return
        run_pipeline(self.inner_fs.loop, keys, handle, submit, limit=self.io_concurrency, fetch=self._fetch_async,
                     room=room)

    def _transform_each(self, keys: list, handle, submit: Submit, fetch: set, lock_of) -> None:
        if not self.batches_async:
            super()._transform_each(keys, handle, submit, fetch, lock_of)
            return

        async def fetch_wanted(key):
            return await self._fetch_async(key) if key in fetch else None

        async def store(key, value):
            self.requests.add("delete" if value is None else "put")  # known once the worker decided
            await self._store_async(key, value)

        run_pipeline(self.inner_fs.loop, keys, handle, submit, limit=self.io_concurrency, fetch=fetch_wanted,
                     finish=store, guard=None if lock_of is None else polling_guard(lock_of))

    def _get_range(self, key: str, start: int, stop: int | None) -> bytes | None:
        try:
            return self.fs.cat_file(self.path(key), start=start, end=stop, **self._cat_kwargs)
        except _MISSING:
            return None

    def _get_ranges(self, requests: list) -> list:
        if not self.batches_async or len(requests) == 1:
            return super()._get_ranges(requests)
        try:
            results = self.fs.cat_ranges(
                [self.path(k) for k, _, _ in requests], [r[1] for r in requests], [r[2] for r in requests],
                batch_size=self.io_concurrency, on_error="return", **self._cat_kwargs)
        except _MISSING:  # a cache layer fails the batch whole for one missing object
            return super()._get_ranges(requests)
        out = []
        for res in results:
            if isinstance(res, BaseException):
                if not is_missing(res):
                    raise res
                res = None
            out.append(res)
        return out

    def _exists(self, key: str) -> bool:
        return self.inner_fs.exists(self.path(key))

    def _list_entries(self, prefix: str) -> list:
        try:
            entries = self.inner_fs.ls(self.path(prefix), detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [(e["name"].rstrip("/").rsplit("/", 1)[-1], e.get("type") == "directory") for e in entries]

    def _list_keys(self, prefix: str) -> list:
        try:
            found = self.inner_fs.find(self.path(prefix), withdirs=False)
        except FileNotFoundError:
            return []
        return sorted(self._key_of(p) for p in found)

    def _list_sizes(self, prefix: str) -> dict:
        try:
            found = self.inner_fs.find(self.path(prefix), withdirs=False, detail=True)
        except FileNotFoundError:
            return {}
        return {self._key_of(p): int(info.get("size") or 0) for p, info in found.items()}

    def _is_empty_root(self) -> bool:
        try:
            return not self.inner_fs.ls(self.root)  # a missing root raises: empty too
        except FileNotFoundError:
            return True

    # -------------------------------------------------------------- writes
    def _set(self, key: str, value) -> None:
        self.fs.pipe_file(self.path(key), bytes(value))
        self._forget_cached([key])

    def _forget_cached(self, keys: list) -> None:
        """After this store changed ``keys``: a chain's cache layers forget their copies."""
        if self._through_layers and keys:
            forget_cached(self.fs, [self.path(k) for k in keys])

    def _set_many(self, items: dict) -> None:
        if not self.batches_async:
            super()._set_many(items)
            return
        run_pipeline(self.inner_fs.loop, list(items), lambda key, _: items[key], inline_submit,
                     limit=self.io_concurrency, finish=self._store_async)

    def _delete_many(self, keys: list) -> None:
        paths = [self.path(k) for k in keys]
        try:
            self.fs.rm(paths)
        except FileNotFoundError:
            for p in paths:
                try:
                    self.fs.rm_file(p)
                except FileNotFoundError:
                    pass
        self._forget_cached(keys)

    def _delete_prefix(self, prefix: str) -> None:
        cached = FsspecStore._list_keys(self, prefix) if self._through_layers else []
        try:
            self.fs.rm(self.path(prefix), recursive=True)
        except FileNotFoundError:
            pass
        self._forget_cached(cached)

    def _copy_keys(self, keys: list, dests: list) -> None:
        try:
            self.fs.copy([self.path(k) for k in keys], [self.path(k) for k in dests])
        except NotImplementedError:  # a filesystem without copies: through this process
            super()._copy_keys(keys, dests)
            return
        self._forget_cached(dests)
        self.requests.add("put", len(keys))
