"""The regular chunk grid: how an array of ``shape`` is cut into chunks of ``chunks``.

One vocabulary for every layer that walks chunks (selection, engine, chunk
access, import, export, the command line), so the arithmetic exists once:

- ``ceildiv(a, b)``: the ceiling of ``a / b`` for ints (``-(-a // b)``);
- ``grid_shape``: how many chunks along each axis (Zarr's chunk grid shape);
- ``chunk_extent``: the in-bounds length of a chunk along each axis (an edge
  chunk is stored whole, padded with the fill value, but holds less data);
- ``chunk_box``: the slices of the array a chunk holds, clipped to the array;
- ``chunk_local_box``: the same part as slices into the stored chunk;
- ``chunk_of``: the coordinates of the chunk holding an element;
- ``is_cut_by_edge``: whether the array's end cuts through a chunk;
- ``iter_chunks`` / ``iter_chunk_boxes``: the chunks of a shape (or of a
  region of it) in C order.

Pure arithmetic on ints and tuples, no numpy, no I/O.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

__all__ = [
    "ceildiv",
    "chunk_box",
    "chunk_extent",
    "chunk_local_box",
    "chunk_of",
    "grid_shape",
    "is_cut_by_edge",
    "iter_chunk_boxes",
    "iter_chunks",
]


def ceildiv(a: int, b: int) -> int:
    """``ceil(a / b)`` for ints, exactly (no float rounding for huge shapes)."""
    return -(-a // b)


def grid_shape(shape: Sequence[int], chunks: Sequence[int]) -> tuple:
    """Number of chunks along each axis (``()`` for a 0-d array, 0 for an empty axis)."""
    return tuple(-(-s // c) for s, c in zip(shape, chunks))


def chunk_extent(coords: Sequence[int], chunks: Sequence[int], shape: Sequence[int]) -> tuple:
    """In-bounds length of chunk ``coords`` along each axis.

    The chunk's own length except where the array's end cuts it; 0 for a
    chunk wholly outside the array (as after a shrink).
    """
    return tuple(max(0, min(c, s - i * c)) for i, c, s in zip(coords, chunks, shape))


def chunk_box(coords: Sequence[int], chunks: Sequence[int], shape: Sequence[int]) -> tuple:
    """The slices of the array that chunk ``coords`` holds, clipped to the array's end."""
    return tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, shape))


def chunk_local_box(coords: Sequence[int], chunks: Sequence[int], shape: Sequence[int]) -> tuple:
    """The in-bounds part of chunk ``coords`` as slices into the stored chunk
    (everything past them is padding that holds the fill value)."""
    return tuple(slice(0, n) for n in chunk_extent(coords, chunks, shape))


def chunk_of(index: Sequence[int], chunks: Sequence[int]) -> tuple:
    """Coordinates of the chunk holding element ``index`` (HDF5 names chunks by
    their first element's offset; Zarr by these coordinates)."""
    return tuple(i // c for i, c in zip(index, chunks))


def is_cut_by_edge(coords: Sequence[int], chunks: Sequence[int], shape: Sequence[int]) -> bool:
    """Whether chunk ``coords`` reaches past the array's end on some axis, so
    part of it is padding (which must hold the fill value when stored)."""
    return any((i + 1) * c > s for i, c, s in zip(coords, chunks, shape))


def _axis_range(chunk_len: int, dim_len: int, part: slice | None) -> range:
    if part is None:
        return range(-(-dim_len // chunk_len))
    start, stop, _ = part.indices(dim_len)
    if stop <= start:
        return range(0)
    return range(start // chunk_len, -(-stop // chunk_len))


def iter_chunks(shape: Sequence[int], chunks: Sequence[int], region: Sequence[slice] | None = None
                ) -> Iterator[tuple]:
    """Coordinates of every chunk of ``shape`` in C order, or of those a
    ``region`` (one slice per axis, its step ignored) touches.

    A 0-d array has one chunk, ``()``; an array with an empty axis has none.
    """
    parts = [None] * len(shape) if region is None else list(region)
    if len(parts) != len(shape):
        raise ValueError(f"a region of {len(parts)} slices for an array of {len(shape)} axes")
    return itertools.product(*(_axis_range(c, s, p) for c, s, p in zip(chunks, shape, parts)))


def iter_chunk_boxes(shape: Sequence[int], chunks: Sequence[int], region: Sequence[slice] | None = None
                     ) -> Iterator[tuple]:
    """``(coords, box)`` of every chunk :func:`iter_chunks` yields, ``box`` being
    the chunk's slices of the array (clipped to its end, not to ``region``)."""
    for coords in iter_chunks(shape, chunks, region):
        yield coords, chunk_box(coords, chunks, shape)
