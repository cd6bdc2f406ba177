"""Byte plans for moving a box of a raw chunk straight between a stored object
and an output array (``preadv``/``pwritev``): which file offsets go to which
output offsets, in runs of how many bytes.  No I/O here."""
from __future__ import annotations

import functools
import math
import threading

import numpy as np

__all__ = ["flat_bytes", "read_plan", "scratch"]


def _box_offsets(starts, counts, strides) -> np.ndarray:
    """Byte offsets, in C order, of every index of a box (``starts``/``counts`` per axis)."""
    off = np.array([sum(a * st for a, st in zip(starts, strides))], dtype=np.int64)
    for n, st in zip(counts, strides):
        off = (off[:, None] + np.arange(n, dtype=np.int64) * st).reshape(-1)
    return off


def _contiguous_from(counts, shape) -> int:
    """First axis of the trailing block that a box of ``counts`` in a C-ordered
    array of ``shape`` holds as one contiguous run of bytes."""
    k = len(shape) - 1
    while k > 0 and counts[k] == shape[k]:
        k -= 1
    return k


def _c_strides(shape, itemsize) -> tuple:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


_MIN_BYTES_PER_CALL = 65536  # fewer bytes per preadv than this: reading the whole chunk is cheaper
_MIN_BYTES_PER_PIECE = 1024  # smaller pieces of the output, many of them: same


def read_plan(chunk_shape, itemsize, chunk_starts, counts, out_shape, out_starts):
    """How to read a box of a raw chunk file straight into a C-ordered output.

    Returns ``(file_offsets, dest_offsets, run)``: one ``preadv`` per file
    offset (a contiguous stretch of the chunk file), each filling its row of
    ``dest_offsets`` (starts of ``run``-byte pieces of the output).  None when
    that would take more system calls than reading the whole chunk is worth.
    """
    shape_plan = _shape_plan(tuple(chunk_shape), itemsize, tuple(chunk_starts), tuple(counts), tuple(out_shape))
    if shape_plan is None:
        return None
    file_offsets, dest_rows, run = shape_plan
    base = sum(a * st for a, st in zip(out_starts, _c_strides(out_shape, itemsize)))
    return file_offsets, [[base + d for d in row] for row in dest_rows], run


@functools.lru_cache(maxsize=256)
def _shape_plan(chunk_shape, itemsize, chunk_starts, counts, out_shape):
    """:func:`read_plan` with the output box at the origin (every interior chunk
    of a read has the same one, so it is worked out once)."""
    k_src = _contiguous_from(counts, chunk_shape)
    k_dst = _contiguous_from(counts, out_shape)
    k = max(k_src, k_dst)
    ngroups = math.prod(counts[:k_src])
    if ngroups > max(1, math.prod(chunk_shape) * itemsize // _MIN_BYTES_PER_CALL):
        return None
    run = math.prod(counts[k:]) * itemsize
    if run < _MIN_BYTES_PER_PIECE and math.prod(counts[:k]) > 16:
        return None  # many tiny pieces: a copy through one buffer is cheaper
    file_offsets = _box_offsets(chunk_starts, counts[:k_src], _c_strides(chunk_shape, itemsize))
    dest = _box_offsets((0,) * len(counts), counts[:k], _c_strides(out_shape, itemsize))
    return file_offsets.tolist(), dest.reshape(len(file_offsets), -1).tolist(), run


_MAX_SCRATCH = 64 * 2**20  # bigger chunks get a fresh array each time
_thread_scratch = threading.local()


def scratch(nbytes: int, dtype: np.dtype, shape: tuple) -> np.ndarray | None:
    """This thread's reusable decode buffer viewed as a ``shape`` array (None when too big)."""
    if nbytes > _MAX_SCRATCH:
        return None
    buf = getattr(_thread_scratch, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _thread_scratch.buf = np.empty(nbytes, dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def flat_bytes(arr: np.ndarray) -> memoryview:
    """A writable byte view of a C-contiguous array."""
    return memoryview(arr.reshape(-1).view(np.uint8))
