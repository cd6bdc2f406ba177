"""Telling a chunk that holds nothing but the fill value (such a chunk is not stored).

Exact bytes, as HDF5 compares them: -0.0 is not 0.0, and a NaN fill value
matches the same NaN.  The first element is compared on its own first: real
data seldom starts with the fill value, and the full comparison reads every
byte of the chunk (1.3 ms for 4 MiB, on every whole-chunk write).
"""
from __future__ import annotations

import numpy as np

__all__ = ["fill_bits", "is_fill"]


def fill_bits(fill, dtype: np.dtype):
    """The fill value's bytes (a uint8 array), or the object itself for object dtypes."""
    if dtype.kind == "O":  # variable-length strings: compare the objects themselves
        return fill
    return np.asarray(fill, dtype=dtype).reshape(1).view(np.uint8)


def _first_is_fill(chunk: np.ndarray, bits) -> bool:
    first = np.ascontiguousarray(chunk[(0,) * chunk.ndim]).reshape(1).view(np.uint8)
    return bool(np.array_equal(first, bits))


def is_fill(chunk: np.ndarray, bits) -> bool:
    """Every element has exactly the fill value's bytes (``bits`` from :func:`fill_bits`)."""
    if chunk.dtype.kind == "O":
        return all(item == bits for item in chunk.reshape(-1).tolist())
    if chunk.size and not _first_is_fill(chunk, bits):
        return False
    itemsize = bits.size
    if itemsize in (1, 2, 4, 8):  # any strides, no copy
        utype = np.dtype(f"u{itemsize}")
        return bool(np.all(chunk.view(utype) == bits.view(utype)[0]))
    flat = np.ascontiguousarray(chunk).reshape(-1)
    if itemsize % 8 == 0:
        return bool(np.all(flat.view(np.uint64).reshape(-1, itemsize // 8) == bits.view(np.uint64)))
    return bool(np.all(flat.view(np.uint8).reshape(-1, itemsize) == bits))
