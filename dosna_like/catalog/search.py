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

from ..errors import FormatError
from ..format.documents import loads
from ..format.keys import META_KEY, node_key
from ..format.names import valid_name
from ..hl.files import File
from ..index.fingerprints import fingerprints_for
from ..index.nodes import Node, Nodes, doc_attrs, doc_dtype, select_nodes
from ..index.query import compile_query, plain
from ..index.sidecar import decode_sidecar, encode_sidecar, materialize
from ..storage.base import Store, local_name

from ..format.keys import SIDECAR_KEY



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
    url = local_name(url).rstrip("/") or "/"
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
    url = local_name(url).rstrip("/")
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
        if all(valid_name(p) for p in expected if p):
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
        return [_hit(file_url, p, nodes[p], storage_options) for p in select_nodes(nodes, inner, predicate)]

    if len(targets) <= 1:
        results = [one(t) for t in targets]
    else:
        with ThreadPoolExecutor(min(16, len(targets))) as pool:
            results = list(pool.map(one, targets))
    return [hit for hits in results for hit in hits]


def rebuild(url, storage_options: dict | None = None) -> Nodes:
    """Recompute the sidecar of the file at ``url`` from its documents and store it."""
    store = Store(local_name(url), storage_options)
    scheme = fingerprints_for(store)
    nodes, _ = materialize(store, None, scheme)
    store.set(SIDECAR_KEY, encode_sidecar(nodes, scheme.kind))
    return nodes


def check(url, storage_options: dict | None = None) -> bool:
    """Whether the stored sidecar of the file at ``url`` is present and right."""
    store = Store(local_name(url), storage_options, read_only=True)
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
