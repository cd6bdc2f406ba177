"""``File``: h5py's file object over a store root, and the open file's shared state."""
from __future__ import annotations

import errno
import os
import posixpath
import threading

from .config import get_config
from .engine import DEFAULT_RDCC_NBYTES, ArrayIO, default_njobs
from .errors import FormatError
from .group import Group
from .index import SIDECAR_KEY, LiveIndex
from .metadata import META_KEY, RESERVED, ArrayMeta, dumps, editable_copy, group_document, loads, node_key
from .store import Store

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


class FileState:
    """What every handle of one open file shares: store, mode, caches, settings."""

    def __init__(self, store: Store, read_only: bool, njobs: int | None, rdcc_nbytes: int | None):
        self.store = store
        self.store_id = (type(store.fs).__name__, store.root)
        self.read_only = read_only
        self.njobs = njobs or default_njobs()
        self.rdcc_nbytes = DEFAULT_RDCC_NBYTES if rdcc_nbytes is None else int(rdcc_nbytes)
        self.closed = False
        self.file = None
        self._docs: dict = {}
        self._arrays: dict = {}
        self._external: dict = {}  # files opened through external links
        self._lock = threading.Lock()
        self.index = LiveIndex(self)  # the sidecar search index; told of every document write

    # --------------------------------------------------------- documents
    def read_doc(self, path: str, required: bool = False) -> dict | None:
        doc = self._docs.get(path)
        if doc is None:
            key = node_key(path)
            raw = self.store.get(key)
            if raw is None:
                if required:
                    raise FormatError(f"node {'/' + path!r} has no {META_KEY}")
                return None
            doc = loads(raw, key)
            self._docs[path] = doc
        return doc

    def children(self, path: str) -> list:
        """Sorted names of the child nodes of the group at ``path``.

        One listing, then one concurrent batch fetching the documents not yet
        cached (a directory without a document, such as a dataset whose first
        write never finished, is not a node).
        """
        def child(name: str) -> str:
            return f"{path}/{name}" if path else name

        names = self.index.child_names(path)  # this session's verified index, if it is loaded
        if names is None:
            names = [n for n in self.store.list_dir(path)
                     if n != META_KEY and n != SIDECAR_KEY and not n.endswith(".partial")]
        unknown = {node_key(child(n)): child(n) for n in names if child(n) not in self._docs}
        for key, raw in self.store.get_many(unknown).items():
            self._docs[unknown[key]] = loads(raw, key)
        nodes = [n for n in names if child(n) in self._docs]
        reserved = self.reserved(path)
        members = set(nodes) | set(reserved.get("links", {}))
        if reserved.get("track_order"):
            order = [n for n in reserved.get("order", []) if n in members]
            return order + sorted(members - set(order))
        return sorted(members)

    # ------------------------------------------------- group bookkeeping
    def reserved(self, path: str) -> dict:
        """The reserved ``_dosna_like`` entry of a node's attributes (links, order...)."""
        doc = self.read_doc(path)
        return ((doc or {}).get("attributes") or {}).get(RESERVED, {})

    def update_attributes(self, path: str, update) -> None:
        """Apply ``update(attributes_dict)`` to a node's attributes and store its
        document (the array layout, if it is one, is unchanged)."""
        doc = editable_copy(self.read_doc(path, required=True))
        update(doc["attributes"])
        self.write_doc(path, doc, layout_changed=False)

    def update_reserved(self, path: str, update) -> None:
        """Apply ``update(reserved_dict)`` to the node's reserved entry and store the document."""
        self.update_attributes(path, lambda attributes: update(attributes.setdefault(RESERVED, {})))

    def note_member(self, path: str, name: str, added: bool) -> None:
        """Keep a track_order group's creation order up to date."""
        if not self.reserved(path).get("track_order"):
            return

        def update(reserved: dict) -> None:
            order = [n for n in reserved.get("order", []) if n != name]
            reserved["order"] = order + [name] if added else order

        self.update_reserved(path, update)

    def external_file(self, filename: str):
        """The File an external link points into, opened once with this file's intent."""
        target = filename
        if "://" not in filename and "::" not in filename and not os.path.isabs(filename):
            base = self.store.url
            target = (posixpath.join(posixpath.dirname(base.rstrip("/")), filename) if "://" in base
                      else os.path.join(os.path.dirname(base.rstrip(os.sep)), filename))
        f = self._external.get(target)
        if f is None or not f:
            f = self._external[target] = File(target, "r" if self.read_only else "r+")
        return f

    def write_doc(self, path: str, doc: dict, layout_changed: bool = True) -> None:
        """Store a node's document; ``layout_changed=False`` when only its
        attributes changed (an open array then keeps its codecs)."""
        raw = dumps(doc)
        self.store.set(node_key(path), raw)
        self._docs[path] = doc
        self.index.written(path, doc, raw)
        io = self._arrays.get(path)
        if io is not None:
            if layout_changed:
                io.set_meta(ArrayMeta.from_document(doc))
            else:
                io.meta.attributes = doc.get("attributes") or {}

    def forget(self, path: str) -> None:
        """Drop cached documents and chunk caches of ``path`` and everything below it."""
        prefix = path + "/"
        for table in (self._docs, self._arrays):
            for p in [p for p in table if p == path or p.startswith(prefix) or path == ""]:
                del table[p]

    def move_node(self, src: str, dest: str) -> None:
        self.store.move_prefix(src, dest)
        self.forget(src)
        self.forget(dest)
        self.index.moved(src, dest)

    def delete_node(self, path: str) -> None:
        self.store.delete_prefix(path)
        self.forget(path)
        self.index.deleted(path)

    # ------------------------------------------------------------ arrays
    def array_io(self, path: str) -> ArrayIO:
        io = self._arrays.get(path)
        if io is None:
            with self._lock:
                io = self._arrays.get(path)
                if io is None:
                    meta = ArrayMeta.from_document(self.read_doc(path, required=True))
                    io = self._arrays[path] = ArrayIO(self.store, path, meta, self.rdcc_nbytes)
        return io

    def new_array_io(self, path: str, meta: ArrayMeta) -> ArrayIO:
        io = ArrayIO(self.store, path, meta, self.rdcc_nbytes)
        self._arrays[path] = io
        return io


def _local_name(name) -> str:
    """Plain paths (no URL scheme) are local directories, made absolute."""
    name = os.fspath(name)
    if "://" in name or "::" in name:
        return name
    return os.path.abspath(name)


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
        store = Store(_local_name(name), storage_options, read_only=not writable)
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
        state = FileState(store, not writable, njobs, rdcc_nbytes)
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
