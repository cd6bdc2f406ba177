"""``File``: h5py's file object over a store root, and the open file's shared state."""
from __future__ import annotations

import errno
import itertools
import os
import uuid
import warnings

from ..config import get_config
from ..errors import FormatError, IncompleteFileWarning, InvalidLibverError, UnsupportedFileOptionError
from ..format.documents import group_document, loads
from ..format.keys import META_KEY, SIDE_KEY
from ..format.reserved import RESERVED, reserved_of
from .anonymous import discard as discard_anonymous
from .group import Group
from .state import FileState
from ..storage import REPLACING_ROOT, open_store
from ..storage.hdf5_open import is_hdf5 as is_hdf5_file
from .in_place import is_file_object, open_in_place

__all__ = ["File", "INCOMPLETE", "incomplete_datasets", "incomplete_message", "is_hdf5", "refresh"]


# h5py's mode table: mode -> (must exist, must not exist, truncate, writable)
_MODES = {
    "r": (True, False, False, False),
    "r+": (True, False, False, True),
    "w": (False, False, True, True),
    "w-": (False, True, False, True),
    "x": (False, True, False, True),
    "a": (False, False, False, True),
}
# h5py keywords that tune HDF5's own file layout, caches or locking, which a store
# does not have: accepted and without effect (README, "What works").  driver=,
# libver= and swmr= are checked by _check_h5py_options: they can mean something.
_IGNORED_KWARGS = {
    "rdcc_nslots", "rdcc_w0", "track_order", "track_times",
    "fs_strategy", "fs_persist", "fs_threshold", "fs_page_size", "page_buf_size",
    "min_meta_keep", "min_raw_keep", "locking", "alignment_threshold", "alignment_interval",
    "meta_block_size",
}
_FS_STRATEGIES = ("fsm", "page", "aggregate", "none")  # HDF5's file space strategies, by h5py's names
# Drivers that only choose how HDF5 reads a local file: the data and where it
# lives are the same, so they are accepted.  "fsspec" is what File.driver reports.
_HARMLESS_DRIVERS = (None, "sec2", "stdio", "core", "fsspec")
_DRIVER_KWARGS = {"core": {"backing_store", "block_size"}}
# Drivers whose meaning a store cannot give, with what to use instead.
_UNSUPPORTED_DRIVERS = {
    "family": "a file in numbered parts; a store already splits data into chunk objects",
    "split": "metadata and raw data in two files",
    "multi": "metadata and raw data in several files",
    "mpio": "MPI-parallel I/O; use njobs= (threads) or dask.distributed",
    "ros3": "read-only S3; give an s3:// URL instead",
    "fileobj": "Python file objects; give a path or URL",
    "direct": "O_DIRECT local I/O",
    "windows": "Windows file I/O; give a path",
}
# HDF5 library version bounds, oldest first ("latest" is the newest there is)
_LIBVERS = ("earliest", "v108", "v110", "v112", "v114", "v200", "latest")
INCOMPLETE = "incomplete"  # reserved key: an import or copy has not finished (root), or this dataset's data
_LISTED_INCOMPLETE = 10  # datasets named in the warning; the count says how many more


def _check_libver(libver) -> None:
    """h5py's libver values (a bound name, or a (low, high) pair of them); no effect on a store."""
    if libver is None:
        return
    bounds = (libver,) if isinstance(libver, str) else libver
    if (not isinstance(bounds, (tuple, list)) or len(bounds) != (1 if isinstance(libver, str) else 2)
            or any(b not in _LIBVERS for b in bounds)):
        raise InvalidLibverError(f"libver must be one of {', '.join(_LIBVERS)} or a (low, high) pair "
                                 f"of them, not {libver!r}")
    if len(bounds) == 2 and _LIBVERS.index(bounds[0]) > _LIBVERS.index(bounds[1]):
        raise InvalidLibverError("Invalid (low,high) combination of library version bound")


def _libver_bounds(libver) -> tuple:
    """``File.libver``: h5py's (low, high) pair, "latest" named as the HDF5 version emulated."""
    newest = "v114"  # compat/version.py: hdf5_version 1.14
    low, high = ("earliest", "latest") if libver is None else (
        (libver, "latest") if isinstance(libver, str) else tuple(libver))
    return tuple(newest if b == "latest" else b for b in (low, high))


def _check_h5py_options(mode: str, driver, libver, swmr, kwds: dict) -> None:
    """Accept h5py's File keywords that are harmless on a store; refuse, with the
    error h5py gives for an option its build cannot honour, those that are not.

    SWMR is refused: a store reader caches node documents, so it would not see
    a concurrent writer's new shapes, which is what ``swmr=True`` promises.
    """
    allowed = _IGNORED_KWARGS | _DRIVER_KWARGS.get(driver, set()) | {"userblock_size"}
    unknown = set(kwds) - allowed
    if unknown:
        raise TypeError(f"File() got unexpected keyword arguments {sorted(unknown)}")
    if driver in _UNSUPPORTED_DRIVERS:
        raise UnsupportedFileOptionError(f"driver {driver!r} ({_UNSUPPORTED_DRIVERS[driver]}) is not "
                                         "available in dosna_like: a file is a store at a path or URL")
    if driver not in _HARMLESS_DRIVERS:
        raise UnsupportedFileOptionError(f"Unknown driver type {driver!r}")
    _check_userblock(mode, kwds.get("userblock_size"))
    _check_file_space(mode, kwds.get("fs_strategy"), kwds.get("page_buf_size"))
    _check_libver(libver)
    if kwds.get("locking") not in (None, True, False, "best-effort"):
        raise ValueError(f"Unsupported locking value: {kwds['locking']!r}")
    if swmr and mode == "r":
        raise UnsupportedFileOptionError("SWMR (swmr=True) is not available in dosna_like: open the file "
                                         "again to see a writer's new datasets and shapes")
    if swmr:  # h5py's own warning: swmr only matters for readers
        warnings.warn("swmr=True only affects read ('r') mode. For swmr write mode, set "
                      "f.swmr_mode = True after opening the file.", stacklevel=3)


def _check_file_space(mode: str, strategy, page_buf_size) -> None:
    """h5py's checks of the file-space keywords, which have no effect on a store: a
    strategy is set only when creating a file, and is one of HDF5's (ValueError); a
    file created with a page buffer must use the "page" strategy (HDF5's OSError)."""
    creating = mode in ("w", "w-", "x")
    if strategy and not creating:
        raise ValueError("Unable to set file space strategy of an existing file")
    if strategy and strategy not in _FS_STRATEGIES:
        raise ValueError("Invalid file space strategy type")
    if page_buf_size and creating and strategy != "page":
        raise OSError(errno.EINVAL, "Unable to create file (page buffering is disabled for a "
                      "file space strategy other than 'page')")


def _check_userblock(mode: str, size) -> None:
    """A userblock is bytes ahead of HDF5's superblock in a .h5 file; a store has no
    such place (README, "What a directory store cannot do").  h5py's own checks come
    first (ValueError for a size on a file opened to read, or not a power of 2 >= 512)."""
    if size in (None, 0):
        return
    if mode in ("r", "r+"):
        raise ValueError("User block may only be specified when creating a file")
    if not isinstance(size, int) or isinstance(size, bool) or size < 512 or size & (size - 1):
        raise ValueError(f"User block size must be a power of 2 and at least 512, not {size!r}")
    raise UnsupportedFileOptionError(
        f"userblock_size={size}: a store has no user block (bytes ahead of an HDF5 file's superblock); "
        "keep the bytes in an attribute or beside the store, or export to HDF5 "
        "(dosna_like.export_hdf5) and write the block into that file")


def _memory_name(name, mode: str):
    """What ``File(name, mode, driver="core", backing_store=False)`` opens: a new
    memory store that is gone on close, as h5py's file that is never written.

    Reading an existing file is the same with or without a backing store; a
    file opened to change it in memory only would need a copy first, which is
    refused rather than done silently.
    """
    if mode == "r":
        return name
    if mode in ("r+", "a") and os.path.exists(os.fspath(name)):
        raise UnsupportedFileOptionError(
            "driver 'core' with backing_store=False on an existing file (changes kept in memory only) is "
            "not available: copy it to a memory:// URL (dosna_like.copy_store) and open that")
    if mode == "r+":
        raise FileNotFoundError(errno.ENOENT, "Unable to open file (no such file)", os.fspath(name))
    return f"memory://dosna_like-in-memory/{uuid.uuid4().hex}"


def _replace_plain_file(name) -> None:
    """``File(path, "w")`` on an existing local file (an HDF5 file, say) replaces
    it, as h5py does; a directory is left to the store checks, which never wipe
    a non-empty directory that is not a store."""
    if isinstance(name, str | os.PathLike) and os.path.isfile(name):  # a URL is no local file
        os.remove(name)


def incomplete_message(url: str, mark: dict, datasets: list) -> str:
    """What is said about a file an import or copy has not finished (Python API and CLI alike)."""
    if not isinstance(mark, dict):
        mark = {}
    origin = f" (from {mark['source']}, started {mark.get('started', '?')})" if "source" in mark else ""
    text = f"{url} is INCOMPLETE: an import or copy did not finish{origin}; objects may be missing"
    if datasets:
        named = ", ".join(datasets[:_LISTED_INCOMPLETE])
        more = f" and {len(datasets) - _LISTED_INCOMPLETE} more" if len(datasets) > _LISTED_INCOMPLETE else ""
        text += (f", and {len(datasets)} incomplete dataset(s) read missing chunks as their fill value: "
                 f"{named}{more}")
    return text + "; run the import or copy again (overwrite=True / --overwrite)"


def incomplete_datasets(nodes) -> list:
    """Names ('/a/b') of the datasets an unfinished import marked and never completed."""
    return sorted("/" + path for path, node in nodes.items()
                  if node.kind == "dataset" and reserved_of(node.doc, path).get(INCOMPLETE) is not None)





def _root_raws(store) -> tuple:
    """(root zarr.json bytes, its side object's bytes), each None when missing: one round trip."""
    raws = store.get_many([META_KEY, SIDE_KEY])
    return raws.get(META_KEY), raws.get(SIDE_KEY)


def is_hdf5(name, storage_options: dict | None = None) -> bool:
    """h5py's ``is_hdf5``: whether ``File(name, "r")`` opens ``name`` as a file, a
    store whose root is a group or an HDF5 file (read in place); False when
    nothing, or something else, is there."""
    if is_file_object(name):
        return False
    name = os.fsdecode(name) if isinstance(name, bytes) else name
    if is_hdf5_file(name, storage_options):
        return True
    try:
        raw, side = _root_raws(open_store(name, storage_options, read_only=True))
        return raw not in (None, REPLACING_ROOT) and loads(raw, META_KEY, side)["node_type"] == "group"
    except (OSError, ValueError):  # no store there, or no document of ours (FormatError)
        return False


class File(Group):
    """An h5py-style file: a Zarr v3 store root at a local path or fsspec URL.

    ``File(name, mode="r", *, njobs=None, rdcc_nbytes=None, storage_options=None)``
    follows h5py's mode table: r (read, must exist), r+ (read/write, must exist),
    w (create, truncate), w- or x (create, fail if it exists), a (read/write,
    create if missing).  ``njobs`` sets chunk parallelism for every object of the
    file; ``rdcc_nbytes`` sizes each dataset's decoded-chunk cache (h5py's keyword).
    ``trust_links`` (default ``get_config().trust_links``, False): follow
    external links to any URL or absolute path; by default a link reaches only
    files of the same back end beside this one (PermissionError otherwise).

    h5py's other keywords: ``libver``, the cache and file-space settings
    (``rdcc_nslots``, ``rdcc_w0``, ``fs_*``, ``page_buf_size``, ``locking``...)
    and the local drivers ``sec2``, ``stdio`` and ``core`` (with its default
    ``backing_store=True``) are accepted and have no effect, because they tune
    how HDF5 lays out or reads one local file (``File.driver`` reports the one
    asked for).  What a store cannot honour raises ValueError, as h5py does for
    an option its build lacks: ``swmr=True`` on a reader, a ``userblock_size``
    above 0, the ``family``, ``split``, ``mpio``, ``ros3`` and ``fileobj`` drivers.  ``driver="core",
    backing_store=False`` (and ``File.in_memory()``) gives a memory store that
    is gone on close; on an existing file only reading is offered.  Opening a file an import or copy has not finished warns
    (:class:`~dosna_like.errors.IncompleteFileWarning`), naming the datasets
    whose missing chunks would read as the fill value.
    """

    def __init__(self, name, mode: str = "r", *, njobs: int | None = None,
                 rdcc_nbytes: int | None = None, storage_options: dict | None = None,
                 driver: str | None = None, libver=None, swmr: bool = False,
                 trust_links: bool | None = None, **kwds):
        if mode not in _MODES:
            raise ValueError("Invalid mode; must be one of r, r+, w, w-, x, a")
        hdf5_refs = kwds.pop("hdf5_refs", None)
        _check_h5py_options(mode, driver, libver, swmr, kwds)
        if njobs is not None and (not isinstance(njobs, int) or isinstance(njobs, bool) or njobs < 1):
            raise ValueError(f"njobs must be a positive int or None, not {njobs!r}")
        must_exist, must_not_exist, truncate, writable = _MODES[mode]
        in_memory = driver == "core" and kwds.get("backing_store", True) is False
        if in_memory:
            name = _memory_name(name, mode)
        if mode == "w":
            _replace_plain_file(name)
        # hdf5_refs= names where an HDF5 file's reference map is kept: the path is taken for one
        # first (its HEAD and the map in one round trip), not after a store's root probe
        hdf5_first = hdf5_refs is not None and not is_file_object(name)
        store, raw = open_in_place(name, storage_options, mode, hdf5_refs, path_ok=hdf5_first), None
        self._filename = store.url if store is not None else os.fspath(name)
        if store is None:
            store = open_store(name, storage_options, read_only=not writable)
            raw, side = _root_raws(store)
        if raw is None and not is_file_object(name) and not hdf5_first:  # an HDF5 file is read in place
            store = open_in_place(name, storage_options, mode, hdf5_refs, path_ok=True) or store
        if raw is None:
            raw, side = _root_raws(store)
        exists = raw is not None
        if raw == REPLACING_ROOT and not truncate:  # a "w" that was killed or cut off halfway
            raise OSError(errno.EIO, "Unable to open file (a File(..., 'w') replacing this store was "
                          "interrupted: what is left of the old file is incomplete; open it with mode 'w' "
                          "to replace it)", self._filename)
        if must_exist and not exists:
            raise FileNotFoundError(errno.ENOENT, "Unable to open file (no such file)", self._filename)
        if must_not_exist and (exists or not store.is_empty_root()):
            raise FileExistsError(errno.EEXIST, "Unable to create file (file exists)", self._filename)
        if exists and raw != REPLACING_ROOT:
            consolidated = {}
            doc = loads(raw, META_KEY, side, consolidated)
            if doc["node_type"] != "group":
                raise FormatError(f"{self._filename}: the store root is an array, not a file")
        elif not exists and not store.is_empty_root() and mode in ("w", "a"):
            # never wipe or adopt a directory that is not a dosna_like / zarr store
            raise FileExistsError(errno.EEXIST, "Unable to create file (a non-store object exists there)",
                                  self._filename)
        state = FileState(store, not writable, njobs, rdcc_nbytes, open_file=File)
        state.trust_links = get_config().trust_links if trust_links is None else bool(trust_links)
        self._in_memory = in_memory and writable
        self._libver = _libver_bounds(libver)
        self._driver = driver or "fsspec"
        if truncate and exists:
            store.delete_prefix("")
            exists = False
        if not exists:
            track = kwds.get("track_order")
            track = get_config().track_order if track is None else track
            root = group_document({RESERVED: {"track_order": True}} if track else None)
            state.start_new()
            state.write_doc("", root)
        else:
            state._docs.setdefault("", doc)  # another open File of this store may hold a newer one
            state.index.offer_consolidated(consolidated)  # checked node by node if the index loads
        state.file = self
        super().__init__(state, "", inherit=None)
        if exists:
            self._warn_if_incomplete(doc)

    def _warn_if_incomplete(self, root_doc: dict) -> None:
        """Warn when an import or copy left this file unfinished, naming its incomplete datasets.

        Costs nothing for a finished file (the mark is in the root document
        already read); a marked one is listed once, through the search index.
        """
        mark = reserved_of(root_doc, "").get(INCOMPLETE)
        if mark is not None:
            pending = incomplete_datasets(self._state.index.nodes())
            warnings.warn(incomplete_message(self._filename, mark, pending), IncompleteFileWarning, stacklevel=3)

    # ------------------------------------------------------------ h5py API
    _in_memory_files = itertools.count()

    @classmethod
    def in_memory(cls, file_image=None, **kwds) -> "File":
        """h5py's ``File.in_memory()``: a new, writable file that is gone on close
        (a memory store).  ``file_image`` (HDF5's on-disk bytes) is refused:
        write them to a ``.h5`` file and open that, which reads it in place."""
        for key in ("driver", "locking", "backing_store"):
            if key in kwds:
                raise TypeError(f"File.in_memory() got an unexpected keyword argument {key!r}")
        if file_image:
            raise UnsupportedFileOptionError("an HDF5 file image is HDF5's on-disk format: write it to a "
                                             ".h5 file and open that with File(path)")
        kwds.pop("block_size", None)
        name = f"dosna_like_in_memory_nonfile_{next(cls._in_memory_files)}"
        return cls(name, "w", driver="core", backing_store=False, **kwds)

    @property
    def libver(self) -> tuple:
        """The (low, high) HDF5 format bounds asked for; no effect on a store (as h5py reports them)."""
        return getattr(self, "_libver", ("earliest", "v114"))

    @property
    def filename(self) -> str:
        return self._filename

    @property
    def mode(self) -> str:
        return "r" if self._state.read_only else "r+"

    @property
    def driver(self) -> str:
        """The driver asked for (``sec2``, ``stdio``, ``core``: all read the same store), else "fsspec"."""
        return getattr(self, "_driver", "fsspec")

    @property
    def swmr_mode(self) -> bool:
        """Always False: SWMR is not available (see :class:`File`)."""
        return False

    @swmr_mode.setter
    def swmr_mode(self, value) -> None:
        if not value:  # h5py's words for switching it off
            raise ValueError("It is not possible to forcibly switch SWMR mode off.")
        raise RuntimeError("Unable to start swmr writing (SWMR is not available in dosna_like)")

    @property
    def store(self):
        """The :class:`~dosna_like.storage.Store` (request counts in ``store.requests``)."""
        return self._state.store

    def flush(self) -> None:
        """Store the metadata kept in memory (documents, then the search index); chunks are stored as written."""
        self._check_open()
        self._state.flush()

    def close(self) -> None:
        if not self._state.closed:
            discard_anonymous(self._state)
            try:
                self._state.close()
            finally:
                for ext in self._state._external.values():
                    ext.close()
                self._state._external.clear()
                self._state.close_sources()
                if getattr(self, "_in_memory", False):  # backing_store=False: nothing outlives the file
                    self._state.store.delete_prefix("")
                self._state.store.close()

    def __enter__(self) -> "File":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if not self:
            return "<Closed HDF5 file>"
        base = os.path.basename(self._filename.rstrip("/")) or self._filename
        return f'<HDF5 file "{base}" (mode {self.mode})>'


def refresh(file: File) -> bool:
    """Check an open file's search index against its store again (True when it was still right)."""
    file._check_open()
    return file._state.index.refresh()
