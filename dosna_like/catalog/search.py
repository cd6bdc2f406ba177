"""Searching many files at once: find the files under a URL, search each one's
index, and pick the latest version of each object.

``search(url, query)`` accepts a file, an object inside one, or a prefix (a
folder or bucket prefix) holding several files; every file's sidecar is
fetched and checked concurrently (see :mod:`dosna_like.index.live`).  Hits
describe objects without opening them; ``hit.open()`` opens one.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from typing import Callable
from typing import Iterable
import numpy as np
import posixpath

from ..errors import FormatError, NodeNotFoundError
from ..format.documents import loads
from ..format.keys import META_KEY, node_key
from ..format.names import valid_name
from ..hl.files import File
from ..index.nodes import Node, Nodes, doc_attrs, doc_dtype, select_nodes
from ..index.query import compile_query, plain
from ..index.sidecar import decode_sidecar, encode_sidecar, verify_index
from ..storage import Store, open_store
from ..storage.hdf5_open import HDF5_SUFFIXES, is_hdf5, open_hdf5_store

from ..format.keys import SIDECAR_KEY

__all__ = [
    "file_nodes", "find_files", "incomparable", "latest", "locate", "open_file_store", "rebuild", "search", "SearchHit",
    "sidecar_is_current",
]


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

        f = File(self.url, mode, storage_options=self.storage_options, **kwargs)
        return f if self.path == "/" else f[self.path]




def _root_doc(store: Store) -> dict | None:
    """The document at the store's root, None when there is none or it is unreadable."""
    raw = store.get(META_KEY)
    if raw is None:
        return None
    try:
        return loads(raw, f"{store.url}/{META_KEY}")
    except FormatError:
        return None


def open_file_store(url, storage_options: dict | None = None) -> Store:
    """The read-only store of the file at ``url``: a store root, or an HDF5 file read in place."""
    store = open_store(url, storage_options, read_only=True)
    if _root_doc(store) is None:
        return open_hdf5_store(url, storage_options) or store
    return store


def locate(url, storage_options: dict | None = None) -> tuple | None:
    """(file URL, path inside it) for a URL naming a file or an object inside one.

    The file is the outermost group whose parent holds no node document, so
    ``s3://b/run.h5/raw/t`` gives ``("s3://b/run.h5", "raw/t")``.  A name that
    is no node of its own (a soft, hard or external link, as in
    ``run.h5/latest``) is followed as ``File.get`` follows it, as h5py does, so
    the result names the object the link leads to, possibly in another file;
    a name that leads nowhere is returned as it is, for the caller to report.
    None when neither the URL nor any directory above it holds a node document.
    """
    store = open_store(url, storage_options, read_only=True)
    below: list = []  # names under the deepest node document: links, or nothing at all
    while _root_doc(store) is None:
        if is_hdf5(store.url, storage_options):  # an HDF5 file, or an object inside one
            return (store.url, "") if not below else _follow_links(store.url, "/".join(below), storage_options)
        parent = store.parent()
        if parent is None:
            return None
        below.insert(0, store.basename)
        store = parent
    parts: list = []
    while (parent := store.parent()) is not None:
        doc = _root_doc(parent)
        if doc is None or doc.get("node_type") != "group":
            break
        parts.insert(0, store.basename)
        store = parent
    if not below:
        return store.url, "/".join(parts)
    return _follow_links(store.url, "/".join(parts + below), storage_options)


def _follow_links(file_url: str, inner: str, storage_options: dict | None) -> tuple:
    """(file URL, node path) of the object ``inner`` leads to; ``(file_url, inner)`` if none."""
    with File(file_url, "r", storage_options=storage_options) as f:
        obj = f.get(inner)
        if obj is None:
            return file_url, inner
        return obj.file.filename, obj._path


def find_files(url, storage_options: dict | None = None) -> list:
    """[(file URL, path inside it)] for a URL naming a file, an object in one, or a prefix of files.

    Below a prefix, directories are walked level by level (one listing each,
    their documents fetched in one batch) and not entered once they are files.
    """
    located = locate(url, storage_options)
    if located is not None:
        return [located]
    store = open_store(url, storage_options, read_only=True)
    files, level = [], [""]
    while level:
        dirs = []
        for rel in level:
            for name, is_dir in store.list_entries(rel):
                path = f"{rel}/{name}" if rel else name
                if is_dir:
                    dirs.append(path)
                elif name.lower().endswith(HDF5_SUFFIXES) and is_hdf5(store.url_for(path), storage_options):
                    files.append((store.url_for(path), ""))  # HDF5 and netCDF4 files are searched in place
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
                files.append((store.url_for(d), ""))
    return files


def file_nodes(url: str, storage_options: dict | None = None, verify: bool = True) -> Nodes:
    """The verified index of the file at ``url`` (not stored back: read-only)."""
    store = open_file_store(url, storage_options)
    raw = store.get(SIDECAR_KEY)
    expected = None if raw is None else decode_sidecar(raw, store.fingerprint_kind)
    if not verify and expected is not None:
        if all(valid_name(p) for p in expected if p):
            return expected
    return verify_index(store, expected)[0]


def _hit(url: str, path: str, node: Node, storage_options) -> SearchHit:
    doc = node.doc
    return SearchHit(url=url, path="/" + path, kind=node.kind, shape=node.shape,
                     dtype=doc_dtype(doc), attrs=doc_attrs(doc, path), storage_options=storage_options)


def search(url, query=None, /, *, storage_options: dict | None = None, verify: bool = True,
           **equals) -> list:
    """Search every file under ``url`` (a file, an object in one, or a prefix holding files).

    Returns :class:`SearchHit` objects (``.url``, ``.path``, ``.kind``,
    ``.attrs``, ``.shape``, ``.dtype``, ``.open()``) sorted by file and path.
    The files' sidecars are fetched and checked concurrently; a stale or
    missing one is corrected in memory (``dosna-like reindex`` stores it).
    ``verify=False`` trusts sidecars without the listing that checks them.
    Attribute names that clash with the keywords go in ``query``.
    A URL that holds no file raises FileNotFoundError, and an object path
    inside a file that leads nowhere KeyError (``NodeNotFoundError``), so a
    mistyped URL is never mistaken for "no matches".
    """
    compile_query(query, equals)  # a bad query fails before any I/O
    targets = find_files(url, storage_options)
    if not targets:  # a missing path or bucket, or a plain file: not "no matches"
        raise FileNotFoundError(f"{url}: no dosna_like file or object there")

    def hits_in_file(target):
        file_url, inner = target
        nodes = file_nodes(file_url, storage_options, verify)
        if inner not in nodes:  # KeyError, as h5py's f[name] for a missing or dangling name
            raise NodeNotFoundError(f"{url}: no object {'/' + inner!r} in {file_url}")
        predicate = compile_query(query, equals, inner)
        return [_hit(file_url, p, nodes[p], storage_options) for p in select_nodes(nodes, inner, predicate)]

    if len(targets) <= 1:
        results = [hits_in_file(t) for t in targets]
    else:
        with ThreadPoolExecutor(min(16, len(targets))) as pool:
            results = list(pool.map(hits_in_file, targets))
    return [hit for hits in results for hit in hits]


_ORDERING = ("$gt", "$gte", "$lt", "$lte")


def _ordering_conditions(query) -> list:
    """(attribute, operand) of a query's ordering comparisons that must all hold
    (top level and under ``$and``; an ``$or`` branch may rightly match nothing)."""
    found = []
    if not isinstance(query, dict):
        return found
    for key, spec in query.items():
        if key == "$and" and isinstance(spec, list):
            for part in spec:
                found += _ordering_conditions(part)
        elif not key.startswith("$") and isinstance(spec, dict):
            found += [(key, operand) for op, operand in spec.items() if op in _ORDERING]
    return found


def _value_kinds(value) -> set:
    """'number' and/or 'text' (or the type's name) for a plain value or the elements of a list."""
    if isinstance(value, list):
        return set().union(*(_value_kinds(v) for v in value))
    if isinstance(value, str):
        return {"text"}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"number"}
    return {type(value).__name__}


def incomparable(url, query, *, storage_options: dict | None = None, verify: bool = True) -> str | None:
    """Why an ordering comparison of ``query`` can match nothing under ``url``, or None.

    The query language (like MongoDB's) skips values an operand cannot be
    ordered with, so ``temp > "abc"`` on numeric temperatures quietly matches
    nothing; a caller that got no hits asks this to tell a mistyped query
    from a real "no matches": it names an attribute every one of whose values
    is of another kind than the operand.  One search per ordering comparison.
    """
    for key, operand in _ordering_conditions(query):
        hits = search(url, {key: {"$exists": True}}, storage_options=storage_options, verify=verify)
        values = [plain(hit.attrs[key]) for hit in hits]
        kinds = set().union(*(_value_kinds(v) for v in values))
        if kinds and not kinds & _value_kinds(plain(operand)):
            return (f"{key} holds {' and '.join(sorted(kinds))} values ({values[0]!r} at {hits[0].path}), "
                    f"which cannot be ordered against {operand!r}")
    return None


def rebuild(url, storage_options: dict | None = None) -> Nodes:
    """Recompute the sidecar of the file at ``url`` from its documents and store it."""
    store = open_store(url, storage_options)
    nodes, _ = verify_index(store, None)
    store.set(SIDECAR_KEY, encode_sidecar(nodes, store.fingerprint_kind))
    return nodes


def sidecar_is_current(url, storage_options: dict | None = None) -> bool:
    """Whether the stored sidecar of the file at ``url`` is present and right."""
    store = open_store(url, storage_options, read_only=True)
    raw = store.get(SIDECAR_KEY)
    expected = None if raw is None else decode_sidecar(raw, store.fingerprint_kind)
    return expected is not None and verify_index(store, expected)[1]


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
