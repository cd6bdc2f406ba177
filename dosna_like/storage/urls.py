"""Store URLs: local paths and fsspec URLs (``s3://bucket/run.h5``, ``simplecache::s3://...``)."""
from __future__ import annotations

import os
import posixpath

from fsspec.core import split_protocol

__all__ = ["is_url", "join_url", "normalize_url", "parent_url"]


def is_url(name) -> bool:
    """Whether ``name`` is an fsspec URL (a protocol or a ``::`` chain) rather than a local path."""
    name = os.fspath(name)
    return "::" in name or split_protocol(name)[0] is not None


def normalize_url(name) -> str:
    """The URL a store is known by: local paths made absolute, URLs without a trailing '/'."""
    name = os.fspath(name)
    if not is_url(name):
        return os.path.abspath(name)
    *outer, inner = name.split("::")
    if split_protocol(inner)[1].rstrip("/"):  # keep 'memory://' whole
        inner = inner.rstrip("/")
    return "::".join([*outer, inner])


def join_url(url: str, name: str) -> str:
    """``name`` (a '/'-separated relative key) below the store root at ``url``."""
    if not name:
        return url
    if not is_url(url):
        return os.path.join(url, *name.split("/"))
    *outer, inner = url.split("::")
    return "::".join([*outer, inner + ("" if inner.endswith("/") else "/") + name])


def parent_url(url: str) -> str:
    """The URL of the directory (prefix) holding the store root at ``url``."""
    if not is_url(url):
        return os.path.dirname(url.rstrip(os.sep)) or os.sep
    *outer, inner = url.split("::")
    return "::".join([*outer, posixpath.dirname(inner.rstrip("/"))])
