"""Object and region references: h5py's ``Reference`` types, stored as paths.

HDF5 stores an object reference as the target's address in the file; a
store has no addresses, so dosna_like stores the target's absolute path
(``"/group/dataset"``), and ``""`` for a null reference.  Reference
datasets are Zarr v3 ``string`` arrays (``vlen-utf8``) and reference
attributes plain JSON strings, both marked in the reserved metadata, so
zarr-python reads the target's path.  A path survives a reopen, a store
copy and an HDF5 export/import; it does not follow the target when it is
moved or renamed (unlike HDF5's address): the reference then names
whatever lives at the old path, and dereferencing it raises ``KeyError``
when nothing does.

Region references hold a target path and an h5py selection key; they work
in memory (``f[rr]``, ``ds[rr]``, ``bool``) but cannot be stored (TypeError).
"""
from __future__ import annotations

import numpy as np

__all__ = ["Reference", "RegionReference", "check_ref_dtype", "holds_refs_dtype", "is_h5py_ref_dtype", "map_each",
           "map_refs", "ref_dtype", "refs_as",
           "ref_from_path", "ref_to_path", "refs_from_h5py", "regionref_dtype"]


class Reference:
    """An object reference, as ``h5py.Reference``: ``bool(ref)`` is False for a null one."""

    typecode = 0
    typesize = 8

    __slots__ = ("path",)

    def __init__(self, path: str | None = None):
        self.path = path or None  # absolute path of the target; None: null reference

    def __bool__(self) -> bool:
        return self.path is not None

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.path == self.path

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.path))

    def __repr__(self) -> str:
        return "<HDF5 object reference>" if self else "<HDF5 object reference (null)>"

    def __reduce__(self):
        return (type(self), (self.path,))


class RegionReference(Reference):
    """A region reference, as ``h5py.RegionReference``: a dataset path plus a selection."""

    typecode = 1
    typesize = 12

    __slots__ = ("selection",)

    def __init__(self, path: str | None = None, selection=()):
        super().__init__(path)
        self.selection = selection

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.path == self.path and repr(other.selection) == repr(self.selection)

    def __hash__(self) -> int:
        return hash(("RegionReference", self.path, repr(self.selection)))

    def __repr__(self) -> str:
        return "<HDF5 region reference>" if self else "<HDF5 region reference (null)>"

    def __reduce__(self):
        return (type(self), (self.path, self.selection))


ref_dtype = np.dtype("O", metadata={"ref": Reference})
regionref_dtype = np.dtype("O", metadata={"ref": RegionReference})


def check_ref_dtype(dt):
    """``Reference`` or ``RegionReference`` for a reference dtype, else None (h5py semantics)."""
    return (np.dtype(dt).metadata or {}).get("ref")


def ref_to_path(value) -> str:
    """The stored form of an object reference: its target's path, or "" when null."""
    if type(value).__name__ == "RegionReference":
        raise TypeError("Region references cannot be stored by dosna_like (object references can)")
    if isinstance(value, Reference):
        return value.path or ""
    if value is None or type(value).__name__ == "Reference":  # h5py's null (or foreign) reference
        if value is not None and value:
            raise TypeError("An h5py reference points into an HDF5 file; dereference it there first")
        return ""
    raise TypeError(f"Can't convert {type(value).__name__} to an object reference")


def ref_from_path(path) -> Reference:
    return Reference(str(path) if path else None)


def is_h5py_ref_dtype(dtype: np.dtype) -> bool:
    """A reference dtype of h5py's (its own Reference class, not ours), or a compound with one as a member."""
    return holds_refs_dtype(dtype, h5py_only=True)


def refs_from_h5py(value, h5file):
    """h5py's references (one, an array of them, or records with reference members) as ours:
    each dereferenced in ``h5file``, the HDF5 file they point into, to its target's path
    (a null one stays null).  TypeError for a region reference, ValueError for a reference
    to an anonymous object, which has no path."""
    def one(ref) -> Reference:
        if type(ref).__name__ == "RegionReference":
            raise TypeError("Region references cannot be stored by dosna_like (object references can)")
        if not ref:
            return Reference()
        target = h5file[ref].name
        if target is None:
            raise ValueError("The reference points to an anonymous object, which has no path")
        return Reference(target)

    return map_refs(value, one, is_h5py_ref_dtype, ref_dtype)


def holds_refs_dtype(dtype: np.dtype, h5py_only: bool = False) -> bool:
    """A reference type of either library (``h5py_only``: of h5py's), or a compound or
    subarray with one at any depth."""
    return _holds(dtype, lambda kind: _is_ref_kind(kind, h5py_only))


def _is_ref_kind(kind: np.dtype, h5py_only: bool) -> bool:
    ref = check_ref_dtype(kind)
    return ref is not None and not (h5py_only and ref in (Reference, RegionReference))


def _holds(kind: np.dtype, is_ref) -> bool:
    """Whether ``kind`` (its element type, its members at any depth) has a type ``is_ref`` holds."""
    kind = kind.base
    if kind.names is not None:
        return any(_holds(kind.fields[name][0], is_ref) for name in kind.names)
    return bool(is_ref(kind))


def refs_as(kind: np.dtype, is_ref, dtype) -> np.dtype:
    """``kind`` with each type ``is_ref`` holds made ``dtype``: itself, its element type,
    its members at any depth (offsets and item size kept)."""
    if kind.subdtype is not None:
        return np.dtype((refs_as(kind.subdtype[0], is_ref, dtype), kind.subdtype[1]))
    if kind.names is None:
        return np.dtype(dtype) if is_ref(kind) else kind
    fields = [kind.fields[name] for name in kind.names]
    return np.dtype({"names": list(kind.names), "offsets": [f[1] for f in fields], "itemsize": kind.itemsize,
                     "formats": [refs_as(f[0], is_ref, dtype) for f in fields]})


def map_refs(value, one, is_ref, dtype):
    """``one(ref)`` for each reference of ``value``: one reference, an array of them (a
    ``dtype`` array back), or records (``np.void`` or an array) whose members of a type
    ``is_ref`` holds, at any depth (nested compounds, subarray members), are mapped so,
    into members of type ``dtype``, the others kept."""
    kind = getattr(value, "dtype", None)
    if kind is None or kind.names is None:
        return map_each(value, one, dtype)
    out = np.zeros(np.shape(value), refs_as(kind, is_ref, dtype))
    _map_into(out, np.asarray(value), one, is_ref, dtype)
    return out if isinstance(value, np.ndarray) else out[()]


def _map_into(out: np.ndarray, value: np.ndarray, one, is_ref, dtype) -> None:
    """Fill ``out`` (a view) from ``value`` of the same shape, one walk down the members:
    a member without references is copied whole, a reference member mapped item by item."""
    kind = value.dtype
    if not _holds(kind, is_ref):
        out[...] = value
    elif kind.names is None:
        out[...] = map_each(value, one, dtype)
    else:
        for name in kind.names:
            _map_into(out[name], value[name], one, is_ref, dtype)


def map_each(value, one, dtype):
    """``one(value)`` for a scalar; for an array, a ``dtype`` array of ``one`` of each item."""
    if not isinstance(value, np.ndarray):
        return one(value)
    out = np.empty(value.size, dtype=dtype)
    for i, item in enumerate(value.reshape(-1).tolist()):
        out[i] = one(item)
    return out.reshape(value.shape)
