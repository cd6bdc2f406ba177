"""Persistent thread pools for chunk work, and the default parallelism."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import joblib
import threading

__all__ = ["default_njobs", "parallel_map"]


def default_njobs() -> int:
    """joblib's CPU count (it honours affinity masks and cgroup quotas)."""
    return max(1, joblib.cpu_count())


_pools: dict = {}


_pools_lock = threading.Lock()


def _pool(njobs: int) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(njobs)
        if pool is None:
            pool = _pools[njobs] = ThreadPoolExecutor(njobs, thread_name_prefix=f"dosna-chunk{njobs}")
        return pool


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
