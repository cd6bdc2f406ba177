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

__all__ = ["Reference", "RegionReference", "check_ref_dtype", "ref_dtype", "ref_from_path",
           "ref_to_path", "regionref_dtype"]


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
