"""``AttributeManager`` and the attribute value codec.

Attributes are stored as plain JSON in the node's Zarr ``attributes`` (so
zarr-python sees ordinary values); the numpy type and shape h5py would give
back live beside them in the reserved ``_dosna_like`` entry.  Values come back
as h5py returns them: numpy scalars and arrays for numbers, ``str`` for
strings, object arrays of ``str`` for string lists.
"""
from __future__ import annotations

import base64
import math
from collections.abc import MutableMapping

import numpy as np

from .errors import InvalidNameError, NodeNotFoundError
from .dtypes import Empty, string_dtype, decode_float as _decode_float, encode_float as _encode_float
from .metadata import RESERVED

_NO_EQUIVALENT = "Object dtype dtype('O') has no native HDF5 equivalent"


# ------------------------------------------------------------------ codec
def _to_json(arr: np.ndarray):
    kind = arr.dtype.kind
    if kind == "f":
        flat = [_encode_float(x) for x in arr.ravel().tolist()]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]
    if kind == "c":
        pairs = [[_encode_float(z.real), _encode_float(z.imag)] for z in arr.ravel().tolist()]
        if arr.ndim == 0:
            return pairs[0]
        out = np.empty(arr.size, dtype=object)
        out[:] = pairs
        return out.reshape(arr.shape).tolist()
    return arr.tolist()


def _from_json(value, dtype: np.dtype, shape: tuple) -> np.ndarray:
    kind = dtype.kind
    if kind in "fc":
        flat = np.array(value, dtype=object).reshape(-1) if kind == "f" else None
        if kind == "f":
            data = [_decode_float(v) for v in flat.tolist()] if flat.size else []
        else:
            arr = np.array(value, dtype=object)
            pairs = arr.reshape(-1, 2).tolist() if arr.size else []
            data = [complex(_decode_float(a), _decode_float(b)) for a, b in pairs]
        return np.array(data, dtype=dtype).reshape(shape)
    return np.array(value, dtype=dtype).reshape(shape)


def _as_text(x) -> str | None:
    if isinstance(x, str):
        return x
    if isinstance(x, (bytes, np.bytes_)):
        try:
            return bytes(x).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def encode_attr(value, dtype=None, shape=None) -> tuple:
    """(JSON value, type record) for an attribute value, with h5py's conversions."""
    if type(value).__name__ == "Empty" and hasattr(value, "dtype"):  # h5py.Empty from either library
        return None, {"kind": "empty", "descr": _descr(np.dtype(value.dtype))}
    if isinstance(value, np.bytes_) and dtype is None and shape is None:
        # numpy's fixed-length bytes stay bytes in h5py; Python bytes read back as str
        return base64.b64encode(bytes(value)).decode(), {"kind": "np.bytes_"}
    if isinstance(value, (str, bytes, np.str_)) and dtype is None and shape is None:
        text = _as_text(value)
        if text is None:
            return base64.b64encode(bytes(value)).decode(), {"kind": "bytes"}
        return str(text), {"kind": "str"}
    arr = np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value)
    if shape is not None:
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if arr.size != math.prod(shape):
            raise ValueError(f"Shape of new attribute conflicts with shape of data")
        arr = arr.reshape(shape)
    kind = arr.dtype.kind
    if kind in "biufc":
        record = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
        enum = (np.dtype(dtype).metadata or {}).get("enum") if dtype is not None else None
        if enum:
            record["enum"] = dict(enum)
        return _to_json(arr), record
    if (kind == "S" and isinstance(value, np.ndarray)) or arr.dtype.names is not None:
        # fixed-length bytes arrays and compound values: their bytes, losslessly
        raw = base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()
        return raw, {"kind": "raw", "descr": _descr(arr.dtype), "shape": list(arr.shape)}
    if kind in "USO":
        texts = [_as_text(x) for x in arr.ravel().tolist()]
        if any(t is None for t in texts):
            raise TypeError(_NO_EQUIVALENT)
        if arr.ndim == 0:
            return texts[0], {"kind": "str"}
        record = {"kind": "str", "shape": list(arr.shape)}
        if kind == "S" or any(isinstance(x, bytes) for x in arr.ravel().tolist()):
            record["vlen"] = "bytes"  # h5py keeps the bytes mark although it hands back str
        return np.array(texts, dtype=object).reshape(arr.shape).tolist(), record
    raise TypeError(f"Object dtype {arr.dtype!r} has no native HDF5 equivalent")


def decode_attr(value, record: dict | None):
    """The value h5py would return for a stored attribute."""
    if record is None:
        return _infer(value)
    kind = record.get("kind")
    if kind == "str":
        if "shape" not in record:
            return str(value)
        mark = string_dtype("ascii" if record.get("vlen") == "bytes" else "utf-8")
        arr = np.empty(len(np.array(value, dtype=object).ravel()), dtype=mark)
        arr[:] = [str(v) for v in np.array(value, dtype=object).ravel().tolist()]
        return arr.reshape(record["shape"])
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "np.bytes_":
        return np.bytes_(base64.b64decode(value))
    if kind == "empty":
        return Empty(_from_descr(record["descr"]))
    if kind == "raw":
        dtype = _from_descr(record["descr"])
        if dtype.kind == "S":
            dtype = np.dtype(dtype, metadata={"h5py_encoding": "ascii"})
        arr = np.frombuffer(base64.b64decode(value), dtype=dtype).reshape(record["shape"]).copy()
        return arr[()] if arr.ndim == 0 else arr
    dtype = np.dtype(record["dtype"])
    if record.get("enum"):
        dtype = np.dtype(dtype, metadata={"enum": dict(record["enum"])})
    arr = _from_json(value, dtype, tuple(record["shape"]))
    return arr[()] if arr.ndim == 0 else arr


def _descr(dtype: np.dtype):
    return np.lib.format.dtype_to_descr(dtype)


def _from_descr(descr) -> np.dtype:
    # JSON turns the descr's tuples into lists; numpy wants tuples back
    if isinstance(descr, list):
        descr = [tuple(_from_descr_field(f)) for f in descr]
    return np.lib.format.descr_to_dtype(descr)


def _from_descr_field(field):
    name, sub = field[0], field[1]
    return [name, [tuple(_from_descr_field(f)) for f in sub] if isinstance(sub, list) else sub, *field[2:]]


def _infer(value):
    """Attributes written by other tools (zarr-python) carry no type record."""
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, list):
        try:
            arr = np.array(value)
        except ValueError:
            return value
        if arr.dtype.kind == "U":
            return arr.astype(object)
        return value if arr.dtype.kind == "O" else arr
    return value  # str, dict, None


# ---------------------------------------------------------------- manager
class AttributeManager(MutableMapping):
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
            raise NodeNotFoundError(f"Unable to open attribute (can't locate attribute: {name!r})")
        record = attributes.get(RESERVED, {}).get("attrs", {}).get(name)
        return decode_attr(attributes[name], record)

    def __setitem__(self, name, value) -> None:
        self.create(name, value)

    def create(self, name, data, shape=None, dtype=None) -> None:
        """Create (or overwrite) an attribute, as ``h5py.AttributeManager.create``."""
        name = self._check_name(name)
        if dtype is not None:
            dtype = np.dtype(dtype)
        stored, record = encode_attr(data, dtype, shape)
        if name in self:  # h5py deletes, then creates: a read-only refusal comes from the delete
            self._parent._check_writable(KeyError, "Unable to delete attribute")
        self._parent._check_writable(OSError, "Unable to create attribute")

        def update(attributes: dict) -> None:
            attributes[name] = stored
            reserved = attributes.setdefault(RESERVED, {})
            reserved.setdefault("attrs", {})[name] = record

        self._parent._update_attributes(update)

    def modify(self, name, value) -> None:
        """Change an attribute's value, keeping its type when it exists (h5py semantics)."""
        name = self._check_name(name)
        if name not in self:
            self.create(name, value)
            return
        self._parent._check_writable(OSError, "Can't write data")  # h5py writes in place
        old = self[name]
        if np.shape(value) != np.shape(old):
            raise TypeError("Shape of data is incompatible with existing attribute")
        dtype = getattr(old, "dtype", None)
        if dtype is not None and dtype.kind != "O":
            self.create(name, np.asarray(value), dtype=dtype)
        else:
            self.create(name, value)

    def __delitem__(self, name) -> None:
        name = self._check_name(name)
        self._parent._check_writable(KeyError, "Unable to delete attribute")
        if name not in self._doc_attributes():
            raise NodeNotFoundError("Unable to delete attribute (can't locate attribute)")

        def update(attributes: dict) -> None:
            attributes.pop(name, None)
            attributes.get(RESERVED, {}).get("attrs", {}).pop(name, None)

        self._parent._update_attributes(update)

    def __iter__(self):
        return iter(sorted(k for k in self._doc_attributes() if k != RESERVED))

    def __len__(self) -> int:
        return sum(1 for k in self._doc_attributes() if k != RESERVED)

    def __contains__(self, name) -> bool:
        try:
            name = self._check_name(name)
        except (TypeError, ValueError):
            return False
        return name in self._doc_attributes()

    def __repr__(self) -> str:
        if not self._parent:
            return "<Attributes of closed dosna_like object>"
        return f"<Attributes of dosna_like object {self._parent.name!r}>"
