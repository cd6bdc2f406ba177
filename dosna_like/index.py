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

* S3 (s3fs): the ETag (the MD5 of the bytes for a plain PUT).  The listing
  uses ``/c/`` as its delimiter, which folds each array's chunk keys into one
  entry: one LIST request per ~1000 nodes, whatever the number of chunks.
* local directories: size, mtime (ns) and inode of each ``zarr.json`` (one
  ``scandir`` per group, one ``stat`` per node; no document is read).
* other fsspec stores (memory...): the MD5 of each document's bytes.

Opening a file and searching or listing its whole tree therefore costs a GET
of the root document, a GET of the sidecar and one LIST page per ~1000 nodes,
whatever the number of chunks (a walk would cost a LIST per group and a GET per
node).  When the check fails, only the documents whose fingerprints changed
are fetched (one concurrent batch) and the index is corrected in memory.
Why not an O(1) token in the root document: zarr-python never rewrites an
existing parent document when it adds a node, so such a token cannot see its
writes; only a listing can, and an honest index must.

Within one open file the verified index is kept in memory and follows this
process's own writes (``FileState.write_doc`` / ``delete_node`` / ``move_node``
report them), so later searches and listings cost no requests; the sidecar
is written back on ``flush()``/``close()`` when the session changed or
rebuilt it (one PUT; a session that wrote without searching first updates the
stored sidecar with its writes).  Saving does not list the store: every
reader checks what it loads.  A read-only session corrects a stale index in
memory only.
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

import contextlib
import gc
import gzip
import hashlib
import json
import os
import posixpath
import threading
import warnings
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .attrs import decode_attr
from .base import resolve_path
from .errors import FormatError
from .metadata import META_KEY, RESERVED, ArrayMeta, loads, node_key
from .query import MISSING, attr_value, compile_query, dtype_name, node_kind, plain
from .store import Store

SIDECAR_KEY = "_dosna_like_index.json.gz"
SIDECAR_FORMAT = "dosna_like.index"
SIDECAR_VERSION = 2
CHUNK_DELIMITER = "/c/"  # Zarr v3 default chunk keys: '<array>/c/i/j'
_KINDS = ("group", "dataset", "datatype")


# =================================================================== nodes
def _json_exact(value) -> bool:
    """Whether JSON gives ``value`` back as it is (so a query can read it from the sidecar)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_json_exact(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in value.items())
    return False


def summarize(doc: dict) -> tuple:
    """(kind, shape, dtype name, dtype text, {attr: query value}, [attrs read from the doc])."""
    kind = node_kind(doc)
    shape = list(doc.get("shape") or []) if doc.get("node_type") == "array" else None
    name = dtype_name(doc)
    name = None if name is MISSING else name
    dtype = doc_dtype(doc)
    text = str(dtype) if dtype is not None else name
    if dtype is not None:
        name = dtype.name
    attributes = doc.get("attributes") or {}
    values, lazy = {}, []
    for attr in attributes:
        if attr == RESERVED:
            continue
        value = attr_value(attributes, attr)
        if _json_exact(value):
            values[attr] = value
        else:  # complex numbers, undecodable bytes...: read from the document when asked
            lazy.append(attr)
    return kind, shape, name, text, values, lazy


class Node:
    """One group or dataset in the index: its fingerprint, its summary, its document.

    The document is parsed only when something needs it (a search hit, a
    listing of links); queries read the summary.
    """

    __slots__ = ("fp", "_doc", "_raw", "_summary")

    def __init__(self, fp: str, doc: dict | None = None, raw: str | None = None, summary: tuple | None = None):
        self.fp = fp
        self._doc = doc
        self._raw = raw
        self._summary = summary

    @property
    def doc(self) -> dict:
        if self._doc is None:
            try:
                doc = json.loads(self._raw)
            except ValueError as exc:
                raise FormatError(f"search index: unreadable document ({exc})") from exc
            if not isinstance(doc, dict) or doc.get("node_type") not in ("group", "array"):
                raise FormatError("search index: an entry is not a Zarr v3 node document")
            self._doc = doc
        return self._doc

    @property
    def summary(self) -> tuple:
        if self._summary is None:
            self._summary = summarize(self.doc)
        return self._summary

    @property
    def kind(self) -> str:
        return self.summary[0]

    @property
    def node_type(self) -> str:
        return "array" if self.summary[0] == "dataset" else "group"

    @property
    def shape(self):
        shape = self.summary[1]
        return None if shape is None else tuple(shape)

    @property
    def ndim(self):
        shape = self.summary[1]
        return MISSING if shape is None else len(shape)

    @property
    def dtype_name(self):
        name = self.summary[2]
        return MISSING if name is None else name

    @property
    def dtype_text(self) -> str:
        return self.summary[3] or ""

    def attr(self, name: str):
        """The query value of attribute ``name`` (MISSING when the node has none)."""
        summary = self.summary
        value = summary[4].get(name, MISSING)
        if value is MISSING and name in summary[5]:
            return attr_value(self.doc.get("attributes") or {}, name)
        return value

    def entry(self) -> list:
        """The node as the sidecar stores it."""
        raw = self._raw if self._raw is not None else json.dumps(self._doc, separators=(",", ":"))
        return [self.fp, *self.summary, raw]

    @classmethod
    def from_entry(cls, entry) -> "Node | None":
        """A node from a sidecar entry, or None when the entry is malformed."""
        if type(entry) is not list or len(entry) != 8:
            return None
        fp, kind, shape, name, text, values, lazy, raw = entry
        if (type(fp) is not str or kind not in _KINDS or type(raw) is not str or type(values) is not dict
                or type(lazy) is not list or (shape is not None and type(shape) is not list)
                or (name is not None and type(name) is not str) or (text is not None and type(text) is not str)):
            return None
        return cls(fp, raw=raw, summary=(kind, shape, name, text, values, lazy))


Nodes = dict  # store path -> Node


# ============================================================ fingerprints
def _md5(raw) -> str:
    return hashlib.md5(bytes(raw)).hexdigest()


class _LocalFingerprints:
    """Local directories: ``stat`` of each document; one ``scandir`` per group."""

    kind = "stat"

    @staticmethod
    def _of(st: os.stat_result) -> str:
        return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"

    def predict(self, store: Store, key: str, raw) -> str:
        try:
            return self._of(os.stat(store.path(key)))
        except OSError:
            return ""

    def scan(self, store: Store, kinds_of: Callable) -> dict:
        try:
            found = {"": self._of(os.stat(store.path(META_KEY)))}
        except (FileNotFoundError, NotADirectoryError):
            return {}
        level = [""]
        while level:
            new = {}
            for group in level:
                store.requests.add("list")
                try:
                    entries = list(os.scandir(store.path(group)))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for entry in entries:
                    if entry.name == META_KEY or entry.name.endswith(".partial") or entry.name == SIDECAR_KEY:
                        continue
                    try:
                        st = os.stat(os.path.join(entry.path, META_KEY))
                    except (FileNotFoundError, NotADirectoryError):
                        continue
                    new[f"{group}/{entry.name}" if group else entry.name] = self._of(st)
            found.update(new)
            kinds = kinds_of(new)
            level = [p for p in new if kinds.get(p) == "group"]
        return found


class _S3Fingerprints:
    """S3 through s3fs: ETags from LIST requests whose delimiter folds chunk keys."""

    kind = "etag"

    def predict(self, store: Store, key: str, raw) -> str:
        return _md5(raw)  # the ETag S3 gives a plain PUT

    @staticmethod
    async def _list(fs, bucket: str, prefix: str) -> tuple:
        contents, prefixes, pages = [], [], 0
        kwargs = {"Bucket": bucket, "Prefix": prefix, "Delimiter": CHUNK_DELIMITER}
        while True:
            resp = await fs._call_s3("list_objects_v2", **kwargs)
            pages += 1
            contents += [(c["Key"], c.get("ETag", "").strip('"')) for c in resp.get("Contents", ())]
            prefixes += [p["Prefix"] for p in resp.get("CommonPrefixes", ())]
            if not resp.get("IsTruncated"):
                return contents, prefixes, pages
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def scan(self, store: Store, kinds_of: Callable) -> dict:
        import asyncio

        from fsspec.asyn import sync

        fs = store.fs
        bucket, _, key_root = store.root.partition("/")
        base = key_root + "/" if key_root else ""
        found, listed, pending = {}, set(), [base]

        async def gather(prefixes):
            return await asyncio.gather(*(self._list(fs, bucket, p) for p in prefixes))

        while pending:
            listed.update(pending)
            owners = set()
            for contents, prefixes, pages in sync(fs.loop, gather, pending):
                store.requests.add("list", pages)
                for key, etag in contents:
                    rel = key[len(base):]
                    if rel == META_KEY:
                        found[""] = etag
                    elif rel.endswith("/" + META_KEY) and key.startswith(base):
                        found[rel[:-len(META_KEY) - 1]] = etag
                owners.update(p[len(base):-len(CHUNK_DELIMITER)] for p in prefixes)
            # '<owner>/c/' holds chunks when the owner is an array, a child named 'c' when a group
            kinds = kinds_of({o: found[o] for o in owners if o in found})
            pending = [p for p in (f"{base}{o}/c" for o in owners if kinds.get(o) == "group") if p not in listed]
        return found


class _ContentFingerprints:
    """Any other fsspec store: MD5 of each document (the listing names them, a batch reads them)."""

    kind = "md5"

    def predict(self, store: Store, key: str, raw) -> str:
        return _md5(raw)

    def scan(self, store: Store, kinds_of: Callable, offer: Callable | None = None) -> dict:
        keys = [k for k in store.list_keys("") if k == META_KEY or k.endswith("/" + META_KEY)]
        found = {}
        for key, raw in store.get_many(keys).items():
            path = key[:-len(META_KEY)].rstrip("/")
            found[path] = _md5(raw)
            if offer is not None:
                offer(path, raw)
        return found


def fingerprints_for(store: Store):
    """The fingerprint scheme for a store: stat (local), etag (S3), md5 (others)."""
    if store.is_local:
        return _LocalFingerprints()
    try:
        from s3fs import S3FileSystem
    except ImportError:  # pragma: no cover - s3fs is a dependency
        S3FileSystem = ()
    if isinstance(store.fs, S3FileSystem):
        return _S3Fingerprints()
    return _ContentFingerprints()


# ============================================================ verification
class _Documents:
    """Node types for the scanners: from the expected index when the fingerprint
    matches, else fetched (in one concurrent batch per call) and kept."""

    def __init__(self, store: Store, expected: Nodes | None):
        self.store = store
        self.expected = expected or {}
        self.fetched: dict = {}

    def offer(self, path: str, raw) -> None:
        self.fetched[path] = loads(raw, node_key(path))

    def _known(self, path: str, fp: str) -> Node | None:
        node = self.expected.get(path)
        return node if node is not None and node.fp == fp else None

    def kinds(self, items: Mapping) -> dict:
        out, wanted, expected, fetched = {}, [], self.expected, self.fetched
        for p, fp in items.items():
            doc = fetched.get(p)
            if doc is not None:
                out[p] = doc.get("node_type")
                continue
            node = expected.get(p)
            if node is not None and node.fp == fp:
                out[p] = node.node_type
            else:
                wanted.append(p)
        keys = {node_key(p): p for p in wanted}
        for key, raw in self.store.get_many(keys).items():
            doc = fetched[keys[key]] = loads(raw, key)
            out[keys[key]] = doc.get("node_type")
        for p in wanted:
            out.setdefault(p, None)  # gone between the listing and the read
        return out


def _valid_name(path: str) -> bool:
    try:
        return resolve_path("", path) == path
    except (TypeError, ValueError):
        return False


def _reachable(actual: dict, kinds: dict, known: Nodes) -> dict:
    """The documents the library can reach: the root, then children of groups only."""
    out = {}
    for path in sorted(actual):  # a parent sorts before its children
        if path:
            parent = posixpath.dirname(path)
            if kinds.get(parent) != "group" or parent not in out or kinds.get(path) is None:
                continue
            if path not in known and not _valid_name(path):
                warnings.warn(f"node {path!r} breaks the library's name rules; it is left out of the index",
                              stacklevel=3)
                continue
        out[path] = actual[path]
    return out


def materialize(store: Store, expected: Nodes | None, scheme=None) -> tuple:
    """(nodes, fresh): the file's verified index, given the one ``expected`` from a sidecar.

    One listing gives every node document's fingerprint; nodes whose
    fingerprint matches ``expected`` keep its entry, the others are fetched
    in one batch.  ``fresh`` tells whether ``expected`` was right as it was.
    """
    scheme = scheme or fingerprints_for(store)
    docs = _Documents(store, expected)
    if isinstance(scheme, _ContentFingerprints):
        actual = scheme.scan(store, docs.kinds, docs.offer)
    else:
        actual = scheme.scan(store, docs.kinds)
    if "" not in actual:
        raise FileNotFoundError(f"{store.url}: no {META_KEY} at the store root (not a dosna_like file)")
    kinds = docs.kinds(actual)
    if kinds[""] != "group":
        raise FormatError(f"{store.url}: the store root is an array, not a file")
    known = {p for p, fp in actual.items() if docs._known(p, fp) is not None}
    reachable = _reachable(actual, kinds, known)
    if expected is not None and len(expected) == len(reachable) and all(p in known for p in reachable):
        return expected, True
    nodes = {p: expected[p] if p in known else Node(fp, doc=docs.fetched[p]) for p, fp in reachable.items()}
    return nodes, False


# ================================================================= sidecar
def encode_sidecar(nodes: Nodes, scheme_kind: str) -> bytes:
    payload = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "fingerprints": scheme_kind,
               "nodes": {p: node.entry() for p, node in nodes.items()}}
    return gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), compresslevel=1, mtime=0)


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector while building many small objects that all stay alive
    (it would otherwise rescan them again and again: a measured 1.5-2x on 10,000 nodes)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decode_sidecar(raw, scheme_kind: str) -> Nodes | None:
    """The nodes a sidecar records, or None when it is unreadable or of another scheme."""
    with _no_gc():
        return _decode_sidecar(raw, scheme_kind)


def _decode_sidecar(raw, scheme_kind: str) -> Nodes | None:
    try:
        payload = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, ValueError, zlib.error):
        return None
    if not (isinstance(payload, dict) and payload.get("format") == SIDECAR_FORMAT
            and payload.get("version") == SIDECAR_VERSION and payload.get("fingerprints") == scheme_kind
            and isinstance(payload.get("nodes"), dict)):
        return None
    nodes = {}
    for path, entry in payload["nodes"].items():
        node = Node.from_entry(entry)
        if node is None:
            return None
        nodes[path] = node
    if "" not in nodes or nodes[""].kind != "group":
        return None
    return nodes


def _drop_subtree(nodes: Nodes, path: str) -> None:
    if path == "":
        nodes.clear()
        return
    prefix = path + "/"
    for p in [p for p in nodes if p == path or p.startswith(prefix)]:
        del nodes[p]


class LiveIndex:
    """The index of one open file (``FileState.index``): verified once, then kept current.

    ``FileState`` reports every document it writes (:meth:`written`) and every
    node it deletes or moves; the nodes are verified against the store on
    first use (:meth:`nodes`) and the sidecar is stored by :meth:`save` on
    flush/close.  Saving lists nothing: whoever reads the sidecar checks it.
    """

    def __init__(self, state):
        self._state = state
        self._scheme = None
        self._nodes: Nodes | None = None
        self._verified = False  # _nodes was checked against the store in this session (or made new)
        self._kids: dict | None = None  # parent path -> set of child names, built on demand
        self._journal: list = []  # our writes before the index was loaded
        self._journal_moves = False  # the journal cannot say where moved documents went
        self._unsaved = False
        self._lock = threading.RLock()

    @property
    def scheme(self):
        if self._scheme is None:
            self._scheme = fingerprints_for(self._state.store)
        return self._scheme

    # ------------------------------------------------------------ hooks
    def start_new(self) -> None:
        """The file was just created (or truncated): its index is known to be empty."""
        with self._lock:
            self._nodes, self._journal, self._unsaved, self._kids = {}, [], True, None
            self._verified = True

    def written(self, path: str, doc: dict, raw) -> None:
        fp = self.scheme.predict(self._state.store, node_key(path), raw)
        with self._lock:
            if self._nodes is not None:
                if path not in self._nodes and self._kids is not None and path:
                    parent, _, name = path.rpartition("/")
                    self._kids.setdefault(parent, set()).add(name)
                self._nodes[path] = Node(fp, doc=doc)
            else:
                self._journal.append((path, fp, doc))
            self._unsaved = True

    def deleted(self, path: str) -> None:
        with self._lock:
            if self._nodes is not None:
                _drop_subtree(self._nodes, path)
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
                    self._nodes[dest + p[len(src):]] = self._nodes.pop(p)
                self._kids = None
            self._unsaved = True

    # ------------------------------------------------------------ reads
    def nodes(self) -> Nodes:
        """Every node of the file, verified against the store on first use in this session."""
        with self._lock:
            if self._nodes is None or not self._verified:
                self._load()
            return self._nodes

    def child_names(self, path: str) -> list | None:
        """Names of the child nodes of ``path`` if this session's verified index is loaded, else None.

        Their documents go into the file's document cache, so a listing costs
        no request.  (Not loaded: the caller lists the store, as always.)
        """
        with self._lock:
            if self._nodes is None or not self._verified:
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
                if child not in docs:
                    docs[child] = self._nodes[child].doc
            return names

    def _expected(self) -> Nodes | None:
        """The stored sidecar's nodes with this session's journal applied (None: no usable sidecar)."""
        if self._nodes is not None:
            return self._nodes
        raw = self._state.store.get(SIDECAR_KEY)
        base = None if raw is None else decode_sidecar(raw, self.scheme.kind)
        if base is None:
            return None
        for path, fp, doc in self._journal:
            if doc is None:
                _drop_subtree(base, path)
            else:
                base[path] = Node(fp, doc=doc)
        return base

    def _load(self) -> None:
        nodes, fresh = materialize(self._state.store, self._expected(), self.scheme)
        self._nodes, self._journal, self._kids, self._verified = nodes, [], None, True
        self._journal_moves = False
        if not fresh:
            self._unsaved = True

    def refresh(self) -> bool:
        """Check the index against the store again; True when it was still right."""
        with self._lock:
            if self._nodes is None:
                self._load()
                return not self._unsaved
            self._nodes, fresh = materialize(self._state.store, self._nodes, self.scheme)
            self._kids, self._verified = None, True
            self._unsaved = self._unsaved or not fresh
            return fresh

    def rebuild(self) -> Nodes:
        """Recompute the index from every document, ignoring the sidecar."""
        with self._lock:
            self._nodes, _ = materialize(self._state.store, None, self.scheme)
            self._journal, self._unsaved, self._kids, self._verified = [], True, None, True
            self._journal_moves = False
            return self._nodes

    # ------------------------------------------------------------ writes
    def save(self) -> bool:
        """Store the sidecar if this session changed or rebuilt the index; True if stored."""
        with self._lock:
            if self._state.read_only or not self._unsaved:
                return False
            if self._nodes is None:
                expected = self._expected()
                if expected is None or self._journal_moves:
                    self._load()  # nothing to update (or moves to find): built from the documents
                else:  # the stored sidecar plus our writes; unchecked, as readers check it
                    self._nodes, self._journal, self._kids = expected, [], None
            self._state.store.set(SIDECAR_KEY, encode_sidecar(self._nodes, self.scheme.kind))
            self._unsaved = False
            return True

    def save_on_close(self) -> None:
        """:meth:`save`, warning instead of raising: the index is derived and will be rebuilt."""
        try:
            self.save()
        except (OSError, ValueError) as exc:
            warnings.warn(f"{self._state.store.url}: the search index was not stored ({exc}); "
                          "it will be rebuilt when next used", stacklevel=3)


# ========================================================== node summaries
def doc_dtype(doc: dict):
    """The numpy dtype of an array document (None for groups or types numpy lacks)."""
    if doc.get("node_type") != "array":
        return None
    try:
        return ArrayMeta.from_document(doc).dtype
    except (FormatError, TypeError, ValueError):
        return None


def doc_attrs(doc: dict) -> dict:
    """The attributes of a node document, decoded as h5py returns them."""
    attributes = doc.get("attributes") or {}
    records = attributes.get(RESERVED, {}).get("attrs", {}) if isinstance(attributes.get(RESERVED), dict) else {}
    out = {}
    for name in sorted(attributes):
        if name == RESERVED:
            continue
        try:
            out[name] = decode_attr(attributes[name], records.get(name))
        except (TypeError, ValueError, KeyError):
            out[name] = attributes[name]
    return out


def doc_shape(doc: dict):
    return tuple(doc["shape"]) if doc.get("node_type") == "array" else None


def doc_chunks(doc: dict):
    if doc.get("node_type") != "array":
        return None
    try:
        return tuple(doc["chunk_grid"]["configuration"]["chunk_shape"])
    except (KeyError, TypeError):
        return None


def select(nodes: Nodes, base: str, predicate) -> list:
    """Sorted paths strictly inside the group at ``base`` whose documents match."""
    prefix = base + "/" if base else ""
    return sorted(p for p, node in nodes.items()
                  if p.startswith(prefix) and p != base and predicate(p, node))


class SearchMixin:
    """``Group.search``: the groups and datasets of a subtree whose attributes match."""

    def search(self, query=None, /, **equals) -> list:
        """The Dataset and Group objects below this group that match, sorted by name.

        ``query`` is a dict (see :mod:`dosna_like.query`: ``{"temp": {"$gte": 300}}``,
        ``$path``, ``$kind``, ``$ndim``, ``$dtype``, ``$and``/``$or``); keyword
        arguments are attribute equalities (``search(sample="mouse-1")``).
        The file's sidecar index answers: the first search of a session costs
        one check of the index (see :mod:`dosna_like.index`), later ones none.
        Committed datatypes, if any, come back as Datatype objects.
        """
        predicate = compile_query(query, equals, self._path)
        self._check_open()
        nodes = self._state.index.nodes()
        docs = self._state._docs
        out = []
        for path in select(nodes, self._path, predicate):
            node = nodes[path]
            docs.setdefault(path, node.doc)
            out.append(self._search_handle(path, node))
        return out

    def _search_handle(self, path: str, node: Node):
        import dosna_like

        kind = node.kind
        if kind == "datatype" and hasattr(dosna_like, "Datatype"):
            return dosna_like.Datatype(self._state, path, inherit=self)
        cls = dosna_like.Dataset if kind == "dataset" else dosna_like.Group
        return cls(self._state, path, inherit=self)


def refresh(file) -> bool:
    """Check an open file's index against its store again (True when it was still right)."""
    file._check_open()
    return file._state.index.refresh()


# ============================================================ many files
@dataclass(frozen=True)
class SearchHit:
    """One match of :func:`search`: where it is and what it is, without opening it."""

    url: str  # the file (store root)
    path: str  # the object's name inside it ('/a/b')
    kind: str  # 'dataset' or 'group'
    shape: tuple | None
    dtype: np.dtype | None
    attrs: dict
    storage_options: dict | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path

    def open(self, mode: str = "r", **kwargs):
        """The Dataset or Group, in a newly opened file (close it with ``obj.file.close()``)."""
        from .files import File

        f = File(self.url, mode, storage_options=self.storage_options, **kwargs)
        return f if self.path == "/" else f[self.path]


def _local_name(url) -> str:
    from .files import _local_name as local

    return local(url)


def _group_doc_at(store: Store, path: str) -> dict | None:
    try:  # the store's own GET options: no HEAD before the GET on S3
        raw = store.fs.cat_file(f"{path}/{META_KEY}" if path else META_KEY, **store._cat_kwargs)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    store.requests.add("get")
    try:
        return loads(raw, f"{path}/{META_KEY}")
    except FormatError:
        return None


def locate(url, storage_options: dict | None = None) -> tuple | None:
    """(file URL, path inside it) for a URL naming a file or an object inside one.

    The file is the outermost group whose parent holds no node document, so
    ``s3://b/run.h5/raw/t`` gives ``("s3://b/run.h5", "raw/t")``.  None when the
    URL holds no node document at all.
    """
    url = _local_name(url).rstrip("/") or "/"
    store = Store(url, storage_options, read_only=True)
    path = store.root
    if _group_doc_at(store, path) is None:
        return None
    parts: list = []
    while "/" in path.strip("/"):
        parent, name = path.rsplit("/", 1)
        doc = _group_doc_at(store, parent)
        if doc is None or doc.get("node_type") != "group":
            break
        parts.insert(0, name)
        path, url = parent, url.rsplit("/", 1)[0]
    return url, "/".join(parts)


def find_files(url, storage_options: dict | None = None) -> list:
    """[(file URL, path inside it)] for a URL naming a file, an object in one, or a prefix of files.

    Below a prefix, directories are walked level by level (one listing each,
    their documents fetched in one batch) and not entered once they are files.
    """
    located = locate(url, storage_options)
    if located is not None:
        return [located]
    url = _local_name(url).rstrip("/")
    store = Store(url, storage_options, read_only=True)
    files, level = [], [""]
    while level:
        dirs = []
        for rel in level:
            store.requests.add("list")
            try:
                entries = store.fs.ls(store.path(rel), detail=True)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for e in entries:
                if e.get("type") == "directory":
                    name = e["name"].rstrip("/").rsplit("/", 1)[-1]
                    dirs.append(f"{rel}/{name}" if rel else name)
        raws = store.get_many(node_key(d) for d in dirs)
        level = []
        for d in sorted(dirs):
            raw = raws.get(node_key(d))
            if raw is None:
                level.append(d)
                continue
            try:
                doc = loads(raw, node_key(d))
            except FormatError:
                continue  # not something we can read: neither a file nor a directory of files
            if doc["node_type"] == "group":
                files.append((f"{url}/{d}", ""))
    return files


def file_nodes(url: str, storage_options: dict | None = None, verify: bool = True) -> Nodes:
    """The verified index of the file at ``url`` (not stored back: read-only)."""
    store = Store(url, storage_options, read_only=True)
    scheme = fingerprints_for(store)
    raw = store.get(SIDECAR_KEY)
    expected = None if raw is None else decode_sidecar(raw, scheme.kind)
    if not verify and expected is not None:
        if all(_valid_name(p) for p in expected if p):
            return expected
    return materialize(store, expected, scheme)[0]


def _hit(url: str, path: str, node: Node, storage_options) -> SearchHit:
    doc = node.doc
    return SearchHit(url=url, path="/" + path, kind=node.kind, shape=node.shape,
                     dtype=doc_dtype(doc), attrs=doc_attrs(doc), storage_options=storage_options)


def search(url, query=None, /, *, storage_options: dict | None = None, verify: bool = True,
           **equals) -> list:
    """Search every file under ``url`` (a file, an object in one, or a prefix holding files).

    Returns :class:`SearchHit` objects (``.url``, ``.path``, ``.kind``,
    ``.attrs``, ``.shape``, ``.dtype``, ``.open()``) sorted by file and path.
    The files' sidecars are fetched and checked concurrently; a stale or
    missing one is corrected in memory (``dosna-like reindex`` stores it).
    ``verify=False`` trusts sidecars without the listing that checks them.
    Attribute names that clash with the keywords go in ``query``.
    """
    compile_query(query, equals)  # a bad query fails before any I/O
    targets = find_files(url, storage_options)

    def one(target):
        file_url, inner = target
        nodes = file_nodes(file_url, storage_options, verify)
        predicate = compile_query(query, equals, inner)
        return [_hit(file_url, p, nodes[p], storage_options) for p in select(nodes, inner, predicate)]

    if len(targets) <= 1:
        results = [one(t) for t in targets]
    else:
        with ThreadPoolExecutor(min(16, len(targets))) as pool:
            results = list(pool.map(one, targets))
    return [hit for hits in results for hit in hits]


def rebuild(url, storage_options: dict | None = None) -> Nodes:
    """Recompute the sidecar of the file at ``url`` from its documents and store it."""
    store = Store(_local_name(url), storage_options)
    scheme = fingerprints_for(store)
    nodes, _ = materialize(store, None, scheme)
    store.set(SIDECAR_KEY, encode_sidecar(nodes, scheme.kind))
    return nodes


def check(url, storage_options: dict | None = None) -> bool:
    """Whether the stored sidecar of the file at ``url`` is present and right."""
    store = Store(_local_name(url), storage_options, read_only=True)
    scheme = fingerprints_for(store)
    raw = store.get(SIDECAR_KEY)
    expected = None if raw is None else decode_sidecar(raw, scheme.kind)
    return expected is not None and materialize(store, expected, scheme)[1]


# ========================================================== latest version
def _hit_name(hit) -> str:
    return getattr(hit, "path", None) or hit.name


def _hit_url(hit) -> str:
    url = getattr(hit, "url", None)
    return url if url is not None else hit.file.filename


_PER = {
    "name": lambda h: posixpath.basename(_hit_name(h)),
    "path": lambda h: _hit_name(h),
    "group": lambda h: (_hit_url(h), posixpath.dirname(_hit_name(h))),
}


def latest(hits: Iterable, attr: str = "version", per="name", key: Callable | None = None) -> list:
    """Per name (or group, or path), the hit with the highest value of attribute ``attr``.

    Works on what :meth:`Group.search` and :func:`search` return.  ``per``:
    ``"name"`` groups hits by their last path component (``/v1/temp`` and
    ``/v2/temp`` compete), ``"path"`` by their whole path (the same object in
    several files), ``"group"`` by their parent group, or pass a function of
    a hit.  Hits without ``attr`` are left out; ``key`` maps attribute values
    before comparing (e.g. ``packaging.version.Version`` for "1.10" > "1.9").
    Returns the winners sorted by file and name.
    """
    group_of = _PER[per] if isinstance(per, str) else per
    best: dict = {}
    for hit in hits:
        value = hit.attrs.get(attr)
        if value is None:
            continue
        value = plain(value)
        if key is not None:
            value = key(value)
        k = group_of(hit)
        if k not in best:
            best[k] = (value, hit)
            continue
        try:
            if value > best[k][0]:
                best[k] = (value, hit)
        except TypeError as exc:
            raise TypeError(f"cannot compare {attr!r} values {value!r} and {best[k][0]!r}; "
                            "pass key= to make them comparable") from exc
    return sorted((h for _, h in best.values()), key=lambda h: (_hit_url(h), _hit_name(h)))
