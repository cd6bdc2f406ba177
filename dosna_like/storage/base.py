"""The store contract: key/value access to one store root, whatever the back end.

Why a contract with one class per back end: the engine, the search index and
the object layer need the same few operations everywhere (get, set, delete,
list a prefix, each also batched), but the cheapest way to do each differs
per back end (``preadv`` on a local file, many GETs in flight on S3, a LIST
whose delimiter folds chunk keys for the index).  Each back end says what it
can do through capability flags (:attr:`Store.batches_async`,
:attr:`Store.can_read_into`, :attr:`Store.server_side_copy`,
:attr:`Store.fingerprint_kind`) instead of callers testing filesystem
classes or URLs; :func:`dosna_like.storage.open_store` chooses the class
once, from the innermost protocol of the URL.

The public methods here are the contract and the one place that counts
requests (:attr:`Store.requests`), refuses writes to a read-only store and
turns client-library errors (botocore...) into the builtins a user catches.
Implementations provide the underscored primitives.
"""
from __future__ import annotations

import abc
import contextlib
import copy
import hashlib
import os
import threading
from concurrent.futures import Executor
from typing import Callable, Iterable, Mapping

from ..errors import ReadOnlyError
from ..format.keys import META_KEY, SIDE_KEY, node_key
from .client_errors import is_missing, translating
from .pipeline import Submit, in_threads
from .replacing import REPLACING_ROOT, empty_in_order
from .requests import RequestCounter
from .threads import io_threads
from .urls import is_url, join_url, normalize_url, parent_url

__all__ = [
    "DEFAULT_IO_CONCURRENCY", "KindsOf", "OfferDocument", "REPLACING_ROOT", "RequestCounter", "Store", "is_missing",
    "is_url", "join_url", "md5_hex", "node_fingerprint", "normalize_url", "parent_url",
]

DEFAULT_IO_CONCURRENCY = 32
# read-modify-writes of one key serialise on one of these within a process
_UPDATE_LOCKS = tuple(threading.Lock() for _ in range(64))

# (path -> fingerprint) -> (path -> node_type or None): how a scan learns which nodes are groups
KindsOf = Callable[[Mapping[str, str]], Mapping[str, "str | None"]]
# (path, document bytes): a scan that reads documents hands them over so they are not read twice
OfferDocument = Callable[[str, bytes], None]


def md5_hex(raw) -> str:
    """The MD5 of a document's bytes: the content fingerprint (and S3's ETag of a plain PUT)."""
    return hashlib.md5(bytes(raw)).hexdigest()


def node_fingerprint(doc_fp: str, side_fp: str | None) -> str:
    """A node's fingerprint: its ``zarr.json``'s, and its side object's if any (format/documents.py)."""
    return doc_fp if side_fp is None else f"{doc_fp}+{side_fp}"


# ================================================================ store
class Store(abc.ABC):
    """A store root: keys are '/'-separated paths relative to it.

    Built by :func:`~dosna_like.storage.open_store`, which picks the subclass
    for the URL's back end.  Capability flags (class attributes; the generic
    fsspec back end sets ``batches_async`` per filesystem):

    ``batches_async``
        :meth:`get_many` / :meth:`set_many` keep many requests in flight
        through fsspec's event loop (S3...): callers fetch a window of chunks
        in one batch instead of one per worker.
    ``can_read_into``
        :meth:`read_into` / :meth:`write_from` move bytes straight between
        files and caller buffers (local files, ``preadv``/``pwritev``).
    ``server_side_copy``
        copying keys (:meth:`move_prefix`) does not pass their bytes through
        this process.
    ``fingerprint_kind``
        what :meth:`scan_documents` reports per node document: ``"stat"``,
        ``"etag"`` or ``"md5"`` (recorded in the search index's sidecar).

    Attributes
    ----------
    url: the URL the store was opened with (local paths made absolute).
    root: the root as the back end names it (a path, or ``bucket/prefix``).
    fs: the fsspec filesystem over the root, for tools and tests; the library
        itself goes through the methods here.
    protocol: the innermost protocol of ``url`` (``file``, ``memory``, ``s3``...).
    read_only: every write is refused.
    io_concurrency: how many requests a batch keeps in flight.
    requests: counts of requests by kind.
    """

    batches_async: bool = False
    can_read_into: bool = False
    server_side_copy: bool = False
    object_storage: bool = False  # each object a network request: small chunks sharded by default (hl/creation.py)
    fingerprint_kind: str = "md5"
    # whether a chained URL (``simplecache::...``) may end in this back end; those that
    # bypass fsspec (direct file or dict access) would skip the outer layers
    serves_chains: bool = True
    own_options: tuple = ()  # storage options this back end reads itself, never passed to fsspec

    @classmethod
    def prepare_options(cls, storage_options: dict, protocol: str, chained: bool) -> dict:
        """The fsspec options to open this back end with (``storage_options`` as the user gave
        them; for a chained URL, options of the layer named ``protocol`` sit under that key)."""
        return storage_options

    @classmethod
    def filesystem_for_reads(cls, fs, protocol: str, storage_options: dict):
        """``fs`` (opened with :meth:`prepare_options`) as files read through fsspec directly
        (an HDF5 file in place) should use it: the S3 back end puts it under its retry budget."""
        return fs

    def __init__(self, url: str, root: str, fs, *, protocol: str, read_only: bool = False,
                 io_concurrency: int = DEFAULT_IO_CONCURRENCY, storage_options: Mapping | None = None):
        self.url = url
        self.root = root.rstrip("/")
        self.fs = fs
        self.protocol = protocol
        self.read_only = read_only
        self.io_concurrency = io_concurrency
        self.storage_options = dict(storage_options or {})
        self.requests = RequestCounter()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url!r}{' (read-only)' if self.read_only else ''}>"

    # ------------------------------------------------------------ helpers
    def path(self, key: str) -> str:
        """The back end's name for ``key`` (root-relative)."""
        return f"{self.root}/{key}" if key else self.root

    @property
    def identity(self) -> tuple:
        """What makes two stores the same place (h5py's file identity for ``==``)."""
        return (self.protocol, self.root)

    @property
    def basename(self) -> str:
        """The last component of the root: the file's name inside its parent."""
        return self.root.rstrip("/").rsplit("/", 1)[-1]

    def url_for(self, key: str) -> str:
        """The URL of ``key`` as a store root of its own (a file below a prefix)."""
        return join_url(self.url, key)

    def sibling_url(self, name: str) -> str:
        """Where ``name`` points when given relative to this store's parent directory.

        HDF5 resolves an external link's file name against the directory of
        the file holding the link; URLs and absolute paths stay as they are.
        """
        if is_url(name) or os.path.isabs(name):
            return name
        return join_url(parent_url(self.url), name)

    def confined_url(self, name: str) -> str:
        """:meth:`sibling_url` of a link's file name, refused (PermissionError)
        unless it is a relative name that stays under this store's parent
        directory, so the file a link opens is of the same back end and under
        the directory the user opened (no other protocol, chain, host or
        absolute path)."""
        if os.path.isabs(name) and not is_url(name) and not is_url(self.url):
            folder = parent_url(self.url).rstrip(os.sep) + os.sep
            if os.path.normpath(name).startswith(folder):  # a local file beside or below this one
                return os.path.normpath(name)
        if is_url(name) or os.path.isabs(name) or name.startswith(("/", "\\", "~")):
            raise PermissionError(f"link to {name!r} leaves {self.url}: refused "
                                  "(open the file with trust_links=True to follow it)")
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
        depth = 0
        for part in parts:
            depth += -1 if part == ".." else 1
            if depth < 0:
                raise PermissionError(f"link to {name!r} leaves the directory of {self.url}: refused "
                                      "(open the file with trust_links=True to follow it)")
        return self.sibling_url("/".join(parts))

    def parent(self) -> "Store | None":
        """The same back end one level up (sharing connection and request counts), or
        None at the top (a bucket, or a root directly under '/').

        The catalog walks up from an object to the file that holds it.
        """
        root = self.root.rstrip("/")
        if "/" not in root.strip("/"):
            return None
        return self._derive(root.rsplit("/", 1)[0], parent_url(self.url))

    def _derive(self, root: str, url: str) -> "Store":
        """A store of the same class and connection at another root."""
        other = copy.copy(self)
        other.root, other.url = root, url
        return other

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("no write intent on file")

    def _threads(self) -> Executor:
        return io_threads(self.io_concurrency)

    def close(self) -> None:
        """Release what this store holds open (the store stays usable).  Its batches
        run on the process's shared I/O threads (:func:`io_threads`), which stay."""

    # --------------------------------------------------------------- reads
    @translating
    def get(self, key: str) -> bytes | None:
        """The bytes stored at ``key``, or None when there is no such object."""
        self.requests.add("get")
        return self._get(key)

    @translating
    def get_many(self, keys: Iterable[str]) -> dict:
        """Fetch many keys concurrently; missing keys are left out of the result.  Values are
        bytes-like (a back end may hand out its client's buffer rather than copy it to bytes)."""
        keys = list(keys)
        if not keys:
            return {}
        if len(keys) == 1:
            value = self.get(keys[0])
            return {} if value is None else {keys[0]: value}
        self.requests.add("get", len(keys))
        return self._get_many(keys)

    @translating
    def get_ranges(self, requests: list) -> list:
        """The bytes of each ``(key, start, stop)`` range, one request each, concurrently (``start`` < 0,
        ``stop`` None: the last bytes); None for a missing object, short past its end."""
        if not requests:
            return []
        self.requests.add("get", len(requests))
        return self._get_ranges(list(requests))

    @translating
    def get_each(self, keys: Iterable[str], handle: Callable, submit: Submit, room: int | None = None) -> None:
        """``handle(key, bytes or None)`` in a worker (``submit``) for every key, each as soon
        as its bytes arrive, ``io_concurrency`` requests in flight (:mod:`.pipeline`); at most
        ``room`` keys (default twice ``io_concurrency``) fetched and not yet handled."""
        keys = list(keys)
        self.requests.add("get", len(keys))
        self._get_each(keys, handle, submit, room)

    @translating
    def transform_each(self, keys: Iterable[str], handle: Callable, submit: Submit, fetch=(),
                       lock_of: Callable | None = None) -> None:
        """For every key, holding ``lock_of(key)``: ``handle(key, its bytes when in
        ``fetch``, else None)`` in a worker returns the bytes to store (None: delete the key)."""
        self._check_writable()
        keys, fetch = list(keys), set(fetch)
        self.requests.add("get", len(fetch))
        self._transform_each(keys, handle, submit, fetch, lock_of)

    @translating
    def read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        """Scatter parts of the object at ``key`` straight into caller buffers.

        ``ranges`` holds ``(offset, buffers)`` pairs: the bytes from ``offset``
        on fill ``buffers`` (writable memoryviews) in order, so no intermediate
        ``bytes`` object is made.  Only where :attr:`can_read_into`.  Returns
        False when there is no such object; raises ValueError when it is not
        ``nbytes`` long.
        """
        self.requests.add("get")
        return self._read_into(key, nbytes, ranges)

    @translating
    def exists(self, key: str) -> bool:
        self.requests.add("head")
        return self._exists(key)

    @translating
    def list_dir(self, prefix: str) -> list:
        """Names of the entries directly under ``prefix`` (one listing, delimiter-style)."""
        self.requests.add("list")
        return [name for name, _ in self._list_entries(prefix)]

    @translating
    def list_dirs(self, prefix: str) -> list:
        """Names of the directories (common prefixes) directly under ``prefix`` (one listing)."""
        self.requests.add("list")
        return [name for name, is_dir in self._list_entries(prefix) if is_dir]

    @translating
    def list_entries(self, prefix: str) -> list:
        """``[(name, is_directory)]`` directly under ``prefix`` (one listing): files and
        directories told apart, as the catalog needs to find HDF5 files beside stores."""
        self.requests.add("list")
        return list(self._list_entries(prefix))

    def list_children(self, prefix: str) -> list:
        """Sorted names directly under ``prefix`` that hold a ``zarr.json`` (child nodes)."""
        return sorted(self.get_children(prefix, META_KEY))

    def get_children(self, prefix: str, name: str) -> dict:
        """``{child: bytes of child/name}`` for the entries under ``prefix`` that hold ``name``.

        One listing plus one concurrent batch of GETs, however many children
        there are (a recursive listing would walk into every child).
        """
        # directories only: a node is one, temporary files and the sidecar never are
        children = [n for n in self.list_dirs(prefix) if n != name]
        keys = {(f"{prefix}/{n}" if prefix else n) + "/" + name: n for n in children}
        return {keys[k]: raw for k, raw in self.get_many(keys).items()}

    @translating
    def list_keys(self, prefix: str) -> list:
        """Every key under ``prefix``, sorted (rare maintenance calls, not the read path)."""
        self.requests.add("list")
        return [k for k in self._list_keys(prefix) if not k.endswith(".partial")]

    @translating
    def list_sizes(self, prefix: str) -> dict:
        """``{key: size in bytes}`` for every key under ``prefix`` (one recursive listing)."""
        self.requests.add("list")
        return {k: n for k, n in self._list_sizes(prefix).items() if not k.endswith(".partial")}

    @translating
    def is_empty_root(self) -> bool:
        """True when nothing at all is stored at the root."""
        self.requests.add("list")
        return self._is_empty_root()

    # -------------------------------------------------------------- writes
    @translating
    def set(self, key: str, value) -> None:
        """Store ``value`` at ``key`` atomically (an S3 PUT; local: temp file + rename)."""
        self._check_writable()
        self.requests.add("put")
        self._set(key, value)

    @translating
    def update(self, key: str, change: Callable) -> bytes:
        """Read-modify-write of one object with no concurrent update lost.

        ``change(current bytes or None)`` returns the bytes to store; it may be
        called again with newer bytes when another writer got in first (S3's
        conditional PUT), so it must only depend on its argument.  Serialised
        against other writers in this process everywhere, against other
        processes where the back end can (a directory lock locally, a PUT
        ``If-Match`` on S3).  Returns the bytes stored.
        """
        self._check_writable()
        self.requests.add("get")
        self.requests.add("put")
        with _UPDATE_LOCKS[hash((self.url, key)) % len(_UPDATE_LOCKS)]:
            return self._update(key, change)

    def _update(self, key: str, change: Callable) -> bytes:
        value = change(self._get(key))
        self._set(key, value)
        return value

    @translating
    def write_from(self, key: str, ranges: list) -> None:
        """Store an object gathered from caller buffers, atomically (where :attr:`can_read_into`).

        ``ranges`` holds ``(offset, buffers)`` pairs: the object's bytes from
        ``offset`` on are ``buffers`` (memoryviews) in order, so the object is
        never assembled in memory.
        """
        self._check_writable()
        self.requests.add("put")
        self._write_from(key, ranges)

    @translating
    def set_many(self, items: Mapping) -> None:
        """Store many keys concurrently."""
        items = dict(items)
        if not items:
            return
        self._check_writable()
        if len(items) == 1:
            (key, value), = items.items()
            self.set(key, value)
            return
        self.requests.add("put", len(items))
        self._set_many(items)

    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""
        self.delete_many([key])

    @translating
    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove the keys that exist among ``keys``."""
        keys = list(keys)
        if not keys:
            return
        self._check_writable()
        self.requests.add("delete", len(keys))
        self._delete_many(keys)

    @translating
    def delete_prefix(self, prefix: str) -> None:
        """Remove everything under ``prefix`` (a node and its children; ``""``: the whole store).

        A node's document goes first: from then on the node is gone, and a
        kill halfway leaves only leftovers no listing shows, which are removed
        before the name is used again (``hl/state.py: FileState._clear_leftovers``).
        The whole store is emptied behind a marker root document (:mod:`.replacing`)."""
        self._check_writable()
        self.requests.add("delete")
        if not prefix:
            self._empty_root()
            return
        self._delete_many([node_key(prefix)])
        self._delete_prefix(prefix)

    def _empty_root(self) -> None:
        empty_in_order(self)

    @translating
    def move_prefix(self, src: str, dest: str) -> None:
        """Move every key under ``src`` to ``dest`` (a node and its children).

        Where keys cannot be renamed, they are copied documents last, then
        removed documents first, so neither place ever shows a node whose
        chunks are missing.
        """
        self._check_writable()
        self._move_prefix(src, dest)

    def _move_prefix(self, src: str, dest: str) -> None:
        keys = sorted(self.list_keys(src), key=lambda k: k.endswith(META_KEY))
        if keys:
            self._copy_keys(keys, [dest + k[len(src):] for k in keys])
        self.delete_many(sorted(keys, key=lambda k: not k.endswith(META_KEY)))

    def _copy_keys(self, keys: list, dests: list) -> None:
        """Copy ``keys`` to ``dests`` through this process (back ends that copy server side override)."""
        fetched = self.get_many(keys)
        self.set_many({d: fetched[k] for k, d in zip(keys, dests) if k in fetched})

    # ---------------------------------------------------- search index
    def predicted_fingerprint(self, key: str, raw) -> str:
        """The fingerprint :meth:`scan_documents` will report for the document just
        written at ``key`` with bytes ``raw`` (so the index follows our own writes)."""
        return md5_hex(raw)

    @translating
    def scan_documents(self, kinds_of: KindsOf, offer: OfferDocument | None = None) -> dict:
        """``{node path: fingerprint}`` of every node document reachable from the root.

        The search index checks its sidecar against this (see
        :mod:`dosna_like.index.live`).  Groups only are entered, so no chunk key
        is ever listed.  ``kinds_of`` tells which of a level's new nodes are
        groups (from the caller's index when their fingerprints match, else by
        reading them); ``offer`` receives each document this scan reads, so the
        caller need not read it again.  {} when the root holds no document.
        """
        return self._scan_documents(kinds_of, offer)

    def _scan_documents(self, kinds_of: KindsOf, offer: OfferDocument | None) -> dict:
        """The generic scan: groups walked level by level, one directory listing per
        group (concurrent across a level), then one batch fetching the level's
        documents, fingerprinted by their MD5.  Back ends whose listings report
        a fingerprint override this and read no document."""
        raw = self.get(META_KEY)
        if raw is None:
            return {}
        found = {"": md5_hex(raw)}
        if offer is not None:
            offer("", raw)
        self._add_side_md5s(found, [""])
        level = [""]
        while level:
            listings = [self.list_dirs(level[0])] if len(level) == 1 else self._threads().map(self.list_dirs, level)
            keys = {}
            for group, names in zip(level, listings):
                for name in names:  # directories: never a temporary file
                    path = f"{group}/{name}" if group else name
                    keys[node_key(path)] = path
            new = {}
            for key, raw in self.get_many(keys).items():
                new[keys[key]] = md5_hex(raw)
                if offer is not None:
                    offer(keys[key], raw)
            kinds = kinds_of(new)
            level = [p for p in new if kinds.get(p) == "group"]
            self._add_side_md5s(new, level)
            found.update(new)
        return found

    def _add_side_md5s(self, found: dict, groups: list) -> None:
        """Join the MD5s of the side objects of ``groups`` to their fingerprints in ``found``."""
        keys = {node_key(p, SIDE_KEY): p for p in groups}
        for key, raw in (self.get_many(keys) if keys else {}).items():
            found[keys[key]] = node_fingerprint(found[keys[key]], md5_hex(raw))

    # ------------------------------------------------ back-end primitives
    @abc.abstractmethod
    def _get(self, key: str) -> bytes | None:
        """The bytes at ``key``, None when missing (not counted, not translated)."""

    def _get_many(self, keys: list) -> dict:
        fetched = self._threads().map(self._get, keys)
        return {k: v for k, v in zip(keys, fetched) if v is not None}

    def _get_range(self, key: str, start: int, stop: int | None) -> bytes | None:
        # back ends without ranged reads: the whole object, cut here
        whole = self._get(key)
        return None if whole is None else bytes(memoryview(whole)[slice(start, stop)])

    def _get_ranges(self, requests: list) -> list:
        return list(self._threads().map(lambda r: self._get_range(*r), requests))

    def _get_each(self, keys: list, handle: Callable, submit: Submit, room: int | None = None) -> None:
        # windows of keys through _get_many, which a back end may batch or merge
        # (byte ranges of one HDF5 file), each window handed on in the workers
        step = 4 * max(1, self.io_concurrency)
        for i in range(0, len(keys), step):
            got = self._get_many(keys[i:i + step])
            in_threads(keys[i:i + step], lambda key: handle(key, got.get(key)), submit)

    def _transform_each(self, keys: list, handle: Callable, submit: Submit, fetch: set, lock_of) -> None:
        def transform(key):
            with lock_of(key) if lock_of is not None else contextlib.nullcontext():
                value = handle(key, self._get(key) if key in fetch else None)
                self.requests.add("delete" if value is None else "put")
                if value is None:
                    self._delete_many([key])
                else:
                    self._set(key, value)
        in_threads(keys, transform, submit)

    def _read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        raise NotImplementedError(f"{type(self).__name__} cannot read into buffers (see can_read_into)")

    def _write_from(self, key: str, ranges: list) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot write from buffers (see can_read_into)")

    @abc.abstractmethod
    def _exists(self, key: str) -> bool:
        """Whether ``key`` names an object or a directory."""

    @abc.abstractmethod
    def _list_entries(self, prefix: str) -> list:
        """``[(name, is_directory)]`` directly under ``prefix``; [] when there is nothing."""

    @abc.abstractmethod
    def _list_keys(self, prefix: str) -> list:
        """Every key under ``prefix``, sorted, root-relative."""

    @abc.abstractmethod
    def _list_sizes(self, prefix: str) -> dict:
        """``{key: size}`` under ``prefix``, root-relative."""

    @abc.abstractmethod
    def _is_empty_root(self) -> bool:
        """Whether the root holds nothing."""

    @abc.abstractmethod
    def _set(self, key: str, value) -> None:
        """Store ``value`` at ``key`` atomically."""

    def _set_many(self, items: dict) -> None:
        list(self._threads().map(lambda kv: self._set(*kv), items.items()))

    @abc.abstractmethod
    def _delete_many(self, keys: list) -> None:
        """Remove the existing keys among ``keys``."""

    @abc.abstractmethod
    def _delete_prefix(self, prefix: str) -> None:
        """Remove everything under ``prefix``."""
