"""Read views of a dataset: ``astype``, ``asstr`` and ``fields``.

As in h5py 3, each view is a small object over its dataset that reads through
``view[key]`` or ``np.asarray(view)`` and reports the ``dtype`` its reads
have, plus the dataset's ``shape``, ``ndim``, ``size`` and length.  All of that
lives in :class:`DatasetView` (h5py's ``AbstractView``); a view only says what
its dtype is and how it converts what the dataset read.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from ..format.conversion import conversion_path_error, convert_as_hdf5, convert_compound_as_hdf5
from ..format.dtypes import Empty, check_vlen_dtype

if TYPE_CHECKING:  # annotations only: the dataset module imports this one
    from .dataset import Dataset

__all__ = ["AsStrView", "AsTypeView", "DatasetView", "FieldsView", "fields_dtype", "select_fields",
           "split_fields", "text_as_bytes"]


class DatasetView(ABC):
    """What every read view shares, as h5py's ``AbstractView``.

    ``shape``, ``ndim``, ``size`` and ``len()`` are the dataset's; ``dtype`` is
    the dtype of what the view reads.  ``np.asarray(view)`` reads everything
    (numpy 2's ``copy=False`` is refused with ValueError, as h5py does, since a
    read always allocates).
    """

    def __init__(self, dset: Dataset):
        self._dset = dset

    @property
    @abstractmethod
    def dtype(self) -> np.dtype:
        """The dtype of the values a read through this view gives."""

    @property
    def shape(self) -> tuple | None:
        return self._dset.shape

    @property
    def ndim(self) -> int:
        return self._dset.ndim

    @property
    def size(self) -> int | None:
        return self._dset.size

    def __len__(self) -> int:
        return len(self._dset)  # TypeError for scalar and empty datasets, as h5py

    def len(self) -> int:
        """``len(view)``, spelled as ``Dataset.len()``."""
        return len(self)

    def __getitem__(self, key) -> Any:
        return self._convert(self._dset[key])

    @abstractmethod
    def _convert(self, data: Any) -> Any:
        """What the view gives for ``data``, a read of the dataset."""

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            raise ValueError(f"{type(self).__name__}.__array__ received copy=False "
                             "but memory allocation cannot be avoided on read")
        if self.shape is None:
            raise TypeError("An empty dataset (no dataspace) has no array form")
        out = np.asarray(self[...])
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._dset!r} as {self.dtype}>"


class AsTypeView(DatasetView):
    """``Dataset.astype(dtype)``: reads converted to ``dtype`` as HDF5 converts.

    Integers saturate and floats truncate (numpy would wrap), compounds match
    members by name; pairs HDF5 has no conversion path for raise h5py's
    errors when read.  Reads of an empty dataset give its ``Empty`` unchanged,
    as h5py's do.
    """

    def __init__(self, dset: Dataset, dtype):
        super().__init__(dset)
        self._dtype = np.dtype(dtype)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def _convert(self, data):
        if isinstance(data, Empty):
            return data
        error = conversion_path_error(self._dset.dtype, self._dtype)
        if error is not None:
            raise error
        arr = np.asarray(data)
        if self._dtype.subdtype is not None:  # a subarray dataset read: its axes are the array's last
            return convert_as_hdf5(arr, self._dtype.base, reading=True)
        if arr.dtype != self._dtype and (arr.dtype.names is not None or self._dtype.names is not None):
            out = convert_compound_as_hdf5(arr, self._dtype)
        else:
            out = convert_as_hdf5(arr, self._dtype, reading=True)
        if check_vlen_dtype(self._dtype) is str:
            out = text_as_bytes(out)  # h5py 3 reads variable-length strings as bytes
        return out if isinstance(data, np.ndarray) else out[()]


class AsStrView(DatasetView):
    """``Dataset.asstr()``: string data decoded to ``str`` in object arrays, as h5py."""

    def __init__(self, dset: Dataset, encoding: str, errors: str = "strict"):
        super().__init__(dset)
        self._encoding, self._errors = encoding, errors

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(object)

    def _decode(self, x):
        return bytes(x).decode(self._encoding, self._errors) if isinstance(x, (bytes, np.bytes_)) else x

    def _convert(self, data):
        if not isinstance(data, np.ndarray):
            return self._decode(data)
        out = np.empty(data.shape, dtype=object)
        out.reshape(-1)[:] = [self._decode(x) for x in data.reshape(-1).tolist()]
        return out


class FieldsView(DatasetView):
    """``Dataset.fields(names)``: reads of only some fields of a compound dataset.

    One name (a ``str``) reads that field's values; a list of names reads a
    compound of those fields.  The names are checked when the view is made,
    with h5py's ValueErrors.
    """

    def __init__(self, dset: Dataset, names):
        super().__init__(dset)
        self._field = names if isinstance(names, str) else None
        self._names = [names] if isinstance(names, str) else list(names)
        self._compound = fields_dtype(dset.dtype, self._names)

    @property
    def dtype(self) -> np.dtype:
        return self._compound if self._field is None else self._compound.fields[self._field][0]

    def __getitem__(self, key):
        names, key = split_fields(key)
        if not names:
            return super().__getitem__(key)
        # field names in the key choose among the view's fields, as in h5py
        out = select_fields(self._select(self._dset[key]), names, self._compound)
        return out if self._field is None else out[self._field]

    def _select(self, data):
        if not self._names:
            raise ValueError("A fields view of no fields has nothing to read")
        return select_fields(data, self._names, self._dset.dtype, keep_struct=True)

    def _convert(self, data):
        out = self._select(data)
        return out if self._field is None else out[self._field]


# ------------------------------------------------------------ field names
def split_fields(key) -> tuple:
    """(field names, key without them): h5py accepts field names anywhere in a key."""
    if type(key) is str:
        return [key], ()
    if type(key) is tuple and any(isinstance(k, str) for k in key):
        names = [k for k in key if isinstance(k, str)]
        rest = tuple(k for k in key if not isinstance(k, str))
        return names, rest
    return None, key


def fields_dtype(dtype: np.dtype, names: list) -> np.dtype:
    """The compound of fields ``names`` of ``dtype``, with h5py's errors for bad names."""
    if dtype.names is None:
        raise ValueError("Field names only allowed for compound types")
    missing = [n for n in names if n not in dtype.names]
    if missing:
        raise ValueError(f"Field {missing[0]!r} does not appear in this type.")
    return np.dtype([(n, dtype.fields[n][0]) for n in names])  # ValueError for a repeated name


def select_fields(out, names: list, dtype: np.dtype, keep_struct: bool = False):
    """The named fields of compound data read as ``dtype``: one name gives that field's values.

    A single element read (``np.void``) gives a ``np.void`` of the fields, as h5py.
    """
    compound = fields_dtype(dtype, names)
    if len(names) == 1 and not keep_struct:
        return out[names[0]]
    selected = np.asarray(out)[names].astype(compound)
    return selected if isinstance(out, np.ndarray) else selected[()]


def text_as_bytes(out):
    """Variable-length text read as ``bytes``, as h5py 3 reads it (``str`` elements encoded)."""
    if isinstance(out, str):
        return out.encode("utf-8")
    if isinstance(out, np.ndarray) and out.dtype.kind == "O":
        flat = [x.encode("utf-8") if isinstance(x, str) else x for x in out.reshape(-1).tolist()]
        result = np.empty(len(flat), dtype=out.dtype)
        result[:] = flat
        return result.reshape(out.shape)
    return out
