"""Write-back of the edge chunks of appends: held in memory, stored once.

Why: growing a dataset by a number of rows that is not a multiple of the
chunk rows writes the edge chunk row in part, step after step.  Stored at
each step, every such chunk is read, changed and rewritten once per step
(an append in 100-row steps into 128-row chunks stored 144 chunks and read
80 for 64 chunks of data).  Held here instead, each is stored once: when a
write covers it whole, at ``flush()``/``close()``, or when the held chunks
pass their bound (least recently written first).

Held are: a chunk written in part that was never stored (past the smallest
shape the array has had in this process, see ``ArrayIO._never_stored``:
nothing else can have written it, so holding it loses no other writer's
data, and storing it needs no read), and a chunk cut by the array's edge
along an axis it may still grow along, written whole (the next append comes
back to it; its whole content is known, so it is stored whole, as a whole
write is).  A partial write to a stored chunk stays a conditional
read-modify-write of the store, as before.

One :class:`PendingChunks` per array (store URL + path) in this process,
shared by every handle of it, so every ``File`` of this process reads what
another wrote.  Other processes see the chunks once they are stored; an array handle
dropped unflushed (a file never closed: at garbage collection or interpreter
exit, as its documents are) stores them then.  A process killed before that
loses them (they read as the fill value), never a chunk in part: each is
stored whole and atomically.
"""
from __future__ import annotations

import functools
import threading
import time
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from .fill import is_fill
from .pools import parallel_map
from ..format.keys import chunk_key

__all__ = ["HeldChunks", "PendingChunks", "WRITE_BACK_NBYTES", "edge_may_grow", "pending_chunks",
           "store_when_dropped"]

# The bound on chunk bytes held per array (or the file's rdcc_nbytes when
# that is larger): two chunk rows of a (1024, 1024) float32 image in 128 x
# 128 chunks, so that appends store each chunk once.
WRITE_BACK_NBYTES = 64 * 2**20


def edge_may_grow(coords: tuple, chunks: tuple, shape: tuple, maxshape: tuple) -> bool:
    """Whether chunk ``coords`` is cut by the array's edge along an axis that
    ``maxshape`` lets grow (an append will write into it again)."""
    return any((i + 1) * c > s and (m is None or m > s) for i, c, s, m in zip(coords, chunks, shape, maxshape))


class PendingChunks:
    """The held chunks of one array, least recently written first, and the
    chunks past its old shape stored since (shared by its handles)."""

    def __init__(self):
        self._chunks: OrderedDict = OrderedDict()  # coords -> whole chunk (padding: fill)
        self.nbytes = 0
        self.stored: set = set()  # never-stored chunks written since (see ArrayIO._first_write)
        self._versions: dict = {}  # coords -> odd while a write changes the held chunk
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def get(self, coords: tuple) -> np.ndarray | None:
        """The held chunk, the live array: for writers, under the chunk's lock."""
        return self._chunks.get(coords)

    def snapshot(self, coords: tuple) -> np.ndarray | None:
        """A copy of the held chunk as no write is changing it, or None.

        Readers take no lock (as everywhere in the engine): a write running
        meanwhile makes its version odd or newer, and the copy is made again,
        so a read sees a write whole or not at all, as with a stored chunk.
        """
        while True:
            version = self._versions.get(coords, 0)
            chunk = self._chunks.get(coords)
            if chunk is None:
                return None
            if version % 2 == 0:
                copy = chunk.copy()
                if self._versions.get(coords, 0) == version:
                    return copy
            time.sleep(0)  # let the writer finish

    def write(self, coords: tuple, chunk: np.ndarray, chunk_sel: tuple, values) -> None:
        """``chunk[chunk_sel] = values``, then hold ``chunk`` as most recent (the caller
        holds the chunk's lock)."""
        with self._lock:
            version = self._versions[coords] = self._versions.get(coords, 0) + 1  # odd: being changed
        try:
            chunk[chunk_sel] = values
        finally:
            with self._lock:
                old = self._chunks.pop(coords, None)
                if old is not None:
                    self.nbytes -= old.nbytes
                self._chunks[coords] = chunk
                self.nbytes += chunk.nbytes
                self._versions[coords] = version + 1  # even again (a pop meanwhile dropped it)

    def pop(self, coords: tuple) -> np.ndarray | None:
        """Stop holding chunk ``coords``; the held array, or None.  A popped array is
        not changed again (a later write holds a new one), so its version can go: a
        reader copying it meanwhile sees the version gone and asks again."""
        with self._lock:
            chunk = self._chunks.pop(coords, None)
            if chunk is not None:
                self.nbytes -= chunk.nbytes
                self._versions.pop(coords, None)
            return chunk

    def coords(self) -> list:
        """The held chunks' coordinates, least recently written first."""
        with self._lock:
            return list(self._chunks)

    def oldest_beyond(self, capacity: int) -> list:
        """The least recently written chunks to store so that the rest fit in ``capacity``."""
        with self._lock:
            over, out = self.nbytes - capacity, []
            for coords, chunk in self._chunks.items():
                if over <= 0:
                    break
                out.append(coords)
                over -= chunk.nbytes
            return out

    def clear(self) -> None:
        """Drop every held chunk, unstored (the array's chunks are being deleted)."""
        with self._lock:
            self._chunks.clear()
            self._versions.clear()
            self.nbytes = 0


_REGISTRY: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_REGISTRY_LOCK = threading.Lock()


def pending_chunks(store, path: str) -> PendingChunks:
    """The :class:`PendingChunks` of the array at ``path`` of ``store`` in this process
    (alive while a handle of the array is)."""
    key = (getattr(store, "url", None) or id(store), path)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = _REGISTRY[key] = PendingChunks()
        return found


def _store_left(store, path: str, encode, fill, pending: PendingChunks) -> None:
    """Finalizer of an array handle dropped with chunks held: store them in this thread
    (at interpreter exit the thread pools accept no more work)."""
    try:
        for coords in pending.coords():
            chunk = pending.pop(coords)
            if chunk is not None and not is_fill(chunk, fill):
                store.set(chunk_key(path, coords), encode(chunk))
    except Exception as exc:  # noqa: BLE001 - a finalizer must not raise
        warnings.warn(f"{path}: chunks of a file that was never closed could not be stored ({exc})",
                      RuntimeWarning, stacklevel=1)


def store_when_dropped(io) -> weakref.finalize:
    """A finalizer storing what ``io`` (an ArrayIO) holds when it is dropped unflushed;
    it keeps the store, codec and held chunks, never ``io`` itself."""
    return weakref.finalize(io, functools.partial(_store_left, io.store, io.path, io.codec.encode,
                                                  io.fill_bits, io.pending))


class HeldChunks:
    """Storing held chunks, mixed into ``ArrayIO`` (which provides ``pending``,
    ``write_back_nbytes``, ``codec``, ``chunk_lock`` and ``_store_one``)."""

    def _store_held(self, coords: tuple) -> None:
        with self.chunk_lock(coords):
            chunk = self.pending.get(coords)
            if chunk is not None:
                self.pending.stored.add(coords)  # first: a failed store may have stored it
                self._store_one(coords, chunk)
                self.pending.pop(coords)  # still held when storing it raised

    def _store_excess(self, njobs: int) -> None:
        """Store the least recently written held chunks past the bound."""
        if self.pending.nbytes > self.write_back_nbytes:
            parallel_map(self._store_held, self.pending.oldest_beyond(self.write_back_nbytes), njobs)

    def _in_bounded_batches(self, write_one, projs: list, njobs: int) -> None:
        """``write_one`` over ``projs`` in the pool, a bound's worth of chunks at a time,
        storing the held chunks past the bound after each: a large write into new
        parts of an array (a column of a grown array) never holds more than that."""
        step = max(1, njobs, self.write_back_nbytes // max(1, self.codec.nbytes))
        for start in range(0, len(projs), step):
            parallel_map(write_one, projs[start:start + step], njobs)
            self._store_excess(njobs)

    def flush_pending(self, njobs: int = 1) -> None:
        """Store every held chunk (at flush and close, and before anything that
        asks the store for this array's chunks)."""
        if self.pending:
            parallel_map(self._store_held, self.pending.coords(), njobs)
