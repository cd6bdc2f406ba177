"""fsspec's in-memory filesystem as a store (``memory://``): tests, examples, scratch data.

Reads hand back the stored bytes themselves: ``cat_file`` would copy every
chunk first, and the memory store is where the engine's own overhead is
measured.  Everything else is the generic fsspec back end.
"""
from __future__ import annotations

from .fsspec_store import FsspecStore

__all__ = ["MemoryStore"]

_LIST_ATTEMPTS = 5


class MemoryStore(FsspecStore):
    """A root in fsspec's process-wide memory filesystem."""

    server_side_copy = True  # copies stay inside the filesystem's dict
    serves_chains = False  # reads bypass fsspec, so an outer layer would be skipped

    def _list_keys(self, prefix: str) -> list:
        # fsspec's find iterates the process-wide dict that other threads'
        # writes change ("dictionary changed size during iteration"): list again
        for _ in range(_LIST_ATTEMPTS - 1):
            try:
                return super()._list_keys(prefix)
            except RuntimeError:
                continue
        return super()._list_keys(prefix)

    def _get(self, key: str) -> bytes | None:
        entry = self.fs.store.get(self.fs._strip_protocol(self.path(key)))
        return None if entry is None else entry.getvalue()
