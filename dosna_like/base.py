"""What File, Group and Dataset share: a thin handle on a node of an open file."""
from __future__ import annotations

import posixpath

from .attrs import AttributeManager
from .errors import ClosedObjectError, InvalidNameError, read_only_error
from .metadata import META_KEY


def _refuse(name: str, why: str):
    return InvalidNameError(f"invalid name {name!r}: {why}")


def resolve_path(base: str, name) -> str:
    """Store path ('' = root, 'a/b') of ``name`` relative to the node at ``base``.

    Leading '/' makes a name absolute; '.' parts are ignored as in HDF5.  Names
    with '..', empty parts ('a//b') or control characters are refused.
    """
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    if not isinstance(name, str):
        raise TypeError(f"Accessing a group is done with bytes or str, not {type(name)}")
    if name == "":
        raise _refuse(name, "names cannot be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise _refuse(name, "control characters are not allowed")
    absolute = name.startswith("/")
    body = name[1:] if absolute else name
    if body.endswith("/"):
        body = body[:-1]
    parts = body.split("/") if body else []
    for part in parts:
        if part == "":
            raise _refuse(name, "empty path components are not allowed")
        if part == "..":
            raise _refuse(name, "'..' is not allowed")
        if part == META_KEY:
            raise _refuse(name, f"{META_KEY!r} is reserved by the format")
    parts = [p for p in parts if p != "."]
    if not absolute and base:
        parts = base.split("/") + parts
    return "/".join(parts)


class HLObject:
    """Base of File, Group and Dataset: a file state plus a node path.

    Mirrors ``h5py._hl.base.HLObject``: ``name``, ``file``, ``parent`` and
    ``attrs`` are properties; equality is node identity.
    """

    def __init__(self, state, path: str, inherit=None, name: str | None = None):
        self._state = state
        self._path = path
        self._inherit = inherit  # where njobs comes from unless overridden
        self._njobs = None
        self._name = name  # the path it was reached by, when that went through a link

    # --------------------------------------------------------------- identity
    @property
    def name(self) -> str:
        return self._name or "/" + self._path

    @property
    def file(self):
        self._check_open()
        return self._state.file

    @property
    def parent(self):
        self._check_open()
        return self._state.file[posixpath.dirname(self.name)]

    @property
    def attrs(self) -> AttributeManager:
        self._check_open()
        return AttributeManager(self)

    @property
    def njobs(self) -> int:
        """Chunk-parallelism of this object: its own setting, else its parent's."""
        if self._njobs is not None:
            return self._njobs
        if self._inherit is not None:
            return self._inherit.njobs
        return self._state.njobs

    @njobs.setter
    def njobs(self, value) -> None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"njobs must be a positive int or None, not {value!r}")
        self._njobs = value

    def __eq__(self, other) -> bool:
        if not isinstance(other, HLObject):
            return NotImplemented
        return self._state.store_id == other._state.store_id and self._path == other._path and bool(self) and bool(other)

    def __hash__(self) -> int:
        return hash((self._state.store_id, self._path))

    def __bool__(self) -> bool:
        return not self._state.closed

    # -------------------------------------------------------------- plumbing
    def _check_open(self) -> None:
        if self._state.closed:
            raise ClosedObjectError("Invalid object: its file is closed")

    def _check_writable(self, exc_type: type, action: str) -> None:
        self._check_open()
        if self._state.read_only:
            raise read_only_error(exc_type, action)

    def _document(self) -> dict:
        self._check_open()
        return self._state.read_doc(self._path, required=True)

    def _update_attributes(self, update) -> None:
        """Apply ``update(attributes_dict)`` to this node's document and store it."""
        self._check_open()
        self._state.update_attributes(self._path, update)
