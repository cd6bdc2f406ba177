"""An in-memory async filesystem that adds a fixed latency to every call.

It stands in for a distant object store when measuring how well the engine
hides latency: ``max_in_flight`` and ``mean_in_flight`` report how many
requests were outstanding at once, ``mean_chunks_in_flight`` the same for
requests on chunk keys alone.  Registered with fsspec as ``slowmem://``.

    fs = SlowMemoryFileSystem(latency=0.025)
    File("slowmem://bucket/run.h5", "w")
"""
from __future__ import annotations

import asyncio
import threading
import time

import fsspec
from fsspec.asyn import AsyncFileSystem


class SlowMemoryFileSystem(AsyncFileSystem):
    protocol = "slowmem"
    cachable = True
    root_marker = ""

    def __init__(self, latency: float = 0.025, **kwargs):
        super().__init__(asynchronous=False, **kwargs)
        self.latency = latency
        self.store: dict = {}
        self._gauge_lock = threading.Lock()
        self.reset_stats()

    # ------------------------------------------------------------ stats
    def reset_stats(self) -> None:
        with self._gauge_lock:
            self.in_flight = 0
            self.max_in_flight = 0
            self.calls = 0
            self._area = 0.0  # integral of in-flight over time
            self._busy = 0.0  # time with at least one call in flight
            self.chunks_in_flight = 0  # the same for calls on chunk keys only
            self._chunk_area = 0.0
            self._chunk_busy = 0.0
            self._last = time.perf_counter()

    def _tick(self, delta: int, chunk: bool = False) -> None:
        with self._gauge_lock:
            now = time.perf_counter()
            if self.in_flight:
                self._area += self.in_flight * (now - self._last)
                self._busy += now - self._last
            if self.chunks_in_flight:
                self._chunk_area += self.chunks_in_flight * (now - self._last)
                self._chunk_busy += now - self._last
            self._last = now
            self.in_flight += delta
            self.chunks_in_flight += delta if chunk else 0
            self.calls += delta > 0
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    @property
    def mean_in_flight(self) -> float:
        """Average number of calls in flight while any was."""
        return self._area / self._busy if self._busy else 0.0

    @property
    def mean_chunks_in_flight(self) -> float:
        """Average number of calls on chunk keys (Zarr v3's ``.../c/...``) in flight while
        any was: the fetch pipeline alone, without the node documents an open reads first
        (one or two requests at a time, which no pipeline can overlap with the chunks)."""
        return self._chunk_area / self._chunk_busy if self._chunk_busy else 0.0

    async def _call(self, path: str = ""):
        chunk = "/c/" in "/" + self._strip_protocol(path)
        self._tick(+1, chunk)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self._tick(-1, chunk)

    # ------------------------------------------------------- filesystem
    @classmethod
    def _strip_protocol(cls, path):
        path = path[len("slowmem://"):] if path.startswith("slowmem://") else path
        return path.strip("/")

    async def _cat_file(self, path, start=None, end=None, **kwargs):
        await self._call(path)
        path = self._strip_protocol(path)
        if path not in self.store:
            raise FileNotFoundError(path)
        return self.store[path][start:end]

    async def _pipe_file(self, path, value, **kwargs):
        await self._call(path)
        self.store[self._strip_protocol(path)] = bytes(value)

    async def _rm_file(self, path, **kwargs):
        await self._call(path)
        self.store.pop(self._strip_protocol(path), None)

    async def _rm(self, path, recursive=False, **kwargs):
        """One call per path, the calls concurrent (as object stores' bulk deletes and
        fsspec's own ``_rm`` of a list are), so a list costs one latency, not one per path."""
        paths = [path] if isinstance(path, str) else path

        async def one(p):
            p = self._strip_protocol(p)
            doomed = [k for k in self.store if k == p or (recursive and k.startswith(p + "/"))]
            if not doomed and not recursive:
                raise FileNotFoundError(p)
            await self._call()
            for k in doomed:
                self.store.pop(k, None)

        await asyncio.gather(*(one(p) for p in paths))

    async def _info(self, path, **kwargs):
        await self._call()
        path = self._strip_protocol(path)
        if path in self.store:
            return {"name": path, "size": len(self.store[path]), "type": "file"}
        if any(k.startswith(path + "/") for k in self.store) or path == "":
            return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)

    async def _ls(self, path, detail=True, **kwargs):
        await self._call()
        path = self._strip_protocol(path)
        prefix = path + "/" if path else ""
        entries = {}
        for k, v in self.store.items():
            if k.startswith(prefix):
                head, _, rest = k[len(prefix):].partition("/")
                name = prefix + head
                entries[name] = {"name": name, "size": 0 if rest else len(v),
                                 "type": "directory" if rest else "file"}
        if not entries and path not in self.store:
            raise FileNotFoundError(path)
        return list(entries.values()) if detail else sorted(entries)

    async def _find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        """Every file below ``path`` in one call, as an object store lists a prefix
        (fsspec's default walks one directory per call, one after the other)."""
        await self._call()
        path = self._strip_protocol(path)
        prefix = path + "/" if path else ""
        found = {k: {"name": k, "size": len(v), "type": "file"}
                 for k, v in self.store.items() if k == path or k.startswith(prefix)}
        return found if detail else sorted(found)


fsspec.register_implementation("slowmem", SlowMemoryFileSystem, clobber=True)
