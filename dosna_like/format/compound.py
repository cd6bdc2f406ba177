"""Compound types Zarr's ``structured`` type cannot hold, stored one record per item.

Zarr v3's ``structured`` data type (as zarr-python 3.1 reads it) takes
packed records of numbers.  h5py's compounds go further: variable-length
``str``/``bytes`` fields, references, vlen sequences, fixed bytes fields,
subarray fields, nested compounds, and offsets of their own (aligned or out
of order).  Those arrays are stored as Zarr ``bytes`` arrays (``vlen-bytes``),
one item per record, which zarr-python reads as ``bytes`` objects:

- first the record's fixed-size fields, packed and little-endian, in field
  order (nested compounds and subarrays included);
- then per variable-length field, in field order, a 4-byte little-endian
  length and the payload: UTF-8 text, bytes, a reference's target path, or
  a vlen sequence's elements (:func:`sequence_to_bytes`).

A variable-length sequence (a dataset's items, or a member) holds its elements
little-endian and packed: numbers, enums, fixed-length bytes, compounds of
fixed-size members; for compounds with variable-length members, each
element's record item (as above) after its 4-byte little-endian length.

The reserved ``compound`` key keeps the type: per field its name and either
``{"type": [numpy descr, shape]}`` or ``{"vlen": "str" | "bytes" | <base>}``
(a base as :func:`sequence_record` writes it)
or ``{"ref": "object"}`` (a fixed member's h5py mark beside its type: ``"enum"``
or ``"opaque"``; a nested compound's, or an array of compounds', members' marks
at any depth under ``"members"``, by member name, only for members that carry
one: ``{"members": {"inner": {"members": {"colour": {"enum": {...}}}}}}``), plus the original offsets and item size.  An empty
item (the fill value) is a record of zeros, empty strings and null references.

Other Zarr tools see each record's bytes, whatever the marks: an enum member
is its base integer, an opaque member its raw bytes, at any depth.  A record
written before nested members' marks were kept has no ``members``: its
nested members read back unmarked, as they did then.
"""
from __future__ import annotations

import warnings

import numpy as np

from .references import ref_dtype, ref_from_path, ref_to_path

__all__ = ["carries_marks", "compound_dtype", "compound_spec", "enum_members", "member_marks", "no_hdf5_type", "with_marks", "hdf5_layout", "needs_record_form", "record_from_bytes", "record_layout",
           "record_to_bytes", "sequence_base", "sequence_base_from", "sequence_from_bytes", "sequence_record",
           "sequence_to_bytes"]


def _object_kind(sub: np.dtype):
    """What an object field holds: "str", "bytes", "ref" or a numpy base type; None if fixed."""
    if sub.kind != "O":
        return None
    meta = sub.metadata or {}
    if meta.get("ref") is not None:
        if getattr(meta["ref"], "__name__", "") != "Reference":
            raise TypeError("Region references cannot be stored by dosna_like (object references can)")
        return "ref"
    vlen = meta.get("vlen")
    if vlen is str:
        return "str"
    if vlen is bytes:
        return "bytes"
    if vlen is not None:
        return sequence_base(vlen)
    raise TypeError(f"Object dtype {sub!r} has no native HDF5 equivalent")


def _plain_numeric(sub: np.dtype) -> bool:
    return sub.kind in "biufc" and not sub.shape and sub.names is None and not sub.metadata


def needs_record_form(dtype: np.dtype) -> bool:
    """A compound that Zarr's ``structured`` type cannot hold as it is."""
    if dtype.names is None:
        return False
    if not all(_plain_numeric(dtype.fields[n][0]) for n in dtype.names):
        return True
    packed = np.dtype([(n, dtype.fields[n][0]) for n in dtype.names])
    return packed.itemsize != dtype.itemsize or \
        [dtype.fields[n][1] for n in dtype.names] != [packed.fields[n][1] for n in dtype.names]


def hdf5_layout(dtype: np.dtype) -> np.dtype:
    """``dtype`` as h5py reports it once stored: a packed compound's vlen
    sequence fields take HDF5's 16 bytes (``hvl_t``), not numpy's 8, in nested
    compounds too."""
    names = dtype.names
    packed = np.dtype([(n, dtype.fields[n][0]) for n in names])
    if packed.itemsize != dtype.itemsize or any(dtype.fields[n][1] != packed.fields[n][1] for n in names):
        return dtype  # offsets of the user's own: kept as they are
    formats, offsets, pos = [], [], 0
    for n in names:
        sub = dtype.fields[n][0]
        if sub.base.names is not None and sub.hasobject:
            inner = hdf5_layout(sub.base)
            sub = np.dtype((inner, sub.shape)) if sub.shape else inner
        formats.append(sub)
        offsets.append(pos)
        kind = _object_kind(sub.base)
        pos += 16 * int(np.prod(sub.shape)) if isinstance(kind, np.dtype) else sub.itemsize
    return np.dtype({"names": list(names), "formats": formats, "offsets": offsets, "itemsize": pos})


def _tuples(descr):
    if isinstance(descr, list) and descr and isinstance(descr[0], list):
        return [tuple([f[0], _tuples(f[1]), *([tuple(f[2])] if len(f) > 2 else [])]) for f in descr]
    return descr


def compound_spec(dtype: np.dtype) -> dict:
    """The reserved ``compound`` record of ``dtype`` (TypeError for what cannot be stored)."""
    fields = []
    for name in dtype.names:
        sub = dtype.fields[name][0]
        shape = {"shape": list(sub.shape)} if sub.shape else {}
        if sub.base.names is not None and sub.hasobject:  # a nested compound with object members
            fields.append([name, {"record": compound_spec(sub.base), **shape}])
            continue
        kind = _object_kind(sub.base)
        if kind is None:
            marks = member_marks(sub.base)
            missing = no_hdf5_type(sub)
            if sub.base.kind == "O" or missing is not None:
                raise TypeError(f"No conversion path for dtype: {sub if missing is None else missing!r}")
            with warnings.catch_warnings():  # "metadata is not saved to npy": the marks are kept apart
                warnings.simplefilter("ignore", UserWarning)
                descr = np.lib.format.dtype_to_descr(np.dtype([("f", sub)]))[0]
            fields.append([name, {"type": [descr[1], list(descr[2]) if len(descr) > 2 else []], **marks}])
        elif kind == "ref":
            fields.append([name, {"ref": "object", **shape}])
        else:
            fields.append([name, {"vlen": kind, **shape} if isinstance(kind, str) else {**sequence_record(kind), **shape}])
    return {"fields": fields, "offsets": [int(dtype.fields[n][1]) for n in dtype.names],
            "itemsize": int(dtype.itemsize)}


def enum_members(members: dict) -> dict:
    """An enum's members in the order h5py reads them back from HDF5: by name."""
    return dict(sorted(members.items()))


def member_marks(base: np.dtype) -> dict:
    """h5py's marks on a fixed member's type that a numpy descr leaves out: an enum's
    names and values, the opaque mark (datetimes and timedeltas are stored opaque), and
    for a nested compound its members' marks at any depth (``{"members": {name: marks}}``,
    members without marks left out)."""
    meta = base.metadata or {}
    if meta.get("enum"):
        return {"enum": dict(meta["enum"])}
    if meta.get("h5py_opaque"):
        return {"opaque": True}
    if base.names is not None:
        members = {}
        for name in base.names:
            marks = member_marks(base.fields[name][0].base)
            if marks:
                members[name] = marks
        return {"members": members} if members else {}
    return {}


def no_hdf5_type(dtype: np.dtype) -> np.dtype | None:
    """The first type in ``dtype`` (its element type, a compound's members at any depth) that
    HDF5 has none for, as h5py refuses it: numpy unicode, a datetime or timedelta not marked
    with ``opaque_dtype``; else None."""
    base = np.dtype(dtype).base
    if base.names is not None:
        for name in base.names:
            found = no_hdf5_type(base.fields[name][0])
            if found is not None:
                return found
        return None
    if base.kind == "U" or (base.kind in "Mm" and not (base.metadata or {}).get("h5py_opaque")):
        return base
    return None


def carries_marks(dtype: np.dtype) -> bool:
    """Whether ``dtype`` (or its element type, or a member at any depth) carries h5py's
    enum or opaque mark."""
    return bool(member_marks(np.dtype(dtype).base))


def with_marks(dtype: np.dtype, marks: dict) -> np.dtype:
    """``dtype`` (a member's type read from its descr) with the marks :func:`member_marks`
    recorded; a record without marks (documents written before nested marks were kept)
    leaves it as it is."""
    if marks.get("enum"):
        return np.dtype(dtype, metadata={"enum": enum_members(marks["enum"])})
    if marks.get("opaque"):
        return np.dtype(dtype, metadata={"h5py_opaque": True})
    members = marks.get("members")
    if not members or dtype.names is None:
        return dtype
    formats = []
    for name in dtype.names:
        sub = dtype.fields[name][0]
        if members.get(name):
            sub = np.dtype((with_marks(sub.subdtype[0], members[name]), sub.subdtype[1])) if sub.subdtype \
                else with_marks(sub, members[name])
        formats.append(sub)
    return np.dtype({"names": list(dtype.names), "formats": formats,
                     "offsets": [dtype.fields[n][1] for n in dtype.names], "itemsize": dtype.itemsize})


def _field_dtype(spec: dict) -> np.dtype:
    shape = tuple(spec.get("shape", ()))
    if "type" in spec:
        typ, shape = spec["type"]
        shape = tuple(shape)
        sub = with_marks(np.lib.format.descr_to_dtype(_tuples(typ) if isinstance(typ, list) else typ), spec)
    elif "record" in spec:
        sub = compound_dtype(spec["record"])
    elif "ref" in spec:
        sub = ref_dtype
    else:
        vlen = spec["vlen"]
        sub = np.dtype("O", metadata={"vlen": str if vlen == "str" else bytes if vlen == "bytes" else
                                      sequence_base_from(spec)})
    return np.dtype((sub, shape)) if shape else sub


def compound_dtype(spec: dict) -> np.dtype:
    """The numpy dtype (offsets and item size kept) a ``compound`` record describes."""
    names = [f[0] for f in spec["fields"]]
    formats = [_field_dtype(f[1]) for f in spec["fields"]]
    return np.dtype({"names": names, "formats": formats, "offsets": spec["offsets"],
                     "itemsize": spec["itemsize"]})


def record_layout(dtype: np.dtype):
    """(packed little-endian dtype of the fixed members, [(path, object kind)]): the object
    members at any depth (nested compounds, subarray items in C order), depth first in
    member order, each by its path of (member name, subarray index) steps."""
    return _fixed_part(dtype), list(_object_leaves(dtype, ()))


def _fixed_part(dtype: np.dtype) -> np.dtype | None:
    """``dtype``'s members without its object members, at any depth; None if none is left."""
    fixed = []
    for name in dtype.names:
        sub = dtype.fields[name][0]
        if sub.base.names is not None and sub.hasobject:
            inner = _fixed_part(sub.base)
            if inner is not None:
                fixed.append((name, inner, sub.shape) if sub.shape else (name, inner))
        elif _object_kind(sub.base) is None:
            fixed.append((name, _little(sub)))
    return np.dtype(fixed) if fixed else None


def _object_leaves(dtype: np.dtype, prefix: tuple):
    for name in dtype.names:
        sub = dtype.fields[name][0]
        if not sub.hasobject:
            continue
        for index in np.ndindex(sub.shape):
            path = prefix + ((name, index),)
            if sub.base.names is not None:
                yield from _object_leaves(sub.base, path)
            else:
                yield path, _object_kind(sub.base)


def _leaf(record: np.ndarray, path: tuple) -> np.ndarray:
    """The 0-d view of ``record`` (a 0-d array) at ``path``."""
    for name, index in path:
        record = record[name][index + (Ellipsis,)]
    return record


def _copy_fixed(dst: np.ndarray, src: np.ndarray, fixed: np.dtype) -> None:
    """Copy the members of ``fixed`` (at any depth) from ``src`` into ``dst``, by name."""
    for name in fixed.names:
        inner = fixed.fields[name][0].base
        if inner.names is not None:
            _copy_fixed(dst[name], src[name], inner)
        else:
            dst[name] = src[name]


def _little(sub: np.dtype) -> np.dtype:
    if sub.subdtype is not None:
        return np.dtype((_little(sub.subdtype[0]), sub.subdtype[1]))
    if sub.names is not None:
        return np.dtype([(n, _little(sub.fields[n][0])) for n in sub.names])
    return sub.newbyteorder("<") if sub.byteorder in "<>=" and sub.itemsize > 1 else sub


def _payload(value, kind) -> bytes:
    if kind == "ref":
        return ref_to_path(value).encode("utf-8")
    if kind in ("str", "bytes"):
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, (bytes, np.bytes_)):
            return bytes(value)
        if value is None or value == 0:
            return b""  # a zeroed record's empty object field
        raise TypeError(f"Can't implicitly convert {type(value).__name__} to a string")
    if value is None or (np.ndim(value) == 0 and not isinstance(value, np.void) and value == 0):
        return b""  # a zeroed record's empty sequence
    return sequence_to_bytes(value, kind)


def record_to_bytes(record, dtype: np.dtype, layout=None) -> bytes:
    """One stored item for a record (an ``np.void`` or tuple) of ``dtype``."""
    fixed, objects = layout or record_layout(dtype)
    if isinstance(record, np.void):
        record = np.asarray(record)
    else:
        holder = np.zeros((), dtype)
        holder[()] = record
        record = holder
    parts = []
    if fixed is not None:
        packed = np.zeros((), fixed)
        _copy_fixed(packed, record, fixed)
        parts.append(packed.tobytes())
    for path, kind in objects:
        payload = _payload(_leaf(record, path)[()], kind)
        parts.append(len(payload).to_bytes(4, "little"))
        parts.append(payload)
    return b"".join(parts)


def record_from_bytes(raw: bytes, dtype: np.dtype, layout=None) -> np.void:
    """The record of ``dtype`` a stored item holds (an empty item: zeros and empty fields)."""
    fixed, objects = layout or record_layout(dtype)
    out = np.zeros((), dtype)
    raw = bytes(raw)
    pos = 0
    if raw and fixed is not None:
        _copy_fixed(out, np.frombuffer(raw[:fixed.itemsize], fixed).reshape(()), fixed)
        pos = fixed.itemsize
    for path, kind in objects:
        if raw:
            size = int.from_bytes(raw[pos:pos + 4], "little")
            payload = raw[pos + 4:pos + 4 + size]
            if len(payload) != size:
                raise ValueError("truncated compound record")
            pos += 4 + size
        else:
            payload = b""
        if kind == "ref":
            value = ref_from_path(payload.decode("utf-8"))
        elif kind in ("str", "bytes"):
            value = payload  # h5py reads variable-length strings in compounds as bytes
        else:
            value = sequence_from_bytes(payload, kind)
        _leaf(out, path).reshape(1)[0] = value  # 1-d: an array goes into an object field as one item
    return out[()]



# ------------------------------------------------ variable-length sequences
def sequence_base(base) -> np.dtype:
    """The element type of a variable-length sequence, checked: numbers, enums,
    fixed-length bytes and compounds (with variable-length members too) can be
    stored; anything else is h5py's TypeError."""
    base = np.dtype(base)
    if base.names is not None:
        compound_spec(base)  # refuses, with h5py's TypeError, what a compound cannot hold
        return base
    numbers = base.kind in "biufc" and set(base.metadata or {}) <= {"enum"}
    if not (numbers or (base.kind == "S" and not base.metadata)):
        raise TypeError(f"Variable-length sequences of {base} cannot be stored "
                        "(numbers, enums, fixed-length bytes, compounds, str and bytes can)")
    return base


def sequence_record(base: np.dtype) -> dict:
    """The reserved record of a sequence's element type: ``{"vlen": ...}`` holding its
    numpy type string, a compound's numpy descr (little-endian), or for a compound with
    variable-length members ``{"compound": <its compound record>}``; an enum's members
    beside it under ``vlen_enum``."""
    if base.names is not None and base.hasobject:  # kept as h5py reports the type once stored
        return {"vlen": {"compound": compound_spec(hdf5_layout(base))}}
    record = {"vlen": base.str if base.names is None else np.lib.format.dtype_to_descr(base.newbyteorder("<"))}
    if (base.metadata or {}).get("enum"):
        record["vlen_enum"] = dict(base.metadata["enum"])
    return record


def sequence_base_from(record: dict) -> np.dtype:
    """The element type :func:`sequence_record` wrote."""
    def tuples(descr):  # JSON turned numpy's descr tuples into lists
        if not isinstance(descr, list):
            return descr
        return [tuple([f[0], tuples(f[1]), *[tuple(x) if isinstance(x, list) else x for x in f[2:]]])
                for f in descr]

    base = record["vlen"]
    if isinstance(base, dict):
        return compound_dtype(base["compound"])
    base = np.lib.format.descr_to_dtype(tuples(base)) if isinstance(base, list) else np.dtype(base)
    return np.dtype(base, metadata={"enum": enum_members(record["vlen_enum"])}) if record.get("vlen_enum") else base


def _has_records(base: np.dtype) -> bool:
    return base.names is not None and base.hasobject


def sequence_to_bytes(value, base: np.dtype) -> bytes:
    """One sequence's stored bytes (the module docstring's layout); TypeError for a
    value that is no sequence of ``base``."""
    if base.names is not None:
        if isinstance(value, np.ndarray) and value.dtype.names is not None:
            arr = np.zeros(value.shape, base)
            for name in base.names:  # by name, as HDF5 converts compounds
                arr[name] = value[name]
        else:
            arr = np.asarray(value, dtype=base)
    else:
        arr = np.asarray(value)
        if arr.dtype.kind not in ("S" if base.kind == "S" else "biufc"):
            raise TypeError(f"Can't convert {type(value).__name__} to a sequence of {base}")
    if arr.ndim > 1:
        raise TypeError(f"Can't convert {type(value).__name__} to a sequence of {base}")
    arr = arr.reshape(-1)
    if _has_records(base):
        layout = record_layout(base)
        items = [record_to_bytes(record, base, layout) for record in arr]
        return b"".join(len(item).to_bytes(4, "little") + item for item in items)
    # stored little-endian whatever the host, so zarr readers get portable bytes
    return np.ascontiguousarray(arr.astype(base.newbyteorder("<"))).tobytes()


def sequence_from_bytes(raw, base: np.dtype) -> np.ndarray:
    """The sequence (a 1-d array of ``base``) a stored item holds."""
    raw = bytes(raw)
    if not _has_records(base):
        return np.frombuffer(raw, dtype=base.newbyteorder("<")).astype(base)
    layout = record_layout(base)
    records, pos = [], 0
    while pos < len(raw):
        size = int.from_bytes(raw[pos:pos + 4], "little")
        item = raw[pos + 4:pos + 4 + size]
        if len(item) != size:
            raise ValueError("truncated variable-length sequence")
        records.append(record_from_bytes(item, base, layout))
        pos += 4 + size
    out = np.zeros(len(records), base)
    for i, record in enumerate(records):
        out[i] = record
    return out
