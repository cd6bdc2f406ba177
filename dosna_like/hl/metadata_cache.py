"""Write-back cache of node documents: HDF5's metadata cache over a store.

Why: a node document (the ``zarr.json`` of a group or dataset) used to be
stored at every change, so creating a dataset with two attributes stored its
document three times, the attribute writes each as a locked read-modify-write
and, locally, a rename over an existing file (which ext4 makes wait for the
data: about 0.6 ms each).  That made creating 1,000 small datasets 8x slower
than h5py.  HDF5 keeps metadata in memory and writes it when the file is
flushed or closed; so does this cache, one per store open in this process
(``FileState.documents``, shared by every ``File`` of that store, as HDF5
shares an open file between the handles that open it).

What it holds:

* every document the file has read or changed, the newest it knows: reads
  through any handle of the file see the pending changes, because they are
  the cached documents;
* the *pending* changes, per node: a node created by this file is stored
  whole; for a node that exists in the store, its new layout (a resize) and
  the attribute updates made since the last flush are replayed at flush
  against the stored document by the store's conditional read-modify-write
  (``Store.update``), so a concurrent writer's change is merged, or raises,
  never lost (issue 18).

:meth:`DocumentCache.flush` stores every pending node, parents before
children (one concurrent batch per depth), then reports what it stored to
``on_stored`` once (the search index, open arrays).  ``FileState`` calls it
on ``File.flush()``/``close()``, before a handle is pickled for another
process and before a move; it also runs when more than ``limit`` nodes wait,
and, for a file nobody closed, when the file is garbage-collected or the
interpreter exits (as HDF5 closes open files at exit).

What a crash costs: the metadata changes made since the last flush, nothing
else.  Chunks are still written at once, so the chunks of a dataset created
since then stay in the store under a path with no document, which is not a
node (never listed or opened).  Documents stored earlier are untouched, and
as parents are stored before their children a stored document's parents are
always stored too.
"""
from __future__ import annotations

import threading
import warnings
import weakref

from ..chunks.pools import parallel_map
from ..errors import FormatError
from ..format.documents import dumps, editable_copy, fetch_documents, loads, side_document
from ..format.keys import META_KEY, SIDE_KEY, node_key

__all__ = ["DocumentCache", "MAX_PENDING_NODES", "shared_cache"]

# Pending nodes that trigger a flush: about 1-3 kB each, so a few MB at most
MAX_PENDING_NODES = 4096


class _Pending:
    """What a flush must store for one node."""

    __slots__ = ("doc", "created", "fresh", "layout", "edits")

    def __init__(self, doc: dict, created: bool, fresh: bool = False):
        self.doc = doc          # the node's document with every change made here
        self.created = created  # stored whole (plain write): a node made here, or replaced whole
        self.fresh = fresh      # made here and never stored: nothing of it is in the store
        self.layout = None      # an existing node's new document, attributes aside (resize)
        self.edits: list = []   # attribute updates of an existing node, in order


def _depth(path: str) -> int:
    return path.count("/") + 1 if path else 0


def _merged(raw, key: str, path: str, entry: _Pending, side=None) -> dict:
    """The stored document ``raw`` (with its side object's bytes ``side``) with
    ``entry``'s layout and attribute updates applied."""
    if raw is None:  # deleted by another writer since this file read it
        raise FormatError(f"node {'/' + path!r} has no {META_KEY}")
    doc = editable_copy(loads(raw, key, side))
    if entry.layout is not None:
        attributes = doc["attributes"]
        doc = {k: v for k, v in entry.layout.items() if k != "attributes"}
        doc["attributes"] = attributes
    for update in entry.edits:
        update(doc["attributes"])
    return doc


def _merge_group(store, path: str, entry: _Pending) -> tuple:
    """Store an existing group's changes: its side object (the reserved entry)
    by a conditional update, then its ``zarr.json`` the same way, each merged
    with what is stored.  Killed in between, the side object's new type records
    do not apply to the attribute values not stored (format/documents.py).
    Returns (document, zarr.json bytes, side object bytes)."""
    key, side_key, result = node_key(path), node_key(path, SIDE_KEY), {}

    def change_side(side) -> bytes:
        result["doc"] = _merged(store.get(key), key, path, entry, side)
        return side_document(result["doc"], always=True)

    side = store.update(side_key, change_side)

    def change(raw) -> bytes:
        result["doc"] = _merged(raw, key, path, entry, side)
        return dumps(result["doc"])

    raw = store.update(key, change)
    return result["doc"], raw, side


def _merge_one(store, path: str, entry: _Pending) -> tuple:
    """Store an existing node's changes merged with its stored document: (doc, raw, side raw)."""
    if entry.doc.get("node_type") == "group":
        return _merge_group(store, path, entry)
    key, result = node_key(path), {}

    def change(raw) -> bytes:
        result["doc"] = _merged(raw, key, path, entry)
        return dumps(result["doc"])

    raw = store.update(key, change)
    return result["doc"], raw, None


def _set_all(store, items: dict, threads: int) -> None:
    if threads > 1:
        store.set_many(items)
    else:  # no thread pool (at interpreter exit they take no more work)
        for key, raw in items.items():
            store.set(key, raw)


def _store_pending(store, pending: dict, docs: dict, threads: int) -> tuple:
    """Store ``pending`` ({path: _Pending}) parents first, and put the stored
    documents in ``docs``; returns ([(path, document, (raw, side raw))] stored,
    first error or None).  Stored nodes leave ``pending``; failed ones stay.

    A created group's side object is stored before its document (a node is
    its ``zarr.json``: killed in between, no node shows a missing entry)."""
    stored, error = [], None
    for depth in sorted({_depth(p) for p in pending}):
        level = [p for p in pending if _depth(p) == depth]
        created = {p: dumps(pending[p].doc) for p in level if pending[p].created}
        sides = {p: side_document(pending[p].doc, always=not pending[p].fresh) for p in created}
        try:
            _set_all(store, {node_key(p, SIDE_KEY): side for p, side in sides.items() if side is not None}, threads)
            _set_all(store, {node_key(p): raw for p, raw in created.items()}, threads)
            stored += [(p, pending[p].doc, (raw, sides[p])) for p, raw in created.items()]
        except Exception as exc:  # noqa: BLE001 - kept pending, raised after the rest is stored
            error = error or exc
            created = {}

        def merge(path):
            try:
                doc, raw, side = _merge_one(store, path, pending[path])
            except Exception as exc:  # noqa: BLE001 - as above
                return path, None, None, exc
            return path, doc, (raw, side), None

        for path, doc, raws, exc in parallel_map(merge, [p for p in level if not pending[p].created],
                                                 min(threads, len(level))):
            if exc is None:
                stored.append((path, doc, raws))
            else:
                error = error or exc
        for path, doc, _ in stored:
            if pending.pop(path, None) is not None:
                docs[path] = doc
        if error is not None:
            break  # children stay pending while a parent could not be stored
    return stored, error


def _store_left(store, pending: dict, docs: dict) -> None:
    """Finalizer of a file nobody closed: store what is pending, in this thread
    (at interpreter exit the thread pools accept no more work)."""
    if not pending:
        return
    try:
        _, error = _store_pending(store, pending, docs, 1)
    except Exception as exc:  # noqa: BLE001 - a finalizer must not raise
        error = exc
    if error is not None:
        warnings.warn(f"{store.url}: metadata of a file that was never closed could not be stored ({error})",
                      RuntimeWarning, stacklevel=1)


_shared: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()  # store identity -> cache
_shared_lock = threading.Lock()


def shared_cache(store) -> "DocumentCache":
    """The document cache of every open file of ``store``'s place in this process:
    as HDF5 shares one open file (and its metadata cache) between the handles
    that open it, a second ``File`` of the same store sees the first's changes."""
    with _shared_lock:
        cache = _shared.get(store.identity)
        if cache is None:
            cache = _shared[store.identity] = DocumentCache()
        return cache


class DocumentCache:
    """The node documents of the open files of one store, with changes kept until flush.

    Each ``FileState`` of the store attaches (:meth:`attach`) and hears of
    every document stored, once per flush (``state._stored([(path, doc, raw)])``);
    a writable one that is garbage-collected unclosed, or still open at
    interpreter exit, stores what is pending.  Methods that may read or write
    take the caller's store.
    """

    def __init__(self, limit: int = MAX_PENDING_NODES):
        self.docs: dict = {}       # path -> the newest document this process knows
        self._pending: dict = {}   # path -> _Pending
        self._new_kids: dict = {}  # parent path -> names of pending created children
        # groups whose stored child nodes are all in ``docs`` (and nothing else is stored
        # below them): made here, or the root of a file just created; a name missing
        # there is looked up without a store request (creating 1,000 datasets in new
        # groups, or at the root of a new file, made 5 requests per group or dataset)
        self._members_known: set = set()
        self._users: "weakref.WeakSet" = weakref.WeakSet()
        self._user_refs: tuple = ()  # weak references to the users, read without the lock
        self._finalizers: dict = {}  # id(state) -> its weakref.finalize
        self.limit = limit
        # every change and flush takes it; so does each attached file's search index
        # (``LiveIndex``), which a flush tells what it stored: one lock for both, never
        # two taken in opposite orders by a flush and a search in two threads
        self.lock = self._lock = threading.RLock()

    # ------------------------------------------------------------ users
    def attach(self, state) -> None:
        with self._lock:
            self._users.add(state)
            self._user_refs = tuple(weakref.ref(user) for user in self._users)
            if not state.read_only:
                self._finalizers[id(state)] = weakref.finalize(state, _store_left, state.store,
                                                               self._pending, self.docs)

    def users(self) -> list:
        """The open files' states attached to this cache.

        Asked on every attribute write and node creation: a snapshot of weak
        references, not a walk of the WeakSet under the lock."""
        return [user for user in (ref() for ref in self._user_refs) if user is not None]

    def detach(self, state) -> None:
        """``state``'s file closed (after its flush): the last one out empties the cache."""
        with self._lock:
            self._users.discard(state)
            self._user_refs = tuple(weakref.ref(user) for user in self._users)
            finalizer = self._finalizers.pop(id(state), None)
            if finalizer is not None:
                finalizer.detach()
            if not self._users:
                self.reset()

    def reset(self) -> None:
        """Forget everything, pending changes included (the store was emptied, or every file closed)."""
        with self._lock:
            self._pending.clear()
            self._new_kids.clear()
            self._members_known.clear()
            self.docs.clear()

    # ------------------------------------------------------------ reads
    def get(self, store, path: str, required: bool = False) -> dict | None:
        """The node's document (its pending state included), or None when there is no node."""
        doc = self.docs.get(path)
        if doc is None:
            if not path or not self._known_absent(path):
                # a group's side object (format/documents.py) with the root's document, concurrently;
                # below it, after the document and for a group only: an array's open costs one GET
                if path:
                    doc = fetch_documents(store, [path]).get(path)
                else:
                    raws = store.get_many([META_KEY, SIDE_KEY])
                    doc = loads(raws[META_KEY], META_KEY, raws.get(SIDE_KEY)) if META_KEY in raws else None
                if doc is not None:
                    with self._lock:
                        doc = self.docs.setdefault(path, doc)  # a change made meanwhile wins
            if doc is None and required:
                raise FormatError(f"node {'/' + path!r} has no {META_KEY}")
        return doc

    def is_new(self, path: str) -> bool:
        """Whether ``path`` is a node created here and not stored yet: the store
        holds no member of it (anything there is a killed writer's leftover)."""
        entry = self._pending.get(path)
        return entry is not None and entry.fresh

    def _known_absent(self, path: str) -> bool:
        """Whether ``path`` (not in :attr:`docs`) is known to have no stored node:
        its parent's members are all known, or its parent is known absent too."""
        parent = path.rpartition("/")[0]
        if self.members_known(parent):
            return True
        return bool(parent) and parent not in self.docs and self._known_absent(parent)

    def members_known(self, path: str) -> bool:
        """Whether every node stored below ``path`` is in :attr:`docs` and nothing
        else is stored there (a group made here, or the root of a file just created,
        and not forgotten since): a missing name needs no store request."""
        return path in self._members_known or self.is_new(path)

    def new_children(self, path: str) -> set:
        """Names of the children of ``path`` created here and not stored yet."""
        with self._lock:
            return set(self._new_kids.get(path, ()))

    def pending_documents(self) -> dict:
        """{path: document} of every node with changes not stored yet."""
        with self._lock:
            return {p: entry.doc for p, entry in self._pending.items()}

    # ------------------------------------------------------------ changes
    def put(self, store, path: str, doc: dict) -> None:
        """A node's whole new document: a node created here, or one replaced whole."""
        with self._lock:
            entry = self._pending.get(path)
            if entry is None:
                fresh = path not in self.docs  # else a stored node replaced whole
                entry = self._pending[path] = _Pending(doc, created=True, fresh=fresh)
                if fresh and doc.get("node_type") == "group":  # its place was cleared: nothing below it
                    self._members_known.add(path)
                if fresh and path:
                    parent, _, name = path.rpartition("/")
                    self._new_kids.setdefault(parent, set()).add(name)
            elif not entry.created:  # an existing node replaced whole: stored as given
                entry.created, entry.layout, entry.edits = True, None, []
            entry.doc = self.docs[path] = doc
            self._check_limit(store)

    def put_layout(self, store, path: str, doc: dict) -> None:
        """An existing node's new layout (``doc`` apart from its attributes, e.g. a
        new shape): at flush it replaces the stored layout, keeping the stored attributes."""
        with self._lock:
            self.get(store, path, required=True)
            entry = self._pending.setdefault(path, _Pending(doc, created=False))
            if not entry.created:
                entry.layout = doc
            entry.doc = self.docs[path] = doc
            self._check_limit(store)

    def edit(self, store, path: str, update) -> dict:
        """Apply ``update(attributes)`` to a node's attributes now, in memory, and
        again at flush to the stored document (so ``update`` must depend on its
        argument only).  Returns the new document."""
        with self._lock:
            entry = self._pending.get(path)
            doc = editable_copy(entry.doc if entry is not None else self.get(store, path, required=True))
            attributes = doc.setdefault("attributes", {})
            update(attributes)  # an error here changes nothing
            entry = entry or self._pending.setdefault(path, _Pending(doc, created=False))
            if not entry.created:
                entry.edits.append(update)
            entry.doc = self.docs[path] = doc
            self._check_limit(store)
            return doc

    def discard(self, path: str) -> None:
        """Forget ``path`` and its subtree, pending changes included (the node is deleted)."""
        with self._lock:
            prefix = path + "/"
            for table in (self.docs, self._pending, self._new_kids):
                for p in [p for p in table if p == path or p.startswith(prefix) or path == ""]:
                    del table[p]
            self._members_known -= {p for p in self._members_known if p == path or p.startswith(prefix)
                                    or path == ""}
            parent, _, name = path.rpartition("/")
            self._new_kids.get(parent, set()).discard(name)

    def forget(self, path: str) -> None:
        """Drop the stored documents cached for ``path`` and its subtree (read again
        when next needed); pending ones stay, they are newer than the store's."""
        with self._lock:
            prefix = path + "/"
            for p in [p for p in self.docs if (p == path or p.startswith(prefix) or path == "")
                      and p not in self._pending]:
                del self.docs[p]
            # what is stored below path's parent is no longer all known here
            parent = path.rpartition("/")[0]
            self._members_known -= {p for p in self._members_known if p == path or p.startswith(prefix)
                                    or p == parent or path == ""}

    # ------------------------------------------------------------ flush
    def _check_limit(self, store) -> None:
        if len(self._pending) > self.limit:
            self.flush(store)

    def flush(self, store) -> None:
        """Store every pending change through ``store`` (parents before children),
        then tell every attached file once.

        A node that cannot be stored stays pending and the first error is
        raised after everything else was stored.
        """
        with self._lock:
            if not self._pending:
                return
            stored, error = _store_pending(store, self._pending, self.docs, store.io_concurrency)
            for path, _, _ in stored:
                if path:
                    parent, _, name = path.rpartition("/")
                    kids = self._new_kids.get(parent)
                    if kids is not None:
                        kids.discard(name)
                        if not kids:
                            del self._new_kids[parent]
            if stored:
                for state in list(self._users):
                    state._stored(stored)
            if error is not None:
                raise error
