"""``Group``: h5py's group object, a mapping of names to groups and datasets."""
from __future__ import annotations

import posixpath
from collections.abc import MutableMapping

import numpy as np

from .base import HLObject, resolve_path
from .creation import new_array
from .errors import NodeExistsError, NodeNotFoundError
from .metadata import group_document
from .selection import select


class Group(HLObject, MutableMapping):
    """A group of a dosna_like file, with h5py's ``Group`` API.

    The dict API (``keys``, ``items``, ``get``, ``__contains__``...) comes from
    ``collections.abc.MutableMapping`` as in h5py's ``MutableMappingHDF5``.
    """

    # ------------------------------------------------------------- lookup
    def _wrap(self, path: str, doc: dict):
        """The one place a stored node becomes a Group or a Dataset handle."""
        from .dataset import Dataset

        cls = Dataset if doc["node_type"] == "array" else Group
        return cls(self._state, path, inherit=self)

    def __getitem__(self, name):
        self._check_open()
        path = resolve_path(self._path, name)
        doc = self._state.read_doc(path)
        if doc is None:
            raise NodeNotFoundError(f"Unable to open object (object {name!r} doesn't exist)")
        return self._wrap(path, doc)

    def get(self, name, default=None, getclass=False, getlink=False):
        """As ``h5py.Group.get``: the object, or ``default`` when missing."""
        try:
            obj = self[name]
        except KeyError:
            return default
        return type(obj) if getclass else obj

    def __contains__(self, name) -> bool:
        try:
            path = resolve_path(self._path, name)
        except (TypeError, ValueError):
            return False
        self._check_open()
        return self._state.read_doc(path) is not None

    def __iter__(self):
        self._check_open()
        return iter(self._state.children(self._path))

    def __len__(self) -> int:
        self._check_open()
        return len(self._state.children(self._path))

    # ----------------------------------------------------------- creation
    def _prepare_new(self, name, action: str) -> str:
        """Path for a new node at ``name``; creates missing intermediate groups."""
        self._check_writable(ValueError, f"Unable to create {action}")
        path = resolve_path(self._path, name)
        if path == "" or self._state.read_doc(path) is not None:
            raise NodeExistsError(f"Unable to create {action} (name already exists)")
        parts = path.split("/")
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            doc = self._state.read_doc(ancestor)
            if doc is None:
                self._state.write_doc(ancestor, group_document())
            elif doc["node_type"] != "group":
                # h5py's error types differ here: TypeError for datasets, ValueError for groups
                exc = TypeError if action == "dataset" else ValueError
                raise exc(f"Unable to create {action}: {'/' + ancestor!r} is a dataset, not a group")
        return path

    def create_group(self, name, track_order=None) -> "Group":
        """Create a group (and any missing intermediate groups), as h5py."""
        path = self._prepare_new(name, "group")
        self._state.write_doc(path, group_document())
        return Group(self._state, path, inherit=self)

    def require_group(self, name) -> "Group":
        """Open the group at ``name``, creating it if missing (TypeError if a dataset is there)."""
        if name not in self:
            return self.create_group(name)
        obj = self[name]
        if not isinstance(obj, Group):
            raise TypeError(f"Incompatible object ({type(obj).__name__}) already exists")
        return obj

    def create_dataset(self, name, shape=None, dtype=None, data=None, *, njobs=None, **kwds):
        """Create a dataset, as ``h5py.Group.create_dataset``; ``njobs`` overrides parallelism."""
        from .dataset import Dataset

        meta, values = new_array(shape=shape, dtype=dtype, data=data, **kwds)
        path = self._prepare_new(name, "dataset")
        ds = Dataset(self._state, path, inherit=self)
        ds._njobs = njobs
        # chunks first, metadata last: a crash leaves no half-visible dataset
        io = self._state.new_array_io(path, meta)
        if values is not None and values.size:
            sel = select(Ellipsis, meta.shape)
            io.write(sel, values.reshape(sel.mshape), ds.njobs)
        self._state.write_doc(path, meta.to_document())
        return ds

    def require_dataset(self, name, shape, dtype, exact=False, **kwds):
        """Open ``name`` if it matches shape and dtype, else create it (h5py semantics)."""
        if name not in self:
            return self.create_dataset(name, shape=shape, dtype=dtype, **kwds)
        from .dataset import Dataset

        dset = self[name]
        if not isinstance(dset, Dataset):
            raise TypeError(f"Incompatible object ({type(dset).__name__}) already exists")
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if shape != dset.shape:
            raise TypeError(f"Shapes do not match (existing {dset.shape} vs new {shape})")
        dtype = np.dtype(dtype)
        if exact:
            if dtype != dset.dtype:
                raise TypeError(f"Datatypes do not exactly match (existing {dset.dtype} vs new {dtype})")
        elif not np.can_cast(dtype, dset.dtype):
            raise TypeError(f"Datatypes cannot be safely cast (existing {dset.dtype} vs new {dtype})")
        return dset

    def __setitem__(self, name, obj) -> None:
        """``group[name] = array`` creates a dataset from it (h5py: OSError if taken)."""
        if isinstance(obj, HLObject):
            raise TypeError("hard links (assigning an existing object) are not supported yet")
        self._check_writable(ValueError, "Unable to create link")
        if name in self:
            raise OSError("Unable to create link (name already exists)")
        self.create_dataset(name, data=obj)

    def __delitem__(self, name) -> None:
        self._check_writable(KeyError, "Couldn't delete link")
        path = resolve_path(self._path, name)
        if path == "" or self._state.read_doc(path) is None:
            raise NodeNotFoundError(f"Couldn't delete link (object {name!r} doesn't exist)")
        self._state.delete_node(path)

    # ------------------------------------------------------------ walking
    def visit(self, func):
        """Call ``func(name)`` for every member below this group, preorder by name (as h5py)."""
        return self.visititems(lambda name, obj: func(name))

    def visititems(self, func):
        """Call ``func(name, obj)`` for every member below; stop at a non-None return."""
        self._check_open()
        return self._visit_into("", self, func)

    def _visit_into(self, prefix: str, group: "Group", func):
        for n in group:
            rel = f"{prefix}{n}"
            obj = group[n]
            result = func(rel, obj)
            if result is None and isinstance(obj, Group):
                result = self._visit_into(rel + "/", obj, func)
            if result is not None:
                return result
        return None

    def __repr__(self) -> str:
        if not self:
            return "<Closed dosna_like group>"
        return f'<dosna_like group "{self.name}" ({len(self)} members)>'
