"""DosNa's ``Cluster`` and ``Pool``: a store root holding named files.

In DosNa a cluster was a Ceph (or other object-store) connection and a pool a
named namespace of datasets inside it.  Here a cluster is a store root URL
(a local directory, ``memory://...`` or an ``s3://bucket/prefix``) and a pool
is a :class:`~dosna_like.files.File` stored under ``<root>/<pool name>``, so a
pool has exactly the h5py object model: groups, datasets, attributes.

``njobs`` propagates Cluster -> Pool -> Dataset unless set lower down, as in
DosNa: a pool opened without ``njobs`` follows its cluster's value, and every
group and dataset follows its pool (see ``HLObject.njobs``).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
import os
import threading
import weakref

from ..chunks.pools import default_njobs
from ..errors import DosnaError, FormatError, InvalidNameError, NodeNotFoundError
from ..format.documents import loads
from ..format.keys import META_KEY
from ..format.names import resolve_path
from .files import File
from ..storage import Store, join_url, normalize_url, open_store

__all__ = [
    "auto_init", "check_pool_name", "Cluster", "CLUSTER_ENV", "default_cluster", "DEFAULT_CLUSTER_DIR",
    "NotConnectedError", "Pool", "PoolNotFoundError",
]


CLUSTER_ENV = "DOSNA_LIKE_CLUSTER"  # the cluster URL when Cluster() gets none
DEFAULT_CLUSTER_DIR = "dosna-cluster"  # ... and when that variable is unset: ./dosna-cluster

_default_cluster: "Cluster | None" = None
_default_lock = threading.Lock()


class NotConnectedError(DosnaError, ConnectionError):
    """A cluster used before ``connect()`` or after ``disconnect()`` (DosNa's 'not connected')."""


class PoolNotFoundError(NodeNotFoundError, FileNotFoundError):
    """A pool that does not exist.

    A KeyError for ``cluster[name]`` (mapping style) and a FileNotFoundError
    for code that treats opening a pool like ``File(name, "r")``.
    """


def check_pool_name(name) -> str:
    """``name`` as a pool name: the library's name rules, and one path component.

    ``..``, empty names and control characters are refused as for any node
    name (:func:`~dosna_like.base.resolve_path`); so are '/' and '.', since a
    pool is one directory or key prefix directly under the cluster root.
    """
    resolve_path("", name)  # TypeError / InvalidNameError, as for group members
    text = name.decode("utf-8") if isinstance(name, bytes) else name
    if "/" in text or text == ".":
        raise InvalidNameError(f"invalid pool name {text!r}: a pool name is one path component")
    return text


def _check_njobs(njobs):
    if njobs is not None and (isinstance(njobs, bool) or not isinstance(njobs, int) or njobs < 1):
        raise ValueError(f"njobs must be a positive int or None, not {njobs!r}")
    return njobs


class Cluster(Mapping):
    """A store root whose children are pools, with DosNa's ``Cluster`` API.

    A read-only mapping of pool name -> open :class:`Pool`, as an h5py group
    is a mapping of member names: ``keys``, ``items``, ``values``, ``get`` and
    ``==`` come from ``collections.abc.Mapping``; ``cluster[name]`` opens the
    pool 'r+' and ``del cluster[name]`` deletes it.

    Parameters
    ----------
    url: the root: a local directory, or any fsspec URL (``memory://name``,
        ``s3://bucket/prefix``...).  None means the ``DOSNA_LIKE_CLUSTER``
        environment variable, else ``./dosna-cluster``.
    storage_options: fsspec options for the root and every pool in it.
    njobs: chunk parallelism of every pool opened without its own ``njobs``
        (None: the number of CPUs).

    As in DosNa, ``connect()`` returns the cluster and a ``with`` block
    connects and disconnects; pools are created with ``create_pool``, opened
    with ``get_pool`` or ``cluster[name]`` and removed with ``del_pool``.
    """

    def __init__(self, url=None, *, storage_options: dict | None = None, njobs: int | None = None):
        if url is None:
            url = os.environ.get(CLUSTER_ENV) or DEFAULT_CLUSTER_DIR
        self._url = normalize_url(url)
        self.storage_options = dict(storage_options or {})
        self._njobs = _check_njobs(njobs)
        self._store: Store | None = None
        self._open_pools: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    # ------------------------------------------------------- properties
    @property
    def url(self) -> str:
        """The cluster root (local paths made absolute)."""
        return self._url

    @property
    def njobs(self) -> int:
        """Chunk parallelism handed down to pools opened without ``njobs``."""
        return self._njobs if self._njobs is not None else default_njobs()

    @njobs.setter
    def njobs(self, value) -> None:
        self._njobs = _check_njobs(value)

    @property
    def connected(self) -> bool:
        return self._store is not None

    # ------------------------------------------------------- connection
    def connect(self) -> "Cluster":
        """Open the store root; returns the cluster (``Cluster().connect()``, as DosNa)."""
        if self._store is None:
            self._store = open_store(self._url, self.storage_options or None)
        return self

    def disconnect(self) -> None:
        """Close every pool opened through this cluster, then the store root."""
        with self._lock:
            pools = list(self._open_pools.values())
            self._open_pools.clear()
        for pool in pools:
            pool.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> "Cluster":
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.disconnect()

    def _require_store(self) -> Store:
        if self._store is None:
            raise NotConnectedError(f"cluster {self._url!r} is not connected: call connect() or use `with`")
        return self._store

    # ------------------------------------------------------------ pools
    def pool_url(self, name) -> str:
        """Where pool ``name`` is stored: ``<root>/<name>``."""
        name = check_pool_name(name)
        return join_url(self._url, name)

    def has_pool(self, name) -> bool:
        """Whether pool ``name`` exists (a file root: a group node directly under the cluster)."""
        name = check_pool_name(name)
        raw = self._require_store().get(f"{name}/{META_KEY}")
        if raw is None:
            return False
        try:
            return loads(raw, META_KEY)["node_type"] == "group"
        except FormatError:
            return False

    def list_pools(self) -> list:
        """Names of the pools in the cluster, sorted."""
        return self._require_store().list_children("")

    def create_pool(self, name, *, njobs: int | None = None, **file_kwargs) -> "Pool":
        """Create pool ``name`` and return it open (FileExistsError if it exists, as DosNa refused)."""
        return Pool(name, "w-", cluster=self, njobs=njobs, **file_kwargs)

    def get_pool(self, name, mode: str = "r+", *, njobs: int | None = None, **file_kwargs) -> "Pool":
        """Open existing pool ``name`` (PoolNotFoundError, a KeyError, if missing)."""
        if mode in ("r", "r+") or self.has_pool(name):
            return Pool(name, mode, cluster=self, njobs=njobs, **file_kwargs)
        raise PoolNotFoundError(f"pool {name!r} does not exist in cluster {self._url!r}")

    def del_pool(self, name) -> bool:
        """Delete pool ``name`` and everything in it; False when there was none (as DosNa).

        Pools of that name opened through this cluster are closed first.
        """
        name = check_pool_name(name)
        if not self.has_pool(name):
            return False
        with self._lock:
            doomed = [p for p in self._open_pools.values() if p.pool_name == name]
        for pool in doomed:
            pool.close()
        self._require_store().delete_prefix(name)
        return True

    def _register(self, pool: "Pool") -> None:
        with self._lock:
            self._open_pools[id(pool)] = pool

    # ---------------------------------------------------- mapping style
    def __getitem__(self, name) -> "Pool":
        return self.get_pool(name)

    def __contains__(self, name) -> bool:
        # Mapping's version opens the pool; one read of its root document
        # answers, and an invalid name is simply not there.
        try:
            return self.has_pool(name)
        except (TypeError, ValueError):
            return False

    def __delitem__(self, name) -> None:
        if not self.del_pool(name):
            raise PoolNotFoundError(f"pool {name!r} does not exist in cluster {self._url!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.list_pools())

    def __len__(self) -> int:
        return len(self.list_pools())

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<dosna_like cluster {self._url!r} ({state})>"


class Pool(File):
    """A named file inside a cluster: DosNa's ``Pool``, with h5py's ``File`` API.

    ``Pool(name, mode="a", *, cluster=None, njobs=None, **file_kwargs)`` opens
    ``<cluster root>/<name>`` with h5py's mode table; DosNa's default mode was
    'a' (open, creating it if missing).  Without ``cluster`` it uses the
    cluster set by :func:`auto_init`.  Without ``njobs`` its parallelism is the
    cluster's, read live, so changing ``cluster.njobs`` reaches its datasets.

    ``name`` stays h5py's root-group name '/'; the pool's own name is ``pool_name``.
    """

    def __init__(self, name, mode: str = "a", *, cluster: Cluster | None = None,
                 njobs: int | None = None, **file_kwargs):
        cluster = cluster if cluster is not None else default_cluster()
        if cluster is None:
            raise NotConnectedError("Pool(name) needs a cluster: call dosna_like.auto_init() or pass cluster=")
        cluster._require_store()
        pool_name = check_pool_name(name)
        file_kwargs.setdefault("storage_options", cluster.storage_options or None)
        try:
            super().__init__(cluster.pool_url(pool_name), mode, njobs=njobs, **file_kwargs)
        except FileNotFoundError as exc:
            raise PoolNotFoundError(f"pool {pool_name!r} does not exist in cluster {cluster.url!r}") from exc
        self._pool_name = pool_name
        self._cluster = cluster
        if njobs is None:
            self._inherit = cluster  # HLObject.njobs asks its inherit source
        cluster._register(self)

    @property
    def pool_name(self) -> str:
        return self._pool_name

    @property
    def cluster(self) -> Cluster:
        return self._cluster

    @property
    def is_open(self) -> bool:
        """DosNa's name for ``bool(file)``."""
        return bool(self)

    def __enter__(self) -> "Pool":
        return self

    def __repr__(self) -> str:
        if not self:
            return "<Closed dosna_like pool>"
        return f'<dosna_like pool "{self._pool_name}" (mode {self.mode})>'


def default_cluster() -> Cluster | None:
    """The cluster :func:`auto_init` set, used by ``Pool(name)`` (None before it)."""
    return _default_cluster


def auto_init(njobs: int | None = None, **cluster_kwargs) -> Cluster:
    """Connect a cluster and make it the one ``Pool(name)`` uses (DosNa's ``auto_init``).

    ``cluster_kwargs`` go to :class:`Cluster` (``url``, ``storage_options``).
    A cluster set by an earlier call is replaced, not disconnected: pools
    opened through it stay usable.  Returns the new cluster.
    """
    global _default_cluster
    cluster = Cluster(njobs=njobs, **cluster_kwargs).connect()
    with _default_lock:
        _default_cluster = cluster
    return cluster
