"""What File, Group and Dataset share: a thin handle on a node of an open file."""
from __future__ import annotations

import posixpath

from ..errors import ClosedObjectError, read_only_error
from ..format.references import Reference
from .anonymous import is_anonymous
from .attrs import AttributeManager
from .ident import ObjectID
from .pickling import handle_reduce

__all__ = ["HLObject"]


class HLObject:
    """Base of File, Group and Dataset: a file state plus a node path.

    Mirrors ``h5py._hl.base.HLObject``: ``name``, ``file``, ``parent`` and
    ``attrs`` are properties; equality is node identity.
    """

    def __init__(self, state, path: str | None = None, inherit=None, name: str | None = None):
        if path is None and isinstance(state, ObjectID):  # h5py's Group(gid) / Dataset(dsid)
            obj = state._obj
            if not isinstance(obj, type(self)):
                raise ValueError(f"{type(obj).__name__} id is not a valid {type(self).__name__} identifier")
            state, path, inherit, name = obj._state, obj._path, obj._inherit, obj._name
        self._state = state
        self._path = path  # the node's path now: see the _path property
        self._inherit = inherit  # where njobs comes from unless overridden
        self._njobs = None
        self._name = name  # the path it was reached by, when that went through a link

    # --------------------------------------------------------------- identity
    @property
    def _path(self) -> str:
        """The node's store path now.  As in HDF5, a handle follows its object when
        it is moved (``Group.move``, an anonymous object's first link): moves made
        since the handle last looked are applied, earlier ones never are."""
        moves = self._state.moves
        if len(moves) > self._moves_seen:
            path, name = self._node_path, self._name
            for src, dest in moves[self._moves_seen:]:
                if path == src:
                    path, name = dest, None
                elif path.startswith(src + "/"):  # HDF5 keeps the name a member was opened by
                    path, name = dest + path[len(src):], name or "/" + path
            self._node_path, self._name, self._moves_seen = path, name, len(moves)
        return self._node_path

    @_path.setter
    def _path(self, value: str) -> None:
        self._node_path = value
        self._moves_seen = len(getattr(self._state, "moves", ()))

    @property
    def name(self) -> str | None:
        """The path this object was reached by; None for an anonymous object (h5py)."""
        if self._name is None and is_anonymous(self._path):
            return None
        return self._name or "/" + self._path

    @property
    def ref(self) -> Reference:
        """An object reference to this node, as ``h5py``'s ``obj.ref`` (stored as its path)."""
        self._check_open()
        return Reference("/" + self._path)

    @property
    def id(self) -> ObjectID:
        """h5py's ``obj.id``, for identity and ``id.valid`` (``hl/ident.py``)."""
        return ObjectID(self)

    @property
    def regionref(self):
        raise TypeError("Region references can only be made to datasets")

    @property
    def file(self):
        self._check_open()
        return self._state.file

    @property
    def parent(self):
        self._check_open()
        if self.name is None:
            raise ValueError("Parent of an anonymous object is undefined")
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

    def __reduce__(self):
        """Pickle as where to find the node: store URL, options, mode, path (see ``hl/pickling.py``)."""
        return handle_reduce(self)

    def __dask_tokenize__(self):
        """dask's name for a handle: the node's place, not its (unpicklable-to-hash) state."""
        return (type(self).__name__, self._state.store.url, self._path, self._state.read_only)

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
