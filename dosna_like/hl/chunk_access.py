"""Chunk-level access to a dataset, as DosNa's ``Dataset`` offered it.

DosNa exposed its chunk grid so that analysis code could work chunk by chunk:
``chunk_grid``, ``chunk_size``, ``total_chunks``, ``get_chunk_data``,
``set_chunk_data``, ``has_chunk``, ``del_chunk``, ``clear`` and the
chunk-parallel ``map``, ``apply`` and ``clone``.  :class:`ChunkAccess` adds them
to :class:`~dosna_like.hl.dataset.Dataset`, built only on the engine's methods for
chunks by coordinates (:class:`~dosna_like.chunks.engine.ArrayIO` ``get_chunk``,
``put_chunk``, ``has_chunk``...) and :func:`~dosna_like.chunks.pools.parallel_map`,
so the chunk cache, the fill-value rule (a chunk equal to the fill value is not
stored) and the padding of edge chunks stay the engine's business.

Chunk indices are tuples with one int per axis (an int is accepted for 1-D
datasets); negative indices count from the end as in numpy.  Chunks at the
array's edge are returned and written as their in-bounds part only, as DosNa did.
"""
from __future__ import annotations

import contextlib
import math
import operator

import numpy as np

from ..chunks.pools import joblib_backend_chosen, user_chunk_map
from ..chunks.sharded import ShardedArrayIO
from ..codecs.chains import rebuild_keywords
from ..format.conversion import convert_as_hdf5
from ..format.dtypes import check_opaque_dtype
from ..format.grid import chunk_box, chunk_local_box, grid_shape, iter_chunks

__all__ = ["ChunkAccess"]


def _check_index_entry(value) -> int:
    """One chunk-index entry as an int (TypeError for bools, floats, slices...)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"chunk indices must be integers, not {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"chunk indices must be integers, not {type(value).__name__}") from None


class _ChunkFilter:
    """One chunk of ``map``/``apply``: ``out[chunk] = func(src[chunk])``.

    A picklable object rather than a closure over the engine, so that under
    ``joblib.parallel_config(backend="dask")`` it travels to a worker as two
    handles (store URL + path) and the user's function.
    """

    def __init__(self, src, out, func):
        self.src, self.out, self.func = src, out, func

    def __call__(self, group: list) -> None:
        # the chunks of one stored object (a shard holds many): built, then stored together
        io = self.out._io
        io.put_chunks([(coords, self.out._built_chunk(io, coords, self.func(self.src.get_chunk_data(coords))))
                       for coords in group])


class ChunkAccess:
    """DosNa's chunk-level API, mixed into ``Dataset``.

    Expects the host class to provide ``_io`` (the dataset's ``ArrayIO``),
    ``njobs``, ``parent``, ``shape``, ``dtype`` and ``_check_writable``.
    """

    # ---------------------------------------------------------- the grid
    @property
    def chunk_size(self):
        """The shape of the chunks the store holds (DosNa's name), None for a scalar.

        h5py's ``chunks`` where it reports one; a dataset h5py calls contiguous
        (``chunks`` None) is stored in chunks of this shape all the same."""
        return self._io.meta.h5_chunks or None

    @property
    def chunk_grid(self) -> tuple:
        """Number of chunks along each axis (DosNa's ``chunk_grid``); ``()`` for scalars."""
        meta = self._io.meta
        return grid_shape(meta.shape, meta.chunks)

    @property
    def total_chunks(self) -> int:
        """How many chunks the grid holds, stored or not (1 for a scalar dataset)."""
        return math.prod(self.chunk_grid)

    def _chunk_coords(self, idx) -> tuple:
        """``idx`` as non-negative chunk coordinates, checked like a numpy index.

        Wrong rank is a ValueError (as ``np.ravel_multi_index``), a non-integer
        entry a TypeError, and an index outside the grid an IndexError.
        """
        grid = self.chunk_grid
        if isinstance(idx, np.ndarray):
            idx = idx.tolist()
        if not isinstance(idx, (tuple, list)):
            idx = (idx,)
        if len(idx) != len(grid):
            raise ValueError(f"chunk index {idx!r} has {len(idx)} entries; the dataset has {len(grid)} axes")
        coords = []
        for axis, (value, n) in enumerate(zip(idx, grid)):
            i = _check_index_entry(value)
            if not -n <= i < n:
                raise IndexError(f"chunk index {i} is out of range for axis {axis} with {n} chunks")
            coords.append(i + n if i < 0 else i)
        return tuple(coords)

    def _in_bounds(self, coords: tuple) -> tuple:
        """Slices of a stored chunk that lie inside the array (DosNa's local chunk bounds).

        The trailing ``...`` keeps the result a view for 0-d (scalar) datasets too.
        """
        meta = self._io.meta
        return chunk_local_box(coords, meta.chunks, meta.shape) + (...,)

    def chunk_bounds(self, idx) -> tuple:
        """The slices of the dataset that chunk ``idx`` holds (DosNa's global chunk bounds)."""
        coords = self._chunk_coords(idx)
        meta = self._io.meta
        return chunk_box(coords, meta.chunks, meta.shape)

    # --------------------------------------------------------- one chunk
    def get_chunk_data(self, idx, slices=None):
        """The in-bounds values of chunk ``idx``, or ``[slices]`` of them (a copy).

        Mirrors DosNa's ``get_chunk_data(idx, slices=None)``: ``slices`` index
        the chunk as numpy would; a chunk that is not stored reads as the
        fill value.
        """
        coords = self._chunk_coords(idx)
        io = self._io
        chunk = io.get_chunk(coords)
        if chunk is None:
            chunk = np.full(io.meta.chunks, io.meta.fill_value, dtype=io.meta.dtype)
        part = chunk[self._in_bounds(coords)]
        out = part if slices is None else part[slices]
        return out.copy() if isinstance(out, np.ndarray) else out

    def set_chunk_data(self, idx, values, slices=None) -> None:
        """Write ``values`` into chunk ``idx`` (its in-bounds part, or ``[slices]`` of it).

        Mirrors DosNa's ``set_chunk_data(idx, values, slices=None)``.  Without
        ``slices`` the whole chunk is replaced, so it is not read first; values
        broadcast and convert as in ``Dataset.__setitem__`` (HDF5's conversion).
        """
        self._check_writable(OSError, "Can't write data")
        self._write_chunk(self._io, self._chunk_coords(idx), values, slices)

    def _write_chunk(self, io, coords: tuple, values, slices=None) -> None:
        if slices is not None and isinstance(io, ShardedArrayIO):
            box = self._array_selection(io, coords, slices)
            if box is not None:
                # the array's own write: the shard's conditional update reads the inner
                # chunk inside it, so a concurrent write (thread or process) is not lost
                self[box] = values
                return
        # the lock ds[...] writes of this chunk hold, so that a partial write on
        # another thread is not lost between our read and our write (a sharded
        # array's writes lock their shard inside put_chunk)
        lock = contextlib.nullcontext() if isinstance(io, ShardedArrayIO) else io.chunk_lock(coords)
        with lock:
            io.put_chunk(coords, self._built_chunk(io, coords, values, slices))

    @staticmethod
    def _array_selection(io, coords: tuple, slices) -> tuple | None:
        """``slices`` of chunk ``coords``'s in-bounds part as a selection of the array
        (ints and increasing slices), or None for anything else."""
        meta = io.meta
        slices = slices if isinstance(slices, tuple) else (slices,)
        box = chunk_box(coords, meta.chunks, meta.shape)
        if len(slices) > len(box):
            return None
        out = []
        for axis, part in zip(box, slices + (slice(None),) * (len(box) - len(slices))):
            if not isinstance(part, (int, np.integer, slice)) or isinstance(part, bool):
                return None
            try:
                picked = range(axis.start, axis.stop)[part]
            except IndexError:
                return None  # numpy's error, from the chunk, as before
            if isinstance(picked, int):
                out.append(picked)
            elif picked.step < 0:
                return None
            else:
                out.append(slice(picked.start, max(picked.start, picked.stop), picked.step))
        return tuple(out)

    def _built_chunk(self, io, coords: tuple, values, slices=None) -> np.ndarray:
        """The whole chunk ``coords`` with ``values`` written into its in-bounds part
        (or ``[slices]`` of it, from the chunk as stored now); its padding holds the fill value."""
        meta = io.meta
        values = convert_as_hdf5(values, meta.dtype)
        if slices is not None:
            io.cache.discard(coords)  # from the store, as partial ds[...] writes read it
        old = io.get_chunk(coords) if slices is not None else None
        # the padding past the array's edge must hold the fill value
        chunk = np.full(meta.chunks, meta.fill_value, dtype=meta.dtype) if old is None else old.copy()
        part = chunk[self._in_bounds(coords)]
        if slices is None:
            part[...] = values
        else:
            part[slices] = values
        return chunk

    def has_chunk(self, idx) -> bool:
        """Whether chunk ``idx`` is stored (DosNa's ``has_chunk``).

        A chunk equal to the fill value is never stored: it reads as fill.
        """
        return self._io.has_chunk(self._chunk_coords(idx))

    def del_chunk(self, idx) -> None:
        """Delete chunk ``idx``: it reads as the fill value again (DosNa's ``del_chunk``)."""
        self._check_writable(OSError, "Can't write data")
        self._io.delete_chunk(self._chunk_coords(idx))

    def clear(self) -> None:
        """Delete every chunk, so the whole dataset reads as its fill value (DosNa's ``clear``)."""
        self._check_writable(OSError, "Can't write data")
        self._io.delete_all_chunks()

    # ------------------------------------------------- chunk by chunk
    def _all_coords(self) -> list:
        meta = self._io.meta
        return list(iter_chunks(meta.shape, meta.chunks))

    def apply(self, func) -> None:
        """Replace every chunk's data by ``func(data)``, chunks in parallel (DosNa's ``apply``).

        ``func`` gets each chunk's in-bounds values and returns the new values
        (same shape, or broadcastable to it), converted to the dataset's dtype.
        Runs in ``njobs`` threads, or on the joblib backend chosen with
        ``joblib.parallel_config`` (``backend="dask"``: a cluster's workers).
        """
        self._check_writable(OSError, "Can't write data")
        self._filter_chunks(_ChunkFilter(self, self, func), self._io.object_groups(self._all_coords()), self.njobs)

    def map(self, func, output_name, dtype=None):
        """A new dataset ``output_name`` holding ``func(data)`` of every chunk (DosNa's ``map``).

        The output sits beside this dataset (``output_name`` is resolved in
        its parent group; a leading '/' makes it absolute), with the same
        shape, chunks, compression and fill value.  Its dtype is ``dtype`` if
        given, else that of ``func``'s result on the first chunk when it is a
        numpy array or scalar, else this dataset's.  Chunks run in parallel in
        ``njobs`` threads, or on the joblib backend chosen with
        ``joblib.parallel_config`` (``backend="dask"`` spreads them over a
        dask.distributed cluster, each worker reopening the store); returns
        the new dataset.
        """
        coords = self._all_coords()
        first = func(self.get_chunk_data(coords[0])) if coords else None
        if dtype is None:
            dtype = first.dtype if isinstance(first, (np.ndarray, np.generic)) else self.dtype
        out = self.clone(output_name, dtype=dtype)
        out_io = out._io
        if coords:
            out._write_chunk(out_io, coords[0], first)
        self._filter_chunks(_ChunkFilter(self, out, func), out_io.object_groups(coords[1:]), out.njobs)
        return out

    @staticmethod
    def _filter_chunks(task: _ChunkFilter, groups: list, njobs: int) -> None:
        """Run ``task`` over groups of chunk coordinates: threads here, or the chosen joblib backend."""
        elsewhere = joblib_backend_chosen()
        user_chunk_map(task, groups, njobs)
        if elsewhere:  # other processes may have written chunks this one has cached
            task.out._io.cache.clear()

    def to_dask(self):
        """This dataset as a dask array with one block per chunk.

        ``dask.array.from_array(self, chunks=self.chunk_size)`` under a name made of
        the store URL and path; no lock, since reads are thread- and
        process-safe.  The handle pickles, so the array computes on a
        dask.distributed cluster too (each worker reopens the store once).
        """
        # dask is optional (the "test" extra): imported only when asked for
        import dask.array as da
        self._check_open()
        return da.from_array(self, chunks=self.chunk_size or (), lock=False, asarray=False)

    def clone(self, output_name, dtype=None):
        """An empty dataset like this one (DosNa's ``clone``): same shape, chunks
        (the stored grid too, for a dataset h5py calls contiguous), maxshape,
        compression, shuffle, fletcher32 and fill value.

        ``output_name`` is resolved in this dataset's parent group; ``dtype``
        changes the element type (the fill value is converted to it).  The clone
        keeps this handle's own ``njobs`` setting, if it has one.
        """
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        out = self.parent.create_dataset(
            output_name, shape=self.shape, dtype=dtype,
            chunks=self.chunks if self.shape else None,
            shards=(getattr(self, "shards", None) or False) if self.shape else None,  # this layout, not a default
            maxshape=self.maxshape if self.chunks else None,  # a maxshape would make a contiguous clone chunked
            stored_chunks=self.chunk_size if self.shape and self.chunks is None else None,  # this grid (map)
            fillvalue=self._fill_as(dtype),
            fletcher32=self.fletcher32 or None,
            **self._compression_kwargs(),
        )
        out._njobs = self._njobs
        return out

    def _fill_as(self, dtype: np.dtype):
        """This dataset's fill value in ``dtype``: HDF5's conversion, else numpy's cast
        (HDF5 has no float -> bool path; numpy maps nonzero to True)."""
        opaque = check_opaque_dtype(self.dtype)
        fill = np.asarray(self.fillvalue, dtype=self.dtype if opaque else None)  # marked, as the dataset's
        try:
            out = convert_as_hdf5(fill, dtype)
            return out if check_opaque_dtype(dtype) else out[()]  # a scalar would lose the mark
        except (TypeError, ValueError, OSError):
            return fill.astype(dtype)[()]

    def _compression_kwargs(self) -> dict:
        """``create_dataset`` keywords that rebuild this dataset's codecs (for any dtype)."""
        return {**rebuild_keywords(self.compression, self.compression_opts), "shuffle": self.shuffle or None}
