"""``AttributeManager`` and the attribute value codec.

Attributes are stored as plain JSON in the node's Zarr ``attributes`` (so
zarr-python sees ordinary values); the numpy type and shape h5py would give
back live beside them in the reserved ``_dosna_like`` entry.  Values come back
as h5py returns them: numpy scalars and arrays for numbers, ``str`` for
strings, object arrays of ``str`` for string lists.  A dataset's HDF5
dimension-scale attributes (``CLASS``, ``DIMENSION_LIST``...) are shown
from its scales (``hl/scale_attrs.py``).
"""
from __future__ import annotations

import math
from collections.abc import MutableMapping

import numpy as np

from ..errors import InvalidNameError, NodeNotFoundError
from ..format.attrvalues import attr_type, decode_attr, encode_attr
from ..format.dtypes import check_ref_dtype, check_vlen_dtype, is_empty, ref_dtype
from ..format.reserved import RESERVED, edit_reserved
from .creation import guess_dtype
from .ident import AttrID
from .mapping import HDF5Views
from .scale_attrs import (del_scale_attribute, derived_names, get_scale_attribute, has_scale_attribute, is_derived,
                          set_scale_attribute)

__all__ = ["AttributeManager"]


# ---------------------------------------------------------------- records
def _record_needed(stored, record) -> bool:
    """Whether an attribute needs its type record: not when the plain JSON value
    reads back with the record's type and shape (str, int64, float64, bool and
    their lists; JSON keeps those values exactly), so the node's reserved entry,
    which a group keeps in its Zarr attributes, stays away in the common case.
    One decode, of the plain value."""
    try:
        plain = decode_attr(stored, None)
    except (TypeError, ValueError, KeyError, OverflowError):  # OverflowError: a uint64 past int64
        return True
    if record == {"kind": "str"}:
        return not isinstance(plain, str)
    if set(record) != {"dtype", "shape"} or not isinstance(plain, (np.ndarray, np.generic)):
        return True
    return plain.dtype.str != record["dtype"] or list(plain.shape) != record["shape"]


def _drop_empty(attributes: dict) -> None:
    # an emptied reserved entry is removed, so other tools see only the user's attributes
    reserved = attributes.get(RESERVED)
    if isinstance(reserved, dict):
        if reserved.get("attrs") == {}:
            del reserved["attrs"]
        if not reserved:
            del attributes[RESERVED]


# ---------------------------------------------------------------- manager
def _references_only(data) -> bool:
    """h5py's guess for attribute data: the reference type for an object array (or lists) of references only."""
    guessed = guess_dtype(data)
    return guessed is not None and check_ref_dtype(guessed) is not None


class AttributeManager(HDF5Views, MutableMapping):
    """Attributes of a File, Group or Dataset, with h5py's dict-like API.

    Mirrors ``h5py.AttributeManager``: names iterate in sorted order, values
    come back with the types h5py returns, ``create``/``modify`` take h5py's
    arguments.
    """

    def __init__(self, parent):
        self._parent = parent

    def _doc_attributes(self) -> dict:
        return self._parent._document().get("attributes") or {}

    @staticmethod
    def _check_name(name) -> str:
        if isinstance(name, bytes):
            name = name.decode("utf-8")
        if not isinstance(name, str):
            raise TypeError(f"attribute names must be str, not {type(name).__name__}")
        if name == RESERVED:
            raise InvalidNameError(f"attribute name {RESERVED!r} is reserved")
        return name

    def __getitem__(self, name):
        name = self._check_name(name)
        attributes = self._doc_attributes()
        if name not in attributes:
            if is_derived(self._parent, name):
                try:
                    return get_scale_attribute(self._parent, name)
                except KeyError:
                    pass
            raise NodeNotFoundError(f"Unable to open attribute (can't locate attribute: {name!r})")
        return decode_attr(attributes[name], self._record(name))

    def _record(self, name: str) -> dict | None:
        # the file's checked entry of this same document: checked once, not per attribute
        return self._parent._state.reserved(self._parent._path).get("attrs", {}).get(name)

    def __setitem__(self, name, value) -> None:
        self.create(name, value)

    def get_id(self, name) -> AttrID:
        """h5py's ``attrs.get_id(name)``: the attribute's name, dtype, shape and HDF5 type
        (a ``str`` value is a variable-length UTF-8 string, as h5py stores it)."""
        name = self._check_name(name)
        dtype, shape = attr_type(self[name], self._record(name))
        return AttrID(name, dtype, shape)

    def _ipython_key_completions_(self) -> list:
        """IPython's tab completion of ``obj.attrs["...``: the attribute names, sorted (as h5py)."""
        return sorted(self)

    def create(self, name, data, shape=None, dtype=None) -> None:
        """Create (or overwrite) an attribute, as ``h5py.AttributeManager.create``."""
        self._write(name, data, shape, dtype, in_place=False)

    def _write(self, name, data, shape, dtype, in_place: bool) -> None:
        """``create``; ``in_place``: as ``modify`` writes an existing attribute, which keeps
        its place in creation order (h5py's create deletes it and creates it again, last)."""
        name = self._check_name(name)
        if is_derived(self._parent, name):
            self._parent._check_writable(OSError, "Unable to create attribute")
            set_scale_attribute(self._parent, name, data)
            return
        if dtype is not None:
            dtype = np.dtype(dtype)
        elif _references_only(data):
            dtype = ref_dtype  # an object array or lists of references only: h5py's guess
        stored, record = encode_attr(data, dtype, shape)
        if name in self:  # h5py deletes, then creates: a read-only refusal comes from the delete
            self._parent._check_writable(KeyError, "Unable to delete attribute")
        self._parent._check_writable(OSError, "Unable to create attribute")
        path = self._parent._path

        needed = _record_needed(stored, record)

        def update(attributes: dict) -> None:
            reserved = edit_reserved(attributes, path)
            if not in_place:
                attributes.pop(name, None)
            attributes[name] = stored
            if needed:
                reserved.setdefault("attrs", {})[name] = record
            else:
                reserved.get("attrs", {}).pop(name, None)
                _drop_empty(attributes)

        self._parent._update_attributes(update)

    def modify(self, name, value) -> None:
        """Change an attribute's value, keeping its type when it exists (h5py semantics)."""
        name = self._check_name(name)
        if name not in self:
            self.create(name, value)
            return
        self._parent._check_writable(OSError, "Can't write data")  # h5py writes in place
        if is_empty(self[name]):
            raise OSError("Empty attributes can't be modified")
        ident = self.get_id(name)  # the type with h5py's marks (a scalar's dtype has lost them)
        if isinstance(value, np.ndarray):
            encode_attr(value)  # h5py converts an array from its own type: one HDF5 has none for is refused
        if ident.dtype.subdtype is not None and not isinstance(value, np.ndarray):
            value = np.asarray(value, dtype=ident.dtype)  # as h5py: numpy adds the subarray's axes
        if np.shape(value) != ident.shape:
            if not (np.size(value) == 1 and math.prod(ident.shape) == 1):  # h5py allows () <-> (1,)
                raise TypeError("Shape of data is incompatible with existing attribute")
            value = np.reshape(value, ident.shape)
        dtype = ident.dtype
        if dtype.kind == "O" and check_vlen_dtype(dtype) not in (str, bytes):
            dtype = None  # references, sequences: from the value; else converted to the attribute's type
        self._write(name, value, None, dtype, in_place=True)

    def __delitem__(self, name) -> None:
        name = self._check_name(name)
        self._parent._check_writable(KeyError, "Unable to delete attribute")
        if name not in self._doc_attributes() and is_derived(self._parent, name):
            try:
                return del_scale_attribute(self._parent, name)
            except KeyError:
                pass
        if name not in self._doc_attributes():
            raise NodeNotFoundError("Unable to delete attribute (can't locate attribute)")
        path = self._parent._path

        def update(attributes: dict) -> None:
            attributes.pop(name, None)
            if RESERVED in attributes:  # a node without one (written by zarr) gets none
                edit_reserved(attributes, path).get("attrs", {}).pop(name, None)
                _drop_empty(attributes)

        self._parent._update_attributes(update)

    def __iter__(self):
        names = [k for k in self._doc_attributes() if k != RESERVED]
        names += [k for k in derived_names(self._parent) if k not in names]
        # track_order=True on the object: creation order (stored order), else by name as h5py
        tracked = self._parent._state.reserved(self._parent._path).get("track_order")
        return iter(names if tracked else sorted(names))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __reversed__(self):
        return iter(list(self)[::-1])

    def __contains__(self, name) -> bool:
        try:
            name = self._check_name(name)
        except (TypeError, ValueError):
            return False
        return name in self._doc_attributes() or has_scale_attribute(self._parent, name)

    def __repr__(self) -> str:
        if not self._parent:
            return "<Attributes of closed dosna_like object>"
        return f"<Attributes of dosna_like object {self._parent.name!r}>"
