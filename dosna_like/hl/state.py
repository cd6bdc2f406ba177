"""``FileState``: what every handle of one open file shares (store, mode,
document cache, open arrays, the live search index), and the one place node
documents are read and changed (through the write-back
:class:`~dosna_like.hl.metadata_cache.DocumentCache`).
"""
from __future__ import annotations

import os
import threading

from ..chunks.engine import ArrayIO, DEFAULT_RDCC_NBYTES
from ..chunks.sharded import open_array_io
from ..chunks.pools import default_njobs
from ..format.documents import ArrayMeta, fetch_documents
from ..format.reserved import edit_reserved, reserved_of
from ..index.live import UNKNOWN, LiveIndex
from ..storage import Store
from ..storage.hdf5_referencing import referencing_store
from .anonymous import ANONYMOUS
from .metadata_cache import shared_cache

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
        self.documents = shared_cache(store)  # the store's node documents, changes not yet flushed included
        self._docs = self.documents.docs
        self._reserved: dict = {}  # path -> (document, its checked reserved entry)
        self._arrays: dict = {}
        self._external: dict = {}  # files opened through external links
        self._open_file = open_file  # File(url, mode): how an external link opens its file
        self._lock = threading.Lock()
        self.trust_links = False  # follow external links anywhere (File(..., trust_links=True))
        self.moves: list = []  # (source, destination) of every node moved, so handles follow their objects
        self.index = LiveIndex(self)  # the sidecar search index; told of the documents each flush stores
        self.hdf5_sources: dict = {}  # HDF5 files arrays imported by reference read from, by URL
        self.documents.attach(self)

    # --------------------------------------------------------- documents
    def read_doc(self, path: str, required: bool = False) -> dict | None:
        """A node's document as this file knows it (changes not yet flushed included).

        Not cached yet: from the verified search index once a listing loaded it
        (no request), else from the store.  A name the index lacks is known absent
        in a read-only file only: a writer looks in the store, so that creating a
        node never replaces one another process made since the index was checked."""
        doc = self._docs.get(path)
        if doc is not None:
            return doc
        if self.index.ready:
            known = self.index.known_doc(path)
            if known is not UNKNOWN:
                if known is not None:
                    return self._docs.setdefault(path, known)  # a change made meanwhile wins
                if self.read_only and not required:
                    return None
        return self.documents.get(self.store, path, required)

    def children(self, path: str) -> list:
        """Sorted names of the child nodes of the group at ``path``.

        One listing, then one concurrent batch fetching the documents not yet
        cached and one fetching the side objects of the groups among them (a directory without a document, such as a dataset whose first
        write never finished, is not a node); children created since the last
        flush come from the document cache.  A group created since then has
        no stored members: the store is not listed.
        """
        def child(name: str) -> str:
            return f"{path}/{name}" if path else name

        names = [] if self.documents.is_new(path) else self.index.child_names(path)  # verified index
        if names is None:
            # directories only: a node is one; the sidecar and temporary files are files
            names = self.store.list_dirs(path)
        names = sorted(set(names) | self.documents.new_children(path))
        damaged = set()  # listed, so opening it names the damage; its siblings stay visible
        fetched = fetch_documents(self.store, [child(n) for n in names if child(n) not in self._docs], damaged)
        for p, doc in fetched.items():
            self._docs.setdefault(p, doc)
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
        """Apply ``update(attributes_dict)`` to a node's attributes (the array layout,
        if it is one, is unchanged).

        Now in the cached document, and at flush once more to the stored one
        (another handle or process may have changed it since), by the store's
        conditional read-modify-write: ``update`` must depend on its argument only.
        """
        doc = self.documents.edit(self.store, path, update)
        for io in self._open_arrays(path):
            io.meta.attributes = doc.get("attributes") or {}

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

    def write_doc(self, path: str, doc: dict, layout_changed: bool = True, meta: ArrayMeta | None = None) -> None:
        """Store a new node's whole document (or replace a node's), at the next flush;
        ``layout_changed=False`` when only its attributes changed (an open array
        then keeps its codecs); ``meta``: the array layout ``doc`` describes, when the
        caller built it already (an open array that has it is left as it is).
        The root document of a new file is stored at once, so the file exists
        from ``File(...)`` on, as HDF5's does."""
        if path not in self._docs and path and doc.get("node_type") == "group":  # an array's chunks may be here
            self._clear_leftovers(path)
        self.documents.put(self.store, path, doc)
        if path == "":
            self.documents.flush(self.store)
        # an open array reads its layout from the document (dtype marks as h5py reports them)
        self._new_layout(path, doc, layout_changed, meta)

    def set_layout(self, path: str, doc: dict) -> None:
        """An existing node's new layout (``doc``'s shape...) at the next flush; the
        attributes stored then are kept and this file's attribute changes applied."""
        self.documents.put_layout(self.store, path, doc)
        self._new_layout(path, doc, True)

    def _open_arrays(self, path: str) -> list:
        """The open array at ``path`` of every File sharing this file's documents."""
        return [io for io in (state._arrays.get(path) for state in self.documents.users()) if io is not None]

    def _new_layout(self, path: str, doc: dict, layout_changed: bool, meta: ArrayMeta | None = None) -> None:
        for io in self._open_arrays(path):
            if io.meta is meta:  # opened with this very layout
                continue
            if layout_changed:
                meta = meta or ArrayMeta.from_document(doc, path)
                io.set_meta(meta)
            else:
                io.meta.attributes = doc.get("attributes") or {}

    def _stored(self, stored: list) -> None:
        """``[(path, document, raw)]`` a flush stored: the index and open arrays hear of them."""
        self.index.written_many(stored)
        for path, doc, _ in stored:
            io = self._arrays.get(path)
            if io is not None:  # attributes merged with another writer's
                io.meta.attributes = doc.get("attributes") or {}

    def start_new(self) -> None:
        """The file was just created, or truncated: no document, pending or stored, survives."""
        self.documents.reset()
        self.index.start_new()

    def flush_documents(self) -> None:
        """Store the held partial chunks, then the pending document changes (not the
        search index): metadata is stored after the chunks it describes."""
        if not self.read_only:
            self.flush_chunks()
            self.documents.flush(self.store)

    def flush_chunks(self, path: str | None = None) -> None:
        """Store the partial chunks held in memory (chunks/pending.py) of the open arrays
        of every writable File sharing this file's documents (those at or below ``path``;
        a read-only File's array shares them, but its store refuses writes)."""
        for io in self._arrays_below(path, writable=True):
            io.flush_pending(self.njobs)

    def _arrays_below(self, path: str | None, writable: bool = False) -> list:
        prefix = None if not path else path + "/"
        return [io for state in self.documents.users() if not (writable and state.read_only)
                for p, io in list(state._arrays.items()) if prefix is None or p == path or p.startswith(prefix)]

    def flush(self) -> None:
        """``File.flush()``: pending documents, then the search index and consolidated metadata."""
        self.flush_documents()
        self.index.save()

    def close(self) -> None:
        """``File.close()``: flush (the index warning instead of raising), then forget
        the documents, even when the flush raised."""
        try:
            self.flush_documents()
            self.index.save_on_close()
        finally:
            self.closed = True
            self.documents.detach(self)
            self._arrays.clear()

    def forget(self, path: str) -> None:
        """Drop cached documents and chunk caches of ``path`` and everything below it
        (documents with changes not yet flushed stay: they are newer than the store's;
        so are the partial chunks held in memory, which are stored first)."""
        if not self.read_only:
            self.flush_chunks(path)
        self.documents.forget(path)
        self.index.forget(path)
        prefix = path + "/"
        for table in (self._reserved, self._arrays):
            for p in [p for p in table if p == path or p.startswith(prefix) or path == ""]:
                del table[p]

    def move_node(self, src: str, dest: str) -> None:
        self.flush_documents()  # the store moves what is stored
        self.moves.append((src, dest))
        self.store.move_prefix(src, dest)
        self.forget(src)
        self.forget(dest)
        for state in self.documents.users():  # every File of this store lists from its own index
            state.index.moved(src, dest)

    def delete_node(self, path: str) -> None:
        for io in self._arrays_below(path):
            io.pending.clear()  # never stored: deleted with the node
        self.documents.discard(path)
        self.store.delete_prefix(path)
        self.forget(path)
        for state in self.documents.users():
            state.index.deleted(path)

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

    def _clear_leftovers(self, path: str) -> None:
        """Before a node is created at ``path``: delete what a killed writer left there
        (chunks of a dataset whose document was never stored), so it never shows
        through the new node.  Below a group created since the last flush there is
        nothing left to check: that group's creation cleared its place."""
        if path not in self._docs and not self.documents.members_known(path.rpartition("/")[0]) \
                and self.store.exists(path):
            self.store.delete_prefix(path)

    def new_array_io(self, path: str, meta: ArrayMeta) -> ArrayIO:
        self._clear_leftovers(path)
        io = open_array_io(self.store, path, meta, self.rdcc_nbytes)
        io.pending.clear()  # a new array: nothing of an earlier one at this path is held
        io.pending.stored.clear()
        self._arrays[path] = io
        return io
