"""``FileState``: what every handle of one open file shares (store, mode,
document cache, open arrays, the live search index), and the one place node
documents are read and written.
"""
from __future__ import annotations

import os
import threading

from ..chunks.engine import ArrayIO, DEFAULT_RDCC_NBYTES
from ..chunks.sharded import open_array_io
from ..chunks.pools import default_njobs
from ..errors import FormatError
from ..format.documents import ArrayMeta, dumps, editable_copy, loads
from ..format.keys import META_KEY, node_key
from ..format.reserved import edit_reserved, reserved_of
from ..index.live import LiveIndex
from ..storage import Store
from ..storage.hdf5_referencing import referencing_store
from .anonymous import ANONYMOUS

__all__ = ["FileState"]


class FileState:
    """What every handle of one open file shares: store, mode, caches, settings."""

    def __init__(self, store: Store, read_only: bool, njobs: int | None, rdcc_nbytes: int | None,
                 open_file=None):
        self.store = store
        self.store_id = store.identity
        self.read_only = read_only
        self.njobs = njobs or default_njobs()
        self.rdcc_nbytes = DEFAULT_RDCC_NBYTES if rdcc_nbytes is None else int(rdcc_nbytes)
        self.closed = False
        self.file = None
        self._docs: dict = {}
        self._reserved: dict = {}  # path -> (document, its checked reserved entry)
        self._arrays: dict = {}
        self._external: dict = {}  # files opened through external links
        self._open_file = open_file  # File(url, mode): how an external link opens its file
        self._lock = threading.Lock()
        self.trust_links = False  # follow external links anywhere (File(..., trust_links=True))
        self.moves: list = []  # (source, destination) of every node moved, so handles follow their objects
        self.index = LiveIndex(self)  # the sidecar search index; told of every document write
        self.hdf5_sources: dict = {}  # HDF5 files arrays imported by reference read from, by URL

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
            # directories only: a node is one; the sidecar and temporary files are files
            names = self.store.list_dirs(path)
        unknown = {node_key(child(n)): child(n) for n in names if child(n) not in self._docs}
        damaged = set()
        for key, raw in self.store.get_many(unknown).items():
            try:
                self._docs[unknown[key]] = loads(raw, key)
            except FormatError:  # listed, so opening it names the damage; its siblings stay visible
                damaged.add(unknown[key])
        nodes = [n for n in names if (child(n) in self._docs or child(n) in damaged)
                 and (path or n != ANONYMOUS)]  # anonymous objects are not members (hl/anonymous.py)
        reserved = self.reserved(path)
        members = set(nodes) | set(reserved.get("links", {}))
        if reserved.get("track_order"):
            order = [n for n in reserved.get("order", []) if n in members]
            return order + sorted(members - set(order))
        return sorted(members)

    # ------------------------------------------------- group bookkeeping
    def reserved(self, path: str) -> dict:
        """The reserved ``_dosna_like`` entry of a node's attributes (links, order...),
        checked: FormatError naming the node when another tool damaged it.

        Checked once per document (a group's thousands of link records are not
        walked again on every member lookup); a new document is checked anew.
        """
        doc = self.read_doc(path)
        known = self._reserved.get(path)
        if known is not None and known[0] is doc:
            return known[1]
        reserved = reserved_of(doc, path)
        self._reserved[path] = (doc, reserved)
        return reserved

    def update_attributes(self, path: str, update) -> None:
        """Apply ``update(attributes_dict)`` to a node's attributes and store its
        document (the array layout, if it is one, is unchanged)."""
        # Against the stored document, not the cached one: another handle or
        # process may have changed it since (the store serialises the update).
        key = node_key(path)
        edited = {}

        def change(raw) -> bytes:
            if raw is None:
                raise FormatError(f"node {'/' + path!r} has no {META_KEY}")
            doc = editable_copy(loads(raw, key))
            doc.setdefault("attributes", {})
            update(doc["attributes"])
            edited["doc"] = doc
            return dumps(doc)

        raw = self.store.update(key, change)
        self._remember_doc(path, edited["doc"], raw, layout_changed=False)

    def update_reserved(self, path: str, update) -> None:
        """Apply ``update(reserved_dict)`` to the node's reserved entry and store the document."""
        self.update_attributes(path, lambda attributes: update(edit_reserved(attributes, path)))

    def note_member(self, path: str, name: str, added: bool) -> None:
        """Keep a track_order group's creation order up to date."""
        if not self.reserved(path).get("track_order"):
            return

        def update(reserved: dict) -> None:
            order = [n for n in reserved.get("order", []) if n != name]
            reserved["order"] = order + [name] if added else order

        self.update_reserved(path, update)

    def external_file(self, filename: str, mode: str | None = None):
        """The File an external link points into, opened once per mode: ``mode``
        ("r" or "r+", h5py's ``elink_mode``) or this file's intent."""
        # HDF5 resolves it beside the linking file; an untrusted file's links stay there
        target = self.store.sibling_url(filename) if self.trust_links else self.store.confined_url(filename)
        mode = mode or ("r" if self.read_only else "r+")
        f = self._external.get((target, mode))
        if f is None or not f:
            f = self._external[target, mode] = self._open_file(target, mode, trust_links=self.trust_links)
        return f

    def write_doc(self, path: str, doc: dict, layout_changed: bool = True) -> None:
        """Store a node's document; ``layout_changed=False`` when only its
        attributes changed (an open array then keeps its codecs)."""
        raw = dumps(doc)
        self.store.set(node_key(path), raw)
        self._remember_doc(path, doc, raw, layout_changed)

    def _remember_doc(self, path: str, doc: dict, raw: bytes, layout_changed: bool) -> None:
        """Cache a document just stored and tell the index and an open array."""
        self._docs[path] = doc
        self.index.written(path, doc, raw)
        io = self._arrays.get(path)
        if io is not None:
            if layout_changed:
                io.set_meta(ArrayMeta.from_document(doc, path))
            else:
                io.meta.attributes = doc.get("attributes") or {}

    def forget(self, path: str) -> None:
        """Drop cached documents and chunk caches of ``path`` and everything below it."""
        prefix = path + "/"
        for table in (self._docs, self._reserved, self._arrays):
            for p in [p for p in table if p == path or p.startswith(prefix) or path == ""]:
                del table[p]

    def move_node(self, src: str, dest: str) -> None:
        self.moves.append((src, dest))
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
                    doc = self.read_doc(path, required=True)
                    meta = ArrayMeta.from_document(doc, path)
                    store = referencing_store(self.store, path, doc, self.trust_links, self.hdf5_sources)
                    io = self._arrays[path] = open_array_io(store, path, meta, self.rdcc_nbytes)
        return io

    def close_sources(self) -> None:
        """Close the HDF5 files opened for arrays imported by reference."""
        for source in self.hdf5_sources.values():
            if source[0] == "fd":
                os.close(source[1])
        self.hdf5_sources.clear()

    def new_array_io(self, path: str, meta: ArrayMeta) -> ArrayIO:
        io = open_array_io(self.store, path, meta, self.rdcc_nbytes)
        self._arrays[path] = io
        return io
