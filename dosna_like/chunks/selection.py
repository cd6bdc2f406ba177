"""Pure selection logic: h5py-style keys -> per-axis indexers -> chunk projections.

No I/O happens here.  A key given to ``Dataset.__getitem__``/``__setitem__`` is
normalised into a :class:`Selection` following h5py's rules (orthogonal
indexing; ints drop their axis; at most one increasing index list; slices
with positive steps clip like numpy; a boolean mask of the dataset's full
shape selects points).  A selection then maps onto the chunk grid: each axis
yields :class:`AxisProjection` records (one per chunk along it), and their
product gives one :class:`ChunkProjection` per chunk touched.  Both are named
tuples: immutable, and built in the hot loops by tuple's own constructor.

Internally every axis keeps a length in the *selection shape* (``mshape``);
an integer index has length 1 there and is dropped only in ``shape``, the
shape h5py returns.  Keeping the axis makes every projection a plain
per-axis product.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from ..format.grid import ceildiv, chunk_extent, grid_shape

__all__ = [
    "AxisProjection",
    "ChunkProjection",
    "Selection",
    "select",
    "broadcast_value",
    "basic_single_chunk",
    "MultiBlockSlice",
]


class AxisProjection(NamedTuple):
    """How one chunk along one axis takes part in a selection (zarr's ``ChunkDimProjection``).

    chunk: index of the chunk along the axis.
    chunk_sel: index into the chunk along the axis (a slice or an index array).
    out_sel: slice of the selection-shaped output along the axis.
    complete: the selection covers every in-bounds element of the chunk along the axis.
    """

    chunk: int
    chunk_sel: object
    out_sel: slice
    complete: bool


# ``AxisProjection(...)`` goes through a Python-level ``__new__``; the hot loops
# build one record per chunk, so they call tuple's own constructor (2x faster)
_new_record = tuple.__new__


class ChunkProjection(NamedTuple):
    """How one chunk takes part in a selection (zarr's ``ChunkProjection``): the
    per-axis :class:`AxisProjection` fields of one chunk, gathered.

    chunk_coords: position of the chunk in the chunk grid.
    chunk_sel: index into the decoded chunk array.
    out_sel: index into the selection-shaped output (``Selection.mshape``).
    complete: the selection covers every in-bounds element of the chunk.
    """

    chunk_coords: tuple
    chunk_sel: tuple
    out_sel: tuple
    complete: bool


# --------------------------------------------------------------------- axes
class _IntAxis:
    """One integer index; length 1 in ``mshape``, dropped from ``shape``."""

    __slots__ = ("index",)
    drops = True

    def __init__(self, index: int):
        self.index = index

    @property
    def length(self) -> int:
        return 1

    def project(self, chunk_len: int, dim_len: int) -> Iterator[AxisProjection]:
        c, offset = divmod(self.index, chunk_len)
        extent = min(chunk_len, dim_len - c * chunk_len)
        yield _new_record(AxisProjection, (c, slice(offset, offset + 1), slice(0, 1), extent == 1))

    def single(self, chunk_len: int):
        return divmod(self.index, chunk_len)


class _SliceAxis:
    """A slice with a positive step, already clipped to the axis."""

    __slots__ = ("start", "stop", "step", "length")
    drops = False

    def __init__(self, start: int, stop: int, step: int):
        self.start, self.stop, self.step = start, stop, step
        self.length = max(0, ceildiv(stop - start, step))

    def project(self, chunk_len: int, dim_len: int) -> Iterator[AxisProjection]:
        if self.length == 0:
            return
        start, step = self.start, self.step
        last = start + (self.length - 1) * step
        for c in range(start // chunk_len, last // chunk_len + 1):
            c0 = c * chunk_len
            c1 = min(c0 + chunk_len, dim_len)
            # first selected index inside [c0, c1)
            first = start if c0 <= start else start + ceildiv(c0 - start, step) * step
            if first >= c1 or first > last:
                continue
            stop = min(c1, last + 1)
            n = ceildiv(stop - first, step)
            o0 = (first - start) // step
            yield _new_record(AxisProjection, (c, slice(first - c0, stop - c0, step), slice(o0, o0 + n),
                                                    n == c1 - c0))

    def single(self, chunk_len: int):
        if self.length == 0:
            return None
        c = self.start // chunk_len
        last = self.start + (self.length - 1) * self.step
        if last // chunk_len != c:
            return None
        base = c * chunk_len
        return c, slice(self.start - base, last - base + 1, self.step)


class _ArrayAxis:
    """A strictly increasing list of indices (h5py allows one per selection)."""

    __slots__ = ("indices",)
    drops = False

    def __init__(self, indices: np.ndarray):
        self.indices = indices

    @property
    def length(self) -> int:
        return len(self.indices)

    def project(self, chunk_len: int, dim_len: int) -> Iterator[AxisProjection]:
        idx = self.indices
        if len(idx) == 0:
            return
        chunk_ids = idx // chunk_len
        bounds = np.flatnonzero(np.diff(chunk_ids)) + 1
        starts = np.concatenate(([0], bounds))
        stops = np.concatenate((bounds, [len(idx)]))
        for s, e in zip(starts.tolist(), stops.tolist()):
            c = int(chunk_ids[s])
            extent = min(chunk_len, dim_len - c * chunk_len)
            local = idx[s:e] - c * chunk_len
            yield _new_record(AxisProjection, (c, local, slice(s, e), (e - s) == extent))

    def single(self, chunk_len: int):
        idx = self.indices
        if len(idx) == 0:
            return None
        c = int(idx[0]) // chunk_len
        if int(idx[-1]) // chunk_len != c:
            return None
        return c, idx - c * chunk_len


# ---------------------------------------------------------------- selection
class Selection:
    """A normalised h5py selection on an array of a given shape.

    Attributes
    ----------
    shape: the shape of the result h5py returns (int axes dropped).
    mshape: the selection shape with int axes kept as length 1.
    """

    def __init__(self, axes: list, array_shape: tuple, points: np.ndarray | None = None):
        self.axes = axes
        self.array_shape = array_shape
        self.points = points  # (npoints, ndim) coordinates of a mask selection
        if points is not None:
            self.mshape = (len(points),)
            self.shape = (len(points),)
        else:
            self.mshape = tuple(a.length for a in axes)
            self.shape = tuple(a.length for a in axes if not a.drops)

    @property
    def size(self) -> int:
        return math.prod(self.mshape)

    def single_chunk(self, chunks: Sequence[int]):
        """(chunk coords, index into that chunk) when one chunk holds the whole
        selection, else None.  ``chunk[index]`` has the result's size (and, but for
        index-list selections, its shape): the hot path of small reads."""
        if self.points is not None:
            return None
        coords, local = [], []
        for a, c in zip(self.axes, chunks):
            hit = a.single(c)
            if hit is None:
                return None
            coords.append(hit[0])
            local.append(hit[1])
        if any(isinstance(a, _ArrayAxis) for a in self.axes):
            # numpy would move an index array mixed with ints to the front:
            # keep int axes as length-1 slices so indexing stays orthogonal
            local = [slice(x, x + 1) if isinstance(a, _IntAxis) else x for a, x in zip(self.axes, local)]
        return tuple(coords), tuple(local)

    def projections(self, chunks: Sequence[int]) -> Iterator[ChunkProjection]:
        if self.points is not None:
            yield from self._point_projections(chunks)
            return
        per_axis = [list(a.project(c, n)) for a, c, n in zip(self.axes, chunks, self.array_shape)]
        if len(per_axis) == 1:  # common and hot: skip the product machinery
            for c, cs, os_, full in per_axis[0]:
                yield _new_record(ChunkProjection, ((c,), (cs,), (os_,), full))
            return
        for combo in itertools.product(*per_axis):
            coords, chunk_sel, out_sel, complete = zip(*combo)  # per axis -> per field
            yield _new_record(ChunkProjection, (coords, chunk_sel, out_sel, all(complete)))

    def _point_projections(self, chunks: Sequence[int]) -> Iterator[ChunkProjection]:
        pts = self.points
        if len(pts) == 0:
            return
        chunks_arr = np.asarray(chunks, dtype=np.int64)
        chunk_coords = pts // chunks_arr
        grid = grid_shape(self.array_shape, chunks)
        flat = np.ravel_multi_index(tuple(chunk_coords.T), grid)
        order = np.argsort(flat, kind="stable")
        flat_sorted = flat[order]
        bounds = np.flatnonzero(np.diff(flat_sorted)) + 1
        for group in np.split(order, bounds):
            coords = tuple(int(x) for x in chunk_coords[group[0]])
            local = pts[group] - chunks_arr * np.asarray(coords)
            extent = math.prod(chunk_extent(coords, chunks, self.array_shape))
            # points come from a mask, so they are unique: all there means complete
            yield ChunkProjection(coords, tuple(local.T), (group,), len(group) == extent)

    def with_trailing(self, lengths: tuple) -> "Selection":
        """This selection with whole trailing axes of ``lengths`` added: the axes
        of a subarray dtype, which every element carries whole.

        ``shape`` gains the axes at its end; for a mask selection, whose points
        are listed one by one, each point becomes all its elements' points
        (``mshape`` is then flat, and reshapes to ``shape``).
        """
        lengths = tuple(lengths)
        if not lengths:
            return self
        array_shape = self.array_shape + lengths
        if self.points is None:
            return Selection(self.axes + [_SliceAxis(0, n, 1) for n in lengths], array_shape)
        inner = np.indices(lengths).reshape(len(lengths), -1).T
        points = np.concatenate([np.repeat(self.points, len(inner), axis=0),
                                 np.tile(inner, (len(self.points), 1))], axis=1).astype(np.int64)
        out = Selection([], array_shape, points=points)
        out.shape = self.shape + lengths
        return out

    def chunk_slices(self, chunks: Sequence[int]) -> Iterator[tuple]:
        """Per chunk, the slices of the array covered by this selection (h5py's
        ``iter_chunks``: ints count as length-1 slices; steps and lists are refused)."""
        if self.points is not None or any(
                isinstance(a, _ArrayAxis) or (isinstance(a, _SliceAxis) and a.step != 1) for a in self.axes):
            raise TypeError("iter_chunks selections must be ints or slices with step 1")
        for proj in self.projections(chunks):
            out = []
            for c, cs, clen in zip(proj.chunk_coords, proj.chunk_sel, chunks):
                base = c * clen
                out.append(slice(base + cs.start, base + cs.stop, 1))
            yield tuple(out)


def basic_single_chunk(key, shape: tuple, chunks: tuple):
    """The hot path of small reads, without building a Selection.

    For a key of ints and unit-step slices (trailing axes may be left out)
    that stays inside one chunk, returns (chunk coords, key into that chunk);
    ``chunk[key]`` is then exactly h5py's result (ints drop their axis).
    Anything else - including every invalid key, whose error the general
    path raises - returns None.
    """
    kind = type(key)
    if kind is not tuple:
        if kind is not int:
            return None
        key = (key,)
    ndim = len(shape)
    if len(key) > ndim:
        return None
    coords, local = [], []
    axis = 0
    for k in key:
        n = shape[axis]
        c = chunks[axis]
        axis += 1
        kind = type(k)
        if kind is not int and kind is not slice and isinstance(k, np.integer):
            k, kind = int(k), int
        if kind is int:
            if k < 0:
                k += n
            if not 0 <= k < n:
                return None
            coords.append(k // c)
            local.append(k % c)
        elif kind is slice:
            if k.step is None and k.start is None and k.stop is None:  # ``:``
                start, stop = 0, n
            else:
                start, stop, step = k.indices(n)
                if step != 1:
                    return None
            if stop <= start:
                return None
            q = start // c
            if (stop - 1) // c != q:
                return None
            coords.append(q)
            local.append(slice(start - q * c, stop - q * c))
        else:
            return None
    for axis in range(axis, ndim):  # left out: the whole axis
        n = shape[axis]
        if not 0 < n <= chunks[axis]:
            return None
        coords.append(0)
        local.append(slice(0, n))
    return tuple(coords), tuple(local)


class MultiBlockSlice:
    """Regularly spaced blocks along one axis, as ``h5py.MultiBlockSlice``.

    Selects ``count`` blocks of ``block`` elements, ``stride`` apart, from
    ``start``; ``count=None`` takes as many as fit.
    """

    def __init__(self, start: int = 0, count: int | None = None, stride: int = 1, block: int = 1):
        if start < 0 or stride < 1 or block < 1 or (count is not None and count < 0):
            raise ValueError("Invalid MultiBlockSlice: start >= 0, stride >= 1, block >= 1, count >= 0")
        if block > stride:
            raise ValueError(f"Invalid MultiBlockSlice: block ({block}) must not exceed stride ({stride})")
        self.start, self.count, self.stride, self.block = start, count, stride, block

    def indices(self, length: int) -> tuple:
        """(start, stride, count, block) for an axis of ``length``, as h5py."""
        count = self.count
        if count is None:
            count = (length - self.start - self.block) // self.stride + 1
            if count <= 0:
                raise ValueError(f"{self!r} has no full block in an axis of length {length} (calculated count 0)")
        if self.start + (count - 1) * self.stride + self.block > length and count:
            raise ValueError(f"{self!r} range ({self.start} - {self.start + (count - 1) * self.stride + self.block})"
                             f" extends beyond maximum index ({length})")
        return self.start, self.stride, count, self.block

    def positions(self, length: int) -> np.ndarray:
        start, stride, count, block = self.indices(length)
        return (start + stride * np.arange(count)[:, None] + np.arange(block)[None, :]).reshape(-1)

    def __repr__(self) -> str:
        return f"MultiBlockSlice(start={self.start}, count={self.count}, stride={self.stride}, block={self.block})"


# ------------------------------------------------------------- key parsing
def _expand_key(key, ndim: int) -> list:
    if not isinstance(key, tuple):
        key = (key,)
    n_ellipsis = sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise ValueError("Only one ellipsis may be used.")
    if n_ellipsis == 0:
        key = key + (Ellipsis,)
    pos = next(i for i, k in enumerate(key) if k is Ellipsis)
    n_real = len(key) - 1
    if n_real > ndim:
        raise ValueError(f"{n_real} indexing arguments for {ndim} dimensions")
    return list(key[:pos]) + [slice(None)] * (ndim - n_real) + list(key[pos + 1:])


def _int_axis(k, n: int) -> _IntAxis:
    i = int(k)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError(f"Index ({int(k)}) out of range for (0-{n - 1})")
    return _IntAxis(i)


def _slice_axis(k: slice, n: int) -> _SliceAxis:
    if k.step is not None and k.step == 0:
        raise ValueError("slice step cannot be zero")
    start, stop, step = k.indices(n)
    if step < 1:
        raise ValueError(f"Step must be >= 1 (got {step})")
    return _SliceAxis(start, max(start, stop), step)


def _array_axis(k, n: int) -> _ArrayAxis:
    arr = np.asarray(k)
    if arr.ndim != 1:
        raise TypeError(f"Selection can't process {k!r}")
    if arr.dtype == bool:
        if arr.shape[0] != n:
            raise TypeError("Boolean indexing array has incompatible shape")
        return _ArrayAxis(np.flatnonzero(arr))
    if arr.size == 0:
        return _ArrayAxis(np.empty(0, dtype=np.int64))
    if arr.dtype.kind not in "iu":
        raise TypeError("Indexing arrays must have integer dtypes")
    arr = arr.astype(np.int64)
    if arr.min() < -n or arr.max() >= n:
        raise IndexError(f"Fancy indexing out of range for (0-{n - 1})")
    arr = np.where(arr < 0, arr + n, arr)
    if np.any(np.diff(arr) <= 0):
        raise TypeError("Indexing elements must be in increasing order")
    return _ArrayAxis(arr)


def _is_int(k) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def select(key, shape: Sequence[int]) -> Selection:
    """Normalise ``key`` against ``shape`` with h5py's rules and errors."""
    shape = tuple(shape)
    ndim = len(shape)
    if type(key) is tuple and len(key) == ndim and ndim:
        # fast path for the commonest keys: one int or slice per axis
        axes = []
        for k, n in zip(key, shape):
            kind = type(k)
            if kind is int:
                axes.append(_int_axis(k, n))
            elif kind is slice:
                axes.append(_slice_axis(k, n))
            else:
                break
        else:
            return Selection(axes, shape)
    if ndim == 0:
        if key == () or key is Ellipsis:
            return Selection([], shape)
        raise ValueError("Illegal slicing argument for scalar dataspace")
    # A boolean array of the full shape selects points (h5py returns them flat).
    if isinstance(key, np.ndarray) and key.dtype == bool and key.ndim == ndim and ndim > 1:
        if key.shape != shape:
            raise TypeError("Boolean indexing array has incompatible shape")
        return Selection([], shape, points=np.argwhere(key).astype(np.int64))
    if key is None or (isinstance(key, tuple) and any(k is None for k in key)):
        raise TypeError("Indexing with None (or np.newaxis) is not supported")
    if isinstance(key, tuple) and key == ():
        key = Ellipsis
    axes = []
    n_arrays = 0
    for k, n in zip(_expand_key(key, ndim), shape):
        if _is_int(k):
            axes.append(_int_axis(k, n))
        elif isinstance(k, slice):
            axes.append(_slice_axis(k, n))
        elif k is None:
            raise TypeError("Indexing with None (or np.newaxis) is not supported")
        elif isinstance(k, MultiBlockSlice):  # a hyperslab, not a fancy index
            axes.append(_ArrayAxis(k.positions(n).astype(np.int64)))
        elif isinstance(k, (list, np.ndarray, range)):
            n_arrays += 1
            if n_arrays > 1:
                raise TypeError(
                    "Only one indexing vector or array is currently allowed for fancy indexing"
                )
            axes.append(_array_axis(k, n))
        elif isinstance(k, str):
            raise ValueError("Field names only allowed for compound types")
        else:
            raise TypeError(f"Selection can't process {k!r}")
    return Selection(axes, shape)


def broadcast_value(value: np.ndarray, sel: Selection) -> np.ndarray:
    """Broadcast a write value to ``sel.mshape`` as h5py does, or raise TypeError."""
    target = sel.shape
    if value.shape != target:
        try:
            value = np.broadcast_to(value, target)
        except ValueError:
            return np.broadcast_to(value.reshape(_expand_shape(value.shape, sel)), sel.mshape)
    return value.reshape(sel.mshape)


def _expand_shape(source: tuple, sel: Selection) -> tuple:
    """``source`` with length-1 axes put where h5py puts them (its ``expand_shape``):
    the value's axes match the selection's from the last, integer axes taking
    none; anything else is h5py's TypeError."""
    drops = [False] * len(sel.mshape) if sel.points is not None else [a.drops for a in sel.axes]
    remaining, expanded = list(source), []
    for n, drop in zip(reversed(sel.mshape), reversed(drops)):
        if not remaining or drop:
            expanded.append(1)
            continue
        t = remaining.pop()
        if t != 1 and t != n:
            raise TypeError(f"Can't broadcast {source} -> {sel.shape}")
        expanded.append(t)
    if any(n > 1 for n in remaining):
        raise TypeError(f"Can't broadcast {source} -> {sel.shape}")
    return tuple(reversed(expanded))
