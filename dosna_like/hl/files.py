"""``File``: h5py's file object over a store root, and the open file's shared state."""
from __future__ import annotations

import errno
import os

from ..config import get_config
from ..errors import FormatError
from ..format.documents import group_document, loads
from ..format.keys import META_KEY
from ..format.reserved import RESERVED
from .group import Group
from .state import FileState
from ..storage.base import Store, local_name



# h5py's mode table: mode -> (must exist, must not exist, truncate, writable)
_MODES = {
    "r": (True, False, False, False),
    "r+": (True, False, False, True),
    "w": (False, False, True, True),
    "w-": (False, True, False, True),
    "x": (False, True, False, True),
    "a": (False, False, False, True),
}
# h5py keywords that have no meaning on an object store; accepted and ignored.
_IGNORED_KWARGS = {
    "driver", "libver", "userblock_size", "swmr", "rdcc_nslots", "rdcc_w0", "track_order",
    "fs_strategy", "fs_persist", "fs_threshold", "fs_page_size", "page_buf_size",
    "min_meta_keep", "min_raw_keep", "locking", "alignment_threshold", "alignment_interval",
    "meta_block_size",
}




class File(Group):
    """An h5py-style file: a Zarr v3 store root at a local path or fsspec URL.

    ``File(name, mode="r", *, njobs=None, rdcc_nbytes=None, storage_options=None)``
    follows h5py's mode table: r (read, must exist), r+ (read/write, must exist),
    w (create, truncate), w- or x (create, fail if it exists), a (read/write,
    create if missing).  ``njobs`` sets chunk parallelism for every object of the
    file; ``rdcc_nbytes`` sizes each dataset's decoded-chunk cache (h5py's keyword).
    """

    def __init__(self, name, mode: str = "r", *, njobs: int | None = None,
                 rdcc_nbytes: int | None = None, storage_options: dict | None = None, **kwds):
        unknown = set(kwds) - _IGNORED_KWARGS
        if unknown:
            raise TypeError(f"File() got unexpected keyword arguments {sorted(unknown)}")
        if mode not in _MODES:
            raise ValueError("Invalid mode; must be one of r, r+, w, w-, x, a")
        if njobs is not None and (not isinstance(njobs, int) or isinstance(njobs, bool) or njobs < 1):
            raise ValueError(f"njobs must be a positive int or None, not {njobs!r}")
        must_exist, must_not_exist, truncate, writable = _MODES[mode]
        self._filename = os.fspath(name)
        store = Store(local_name(name), storage_options, read_only=not writable)
        raw = store.get(META_KEY)
        exists = raw is not None
        if must_exist and not exists:
            raise FileNotFoundError(errno.ENOENT, "Unable to open file (no such file)", self._filename)
        if must_not_exist and (exists or not store.is_empty_root()):
            raise FileExistsError(errno.EEXIST, "Unable to create file (file exists)", self._filename)
        if exists:
            doc = loads(raw, META_KEY)
            if doc["node_type"] != "group":
                raise FormatError(f"{self._filename}: the store root is an array, not a file")
        elif not store.is_empty_root() and mode in ("w", "a"):
            # never wipe or adopt a directory that is not a dosna_like / zarr store
            raise FileExistsError(errno.EEXIST, "Unable to create file (a non-store object exists there)",
                                  self._filename)
        state = FileState(store, not writable, njobs, rdcc_nbytes, open_file=File)
        if truncate and exists:
            store.delete_prefix("")
            exists = False
        if not exists:
            track = kwds.get("track_order")
            track = get_config().track_order if track is None else track
            root = group_document({RESERVED: {"track_order": True}} if track else None)
            state.index.start_new()
            state.write_doc("", root)
        else:
            state._docs[""] = doc
        state.file = self
        super().__init__(state, "", inherit=None)

    # ------------------------------------------------------------ h5py API
    @property
    def filename(self) -> str:
        return self._filename

    @property
    def mode(self) -> str:
        return "r" if self._state.read_only else "r+"

    @property
    def driver(self) -> str:
        return "fsspec"

    @property
    def store(self):
        """The :class:`~dosna_like.store.Store` (request counts in ``store.requests``)."""
        return self._state.store

    def flush(self) -> None:
        """Every write is stored when it is made; only the search index waits for flush/close."""
        self._check_open()
        self._state.index.save()

    def close(self) -> None:
        if not self._state.closed:
            self._state.index.save_on_close()
            self._state.closed = True
            self._state._arrays.clear()
            self._state._docs.clear()
            for ext in self._state._external.values():
                ext.close()
            self._state._external.clear()
            self._state.store.close()

    def __enter__(self) -> "File":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if not self:
            return "<Closed dosna_like file>"
        base = os.path.basename(self._filename.rstrip("/")) or self._filename
        return f'<dosna_like file "{base}" (mode {self.mode})>'


def refresh(file: File) -> bool:
    """Check an open file's search index against its store again (True when it was still right)."""
    file._check_open()
    return file._state.index.refresh()
