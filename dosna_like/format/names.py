"""Node names: how a name given to a group resolves to a store path, and the
name rules (no ``..``, no control characters, no reserved names).
"""
from __future__ import annotations

import re

from ..errors import InvalidNameError
from .keys import META_KEY, SIDE_KEY, SIDECAR_KEY

__all__ = ["resolve_path", "valid_name"]


_CONTROL = re.compile("[\x00-\x1f\x7f]")  # one search per name, not a Python call per character


def _refuse(name: str, why: str):
    return InvalidNameError(f"invalid name {name!r}: {why}")


def resolve_path(base: str, name) -> str:
    """Store path ('' = root, 'a/b') of ``name`` relative to the node at ``base``.

    Leading '/' makes a name absolute; '.' parts and repeated slashes ('a//b',
    'x///') are ignored, as HDF5 does.  Names with '..' or control characters
    are refused; the stored path never has an empty part.
    """
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    if not isinstance(name, str):
        raise TypeError(f"Accessing a group is done with bytes or str, not {type(name)}")
    if name == "":
        raise _refuse(name, "names cannot be empty")
    if _CONTROL.search(name):
        raise _refuse(name, "control characters are not allowed")
    absolute = name.startswith("/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise _refuse(name, "'..' is not allowed")
        if part in (META_KEY, SIDE_KEY, SIDECAR_KEY):
            raise _refuse(name, f"{part!r} is reserved by the format")
    if not absolute and base:
        parts = base.split("/") + parts
    return "/".join(parts)


def valid_name(path: str) -> bool:
    try:
        return resolve_path("", path) == path
    except (TypeError, ValueError):
        return False
