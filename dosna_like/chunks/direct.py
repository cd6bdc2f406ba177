"""Chunks moved between a local file and the caller's array with no buffer between.

A raw chunk (no codec, or only the trailing crc32c) on a store that can read
into and write from buffers (``preadv``/``pwritev``) goes straight from its
file into the output of a read, or from the value of a write into its file.
:class:`DirectIO` is the part of :class:`~.engine.ArrayIO` that does it.
"""
from __future__ import annotations

import numpy as np

from .fill import is_fill
from .plans import read_plan
from .selection import ChunkProjection
from ..errors import CorruptChunkError
from ..format.grid import is_cut_by_edge

__all__ = ["DirectIO"]


class DirectIO:
    """Direct reads and writes of raw chunks, for :class:`~.engine.ArrayIO`."""

    def _read_direct(self, coords: tuple, chunk_sel: tuple, out: np.ndarray, out_flat, out_sel: tuple):
        """Read ``chunk[chunk_sel]`` into ``out[out_sel]`` with ``preadv`` (unit-step
        slices only).  True when done, False when the chunk is not stored, None
        when the selection's shape makes a whole-chunk read the cheaper way."""
        counts, starts, out_starts = [], [], []
        for cs, os_ in zip(chunk_sel, out_sel):
            if type(cs) is not slice or type(os_) is not slice or cs.step not in (None, 1) \
                    or os_.step not in (None, 1):
                return None
            counts.append(cs.stop - cs.start)
            starts.append(cs.start)
            out_starts.append(os_.start)
        checked = self.codec.checked_raw
        if checked and (any(starts) or tuple(counts) != self.meta.chunks):
            return None  # a checksum covers the whole chunk: read it whole
        plan = read_plan(self.meta.chunks, out.itemsize, starts, counts, out.shape, out_starts)
        if plan is None:
            return None
        file_offsets, dest_offsets, run = plan
        ranges = [(f, [out_flat[d:d + run] for d in row]) for f, row in zip(file_offsets, dest_offsets)]
        try:
            if not checked:
                return self.store.read_into(self.key(coords), self.codec.nbytes, ranges)
            trailer = bytearray(self.codec.TRAILER)
            found = self.store.read_into(self.key(coords), self.codec.nbytes + len(trailer),
                                         [*ranges, (self.codec.nbytes, [memoryview(trailer)])])
            if found:
                self.codec.check([piece for _, pieces in ranges for piece in pieces], trailer)
            return found
        except ValueError as exc:
            raise CorruptChunkError(f"chunk {self.key(coords)!r} cannot be decoded: {exc}") from exc

    def _write_direct(self, proj: ChunkProjection, value: np.ndarray, value_flat) -> bool:
        """Store a chunk the selection covers completely straight from ``value``
        with ``pwritev`` (no chunk array is built).  False when it does not fit
        that path (edge chunk, strided selection, too many pieces)."""
        coords = proj.chunk_coords
        if is_cut_by_edge(coords, self.meta.chunks, self.meta.shape):  # its padding must hold the fill value
            return False
        starts = []
        for os_ in proj.out_sel:
            if type(os_) is not slice or os_.step not in (None, 1):
                return False
            starts.append(os_.start)
        chunks = self.meta.chunks
        plan = read_plan(chunks, value.itemsize, (0,) * len(chunks), chunks, value.shape, starts)
        if plan is None:
            return False
        view = value[proj.out_sel]
        self._first_write(coords)
        if is_fill(view, self.fill_bits):
            self.store.delete(self.key(coords))
        else:
            file_offsets, src_offsets, run = plan
            self._write_from(coords, [(f, [value_flat[d:d + run] for d in row])
                                      for f, row in zip(file_offsets, src_offsets)])
        self.cache.discard(coords)
        return True

    def _write_from(self, coords: tuple, ranges: list) -> None:
        """Store a raw chunk from buffers with ``pwritev``, its checksum (if any) after them."""
        if self.codec.checked_raw:
            pieces = [piece for _, row in ranges for piece in row]
            ranges = ranges + [(self.codec.nbytes, [memoryview(self.codec.trailer(pieces))])]
        self.store.write_from(self.key(coords), ranges)
