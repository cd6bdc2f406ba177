"""Attribute values: h5py's value types as JSON plus a type record.

Values are stored as plain JSON in the node's Zarr ``attributes`` (so
zarr-python sees ordinary values); the numpy type and shape h5py would give
back are kept as a record in the reserved namespace.  Values come back as
h5py returns them: numpy scalars and arrays for numbers, ``str`` for
strings, object arrays of ``str`` for string lists.

What other Zarr tools (zarr-python) see of compound values: a compound of
plain members is one base64 string of its packed bytes (record ``kind:
"raw"``); a compound with variable-length members, or with members carrying
h5py's enum or opaque marks at any depth (in a nested compound, in an array
of compounds), is a list of base64 strings, one per record in the layout of
:mod:`dosna_like.format.compound` (record ``kind: "records"``, the marks
under the compound record's ``members``).  Nested compounds with marked
members were written as ``"raw"`` before their marks were kept; such
attributes still read as then, without the marks.
"""
from __future__ import annotations

import base64
import math
import warnings
import numpy as np

from .dtypes import (Empty, check_complex_dtype, check_vlen_dtype, decode_float, encode_float, from_stored, is_empty, no_conversion_path,
                     ref_dtype, stored_form, string_dtype, to_stored, vlen_base, vlen_dtype)
from .compound import carries_marks, compound_dtype, member_marks, no_hdf5_type, with_marks, compound_spec, enum_members, hdf5_layout, record_from_bytes, record_layout, record_to_bytes, sequence_base_from, sequence_record
from .references import Reference

__all__ = ["attr_dtype", "attr_type", "decode_attr", "dtype_descr", "dtype_from_descr", "encode_attr", "kept_type", "typed_value"]


_NO_EQUIVALENT = "Object dtype dtype('O') has no native HDF5 equivalent"


# ------------------------------------------------------------------ codec
def _to_json(arr: np.ndarray):
    kind = arr.dtype.kind
    if kind == "f":
        flat = [encode_float(x) for x in arr.ravel().tolist()]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]
    if kind == "c":
        pairs = [[encode_float(z.real), encode_float(z.imag)] for z in arr.ravel().tolist()]
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
            data = [decode_float(v) for v in flat.tolist()] if flat.size else []
        else:
            arr = np.array(value, dtype=object)
            pairs = arr.reshape(-1, 2).tolist() if arr.size else []
            data = [complex(decode_float(a), decode_float(b)) for a, b in pairs]
        return np.array(data, dtype=dtype).reshape(shape)
    return np.array(value, dtype=dtype).reshape(shape)


def _as_text(x) -> str | None:
    if isinstance(x, str):
        return str(x)  # a np.str_ too: h5py reads text back as str
    if isinstance(x, (bytes, np.bytes_)):
        try:
            return bytes(x).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _refuse_nul(text) -> None:
    """HDF5's variable-length strings end at a NUL, so h5py refuses one inside (str or bytes)."""
    if text is not None and ("\x00" if isinstance(text, str) else b"\x00") in text:
        raise ValueError("VLEN strings do not support embedded NULLs")


def encode_attr(value, dtype=None, shape=None) -> tuple:
    """(JSON value, type record) for an attribute value, with h5py's conversions."""
    if is_empty(value):
        return None, {"kind": "empty", "descr": dtype_descr(np.dtype(value.dtype)), **_marks(value.dtype)}
    # numpy's UTF-32 has no HDF5 type (h5py); a dtype given converts the value with numpy first
    if dtype.base.kind == "U" if dtype is not None else \
            isinstance(value, (np.ndarray, np.str_)) and np.asarray(value).dtype.kind == "U":
        raise no_conversion_path(np.asarray(value).dtype if dtype is None else dtype.base)
    if dtype is not None and dtype.subdtype is not None:
        # h5py: a subarray dtype's shape is the data's trailing axes, stored as plain axes;
        # the record keeps it for get_id, which reports the subarray type
        base, subshape = dtype.subdtype
        value = np.asarray(value, dtype=base)
        if value.shape[value.ndim - len(subshape):] != subshape or value.ndim < len(subshape):
            raise ValueError(f"Array dtype shape {subshape} is incompatible with data shape {value.shape}")
        stored, record = _encode(value, base, shape)
        return stored, {**record, "subshape": list(subshape)}
    return _encode(value, dtype, shape)


def _encode(value, dtype, shape) -> tuple:
    special = _encode_special(value, dtype, shape)
    if special is not None:
        return special
    if isinstance(value, np.bytes_) and dtype is None and shape is None:
        # numpy's fixed-length bytes stay bytes in h5py; Python bytes read back as str
        return base64.b64encode(bytes(value)).decode(), {"kind": "np.bytes_"}
    if isinstance(value, (str, bytes)) and dtype is None and shape is None:
        text = _as_text(value)
        _refuse_nul(value)
        if text is None:  # not UTF-8: h5py reads it back as str with surrogate escapes
            return base64.b64encode(bytes(value)).decode(), {"kind": "bytes"}
        # bytes are a variable-length ASCII string to h5py (get_id's dtype), read back as str
        return str(text), ({"kind": "str", "vlen": "bytes"} if isinstance(value, bytes) else {"kind": "str"})
    if dtype is not None and dtype.kind == "O" and not dtype.metadata:
        raise TypeError(_NO_EQUIVALENT)  # a plain object type names no HDF5 type (h5py)
    arr = np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value)
    if arr.dtype.names is not None and check_complex_dtype(arr.dtype) is not None:
        # h5py reads a compound of two floats named as complex parts back as complex numbers
        real, imag = arr.dtype.names
        arr = (arr[real] + 1j * arr[imag]).astype(check_complex_dtype(arr.dtype))
    if shape is not None:
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if arr.size != math.prod(shape):
            raise ValueError("Shape of new attribute conflicts with shape of data")
        arr = arr.reshape(shape)
    kind = arr.dtype.kind
    # the type asked for, else the value's own: numpy keeps h5py's marks (enum, opaque) on the
    # array's dtype, which np.asarray(value, dtype) may not hand on when only they differ
    marks = (np.dtype(dtype) if dtype is not None else arr.dtype).metadata or {}
    if kind in "biufc":
        record = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
        if marks.get("enum") and kind in "iu":
            record["enum"] = dict(marks["enum"])
        return _to_json(arr), record
    if kind in "MmV" and arr.dtype.names is None:
        # datetimes marked with h5py.opaque_dtype and void bytes: HDF5 opaque values, kept as bytes
        if kind != "V" and not marks.get("h5py_opaque"):
            raise no_conversion_path(arr.dtype)  # datetimes h5py stores only when marked opaque
        raw = base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()
        record = {"kind": "raw", "descr": dtype_descr(arr.dtype), "shape": list(arr.shape)}
        if marks.get("h5py_opaque"):
            record["opaque"] = True
        return raw, record
    if arr.dtype.names is not None and any(_record_member(arr.dtype.fields[n][0]) for n in arr.dtype.names):
        # compounds with variable-length fields or members with h5py's marks (enum, opaque):
        # one stored record per item (format/compound.py)
        layout = record_layout(arr.dtype)
        items = [base64.b64encode(record_to_bytes(r, arr.dtype, layout)).decode() for r in arr.reshape(-1)]
        # as h5py reports the type once stored (a variable-length member takes HDF5's 16 bytes)
        spec = compound_spec(hdf5_layout(arr.dtype))
        return items, {"kind": "records", "compound": spec, "shape": list(arr.shape)}
    if (kind == "S" and (isinstance(value, np.ndarray) or dtype is not None)) or arr.dtype.names is not None:
        # fixed-length bytes arrays and compound values: their bytes, losslessly
        raw = base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()
        return raw, {"kind": "raw", "descr": dtype_descr(arr.dtype), "shape": list(arr.shape),
                     **({"encoding": "utf-8"} if marks.get("h5py_encoding") == "utf-8" else {})}
    if kind in "USO":
        items = arr.ravel().tolist()
        # bytes that are not UTF-8: h5py stores them (an ASCII string type) and reads back
        # str with surrogate escapes
        texts = [bytes(x).decode("utf-8", "surrogateescape") if isinstance(x, (bytes, np.bytes_)) else _as_text(x)
                 for x in items]
        if any(t is None for t in texts):
            raise TypeError(_NO_EQUIVALENT)
        for text in texts:
            _refuse_nul(text)
        vlen = marks.get("vlen")
        given_bytes = any(isinstance(x, bytes) for x in items)
        if vlen not in (str, bytes) and kind == "O" and given_bytes and any(isinstance(x, str) for x in items):
            raise TypeError(_NO_EQUIVALENT)  # str and bytes in one object array: no one type (h5py)
        # h5py keeps the bytes mark (an ASCII string type) although it hands back str
        mark = {"vlen": "bytes"} if (vlen is bytes if vlen in (str, bytes) else kind == "S" or given_bytes) else {}
        if arr.ndim == 0:
            return texts[0], {"kind": "str", **mark}
        return np.array(texts, dtype=object).reshape(arr.shape).tolist(), {"kind": "str", "shape": list(arr.shape),
                                                                            **mark}
    raise TypeError(f"Object dtype {arr.dtype!r} has no native HDF5 equivalent")


def _record_member(member: np.dtype) -> bool:
    """A compound member stored in the record form: variable-length, a datetime (which the
    record form refuses unless opaque-marked, as h5py) or a type carrying h5py's marks (a
    nested compound's members too, at any depth)."""
    return member.hasobject or no_hdf5_type(member) is not None or bool(member.base.metadata) or \
        carries_marks(member)


def _encode_special(value, dtype, shape):
    """References (as target paths) and vlen sequences (as lists of numbers); None for other values."""
    if dtype is None and isinstance(value, Reference):
        dtype = ref_dtype
    if dtype is None and isinstance(value, np.ndarray) and stored_form(value.dtype) is not None:
        dtype = value.dtype
    if dtype is None or stored_form(np.dtype(dtype)) not in ("ref", "vlen"):
        return None  # compounds are encoded by encode_attr
    dtype = np.dtype(dtype)
    stored = to_stored(value, dtype)
    if shape is not None:
        stored = stored.reshape((shape,) if isinstance(shape, int) else tuple(shape))
    if stored_form(dtype) == "ref":
        record = {"kind": "ref"}
        if stored.ndim:
            record["shape"] = list(stored.shape)
        return (stored.tolist() if stored.ndim else stored[()]), record
    base = vlen_base(dtype)
    if base.names is not None or base.metadata or base.kind in "Sc":
        # sequences of records, enums, fixed-length bytes or complex numbers: each stored
        # sequence's bytes (format/compound.py), as a dataset holds them
        items = [base64.b64encode(item).decode() for item in stored.reshape(-1).tolist()]
        return items, {"kind": "vlen", "sequence": sequence_record(base), "shape": list(stored.shape)}
    items = [from_stored(b, dtype).tolist() for b in stored.reshape(-1).tolist()]
    items = [[encode_float(x) for x in item] if base.kind == "f" else item for item in items]
    nested = np.empty(len(items), dtype=object)
    nested[:] = items
    return nested.reshape(stored.shape).tolist(), {"kind": "vlen", "base": base.str, "shape": list(stored.shape)}


def _decode_special(value, record: dict):
    if record["kind"] == "ref":
        if "shape" not in record:
            return Reference(str(value) or None)
        arr = np.empty(len(np.array(value, dtype=object).reshape(-1)), dtype=object)
        arr[:] = [str(v) for v in np.array(value, dtype=object).reshape(-1).tolist()]
        return from_stored(arr.reshape(record["shape"]), ref_dtype)
    shape = tuple(record["shape"])
    if "sequence" in record:
        stored = np.empty(len(value), dtype=object)
        stored[:] = [base64.b64decode(item) for item in value]
        out = from_stored(stored, vlen_dtype(sequence_base_from(record["sequence"]))).reshape(shape)
        return out[()] if not shape else out
    base = np.dtype(record["base"])
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=vlen_dtype(base))
    flat = value
    for _ in shape[:-1] if shape else ():
        flat = [x for row in flat for x in row]
    flat = flat if shape else [value]
    for i, item in enumerate(flat):
        out[i] = np.array([decode_float(x) for x in item] if base.kind == "f" else item, dtype=base)
    return out.reshape(shape)[()] if shape else out[0]


def decode_attr(value, record: dict | None):
    """The value h5py would return for a stored attribute."""
    if record is None:
        return _infer(value)
    kind = record.get("kind")
    if kind in ("ref", "vlen"):
        return _decode_special(value, record)
    if kind == "str":
        if "shape" not in record:
            return str(value)
        mark = string_dtype("ascii" if record.get("vlen") == "bytes" else "utf-8")
        arr = np.empty(len(np.array(value, dtype=object).ravel()), dtype=mark)
        arr[:] = [str(v) for v in np.array(value, dtype=object).ravel().tolist()]
        return arr.reshape(record["shape"])
    if kind == "bytes":
        return base64.b64decode(value).decode("utf-8", "surrogateescape")
    if kind == "np.bytes_":
        return np.bytes_(base64.b64decode(value))
    if kind == "empty":
        return Empty(attr_dtype(dtype_from_descr(record["descr"]), record))
    if kind == "records":
        dtype = compound_dtype(record["compound"])
        layout = record_layout(dtype)
        arr = np.empty(len(value), dtype)
        for i, item in enumerate(value):
            arr[i] = record_from_bytes(base64.b64decode(item), dtype, layout)
        arr = arr.reshape(record["shape"])
        return arr[()] if arr.ndim == 0 else arr
    if kind == "raw":
        dtype = attr_dtype(dtype_from_descr(record["descr"]), record)
        arr = np.frombuffer(base64.b64decode(value), dtype=dtype).reshape(record["shape"]).copy()
        return arr[()] if arr.ndim == 0 else arr
    dtype = attr_dtype(np.dtype(record["dtype"]), record)
    arr = _from_json(value, dtype, tuple(record["shape"]))
    return arr[()] if arr.ndim == 0 else arr


def attr_dtype(dtype: np.dtype, record: dict | None) -> np.dtype:
    """``dtype`` with the marks h5py puts on an attribute's type, from its record: an enum's
    members, the opaque mark, a fixed-length string's encoding."""
    record = record or {}
    if record.get("enum"):
        return np.dtype(dtype, metadata={"enum": enum_members(record["enum"])})
    if record.get("opaque"):
        return np.dtype(dtype, metadata={"h5py_opaque": True})
    if record.get("members"):  # a compound's members' marks, at any depth
        return with_marks(dtype, record)
    if record.get("text"):
        return string_dtype(record["text"])
    if record.get("kind") in ("raw", "empty") and dtype.kind == "S":
        return np.dtype(dtype, metadata={"h5py_encoding": record.get("encoding", "ascii")})
    return dtype


def _marks(dtype: np.dtype) -> dict:
    """The record entries :func:`attr_dtype` turns back into h5py's marks on ``dtype``."""
    meta = dtype.metadata or {}
    if meta.get("enum"):
        return {"enum": dict(meta["enum"])}
    if meta.get("h5py_opaque"):
        return {"opaque": True}
    if meta.get("vlen") in (str, bytes):
        return {"text": "utf-8" if meta["vlen"] is str else "ascii"}
    if meta.get("h5py_encoding") == "utf-8":  # a fixed-length string type is ASCII unless marked
        return {"encoding": "utf-8"}
    return member_marks(dtype) if dtype.names is not None else {}


def attr_type(value, record: dict | None) -> tuple:
    """(dtype, shape) of a stored attribute as h5py's ``attrs.get_id(name)`` reports them,
    from its value as read and its type record (h5py's marks, a subarray type)."""
    record = record or {}
    if is_empty(value):
        return value.dtype, None
    if isinstance(value, Reference):
        return ref_dtype, ()
    if isinstance(value, str):  # a variable-length string; bytes were one of ASCII
        return string_dtype("ascii" if record.get("kind") == "bytes" or record.get("vlen") == "bytes"
                            else "utf-8"), ()
    dtype, shape = np.asarray(value).dtype, np.shape(value)
    if isinstance(value, np.generic):  # a scalar's dtype has lost the marks (and a string its length)
        dtype = attr_dtype(dtype_from_descr(record["descr"]) if "descr" in record else dtype, record)
    sub = tuple(record.get("subshape") or ())
    if sub:
        dtype, shape = np.dtype((dtype, sub)), shape[:len(shape) - len(sub)]
    return dtype, shape


def kept_type(value, dtype: np.dtype) -> np.dtype | None:
    """The type to write a copy of an attribute with, given its value as read and its stored
    type (``attrs.get_id(name).dtype``, of either library): that type where the value has lost
    part of it (a scalar h5py's marks: enum, opaque, ASCII text, a fixed string's length; any
    value a subarray type), else None (the value's own type is the stored one)."""
    if dtype.subdtype is not None or (isinstance(value, (np.generic, str)) and (dtype.metadata or
                                                                                 dtype.kind in "SV")):
        return dtype
    return None


def typed_value(value, dtype: np.dtype):
    """An attribute's value as read, to be set as ``attrs[name] = ...`` in either library with
    its stored type ``dtype``: a scalar that has lost part of it as a 0-d array of that type
    (which numpy marks as h5py does); other values as they are (a subarray type is lost)."""
    if isinstance(value, np.ndarray) and check_vlen_dtype(value.dtype) is bytes:
        # an ASCII string type read back as str (with surrogate escapes for bytes that were not
        # UTF-8, which h5py cannot write as such): its bytes again
        out = np.empty(value.size, dtype=value.dtype)
        out[:] = [x.encode("utf-8", "surrogateescape") if isinstance(x, str) else x for x in value.ravel().tolist()]
        return out.reshape(value.shape)
    kept = kept_type(value, dtype)
    if kept is None or kept.subdtype is not None:
        return value
    if isinstance(value, str) and check_vlen_dtype(kept) is bytes:
        value = value.encode("utf-8", "surrogateescape")
    return np.asarray(value, dtype=kept)


def dtype_descr(dtype: np.dtype):
    # h5py's marks on a dtype (a fixed string's encoding...) are numpy metadata, which the
    # descr leaves out (numpy warns that it does); the kind="str"/"vlen" records keep what matters
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="metadata on a dtype", category=UserWarning)
        return np.lib.format.dtype_to_descr(dtype)


def dtype_from_descr(descr) -> np.dtype:
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
