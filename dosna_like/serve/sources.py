"""What one server serves: the files under a URL, by name, opened read-only.

The page names a file by one of the names listed here and nothing else, so
a request cannot reach a file outside the URL given on the command line
(``..``, absolute paths and other URLs are just names that are not listed).
Inside a file, :func:`resolve` walks a node path link by link: soft links
are followed within the file, external links never (they are shown as links).
"""
from __future__ import annotations

import posixpath
import threading

from ..catalog.search import find_files
from ..format.links import ExternalLink, SoftLink
from ..hl.files import File

__all__ = ["MAX_LINK_HOPS", "NodeNotServed", "PathRefused", "resolve", "Served"]

MAX_LINK_HOPS = 32


class NodeNotServed(KeyError):
    """No such file or node (HTTP 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class PathRefused(ValueError):
    """A file name or node path that is not one (HTTP 400)."""


class Served:
    """The files under ``url``: one file (a store or an HDF5 file), or every file below a prefix."""

    def __init__(self, url: str, storage_options: dict | None = None):
        self.url = str(url)
        self.storage_options = storage_options
        targets = find_files(self.url, storage_options)
        if not targets:
            raise FileNotFoundError(f"{self.url}: no dosna_like file or HDF5 file there")
        base = self.url.rstrip("/")
        self.files: dict = {}  # name shown to the page -> file URL
        for file_url, _inner in targets:
            if len(targets) == 1:
                name = posixpath.basename(file_url.rstrip("/")) or file_url
            else:
                name = file_url[len(base) + 1:] if file_url.startswith(base + "/") else file_url
            self.files[name] = file_url
        self._open: dict = {}
        self._lock = threading.Lock()

    def name_of(self, file_url: str) -> str | None:
        """The served name of a file URL, None when it is not served."""
        for name, url in self.files.items():
            if url == file_url:
                return name
        return None

    def file(self, name: str | None) -> File:
        """The open file called ``name`` (opened once, read-only, kept open)."""
        if name is None or name == "":
            if len(self.files) != 1:
                raise PathRefused("name the file: this server serves several")
            name = next(iter(self.files))
        if name not in self.files:
            raise NodeNotServed(f"File not found: {name!r} is not served here")
        with self._lock:
            if name not in self._open:
                self._open[name] = File(self.files[name], "r", storage_options=self.storage_options)
            return self._open[name]

    def close(self) -> None:
        with self._lock:
            for f in self._open.values():
                f.close()
            self._open.clear()


def _parts(path: str) -> list:
    if not isinstance(path, str) or not path.startswith("/"):
        raise PathRefused(f"a node path starts with '/': {path!r}")
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in (".", "..") or any(ord(c) < 32 for c in part):
            raise PathRefused(f"{path!r} is not a node path ('.', '..' and control characters are refused)")
    return parts


def resolve(f: File, path: str, hops: int = 0):
    """The Group, Dataset or Datatype at ``path`` in ``f``, or the external or
    dangling soft link object found there.  NodeNotServed when nothing is there,
    or when the way leads through an external link or more than MAX_LINK_HOPS links."""
    parts = _parts(path)
    node, done = f["/"], []
    for i, name in enumerate(parts):
        rest = parts[i + 1:]
        link = node.get(name, getlink=True) if hasattr(node, "keys") else None
        if link is None:
            raise NodeNotServed(f"{path} is not a valid path in {posixpath.basename(f.filename)}")
        if isinstance(link, ExternalLink):
            if not rest:
                return link  # shown as a link, never followed
            raise NodeNotServed(f"{path} leads through an external link, which is not followed")
        if isinstance(link, SoftLink):
            if hops >= MAX_LINK_HOPS:
                raise NodeNotServed(f"Cannot resolve {path}: more than {MAX_LINK_HOPS} links on the way")
            target = posixpath.normpath(posixpath.join("/", *done, link.path, *rest))
            if rest:
                return resolve(f, target, hops + 1)
            try:
                found = resolve(f, target, hops + 1)
            except (NodeNotServed, PathRefused):
                return link  # a dangling soft link: shown as a link
            return link if isinstance(found, (SoftLink, ExternalLink)) else found
        node = node[name]
        done.append(name)
    return node
