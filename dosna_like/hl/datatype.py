"""``Datatype``: h5py's named (committed) datatypes.

``group["t"] = np.dtype(...)`` commits a dtype under a name.  Zarr v3 has no
such node, so it is stored as a group whose reserved attributes hold the
dtype (zarr-python sees an empty group); ``group["t"]`` gives it back as a
Datatype, which ``create_dataset(dtype=...)`` accepts.
"""
from __future__ import annotations

import numpy as np

from ..format import compound
from ..format.attrvalues import dtype_descr, dtype_from_descr
from .base import HLObject
from .ident import CommittedTypeID

__all__ = ["Datatype", "datatype_reserved"]


def datatype_reserved(dtype: np.dtype) -> dict:
    """The reserved record of a committed dtype: numpy's descr, or for a compound
    with variable-length or other marked fields the record-form spec that keeps them."""
    dtype = np.dtype(dtype)
    if dtype.names is not None and compound.needs_record_form(dtype):
        return {"datatype": compound.compound_spec(dtype)}
    return {"datatype": dtype_descr(dtype)}


class Datatype(HLObject):
    """A committed datatype, with h5py's ``Datatype`` API (``dtype``, ``name``, ``attrs``)."""

    @property
    def id(self) -> CommittedTypeID:
        """h5py's ``Datatype.id``: a type id (``get_class()``, equal to the same type
        of any dataset) that is also this object's id (``valid``)."""
        return CommittedTypeID(self)

    @property
    def dtype(self) -> np.dtype:
        self._check_open()
        record = self._state.reserved(self._path)["datatype"]
        return compound.compound_dtype(record) if isinstance(record, dict) else dtype_from_descr(record)

    def __repr__(self) -> str:
        if not self:
            return "<Closed HDF5 named type>"
        base = self.name.rsplit("/", 1)[-1]
        return f'<HDF5 named type "{base}" (dtype {self.dtype.str})>'
