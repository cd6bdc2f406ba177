"""The decoded-chunk cache of one dataset (h5py's ``rdcc_nbytes``)."""
from __future__ import annotations

from collections import OrderedDict
import numpy as np
import threading

__all__ = ["ChunkCache"]


class ChunkCache:
    """LRU cache of decoded chunks bounded by bytes (h5py's ``rdcc_nbytes``)."""

    def __init__(self, nbytes: int):
        self.capacity = int(nbytes)
        self._entries: OrderedDict = OrderedDict()  # coords -> chunk, least recently used first
        self._size = 0
        self._lock = threading.Lock()

    def get(self, coords):
        # No lock on the hit path (the hot path of small reads): each OrderedDict
        # call is atomic, and a chunk evicted in between is simply not moved.
        chunk = self._entries.get(coords)
        if chunk is not None:
            try:
                self._entries.move_to_end(coords)
            except KeyError:
                pass
        return chunk

    def put(self, coords, chunk: np.ndarray) -> None:
        if chunk.nbytes > self.capacity:
            return
        with self._lock:
            old = self._entries.pop(coords, None)
            if old is not None:
                self._size -= old.nbytes
            self._entries[coords] = chunk
            self._size += chunk.nbytes
            while self._size > self.capacity:
                _, evicted = self._entries.popitem(last=False)
                self._size -= evicted.nbytes

    def discard(self, coords) -> None:
        with self._lock:
            old = self._entries.pop(coords, None)
            if old is not None:
                self._size -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0
