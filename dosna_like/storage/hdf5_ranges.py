"""Byte ranges of one HDF5 file, wherever its bytes are: the reads both HDF5
stores share (the file opened in place, and a store importing it by reference).

A *source* is ``("fd", fd)`` for a local file, ``("fs", fs, path)`` for any
fsspec filesystem, ``("buffer", memoryview)`` or ``("fileobj", file)``.

Why merge ranges: an HDF5 writer lays a dataset's chunks out one after the
other, so a window of chunks the engine wants is usually one run of bytes.
On object storage each range is a request (~1 ms of latency and a request
charge); :func:`read_ranges` fetches touching ranges (up to
:data:`MERGE_LIMIT` bytes) with one request and slices the pieces out, while
the runs still go out concurrently.  :class:`RunFetcher` hands each range of
a run on as soon as the run's bytes arrive, so the chunks of one run are
decoded by several workers at once rather than one after the other by the
worker that received the run (the gzip read on S3 spent its time that way).
"""
from __future__ import annotations

import asyncio
import os
import threading

import numpy as np

from ..config import get_config

__all__ = ["MERGE_LIMIT", "RunFetcher", "merged_runs", "read_range", "read_range_async", "read_ranges", "run_limit"]

MERGE_LIMIT = 8 << 20  # one request covers at most this many bytes of touching ranges
_FILEOBJ_LOCKS: dict = {}
_LOCKS_LOCK = threading.Lock()


def _fileobj_lock(fileobj) -> threading.Lock:
    with _LOCKS_LOCK:
        return _FILEOBJ_LOCKS.setdefault(id(fileobj), threading.Lock())


def read_range(source: tuple, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of the file ``source`` holds (fewer at its end)."""
    kind = source[0]
    if kind == "fd":
        return os.pread(source[1], size, offset)
    if kind == "buffer":
        return bytes(source[1][offset:offset + size])
    if kind == "fs":
        return source[1].cat_file(source[2], start=offset, end=offset + size)
    with _fileobj_lock(source[1]):  # seek + read of one file object must not interleave
        source[1].seek(offset)
        return source[1].read(size)


def run_limit(total: int) -> int:
    """The most bytes one request of a read of ``total`` bytes covers: :data:`MERGE_LIMIT`,
    or ``total / get_config().hdf5_requests_per_read`` when that is larger (a server
    whose cost per request grows with the object's size wants few requests)."""
    cap = get_config().hdf5_requests_per_read
    return MERGE_LIMIT if cap is None else max(MERGE_LIMIT, -(-total // cap))


def merged_runs(ranges: list, limit: int | None = None) -> list:
    """Touching ``(offset, size)`` ranges grouped into runs of at most ``limit`` bytes
    (default :func:`run_limit` of their total):
    ``[(run offset, run size, [indices of the ranges in it])]``, in file order."""
    limit = run_limit(sum(size for _, size in ranges)) if limit is None else limit
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    runs: list = []
    for i in order:
        offset, size = ranges[i]
        if runs:
            start, length, members = runs[-1]
            if offset == start + length and length + size <= limit:
                runs[-1] = (start, length + size, members + [i])
                continue
        runs.append((offset, size, [i]))
    return runs


def read_ranges(source: tuple, ranges: list, concurrency: int = 32) -> list:
    """The bytes of each ``(offset, size)`` in ``ranges`` (same order).

    On an fsspec filesystem touching ranges are merged (:func:`merged_runs`)
    and the runs fetched with ``cat_ranges``, ``concurrency`` in flight;
    elsewhere each range is read on its own.  Returns ``(pieces, requests)``.
    """
    if source[0] != "fs":
        return [read_range(source, o, s) for o, s in ranges], len(ranges)
    _, fs, path = source
    runs = merged_runs(ranges)
    fetched = fs.cat_ranges([path] * len(runs), [r[0] for r in runs], [r[0] + r[1] for r in runs],
                            batch_size=concurrency)
    pieces: list = [b""] * len(ranges)
    for (start, _, members), data in zip(runs, fetched):
        view = memoryview(data)
        for i in members:
            offset, size = ranges[i]
            pieces[i] = bytes(view[offset - start:offset - start + size]) if len(members) > 1 else data
    return pieces, len(runs)


async def read_range_async(source: tuple, offset: int, size: int) -> bytes:
    """:func:`read_range` on the event loop of an async fsspec filesystem (``("fs", fs, path)``)."""
    _, fs, path = source
    return await fs._cat_file(path, start=offset, end=offset + size)


class _Run:
    """The bytes of one run as they arrive, and the ranges of it waiting for theirs."""

    def __init__(self):
        self.data = None  # the run's bytes (a buffer filled as they arrive)
        self.ready = 0  # how many of them are in
        self.error: BaseException | None = None
        self.waiters: list = []  # (end within the run, future)
        self.task = None

    def arrived(self, ready: int) -> None:
        self.ready = ready
        still = []
        for end, future in self.waiters:
            if end <= ready:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((end, future))
        self.waiters = still

    def failed(self, exc: BaseException) -> None:
        self.error = exc
        for _, future in self.waiters:
            if not future.done():
                future.set_exception(exc)
        self.waiters = []

    async def until(self, end: int) -> None:
        """Return once the run's first ``end`` bytes are in; raise what stopped its request."""
        if self.error is not None:
            raise self.error
        if self.ready < end:
            future = asyncio.get_running_loop().create_future()
            self.waiters.append((end, future))
            await future


class RunFetcher:
    """The bytes of each of ``ranges`` on the event loop of an async filesystem, one
    request per run of touching ranges (:func:`merged_runs`), at most ``concurrency``
    runs in flight: ``await fetcher.piece(i)`` is range ``i``'s bytes (a view into its
    run's), the run's request started by the first of its ranges asked for.

    Where the filesystem streams a range into a buffer (``streams_ranges`` and
    ``_cat_file_into``: the budgeted filesystem straight on s3fs), a range is handed
    on as soon as its own bytes are in, not when its whole run is: one large request
    feeds the decoders from its first bytes, so the transfer and the decoding overlap
    even when a read is a single request."""

    def __init__(self, source: tuple, ranges: list, concurrency: int, limit: int | None = None):
        self.source = source
        self.ranges = ranges
        self.runs = merged_runs(ranges, limit)
        self.run_of = {i: r for r, (_, _, members) in enumerate(self.runs) for i in members}
        self.waiting = [len(members) for _, _, members in self.runs]  # ranges of a run not yet handed on
        self.state: dict = {}  # run -> _Run, while ranges of it are still to be handed on
        self.concurrency = concurrency
        self.streams = bool(getattr(source[1], "streams_ranges", False))
        self._slots = None

    def order(self) -> list:
        """The ranges' indices in file order (the order their runs are best asked for)."""
        return [i for _, _, members in self.runs for i in members]

    @property
    def widest_run(self) -> int:
        return max((len(members) for _, _, members in self.runs), default=1)

    async def _fetch_run(self, run: int, state: _Run) -> None:
        if self._slots is None:  # made on the loop it is used on
            self._slots = asyncio.Semaphore(max(1, self.concurrency))
        start, size, _ = self.runs[run]
        try:
            async with self._slots:
                if self.streams:
                    state.data = memoryview(np.empty(size, np.uint8))  # filled before it is read
                    await self.source[1]._cat_file_into(self.source[2], start, state.data, state.arrived)
                else:
                    state.data = await read_range_async(self.source, start, size)
                    state.arrived(len(state.data))
        except BaseException as exc:  # noqa: BLE001 - handed to every range waiting for this run
            state.failed(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def piece(self, i: int):
        run = self.run_of[i]
        state = self.state.get(run)
        if state is None:
            state = self.state[run] = _Run()
            state.task = asyncio.ensure_future(self._fetch_run(run, state))
        start, _, members = self.runs[run]
        offset, size = self.ranges[i]
        try:
            await state.until(offset - start + size)
        finally:
            self.waiting[run] -= 1
            if not self.waiting[run]:
                self.state.pop(run, None)
        if len(members) == 1 and not self.streams:
            return state.data
        return memoryview(state.data)[offset - start:offset - start + size]

    def cancel(self, loop) -> None:
        """Cancel the requests still under way (after an error stopped the ranges' pipeline)."""
        for state in list(self.state.values()):
            loop.call_soon_threadsafe(state.task.cancel)
        self.state.clear()

