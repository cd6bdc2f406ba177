"""Zarr v3 sharding (``sharding_indexed``) as the format says it: no I/O.

A sharded array's chunk grid cuts it into *shards*, one stored object each;
the first (and only) codec of its list, ``sharding_indexed``, cuts each shard
into *inner chunks* of ``chunk_shape``, encoded with the inner ``codecs`` and
laid end to end in the shard, with an *index* at its start or end: per inner
chunk, in C order, ``(offset, nbytes)`` as little-endian uint64, both
``2**64 - 1`` for a chunk that is not stored (it reads as the fill value).
The index is encoded with ``index_codecs`` (``bytes``, then ``crc32c``,
unless told otherwise).

In memory an :class:`~dosna_like.format.documents.ArrayMeta` of a sharded
array keeps the inner chunk shape as its ``chunks`` and the inner codecs as
its ``codecs``, so everything that works per chunk (selection, the chunk
cache, ``ds.chunks``, ``ds.compression``, chunk-level APIs) works on inner
chunks; its ``sharding`` (:class:`ShardSpec`) says how they are gathered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import FormatError

__all__ = ["DEFAULT_INDEX_CODECS", "EMPTY", "SHARDING_CODEC", "ShardSpec", "check_shards", "index_layout",
           "sharding_codec", "unwrap_sharding"]

SHARDING_CODEC = "sharding_indexed"
EMPTY = 2**64 - 1  # offset and nbytes of an inner chunk that is not stored
DEFAULT_INDEX_CODECS = ({"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"})


@dataclass(frozen=True)
class ShardSpec:
    """How an array's inner chunks are gathered into shards."""

    shards: tuple  # the shard shape (the chunk grid's chunk_shape in zarr.json)
    index_codecs: tuple = field(default=DEFAULT_INDEX_CODECS)
    index_location: str = "end"  # "start" or "end"

    def chunks_per_shard(self, chunks: tuple) -> tuple:
        return tuple(s // c for s, c in zip(self.shards, chunks))


def check_shards(shards, chunks: tuple) -> tuple:
    """The shard shape ``shards`` (an int per axis or one int for all), checked
    against the inner chunk shape: a positive whole multiple of it on every
    axis, as the sharding codec requires.  ValueError otherwise (h5py's error
    for a bad chunk shape)."""
    if isinstance(shards, bool):
        raise TypeError(f"shards must be a shape, not {shards!r}")
    if isinstance(shards, int):
        shards = (shards,) * len(chunks)
    try:
        shards = tuple(int(s) for s in shards)
    except TypeError as exc:
        raise TypeError(f"shards must be a tuple of ints, not {shards!r}") from exc
    if len(shards) != len(chunks):
        raise ValueError(f"'shards' {shards} must have the same rank as the chunk shape {chunks}")
    if any(s <= 0 or s % c for s, c in zip(shards, chunks)):
        raise ValueError(f"shard shape {shards} must be a positive multiple of the chunk shape {chunks} "
                         "on every axis")
    return shards


def index_layout(index_codecs) -> tuple:
    """``(byte order, has crc32c)`` of the index codecs we read and write:
    ``bytes`` (either endianness) optionally followed by ``crc32c``."""
    names = [c.get("name") if isinstance(c, dict) else None for c in index_codecs]
    if not names or names[0] != "bytes" or names[1:] not in ([], ["crc32c"]):
        raise FormatError(f"unsupported shard index codecs {names}: expected bytes, then optionally crc32c")
    endian = (index_codecs[0].get("configuration") or {}).get("endian", "little")
    if endian not in ("little", "big"):
        raise FormatError(f"unsupported shard index byte order {endian!r}")
    return ("<" if endian == "little" else ">"), len(names) == 2


def sharding_codec(spec: ShardSpec, chunks: tuple, codecs: list) -> dict:
    """The ``sharding_indexed`` codec JSON for inner ``chunks`` and ``codecs``."""
    return {"name": SHARDING_CODEC, "configuration": {
        "chunk_shape": list(chunks), "codecs": codecs,
        "index_codecs": [dict(c) for c in spec.index_codecs], "index_location": spec.index_location}}


def unwrap_sharding(codecs: list, shards: tuple) -> tuple:
    """``(inner chunk shape, inner codecs, ShardSpec)`` of a codec list whose
    only codec is ``sharding_indexed`` over chunks of shape ``shards``, or
    ``(shards, codecs, None)`` for an unsharded list.  FormatError for a
    sharding codec this library cannot read."""
    if not codecs or not isinstance(codecs[0], dict) or codecs[0].get("name") != SHARDING_CODEC:
        if any(isinstance(c, dict) and c.get("name") == SHARDING_CODEC for c in codecs[1:]):
            raise FormatError("sharding_indexed must be the only codec of a list")
        return shards, codecs, None
    if len(codecs) != 1:
        raise FormatError("codecs after sharding_indexed are not supported")
    config = codecs[0].get("configuration") or {}
    try:
        chunks = tuple(config["chunk_shape"])
        inner = list(config["codecs"])
    except (KeyError, TypeError) as exc:
        raise FormatError(f"invalid sharding_indexed configuration: {exc!r}") from exc
    if any(type(c) is not int or c < 1 for c in chunks) or len(chunks) != len(shards):
        raise FormatError(f"invalid inner chunk shape {list(chunks)} for shards {list(shards)}")
    if any(s % c for s, c in zip(shards, chunks)):
        raise FormatError(f"shard shape {list(shards)} is not a multiple of the inner chunk shape {list(chunks)}")
    if any(isinstance(c, dict) and c.get("name") == SHARDING_CODEC for c in inner):
        raise FormatError("nested sharding is not supported")
    index_codecs = tuple(config.get("index_codecs", DEFAULT_INDEX_CODECS))
    index_layout(index_codecs)
    location = config.get("index_location", "end")
    if location not in ("start", "end"):
        raise FormatError(f"invalid shard index_location {location!r}")
    return chunks, inner, ShardSpec(tuple(shards), index_codecs, location)
