"""Choosing the back end for a URL: the one place that looks at a URL's protocol.

The class is chosen once, from the innermost protocol of a possibly chained
URL (``simplecache::s3://bucket/run.h5`` is S3 underneath), by a table rather
than by testing filesystem classes; fsspec's own URL handling
(:func:`fsspec.core.url_to_fs`) opens the filesystems.  A chain is served by
the innermost back end only when its outer layers keep the same paths (a
cache); any other chain (``zip::s3://...``) is a generic fsspec store.
"""
from __future__ import annotations

from typing import Mapping

from fsspec.core import url_to_fs
from fsspec.utils import get_protocol

from .base import DEFAULT_IO_CONCURRENCY, Store, normalize_url
from .fsspec_store import FsspecStore
from .local import LocalStore
from .memory import MemoryStore
from .s3 import S3Store

__all__ = ["BACKENDS", "filesystem_for", "open_store"]

# innermost protocol -> back end; anything else is a generic fsspec store
BACKENDS: dict = {
    "file": LocalStore,
    "local": LocalStore,
    "memory": MemoryStore,
    "s3": S3Store,
    "s3a": S3Store,
}


def open_store(url, storage_options: Mapping | None = None, *, read_only: bool = False,
               io_concurrency: int = DEFAULT_IO_CONCURRENCY) -> Store:
    """The store at ``url`` (a local path or any fsspec URL, possibly chained).

    Parameters
    ----------
    url: a local path or fsspec URL; plain paths are made absolute.
    storage_options: fsspec options (s3fs ``key``, ``secret``, ``client_kwargs``...);
        for a chained URL, each layer's options under its protocol's name
        (``{"s3": {...}, "simplecache": {...}}``), as fsspec expects.
    read_only: refuse every write.
    io_concurrency: how many requests a batch keeps in flight.
    """
    url = normalize_url(url)
    *outer, innermost = url.split("::")
    protocol = get_protocol(innermost)
    cls = BACKENDS.get(protocol, FsspecStore)
    options = cls.prepare_options(dict(storage_options or {}), protocol, bool(outer))
    fs, root = url_to_fs(url, **options)
    settings = dict(protocol=protocol, read_only=read_only, io_concurrency=io_concurrency,
                    storage_options=storage_options)
    if not outer:
        return cls(url, root, fs, **settings)
    inner_options = options.get(protocol)
    inner_fs, inner_root = url_to_fs(innermost, **(inner_options if isinstance(inner_options, dict) else {}))
    if inner_root.rstrip("/") != root.rstrip("/"):  # the outer layers rename paths: not a cache
        return FsspecStore(url, root, fs, **settings)
    if not cls.serves_chains:
        cls = FsspecStore
    return cls(url, root, fs, inner_fs=inner_fs, **settings)


def filesystem_for(url: str, storage_options: Mapping | None = None):
    """``(fs, path)`` for ``url`` through fsspec directly (HDF5 files opened in place), with
    the options only dosna_like reads (the S3 retry budget...) left out of fsspec's and
    applied by the back end (S3: its reads under the retry budget, chained or not)."""
    *outer, innermost = url.split("::")
    protocol = get_protocol(innermost)
    cls = BACKENDS.get(protocol, FsspecStore)
    own = cls.own_options
    options = {k: (v if not isinstance(v, dict) else {k2: v2 for k2, v2 in v.items() if k2 not in own})
               for k, v in dict(storage_options or {}).items() if k not in own}
    fs, path = url_to_fs(url, **cls.prepare_options(options, protocol, bool(outer)))
    return cls.filesystem_for_reads(fs, protocol, dict(storage_options or {})), path
