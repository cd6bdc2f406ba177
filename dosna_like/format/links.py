"""Links: h5py's SoftLink, HardLink and ExternalLink, and how a group stores them.

Zarr v3 has no links, so a group keeps its links as records in its reserved
``_dosna_like`` attributes (``{"links": {name: record}}``); other Zarr tools
do not see them.  A record is ``{"type": "soft", "path": ...}``,
``{"type": "hard", "path": ...}`` or ``{"type": "external", "file": ...,
"path": ...}``.

A hard link made by assigning an existing object (``g["b"] = g["a"]``)
resolves to that object's path, as a second name for it.  Unlike HDF5, the
store does not reference-count objects: deleting or moving the original
leaves such a name dangling, as a soft link would.
"""
from __future__ import annotations

__all__ = ["ExternalLink", "from_record", "HardLink", "MAX_LINK_DEPTH", "SoftLink", "to_record"]


MAX_LINK_DEPTH = 32  # longer chains are taken as cycles


class SoftLink:
    """A path-valued link, resolved when used (dangling links are allowed)."""

    def __init__(self, path: str):
        self._path = str(path)

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f'<SoftLink to "{self.path}">'

    def __eq__(self, other) -> bool:
        return isinstance(other, SoftLink) and other.path == self.path

    def __hash__(self) -> int:
        return hash(("SoftLink", self.path))


class HardLink:
    """What ``Group.get(name, getlink=True)`` returns for an ordinary member."""

    def __repr__(self) -> str:
        return "<HardLink>"


class ExternalLink:
    """A link to an object in another file (a path or URL; relative to this file)."""

    def __init__(self, filename, path: str):
        self._filename = str(filename)
        self._path = str(path)

    @property
    def filename(self) -> str:
        return self._filename

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f'<ExternalLink to "{self.path}" in file "{self.filename}">'

    def __eq__(self, other) -> bool:
        return isinstance(other, ExternalLink) and (other.filename, other.path) == (self.filename, self.path)

    def __hash__(self) -> int:
        return hash(("ExternalLink", self.filename, self.path))


def to_record(link, hard_target: str | None = None) -> dict:
    if isinstance(link, SoftLink):
        return {"type": "soft", "path": link.path}
    if isinstance(link, ExternalLink):
        return {"type": "external", "file": link.filename, "path": link.path}
    if hard_target is not None:
        return {"type": "hard", "path": hard_target}
    raise TypeError(f"not a link: {link!r}")


def from_record(record: dict):
    """The h5py link object ``Group.get(name, getlink=True)`` returns for a record."""
    kind = record.get("type")
    if kind == "soft":
        return SoftLink(record["path"])
    if kind == "external":
        return ExternalLink(record["file"], record["path"])
    if kind == "hard":
        return HardLink()
    raise ValueError(f"unknown link record {record!r}")
