"""What a dataset takes on its store: the bytes of its chunk objects.

The sizes come from one listing of the dataset's chunk prefix, which object
stores and file systems answer with each object's size, so nothing is read.
For an HDF5 file read in place, the listing is the reference map's: the
byte ranges of the chunks (or of the contiguous data) in the file.
``dosna-like info`` and the page of ``dosna-like serve`` both show this.
"""
from __future__ import annotations

from typing import NamedTuple

from ..format.keys import chunk_prefix

__all__ = ["StoredSize", "stored_size"]


class StoredSize(NamedTuple):
    """A dataset's stored and logical size."""

    stored_bytes: int  # the bytes of its objects on the store
    objects: int  # chunks stored (shards when sharded)
    nbytes: int  # logical: elements x item size

    @property
    def ratio(self) -> float | None:
        """Logical over stored bytes (the compression ratio); None when nothing is stored."""
        return round(self.nbytes / self.stored_bytes, 3) if self.stored_bytes else None


def stored_size(store, path: str, nbytes: int) -> StoredSize:
    """The stored size of the dataset at ``path`` (a node path, no leading '/')
    in ``store``, with its logical size ``nbytes``: one listing."""
    sizes = store.list_sizes(chunk_prefix(path.strip("/")))
    return StoredSize(int(sum(sizes.values())), len(sizes), int(nbytes))
