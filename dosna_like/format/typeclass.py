"""HDF5's datatype classes (``H5T_class_t``) of the numpy dtypes h5py stores.

Code written for h5py asks a dataset or attribute for its HDF5 type class
(``ds.id.get_type().get_class() == h5py.h5t.COMPOUND``; h5netcdf does this
for every variable).  The class follows from the dtype alone, by h5py's
mapping: bool is an HDF5 enum, complex a compound of two floats, ``V``
without fields opaque, a subarray an HDF5 array type, ``object`` dtypes a
string, variable-length or reference type by their h5py mark.  ``type_key``
is what HDF5's type equality (``H5Tequal``) compares: the dtype with byte
order, and the h5py mark numpy's own equality ignores.
"""
from __future__ import annotations

import numpy as np

from .dtypes import check_enum_dtype, check_string_dtype, check_vlen_dtype
from .references import check_ref_dtype

__all__ = ["ARRAY", "BITFIELD", "COMPOUND", "ENUM", "FLOAT", "INTEGER", "NO_CLASS", "OPAQUE", "REFERENCE",
           "STRING", "TIME", "VLEN", "type_class", "type_key", "type_size"]

# h5py.h5t's class constants (HDF5's H5T_class_t values)
NO_CLASS = -1
INTEGER = 0
FLOAT = 1
TIME = 2
STRING = 3
BITFIELD = 4
OPAQUE = 5
COMPOUND = 6
REFERENCE = 7
ENUM = 8
VLEN = 9
ARRAY = 10


def type_class(dtype) -> int:
    """The HDF5 type class h5py gives ``dtype`` (``h5py.h5t.INTEGER``...)."""
    dt = np.dtype(dtype)
    if check_string_dtype(dt) is not None:
        return STRING
    if check_ref_dtype(dt) is not None:
        return REFERENCE
    if check_vlen_dtype(dt) is not None:
        return VLEN
    if check_enum_dtype(dt) is not None or dt.kind == "b":
        return ENUM
    if dt.subdtype is not None:
        return ARRAY
    if dt.names is not None or dt.kind == "c":
        return COMPOUND
    if dt.kind in "iu":
        return INTEGER
    if dt.kind == "f":
        return FLOAT
    if dt.kind in "VMm":  # h5py stores datetime64/timedelta64 as opaque, tagged
        return OPAQUE
    if dt.kind == "U":
        raise TypeError("No conversion path for dtype: " + repr(dt))
    return NO_CLASS


def type_size(dtype) -> int:
    """HDF5's size of the type in memory: a vlen sequence is a (length, pointer) pair,
    a vlen string or reference one pointer."""
    dt = np.dtype(dtype)
    if dt.kind == "O":
        return 16 if type_class(dt) == VLEN else 8
    return dt.itemsize


def type_key(dtype) -> tuple:
    """What two HDF5 types must share to be equal: class, numpy layout with byte
    order, and the h5py mark (string encoding, vlen base, enum members, reference kind)."""
    dt = np.dtype(dtype)
    vlen = check_vlen_dtype(dt)
    vlen = None if vlen is None or vlen in (str, bytes) else np.dtype(vlen).str
    enum = check_enum_dtype(dt)
    ref = check_ref_dtype(dt)
    layout = dt.descr if dt.names is not None else (
        (dt.subdtype[0].str, dt.subdtype[1]) if dt.subdtype is not None else dt.str)
    return (type_class(dt), layout, check_string_dtype(dt), vlen,
            tuple(sorted(enum.items())) if enum else None, ref.__name__ if ref is not None else None)
