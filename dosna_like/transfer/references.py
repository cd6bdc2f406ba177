"""Object references crossing between HDF5 files and stores.

An HDF5 reference is an address in its file and a dosna_like reference a
path (:mod:`dosna_like.format.references`), so a copy turns each one into
the other by dereferencing it in the file it came from: h5py's into the
target's name (null stays null), ours into ``h5file[path].ref``.  An export
writes reference values after every object exists, so a reference may point
to an object that comes later in the walk.
"""
from __future__ import annotations

import numpy as np

from ..format.dtypes import stored_form
from ..format import references
from ..format.references import check_ref_dtype, holds_refs_dtype, is_h5py_ref_dtype, map_refs, ref_dtype, refs_as
from .common import Subarray

__all__ = ["holds_refs", "refs_from_h5py", "refs_to_h5py"]


def _is_ref_value(value) -> bool:
    return type(value).__name__ in ("Reference", "RegionReference")


def holds_refs(value) -> bool:
    """A reference, or an array of a reference dtype (of either library), or an attribute
    value of a subarray type with references."""
    if _is_ref_value(value):
        return True
    if isinstance(value, Subarray):
        return holds_refs_dtype(value.dtype)
    if isinstance(value, (np.ndarray, np.void)) and value.dtype.names is not None:
        return holds_refs_dtype(value.dtype)  # records with reference members (of either library)
    return isinstance(value, np.ndarray) and value.dtype.kind == "O" and _safe_form(value.dtype) == "ref"


def _safe_form(dtype):
    try:
        return stored_form(dtype)
    except TypeError:
        return None


def _is_ref_dtype(dtype) -> bool:
    return check_ref_dtype(dtype) is not None


def refs_from_h5py(value, h5file):
    """h5py's references as ours (:func:`dosna_like.format.references.refs_from_h5py`), a
    :class:`Subarray` value's with its type."""
    if isinstance(value, Subarray):
        return Subarray(references.refs_from_h5py(value.value, h5file),
                        refs_as(value.dtype, is_h5py_ref_dtype, ref_dtype))
    return references.refs_from_h5py(value, h5file)


def refs_to_h5py(value, h5file, h5py):
    """dosna_like references (one, arrays of them, records with reference members at any
    depth, a :class:`Subarray` value) as h5py references into ``h5file``."""
    def one(ref):
        return h5file[ref.path].ref if ref else h5py.Reference()
    if isinstance(value, Subarray):
        return Subarray(map_refs(value.value, one, _is_ref_dtype, h5py.ref_dtype),
                        refs_as(value.dtype, _is_ref_dtype, h5py.ref_dtype))
    return map_refs(value, one, _is_ref_dtype, h5py.ref_dtype)
