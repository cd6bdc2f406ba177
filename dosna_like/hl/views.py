"""Read views of a dataset: ``astype``, ``asstr`` and ``fields``."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..format.conversion import convert_for_write

if TYPE_CHECKING:  # annotations only: the dataset module imports this one
    from .dataset import Dataset



class AstypeWrapper:
    """``Dataset.astype(dtype)``: reads converted to ``dtype`` (h5py >= 3)."""

    def __init__(self, dset: "Dataset", dtype):
        self._dset = dset
        self._dtype = np.dtype(dtype)

    def __getitem__(self, key):
        out = convert_for_write(np.asarray(self._dset[key]), self._dtype)  # HDF5's conversion rules
        return out[()] if out.ndim == 0 else out

    def __len__(self) -> int:
        return len(self._dset)

    def __array__(self, dtype=None, copy=None):
        out = self[()]
        return np.asarray(out, dtype=dtype)


def split_fields(key):
    """(field names, key without them): h5py accepts field names anywhere in a key."""
    if type(key) is str:
        return [key], ()
    if type(key) is tuple and any(isinstance(k, str) for k in key):
        names = [k for k in key if isinstance(k, str)]
        rest = tuple(k for k in key if not isinstance(k, str))
        return names, rest
    return None, key


def select_fields(out, names: list, dtype: np.dtype, keep_struct: bool = False):
    """The named fields of compound data: one name gives that field's values."""
    if dtype.names is None:
        raise ValueError("Field names only allowed for compound types")
    missing = [n for n in names if n not in dtype.names]
    if missing:
        raise ValueError(f"Field {missing[0]!r} does not appear in this type.")
    if len(names) == 1 and not keep_struct:
        return out[names[0]]
    return np.asarray(out)[names].astype(np.dtype([(n, dtype.fields[n][0]) for n in names]))


def text_as_bytes(out):
    if isinstance(out, str):
        return out.encode("utf-8")
    if isinstance(out, np.ndarray) and out.dtype.kind == "O":
        flat = [x.encode("utf-8") if isinstance(x, str) else x for x in out.reshape(-1).tolist()]
        result = np.empty(len(flat), dtype=out.dtype)
        result[:] = flat
        return result.reshape(out.shape)
    return out


class AsStrWrapper:
    """``Dataset.asstr()``: string data decoded to ``str`` (object arrays, as h5py)."""

    def __init__(self, dset: "Dataset", encoding: str, errors: str = "strict"):
        self._dset, self._encoding, self._errors = dset, encoding, errors

    def _decode(self, x):
        return bytes(x).decode(self._encoding, self._errors) if isinstance(x, (bytes, np.bytes_)) else x

    def __getitem__(self, key):
        data = self._dset[key]
        if not isinstance(data, np.ndarray):
            return self._decode(data)
        out = np.empty(data.shape, dtype=object)
        out.reshape(-1)[:] = [self._decode(x) for x in data.reshape(-1).tolist()]
        return out

    def __len__(self) -> int:
        return len(self._dset)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[()], dtype=dtype)


class FieldsWrapper:
    """``Dataset.fields(names)``: reads of only those fields."""

    def __init__(self, dset: "Dataset", names):
        self._dset = dset
        self._names = [names] if isinstance(names, str) else list(names)
        self.extract_field = names if isinstance(names, str) else None

    def __getitem__(self, key):
        out = self._dset[key]
        if self.extract_field is not None:
            return select_fields(out, [self.extract_field], self._dset.dtype)
        return select_fields(out, self._names, self._dset.dtype, keep_struct=True)

    def __len__(self) -> int:
        return len(self._dset)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[()], dtype=dtype)
