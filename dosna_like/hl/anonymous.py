"""Anonymous objects: ``create_group(None)`` and ``create_dataset(None, ...)``, as h5py.

HDF5 can create a group or dataset with no link to it: its ``name`` is None,
it is reachable through the handle and through object references, and it is
freed when the file closes unless it was linked to a name first
(``f["x"] = anonymous``).  A store has no unlinked nodes, so an anonymous
object is a node under ``__anonymous__/<session>/<id>`` at the root: one
folder per open of the file, hidden from listings, ``visit`` and search, and
deleted when that open file closes (a crash leaves it there, hidden).  Linking one
moves its node to the new name: the handle that was linked follows it, and
references made before resolve to the new place for the rest of the session.
"""
from __future__ import annotations

import time
import uuid

__all__ = ["ANONYMOUS", "adopt", "discard", "is_anonymous", "new_path", "renamed"]

ANONYMOUS = "__anonymous__"


def is_anonymous(path: str) -> bool:
    """Whether the node at ``path`` is (inside) an anonymous object."""
    return path == ANONYMOUS or path.startswith(ANONYMOUS + "/")


def new_path(state) -> str:
    """A fresh store path for an anonymous object of this open file."""
    session = getattr(state, "anonymous_session", None)
    if session is None:
        session = state.anonymous_session = f"{int(time.time())}-{uuid.uuid4().hex[:12]}"
    return f"{ANONYMOUS}/{session}/{uuid.uuid4().hex}"


def adopt(state, src: str, dest: str) -> None:
    """Give the anonymous object at ``src`` the name ``dest`` (HDF5's first link to it)."""
    state.move_node(src, dest)
    moves = state.__dict__.setdefault("anonymous_moves", {})
    moves[src] = dest


def renamed(state, path: str) -> str:
    """Where an anonymous object at ``path`` (or below it) lives now."""
    for src, dest in getattr(state, "anonymous_moves", {}).items():
        if path == src or path.startswith(src + "/"):
            return dest + path[len(src):]
    return path


def discard(state) -> None:
    """On close: delete this open file's anonymous objects."""
    session = getattr(state, "anonymous_session", None)
    if session is not None and not state.read_only:
        state.delete_node(f"{ANONYMOUS}/{session}")
        if not state.children(ANONYMOUS):  # no other open of the file has some
            state.delete_node(ANONYMOUS)
