"""Stores: one key/value contract (:class:`Store`), one implementation per back end
(local directory, memory, S3, any other fsspec filesystem), chosen once by
:func:`open_store` from the innermost protocol of a URL."""
from __future__ import annotations

from .base import (DEFAULT_IO_CONCURRENCY, REPLACING_ROOT, RequestCounter, Store, is_url, join_url,
                   normalize_url, parent_url)
from .fsspec_store import FsspecStore
from .local import LocalStore
from .memory import MemoryStore
from .registry import BACKENDS, open_store
from .s3 import S3Store

__all__ = [
    "BACKENDS", "DEFAULT_IO_CONCURRENCY", "FsspecStore", "LocalStore", "MemoryStore", "REPLACING_ROOT",
    "RequestCounter",
    "S3Store", "Store", "is_url", "join_url", "normalize_url", "open_store", "parent_url",
]
