"""Store keys: where node documents, chunks and the search sidecar live."""
from __future__ import annotations

__all__ = [
    "CHUNK_DELIMITER", "chunk_key", "chunk_prefix", "META_KEY", "node_key", "parse_chunk_key",
    "SIDE_KEY", "SIDECAR_KEY",
]


META_KEY = "zarr.json"


def node_key(path: str, name: str = META_KEY) -> str:
    """Store key of ``name`` inside node ``path`` ('' is the root)."""
    return f"{path}/{name}" if path else name


def chunk_key(path: str, coords: tuple) -> str:
    """Zarr v3 'default' chunk key encoding with '/' separators."""
    tail = "".join(f"/{c}" for c in coords)  # a 0-d array's only chunk is plain 'c'
    return f"{path}/c{tail}" if path else f"c{tail}"


def chunk_prefix(path: str) -> str:
    """The key every chunk key of the array at ``path`` starts with (``'<path>/c'``;
    also the whole key of a 0-d array's only chunk)."""
    return chunk_key(path, ())


def parse_chunk_key(path: str, key: str, ndim: int | None = None) -> tuple | None:
    """The chunk coordinates ``key`` names in the array at ``path``, or None.

    The exact inverse of :func:`chunk_key`: None for any key ``chunk_key``
    would not write for this array (another node's key, a document, a
    temporary file, non-canonical numbers such as ``'01'``, ``'-1'`` or
    ``'+1'``), and, when ``ndim`` is given, for coordinates of another rank.
    Listings of a store hold such keys; callers skip them.
    """
    prefix = f"{path}/c" if path else "c"
    if not key.startswith(prefix):
        return None
    tail = key[len(prefix):]
    if tail and tail[0] != "/":
        return None
    parts = tail[1:].split("/") if tail else []
    for part in parts:
        # ASCII digits only, no leading zero: what str(int) writes and nothing else
        if not (part.isascii() and part.isdigit()) or (part[0] == "0" and len(part) > 1):
            return None
    if ndim is not None and len(parts) != ndim:
        return None
    return tuple(int(part) for part in parts)


SIDECAR_KEY = "_dosna_like_index.json.gz"

# A group's reserved entry, beside its zarr.json (format/documents.py): zarr-python 3
# refuses any extra key in a group document.  A file, never a child node: the name is
# refused as a member name (format/names.py), like zarr.json.
SIDE_KEY = "_dosna_like.json"


CHUNK_DELIMITER = "/c/"  # Zarr v3 default chunk keys: '<array>/c/i/j'
