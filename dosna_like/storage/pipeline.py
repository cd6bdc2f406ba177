"""A continuous request pipeline: ``limit`` requests in flight until the batch is done.

Why not windows: fetching a window of chunks, then decoding it, then the
next window leaves the store idle during every decode and waits for each
window's slowest request (25.7 of 32 requests in flight on average on a 25 ms
store).  Here each key is its own small task on the filesystem's event loop:
fetch (one request), hand the bytes to a worker thread (decode, or build and
encode), then optionally one more request (store the result).  A new key
starts as soon as one finishes, so ``limit`` requests stay in flight.

Memory is bounded: at most ``room`` keys are between "fetch started" and
"handled" at once (so at most ``room`` fetched objects wait for a worker); a
slow worker holds back the fetches instead of piling up bytes.

The first error stops new keys, cancels the requests in flight, waits for the
workers already running, and is raised in the calling thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Awaitable, Callable, Iterable

from fsspec.asyn import sync
from fsspec.exceptions import FSTimeoutError

__all__ = ["Submit", "call_on_loop", "in_threads", "inline_submit", "polling_guard", "run_pipeline"]

# submit(func, *args) -> concurrent.futures.Future: runs func in the caller's worker threads
Submit = Callable[..., concurrent.futures.Future]


def call_on_loop(loop, func, *args):
    """``await func(*args)`` on ``loop`` from this thread (fsspec's ``sync``), raising what
    it raised: ``sync`` would turn a builtin TimeoutError into fsspec's own FSTimeoutError."""
    try:
        return sync(loop, func, *args)
    except FSTimeoutError as exc:
        if isinstance(exc.__cause__, TimeoutError):
            raise exc.__cause__ from exc.__cause__.__cause__
        raise


async def _pump(keys, fetch, handle, submit, finish, limit, room, guard):
    loop = asyncio.get_running_loop()
    in_flight = asyncio.Semaphore(limit)
    slots = asyncio.Semaphore(room)
    errors: list = []
    workers: list = []
    tasks: set = set()
    state = {"open": 0, "launched": False}
    settled = asyncio.Event()  # every key done, or an error

    def finished(error) -> None:
        state["open"] -= 1
        slots.release()
        if error is not None:
            errors.append(error)
            settled.set()
        elif state["launched"] and state["open"] == 0:
            settled.set()

    def after_worker(future, release) -> None:
        if release is not None:
            release()
        finished(None if future.cancelled() else future.exception())

    async def one(key) -> None:
        release = await guard(key) if guard is not None else None
        try:
            raw = None
            if fetch is not None:
                async with in_flight:
                    raw = await fetch(key)
            future = submit(handle, key, raw)
            workers.append(future)
            if finish is None:  # the worker's end settles the key: no future chained here
                handed, release = release, None
                future.add_done_callback(lambda f: loop.call_soon_threadsafe(after_worker, f, handed))
                return
            result = await asyncio.wrap_future(future)
            async with in_flight:
                await finish(key, result)
            error = None
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through ``errors``
            error = None if isinstance(exc, asyncio.CancelledError) else exc
        if release is not None:
            release()
        finished(error)

    try:
        for key in keys:
            await slots.acquire()
            if errors:
                break
            state["open"] += 1
            task = asyncio.ensure_future(one(key))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        state["launched"] = True
        if state["open"] == 0 or errors:
            settled.set()
        await settled.wait()
    finally:
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    return errors, workers


def run_pipeline(loop, keys: Iterable[str], handle: Callable, submit: Submit, *, limit: int,
                 fetch: Callable[[str], Awaitable] | None = None,
                 finish: Callable[[str, object], Awaitable] | None = None,
                 guard: Callable[[str], Awaitable] | None = None, room: int | None = None) -> None:
    """For every key: ``raw = await fetch(key)`` (None without ``fetch``), then
    ``result = handle(key, raw)`` in a worker (``submit``), then ``await
    finish(key, result)``, with at most ``limit`` fetches and finishes in
    flight and at most ``room`` keys (default ``2 * limit``) under way.

    ``guard(key)`` (optional) is awaited before a key starts and returns a
    callable run when the key is done (a per-chunk lock held from the fetch
    to the finish of a read-modify-write).  Runs on ``loop`` (the async
    filesystem's); blocks the calling thread until every key is done; raises
    the first error.
    """
    room = max(1, room or 2 * limit)
    errors, workers = call_on_loop(loop, _pump, keys, fetch, handle, submit, finish, max(1, limit), room, guard)
    concurrent.futures.wait(workers)  # none still writes into the caller's buffers after we return
    if errors:
        raise errors[0]


def in_threads(keys: list, work: Callable, submit: Submit) -> None:
    """``work(key)`` for every key in the caller's workers; waits for all, raises the first error
    (the contract's default for back ends without an event loop)."""
    futures = [submit(work, key) for key in keys]
    concurrent.futures.wait(futures)
    for future in futures:
        future.result()


def inline_submit(func, *args) -> concurrent.futures.Future:
    """A :data:`Submit` that runs ``func`` at once, in the calling thread (cheap handlers)."""
    future: concurrent.futures.Future = concurrent.futures.Future()
    try:
        future.set_result(func(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
        future.set_exception(exc)
    return future


def polling_guard(lock_of: Callable):
    """A ``guard`` for :func:`run_pipeline` holding ``lock_of(key)`` (a threading lock) for the
    whole of a key's work.  It polls rather than blocks: the event loop must never wait on a
    thread, and a worker thread blocked on a lock would be one fewer to decode with."""
    async def guard(key):
        lock = lock_of(key)
        delay = 0.0005
        while not lock.acquire(blocking=False):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
        return lock.release
    return guard
