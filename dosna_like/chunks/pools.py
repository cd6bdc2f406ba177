"""Persistent thread pools for chunk work, and the default parallelism."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import joblib
import threading

__all__ = ["backend_batch_map", "default_njobs", "joblib_backend_chosen", "parallel_map", "submitter",
           "user_chunk_map"]


def default_njobs() -> int:
    """joblib's CPU count (it honours affinity masks and cgroup quotas)."""
    return max(1, joblib.cpu_count())


_pools: dict = {}


_pools_lock = threading.Lock()


def _pool(njobs: int, nested: bool = False) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get((njobs, nested))
        if pool is None:
            name = f"dosna-{'nested' if nested else 'chunk'}{njobs}"
            pool = _pools[(njobs, nested)] = ThreadPoolExecutor(njobs, thread_name_prefix=name)
        return pool


def submitter(njobs: int):
    """``submit(func, *args) -> Future`` on ``njobs`` persistent threads, for work handed
    over as it arrives (the store's fetch pipeline decodes each chunk as its bytes come).

    Called from one of those threads (per-chunk user work that reads a dataset),
    it hands out a second set, since a pool waiting on itself would deadlock.
    """
    njobs = max(1, njobs)
    nested = threading.current_thread().name.startswith(f"dosna-chunk{njobs}_")
    return _pool(njobs, nested).submit


def parallel_map(func, items: list, njobs: int) -> list:
    """``[func(x) for x in items]`` on ``njobs`` persistent threads.

    joblib's ``Parallel`` polls for results every 10 ms, which measured as a
    10 ms floor on every multi-chunk read; long-lived thread pools (one per
    ``njobs`` value, shared by all files) cost tens of microseconds instead.
    Codecs and numpy copies release the GIL, so the threads run in parallel.
    """
    n = len(items)
    if njobs <= 1 or n <= 1:
        return [func(x) for x in items]
    # Contiguous runs of items per task (a few per thread, for balance): neighbouring
    # chunks land in neighbouring parts of the output, and two threads faulting in
    # the same fresh pages of it at once wait on each other.
    ntasks = min(n, 4 * njobs)
    bounds = [n * k // ntasks for k in range(ntasks + 1)]
    runs = _pool(njobs).map(lambda k: [func(x) for x in items[bounds[k]:bounds[k + 1]]], range(ntasks))
    return [result for run in runs for result in run]


def joblib_backend_chosen() -> bool:
    """Whether the caller chose a joblib backend (``with joblib.parallel_config(backend=...)``).

    joblib keeps the active configuration per thread; an unset backend is held
    as a ``default(...)`` marker, so anything else was set by the user.
    """
    config = getattr(joblib.parallel._backend, "config", None)
    if not isinstance(config, dict):
        return False
    return type(config.get("backend")) is not type(joblib.parallel.default_parallel_config["backend"])


class _EachOf:
    """``func`` applied to each item of a batch (picklable, unlike a closure)."""

    def __init__(self, func):
        self.func = func

    def __call__(self, batch: list) -> list:
        return [self.func(x) for x in batch]


def backend_batch_map(batch_func, items: list) -> list:
    """``batch_func(batch)`` for a few batches per worker of the chosen joblib
    backend (a batch shares what its task opens, such as a source file); the
    results, concatenated in order."""
    workers = max(1, joblib.effective_n_jobs())
    ntasks = max(1, min(len(items), 4 * workers))
    bounds = [len(items) * k // ntasks for k in range(ntasks + 1)]
    batches = [items[bounds[k]:bounds[k + 1]] for k in range(ntasks)]
    runs = joblib.Parallel()(joblib.delayed(batch_func)(batch) for batch in batches)
    return [result for run in runs for result in run]


def user_chunk_map(func, items: list, njobs: int) -> list:
    """``[func(x) for x in items]`` for per-chunk work the user asked for (DosNa's
    ``map``/``apply``, HDF5 import and export).

    With no joblib backend chosen this is :func:`parallel_map` on the persistent
    threads (joblib's ``Parallel`` costs ~10 ms per call).  Inside
    ``with joblib.parallel_config(backend=...)`` the items go to that backend in
    a few batches per worker, so ``backend="dask"`` spreads them over a
    dask.distributed cluster; ``func`` must then pickle (handles do: each
    worker reopens the store once).
    """
    if not joblib_backend_chosen() or len(items) <= 1:
        return parallel_map(func, items, njobs)
    return backend_batch_map(_EachOf(func), items)
