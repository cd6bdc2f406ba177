"""Counting store requests by kind: what tests and benchmarks read to check request economy."""
from __future__ import annotations

import threading
from collections import Counter

__all__ = ["RequestCounter"]


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
