"""The continuous request pipeline (storage/pipeline.py): limits, memory bound, errors."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fsspec.asyn import get_loop

from dosna_like.storage.pipeline import polling_guard, run_pipeline


class Gauge:
    """Counts what is under way, and the most at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def __call__(self, delta: int) -> None:
        with self.lock:
            self.now += delta
            self.peak = max(self.peak, self.now)


@pytest.fixture
def workers():
    with ThreadPoolExecutor(2) as pool:
        yield pool


def test_every_key_is_fetched_and_handled_once_with_limit_in_flight(workers):
    requests, keys_under_way, handled = Gauge(), Gauge(), []

    async def fetch(key):
        keys_under_way(+1)
        requests(+1)
        await asyncio.sleep(0.005)
        requests(-1)
        return key.upper()

    def handle(key, raw):
        time.sleep(0.001)
        handled.append((key, raw))
        keys_under_way(-1)

    keys = [f"k{i}" for i in range(200)]
    run_pipeline(get_loop(), keys, handle, workers.submit, limit=8, fetch=fetch, room=12)
    assert sorted(handled) == sorted((k, k.upper()) for k in keys)
    assert requests.peak == 8  # reached, never passed
    assert keys_under_way.peak <= 12  # fetched but not yet handled: bounded memory


def test_finish_runs_after_the_worker_with_its_result(workers):
    stored = {}

    async def finish(key, value):
        await asyncio.sleep(0)
        stored[key] = value

    run_pipeline(get_loop(), list("abcdef"), lambda key, raw: key * 2, workers.submit, limit=3, finish=finish)
    assert stored == {k: k * 2 for k in "abcdef"}


def test_the_first_error_is_raised_and_no_worker_runs_after_return(workers):
    running = Gauge()

    async def fetch(key):
        await asyncio.sleep(0.002)
        if key == "k30":
            raise ConnectionError("k30 failed")
        return key

    def handle(key, raw):
        running(+1)
        time.sleep(0.003)
        running(-1)

    keys = [f"k{i}" for i in range(300)]
    with pytest.raises(ConnectionError, match="k30"):
        run_pipeline(get_loop(), keys, handle, workers.submit, limit=4, fetch=fetch)
    assert running.now == 0  # every worker that started has ended


def test_a_worker_error_is_raised(workers):
    def handle(key, raw):
        if key == "bad":
            raise ValueError("cannot decode bad")

    async def fetch(key):
        return b""

    with pytest.raises(ValueError, match="cannot decode bad"):
        run_pipeline(get_loop(), ["a", "bad", "c"], handle, workers.submit, limit=2, fetch=fetch)


def test_a_guard_holds_its_lock_from_fetch_to_finish(workers):
    lock = threading.Lock()
    overlap = Gauge()

    async def fetch(key):
        overlap(+1)
        await asyncio.sleep(0.002)
        return key

    async def finish(key, value):
        await asyncio.sleep(0.002)
        overlap(-1)

    run_pipeline(get_loop(), [f"k{i}" for i in range(10)], lambda k, r: r, workers.submit, limit=5,
                 fetch=fetch, finish=finish, guard=polling_guard(lambda key: lock))
    assert overlap.peak == 1 and not lock.locked()  # one lock for every key: one at a time
