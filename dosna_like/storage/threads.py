"""The I/O threads every store of the process shares, one set per ``io_concurrency``.

Why shared: a pool per store started (and at close joined) its threads on
every ``File``; on a loaded 2-core machine that was about 2 ms per thread,
so reopening a file of 100 small datasets and walking it spent ~30 ms
starting 15 threads, more than h5py's whole walk.  The threads stay for the
life of the process, as the chunk pools of ``chunks/pools.py`` do.
"""
from __future__ import annotations

import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor

__all__ = ["io_threads"]

_IO_POOLS: dict = {}
_IO_POOLS_LOCK = threading.Lock()
_IO_THREAD_PREFIX = "dosna-io"


class _InlineExecutor(Executor):
    """Runs each task at once in the calling thread: what a batch issued from an
    I/O thread itself uses (waiting on its own pool could deadlock)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


_INLINE = _InlineExecutor()


def io_threads(concurrency: int) -> Executor:
    """The process's persistent I/O threads for batches of ``concurrency`` requests."""
    prefix = f"{_IO_THREAD_PREFIX}{concurrency}_"
    if threading.current_thread().name.startswith(prefix):
        return _INLINE
    with _IO_POOLS_LOCK:
        pool = _IO_POOLS.get(concurrency)
        if pool is None:
            pool = _IO_POOLS[concurrency] = ThreadPoolExecutor(concurrency, thread_name_prefix=prefix[:-1])
        return pool
