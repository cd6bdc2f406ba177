"""The sidecar search index: every node document of a file in one object.

Each file (store root) keeps ``_dosna_like_index.json.gz`` beside its root
``zarr.json``: gzip-compressed JSON holding, for every group and dataset, a
*fingerprint* of its document as the store sees it, a summary for queries and
listings (kind, shape, dtype, attribute values) and the Zarr v3 document
itself as a string, parsed only for the nodes a search returns (so loading
the index of 10,000 datasets parses a few hundred kB, not megabytes of
nested documents).  The documents stay the truth; the sidecar is derived from
them and rebuilt whenever it is stale.

Freshness: fingerprints, checked with one listing
-------------------------------------------------
A sidecar is trusted only after one listing of the file's node documents has
shown exactly the nodes it records, each with the fingerprint it records.
So any writer is detected, not only dosna_like: zarr-python adding an array or
changing attributes, a dosna_like writer that crashed before closing, two
writers at once.  The fingerprint is what the listing reports anyway, so
checking it costs no extra request:

* S3 (s3fs, also under a cache such as ``simplecache::s3://``): the ETag (the
  MD5 of the bytes for a plain PUT).  The listing uses ``/c/`` as its
  delimiter, which folds each array's chunk keys into one entry: one LIST
  request per ~1000 nodes, whatever the number of chunks.
* local directories: size, mtime (ns) and inode of each ``zarr.json`` (one
  ``scandir`` per group, one ``stat`` per node; no document is read).
* other fsspec stores (memory...): the MD5 of each document's bytes, found by
  walking the groups level by level (one listing per group, one batch of
  GETs per level); array directories, hence chunk keys, are never listed.

Each store back end implements its scheme
(:meth:`~dosna_like.storage.Store.scan_documents`,
:meth:`~dosna_like.storage.Store.predicted_fingerprint`).

Opening a file and searching or listing its whole tree therefore costs a GET
of the root document, a GET of the sidecar and one LIST page per ~1000 nodes,
whatever the number of chunks (a walk would cost a LIST per group and a GET per
node).  When the check fails, only the documents whose fingerprints changed
are fetched (one concurrent batch) and the index is corrected in memory.
Why not an O(1) token in the root document: zarr-python never rewrites an
existing parent document when it adds a node, so such a token cannot see its
writes; only a listing can, and an honest index must.

Within one open file the verified index is kept in memory and follows this
process's own writes (each flush of the file's document cache reports what it
stored, once: ``written_many``; ``FileState.delete_node`` / ``move_node``
report the rest; a search also sees the documents not yet flushed), so later
searches and listings cost no requests; the sidecar
is written back on ``flush()``/``close()`` when the session changed or
rebuilt it (one PUT), with the root's consolidated metadata built from it.  A
session that wrote without loading the index checks the stored sidecar first
(one scan): zarr's readers trust the consolidated copy without a check, so it
must not repeat a stale sidecar.  A read-only session corrects a stale index in
memory only.

Walks: the first listing of a group (``iter``, ``len``, ``visititems``) loads
the verified index when the store holds a sidecar, and from then on listings,
member lookups (``in``, ``f[name]``) and document reads come from it (a name
it lacks is known absent in a read-only file, looked up in the store by a
writer); without a sidecar each group is listed, as before.
An array's document is then taken from the root's consolidated copy, already
parsed when the file opened, when the copy records the very fingerprint the
scan shows now (``CONSOLIDATED_FINGERPRINTS``, written beside zarr's entries);
otherwise from the sidecar.  Reopening and walking 1,000 datasets thus reads
the root document, the sidecar and one ``stat`` per node locally (one LIST page
per ~1000 nodes on S3), and parses the documents once.
``refresh(f)`` re-checks an open file at any time; ``rebuild`` recomputes
everything from the documents.  Two processes writing one file at once (which
HDF5 forbids too) may leave a sidecar that misses the other's last writes: the
next check sees the fingerprints differ and corrects it.

Measured on a local directory with 10,000 datasets (``benchmarks/bench_search.py``):
a query on an open file takes about 12 ms; opening the file, loading and
checking the sidecar and answering the first query about 0.15 s.

zarr-python's member listing warns once that it does not recognise the
sidecar object at the root; it reads everything else as usual.

Security: the sidecar is JSON, parsed and checked like any document, never
evaluated; node names found in the store pass the library's name rules
(:func:`~dosna_like.base.resolve_path`) or are left out with a warning.
"""
from __future__ import annotations

import warnings


from ..errors import FormatError
from ..format.documents import consolidated_arrays, consolidated_root, dumps, side_document
from ..format.keys import SIDE_KEY, node_key
from ..storage.base import node_fingerprint
from .nodes import Node, Nodes
from .sidecar import decode_sidecar, drop_subtree, encode_sidecar, verify_index

from ..format.keys import SIDECAR_KEY

__all__ = ["LiveIndex", "UNKNOWN"]

UNKNOWN = object()  # LiveIndex.known_doc: the index cannot tell


class LiveIndex:
    """The index of one open file (``FileState.index``): verified once, then kept current.

    ``FileState`` reports every document it writes (:meth:`written`) and every
    node it deletes or moves; the nodes are verified against the store on
    first use (:meth:`nodes`) and the sidecar is stored by :meth:`save` on
    flush/close.  Saving lists nothing: whoever reads the sidecar checks it.
    """

    def __init__(self, state):
        self._state = state
        self._nodes: Nodes | None = None
        self._verified = False  # _nodes was checked against the store in this session (or made new)
        self._kids: dict | None = None  # parent path -> set of child names, built on demand
        self._journal: list = []  # our writes before the index was loaded
        self._journal_moves = False  # the journal cannot say where moved documents went
        self._unsaved = False
        self._no_record = False  # no usable sidecar in the store: listings go to the store
        self._consolidated: dict | None = None  # the root's consolidated metadata as opened
        self._forgotten: set = set()  # paths whose documents are read from the store again
        # the document cache's lock: a flush holds it while it tells this index what it
        # stored, and reads here consult the cache's pending documents (see DocumentCache.lock)
        self._lock = state.documents.lock

    # ------------------------------------------------------------ hooks
    def start_new(self) -> None:
        """The file was just created (or truncated): its index is known to be empty."""
        with self._lock:
            self._nodes, self._journal, self._unsaved, self._kids = {}, [], True, None
            self._verified = True

    def written(self, path: str, doc: dict, raw, side=None) -> None:
        self.written_many([(path, doc, (raw, side))])

    def written_many(self, stored: list) -> None:
        """Documents a flush stored: ``[(path, document, (zarr.json bytes, side object bytes or None))]``."""
        store = self._state.store
        fps = [node_fingerprint(store.predicted_fingerprint(node_key(path), raw),
                                None if side is None else store.predicted_fingerprint(node_key(path, SIDE_KEY), side))
               for path, _, (raw, side) in stored]
        with self._lock:
            for (path, doc, _), fp in zip(stored, fps):
                if self._nodes is not None:
                    self._put(path, Node(fp, doc=doc, path=path))
                else:
                    self._journal.append((path, fp, doc))
            self._unsaved = True

    def _put(self, path: str, node: Node) -> None:
        if path not in self._nodes and self._kids is not None and path:
            parent, _, name = path.rpartition("/")
            self._kids.setdefault(parent, set()).add(name)
        self._nodes[path] = node

    def _overlay_pending(self) -> None:
        """Put the file's documents not yet flushed into the loaded index, so a
        search sees them (fingerprint unknown until the flush stores them)."""
        for path, doc in self._state.documents.pending_documents().items():
            node = self._nodes.get(path)
            if node is None or not node.holds(doc):
                self._put(path, Node("", doc=doc, path=path))

    def deleted(self, path: str) -> None:
        with self._lock:
            if self._nodes is not None:
                drop_subtree(self._nodes, path)
                self._kids = None
            else:
                self._journal.append((path, None, None))
            self._unsaved = True

    def moved(self, src: str, dest: str) -> None:
        """A node and its subtree were renamed (documents unchanged, so are their fingerprints)."""
        with self._lock:
            if self._nodes is None:
                self._journal.append((src, None, None))
                self._journal.append((dest, None, None))
                self._journal_moves = True  # the moved documents are found by a check
            else:
                prefix = src + "/"
                for p in [p for p in self._nodes if p == src or p.startswith(prefix)]:
                    node = self._nodes.pop(p)
                    node.path = dest + p[len(src):]
                    self._nodes[node.path] = node
                self._kids = None
            self._unsaved = True

    # ------------------------------------------------------------ reads
    def nodes(self) -> Nodes:
        """Every node of the file, verified against the store on first use in this session."""
        with self._lock:
            if self._nodes is None or not self._verified:
                self._load()
            self._overlay_pending()
            return self._nodes

    def _listing_ready(self) -> bool:
        """Whether listings and document reads can come from the verified index: loaded
        on first use when the store holds a readable sidecar (then one GET of it and one
        scan of the fingerprints replace a listing per group and a read per node)."""
        if self.ready:
            return True
        if self._no_record:
            return False
        try:
            expected = self._expected()
            if expected is None:  # no sidecar (another tool's store): the caller lists the store
                self._no_record = True
                return False
            self._nodes, fresh = verify_index(self._state.store, expected)
        except FormatError:  # a damaged node: listed one group at a time, opening it names the damage
            self._no_record = True
            return False
        self._journal, self._kids, self._verified, self._journal_moves = [], None, True, False
        self._unsaved = self._unsaved or not fresh
        self._adopt_consolidated()
        return True

    def offer_consolidated(self, consolidated: dict) -> None:
        """The root document's consolidated metadata as the file opened (kept until the
        index is loaded: its array documents then spare parsing the sidecar's)."""
        self._consolidated = consolidated or None

    def _adopt_consolidated(self) -> None:
        """Give each verified array node whose document is not parsed yet the root's
        consolidated copy of it, when that copy was written with the very fingerprint
        the store shows now (the copy is then that document; else the sidecar's is used)."""
        consolidated, self._consolidated = self._consolidated, None
        if consolidated is None:
            return
        for path, (fp, doc) in consolidated_arrays(consolidated).items():
            node = self._nodes.get(path)
            if node is not None and node.fp == fp:
                node.offer_doc(doc)

    @property
    def ready(self) -> bool:
        """Whether the verified index is loaded (a listing or a search loads it)."""
        return self._nodes is not None and self._verified

    def known_doc(self, path: str):
        """The document of ``path`` from the loaded verified index (None: no such node),
        or UNKNOWN when it is not loaded (the caller reads the store: one read does not
        load the index, a listing does)."""
        with self._lock:
            if not self.ready or (self._forgotten and self._was_forgotten(path)):
                return UNKNOWN
            node = self._nodes.get(path)
            return None if node is None else node.doc

    def forget(self, path: str) -> None:
        """Documents at and below ``path`` are read from the store again (``Dataset.refresh``,
        a handle unpickled after the array changed), not from this index."""
        with self._lock:
            self._forgotten.add(path)

    def _was_forgotten(self, path: str) -> bool:
        if "" in self._forgotten or path in self._forgotten:
            return True
        parts = path.split("/")
        return any("/".join(parts[:i]) in self._forgotten for i in range(1, len(parts)))

    def child_names(self, path: str) -> list | None:
        """Names of the child nodes of ``path`` from the verified index (loaded on first
        use, :meth:`_listing_ready`), else None: the caller lists the store.

        Their documents go into the file's document cache, so a listing costs
        no request.
        """
        with self._lock:
            if not self._listing_ready():
                return None
            if self._kids is None:
                kids: dict = {}
                for p in self._nodes:
                    if p:
                        parent, _, name = p.rpartition("/")
                        kids.setdefault(parent, set()).add(name)
                self._kids = kids
            names = sorted(self._kids.get(path, ()))
            docs = self._state._docs
            for name in names:
                child = f"{path}/{name}" if path else name
                if child not in docs and not (self._forgotten and self._was_forgotten(child)):
                    docs.setdefault(child, self._nodes[child].doc)  # a change made meanwhile wins
            return names

    def _expected(self) -> Nodes | None:
        """The stored sidecar's nodes with this session's journal applied (None: no usable sidecar)."""
        if self._nodes is not None:
            return self._nodes
        raw = self._state.store.get(SIDECAR_KEY)
        base = None if raw is None else decode_sidecar(raw, self._state.store.fingerprint_kind)
        if base is None:
            return None
        for path, fp, doc in self._journal:
            if doc is None:
                drop_subtree(base, path)
            else:
                base[path] = Node(fp, doc=doc, path=path)
        return base

    def _load(self) -> None:
        nodes, fresh = verify_index(self._state.store, self._expected())
        self._nodes, self._journal, self._kids, self._verified = nodes, [], None, True
        self._journal_moves = False
        if not fresh:
            self._unsaved = True
        self._adopt_consolidated()

    def refresh(self) -> bool:
        """Check the index against the store again; True when it was still right."""
        with self._lock:
            if self._nodes is None:
                self._load()
                return not self._unsaved
            self._nodes, fresh = verify_index(self._state.store, self._nodes)
            self._kids, self._verified, self._forgotten = None, True, set()
            self._unsaved = self._unsaved or not fresh
            return fresh

    def rebuild(self) -> Nodes:
        """Recompute the index from every document, ignoring the sidecar."""
        with self._lock:
            self._nodes, _ = verify_index(self._state.store, None)
            self._journal, self._unsaved, self._kids, self._verified = [], True, None, True
            self._journal_moves = False
            return self._nodes

    # ------------------------------------------------------------ writes
    def save(self) -> bool:
        """Store the sidecar if this session changed or rebuilt the index; True if stored."""
        with self._lock:
            if self._state.read_only or not self._unsaved:
                return False
            if self._nodes is None or not self._verified:
                # checked first: the consolidated metadata is built from it, and zarr's readers
                # trust that without a check (the stored sidecar may miss another tool's writes)
                self._load()
            for node in self._nodes.values():
                node.summary  # noqa: B018 - a damaged node raises here, before anything is stored
            self._consolidate()
            self._state.store.set(SIDECAR_KEY, encode_sidecar(self._nodes, self._state.store.fingerprint_kind))
            self._unsaved = False
            return True

    def _consolidate(self) -> None:
        """Store the root document with zarr's consolidated metadata of every node
        (before the sidecar, which records the root's new fingerprint).

        The in-memory root document never holds it (``documents.loads`` drops it),
        so it is rebuilt whole here on every flush/close that changed something.
        """
        root = self._nodes.get("")
        if root is None:
            return
        store = self._state.store
        side_fp = root.fp.partition("+")[2] or None  # the root's side object is not rewritten here...
        side = side_document(root.doc) if side_fp is None else None
        if side is not None:  # ...unless it has none yet (the previous layout): first, so no entry is lost
            store.set(node_key("", SIDE_KEY), side)
            side_fp = store.predicted_fingerprint(node_key("", SIDE_KEY), side)
        raw = dumps(consolidated_root(root.doc, {p: n.doc for p, n in self._nodes.items()},
                                      {p: n.fp for p, n in self._nodes.items()}))
        key = node_key("")
        store.set(key, raw)
        self._nodes[""] = Node(node_fingerprint(store.predicted_fingerprint(key, raw), side_fp),
                               doc=root.doc, path="")

    def save_on_close(self) -> None:
        """:meth:`save`, warning instead of raising: the index is derived and will be rebuilt."""
        try:
            self.save()
        except (OSError, ValueError) as exc:
            warnings.warn(f"{self._state.store.url}: the search index was not stored ({exc}); "
                          "it will be rebuilt when next used", stacklevel=3)


