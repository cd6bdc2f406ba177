"""Shard bytes at run time: the index of a ``sharding_indexed`` shard, and
shards assembled from (and cut into) encoded inner chunks.

The inner chunks themselves go through the array's
:class:`~dosna_like.codecs.pipeline.ChunkCodec` (built from the inner codec
list); this module only places their bytes.  The index is checked the way
the spec says: its crc32c when the index codecs have one, and every
``(offset, nbytes)`` inside the shard; a damaged index raises ValueError,
which the engine reports as a corrupt chunk naming the shard.
"""
from __future__ import annotations

import math

import numpy as np

from ..format.sharding import EMPTY, ShardSpec, index_layout
from .runtime import Crc32cRuntime

__all__ = ["ShardIndex", "assemble_shard", "index_nbytes"]


def index_nbytes(spec: ShardSpec, chunks: tuple) -> int:
    """Size of a shard's encoded index."""
    _, crc = index_layout(spec.index_codecs)
    return 16 * math.prod(spec.chunks_per_shard(chunks)) + (4 if crc else 0)


class ShardIndex:
    """A decoded shard index: ``offsets`` and ``nbytes`` per inner chunk of the
    shard, flattened in C order (``-1`` where the chunk is not stored)."""

    __slots__ = ("offsets", "nbytes", "cps")

    def __init__(self, offsets: np.ndarray, nbytes: np.ndarray, cps: tuple):
        self.offsets = offsets
        self.nbytes = nbytes
        self.cps = cps

    def local(self, local_coords: tuple) -> int:
        """Flat position of an inner chunk given by its coordinates in the shard."""
        return int(np.ravel_multi_index(local_coords, self.cps))

    def span(self, i: int) -> tuple | None:
        """``(start, stop)`` of inner chunk ``i`` in the shard, None when not stored."""
        n = int(self.nbytes[i])
        if n < 0:
            return None
        start = int(self.offsets[i])
        return start, start + n

    @classmethod
    def decode(cls, raw, spec: ShardSpec, chunks: tuple, shard_nbytes: int | None = None) -> "ShardIndex":
        """The index from its encoded bytes; ValueError when they are damaged
        (checksum, size, or a chunk reaching outside a shard of ``shard_nbytes``)."""
        order, crc = index_layout(spec.index_codecs)
        cps = spec.chunks_per_shard(chunks)
        n = math.prod(cps)
        buf = memoryview(raw).cast("B")
        if len(buf) != 16 * n + (4 if crc else 0):
            raise ValueError(f"shard index of {len(buf)} bytes, expected {16 * n + (4 if crc else 0)}")
        if crc:
            buf = memoryview(Crc32cRuntime().decode(buf, 16 * n)).cast("B")
        pairs = np.frombuffer(buf, dtype=f"{order}u8").reshape(n, 2)
        empty = (pairs[:, 0] == EMPTY) & (pairs[:, 1] == EMPTY)
        offsets = np.where(empty, 0, pairs[:, 0]).astype(np.int64)
        nbytes = np.where(empty, -1, pairs[:, 1]).astype(np.int64)
        stored = ~empty
        too_big = (pairs[:, 0] >= 2**62) | (pairs[:, 1] >= 2**62)
        if np.any(stored & too_big):
            raise ValueError("shard index holds an offset or size out of range")
        if shard_nbytes is not None and np.any(stored & (offsets + nbytes > shard_nbytes)):
            raise ValueError(f"shard index points past the end of a {shard_nbytes}-byte shard")
        return cls(offsets, nbytes, cps)


def _encode_index(pairs: np.ndarray, spec: ShardSpec) -> bytes:
    order, crc = index_layout(spec.index_codecs)
    raw = pairs.astype(f"{order}u8").tobytes()
    return Crc32cRuntime().encode(raw) if crc else raw


def assemble_shard(parts: dict, spec: ShardSpec, chunks: tuple, keep_empty: bool = False) -> tuple:
    """``(shard bytes, its ShardIndex)`` holding ``parts`` ({flat position:
    encoded inner chunk}), in C order, the index where ``spec`` puts it;
    ``(None, None)`` when ``parts`` is empty (the shard is not stored), unless
    ``keep_empty``: then an index listing no chunk."""
    if not parts and not keep_empty:
        return None, None
    cps = spec.chunks_per_shard(chunks)
    n = math.prod(cps)
    pairs = np.full((n, 2), EMPTY, dtype=np.uint64)
    head = index_nbytes(spec, chunks) if spec.index_location == "start" else 0
    order = sorted(parts)
    pos = head
    for i in order:
        size = memoryview(parts[i]).nbytes
        pairs[i] = (pos, size)
        pos += size
    index = _encode_index(pairs, spec)
    pieces = [memoryview(parts[i]).cast("B") for i in order]
    pieces = [index, *pieces] if spec.index_location == "start" else [*pieces, index]
    shard = b"".join(pieces)
    stored = pairs[:, 0] != EMPTY
    decoded = ShardIndex(np.where(stored, pairs[:, 0], 0).astype(np.int64),
                         np.where(stored, pairs[:, 1].astype(np.int64), -1), cps)
    return shard, decoded
