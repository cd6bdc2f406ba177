"""Byte ranges of one HDF5 file, wherever its bytes are: the reads both HDF5
stores share (the file opened in place, and a store importing it by reference).

A *source* is ``("fd", fd)`` for a local file, ``("fs", fs, path)`` for any
fsspec filesystem, ``("buffer", memoryview)`` or ``("fileobj", file)``.

Why merge ranges: an HDF5 writer lays a dataset's chunks out one after the
other, so a window of chunks the engine wants is usually one run of bytes.
On object storage each range is a request (~1 ms of latency and a request
charge); :func:`read_ranges` fetches touching ranges (up to
:data:`MERGE_LIMIT` bytes) with one request and slices the pieces out, while
the runs still go out concurrently.
"""
from __future__ import annotations

import os
import threading

__all__ = ["MERGE_LIMIT", "merged_runs", "read_range", "read_range_async", "read_ranges"]

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


def merged_runs(ranges: list, limit: int | None = None) -> list:
    """Touching ``(offset, size)`` ranges grouped into runs of at most ``limit`` bytes:
    ``[(run offset, run size, [indices of the ranges in it])]``, in file order."""
    limit = MERGE_LIMIT if limit is None else limit
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
