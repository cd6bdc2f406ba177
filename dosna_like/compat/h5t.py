"""``h5py.h5t``'s dtype helpers, the names h5py keeps there as well as at top level,
and h5py's older ``special_dtype``.

The Python-level helpers exist, and the type classes code compares
``ds.id.get_type().get_class()`` with (``INTEGER``, ``STRING``, ``COMPOUND``...;
``TypeID`` is the class of ``get_type()``).  Building HDF5 types
(``py_create``, ``C_S1.copy()``...) belongs to HDF5's low-level API, which
dosna_like does not have.
"""
from __future__ import annotations

import numpy as np

from ..format.dtypes import (check_dtype, check_enum_dtype, check_string_dtype, check_vlen_dtype, enum_dtype,
                             string_dtype, string_info, vlen_dtype)
from ..format.typeclass import (ARRAY, BITFIELD, COMPOUND, ENUM, FLOAT, INTEGER, NO_CLASS, OPAQUE, REFERENCE, STRING,
                                TIME, VLEN)
from ..hl.ident import (CSET_ASCII, CSET_UTF8, TypeArrayID, TypeBitfieldID, TypeCompoundID, TypeEnumID, TypeFloatID,
                        TypeID, TypeIntegerID, TypeOpaqueID, TypeReferenceID, TypeStringID, TypeTimeID, TypeVlenID)

__all__ = [
    "ARRAY", "BITFIELD", "COMPOUND", "ENUM", "FLOAT", "INTEGER", "NO_CLASS", "OPAQUE", "REFERENCE", "STRING", "TIME",
    "CSET_ASCII", "CSET_UTF8", "TypeArrayID", "TypeBitfieldID", "TypeCompoundID", "TypeEnumID", "TypeFloatID",
    "TypeID", "TypeIntegerID", "TypeOpaqueID", "TypeReferenceID", "TypeStringID", "TypeTimeID", "TypeVlenID", "VLEN",
    "check_dtype", "check_enum_dtype", "check_string_dtype", "check_vlen_dtype", "enum_dtype",
    "special_dtype", "string_dtype", "string_info", "vlen_dtype",
]


def special_dtype(**kwds) -> np.dtype:
    """h5py's older ``special_dtype(vlen=t | enum=(base, mapping))``: one keyword,
    the same dtypes ``vlen_dtype``/``string_dtype``/``enum_dtype`` make."""
    if len(kwds) != 1:
        raise TypeError("Exactly one keyword may be provided")
    (name, value), = kwds.items()
    if name == "vlen":
        if value in (str, bytes):  # h5py: vlen=str is the variable-length string type
            return string_dtype("utf-8" if value is str else "ascii")
        return vlen_dtype(value)
    if name == "enum":
        try:
            basetype, values = value
        except (TypeError, ValueError):
            raise TypeError("Enums must be created from a 2-tuple (basetype, values_dict)") from None
        return enum_dtype(values, basetype)
    raise TypeError(f'Unknown special type "{name}"')
