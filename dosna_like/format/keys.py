"""Store keys: where node documents, chunks and the search sidecar live."""
from __future__ import annotations


META_KEY = "zarr.json"


def node_key(path: str, name: str = META_KEY) -> str:
    """Store key of ``name`` inside node ``path`` ('' is the root)."""
    return f"{path}/{name}" if path else name


def chunk_key(path: str, coords: tuple) -> str:
    """Zarr v3 'default' chunk key encoding with '/' separators."""
    tail = "".join(f"/{c}" for c in coords)  # a 0-d array's only chunk is plain 'c'
    return f"{path}/c{tail}" if path else f"c{tail}"


SIDECAR_KEY = "_dosna_like_index.json.gz"


CHUNK_DELIMITER = "/c/"  # Zarr v3 default chunk keys: '<array>/c/i/j'
