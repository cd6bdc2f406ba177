"""Data types: h5py's dtype helpers, and how each dtype is stored in Zarr v3.

h5py marks special types with numpy dtype metadata (``{'vlen': str}``,
``{'enum': {...}}``, ``{'h5py_encoding': 'utf-8'}``); the helpers here build
and read those marks exactly as h5py's do, so code that calls
``h5py.string_dtype()`` or ``h5py.check_enum_dtype(dt)`` keeps working.

Storage follows zarr-python 3.1 wherever it has a matching data type, so
zarr reads the data too:

=============================  =========================================
dtype                          Zarr v3 data type (array codec)
=============================  =========================================
bool, (u)int, float, complex   ``bool``, ``int8`` ... ``complex128`` (bytes)
fixed-length bytes ``S<n>``    ``null_terminated_bytes`` (bytes)
variable-length str            ``string`` (``vlen-utf8``)
variable-length bytes          ``bytes`` (``vlen-bytes``)
compound (structured)          ``structured`` with its fields (bytes)
enum                           its base integer type; the names live in
                               the reserved ``_dosna_like`` attributes
object reference (ref_dtype)   ``string`` (``vlen-utf8``): the target's
                               path, "" for a null reference; reserved
                               ``ref: "object"``
vlen sequence ``vlen_dtype(t)``  ``bytes`` (``vlen-bytes``): each element's
                               little-endian values; reserved ``vlen``
                               holds the base type
=============================  =========================================

References and vlen sequences are held by the engine in their stored form
(path strings, bytes); :func:`to_stored` and :func:`from_stored` convert at
the dataset boundary, so the chunk machinery only ever sees text and bytes.
"""
from __future__ import annotations

import base64
import math
from collections import namedtuple

import numpy as np

from ..config import get_config
from ..errors import FormatError
from . import compound
from .references import (Reference, RegionReference, check_ref_dtype, ref_dtype, ref_from_path, ref_to_path,
                         regionref_dtype)



__all__ = [
    # h5py's dtype helpers
    "Empty", "string_dtype", "check_string_dtype", "string_info", "vlen_dtype", "check_vlen_dtype",
    "enum_dtype", "check_enum_dtype", "check_dtype", "ref_dtype", "regionref_dtype", "check_ref_dtype",
    "Reference", "RegionReference", "opaque_dtype", "check_opaque_dtype", "complex_compat_dtype",
    "check_complex_dtype",
    # the Zarr v3 mapping and scalar encoding
    "is_empty", "is_vlen_text", "to_zarr", "stored_dtype", "from_zarr", "encode_float", "decode_float",
    "encode_scalar", "decode_scalar", "zero_fill", "stored_form", "to_stored", "from_stored", "vlen_base",
    "record_carrier", "user_dtype", "no_conversion_path",
]

string_info = namedtuple("string_info", ["encoding", "length"])

_NUMERIC = {
    "bool": "bool",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
    "float16": "float16", "float32": "float32", "float64": "float64",
    "complex64": "complex64", "complex128": "complex128",
}


# --------------------------------------------------------------- h5py helpers
class Empty:
    """A dataset or attribute with no dataspace (HDF5's NULL), as ``h5py.Empty``."""

    shape = None
    size = None

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __eq__(self, other) -> bool:
        return isinstance(other, Empty) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash(("Empty", self.dtype))

    def __repr__(self) -> str:
        return f"Empty(dtype={self.dtype!r})"


def is_empty(value) -> bool:
    """``value`` is an ``Empty`` of either library (copies between h5py and dosna_like pass both)."""
    return type(value).__name__ == "Empty" and hasattr(value, "dtype")


def string_dtype(encoding: str = "utf-8", length: int | None = None) -> np.dtype:
    """A string dtype as ``h5py.string_dtype``: variable length unless ``length`` is given."""
    if encoding not in ("utf-8", "ascii"):
        raise ValueError(f"Invalid encoding ({encoding!r}); 'utf-8' or 'ascii' allowed")
    if length is None:
        return np.dtype("O", metadata={"vlen": str if encoding == "utf-8" else bytes})
    if not isinstance(length, int):
        raise TypeError(f"length must be integer or None (got {length!r})")
    return np.dtype("S" + str(length), metadata={"h5py_encoding": encoding})


def check_string_dtype(dt) -> string_info | None:
    """``string_info(encoding, length)`` for string dtypes, else None (h5py semantics)."""
    dt = np.dtype(dt)
    vlen = (dt.metadata or {}).get("vlen")
    if vlen is str:
        return string_info("utf-8", None)
    if vlen is bytes:
        return string_info("ascii", None)
    if dt.kind == "S":
        return string_info((dt.metadata or {}).get("h5py_encoding", "ascii"), dt.itemsize)
    return None


def vlen_dtype(basetype) -> np.dtype:
    """A variable-length dtype marker, as ``h5py.vlen_dtype``."""
    return np.dtype("O", metadata={"vlen": basetype})


def check_vlen_dtype(dt):
    """The base type of a variable-length dtype, else None."""
    return (np.dtype(dt).metadata or {}).get("vlen")


def enum_dtype(values_dict: dict, basetype=np.uint8) -> np.dtype:
    """An integer dtype carrying name -> value pairs, as ``h5py.enum_dtype``."""
    dt = np.dtype(basetype)
    if dt.kind not in "iu":
        raise TypeError(f"Only integer types can be used as enums, not {dt}")
    return np.dtype(dt, metadata={"enum": dict(values_dict)})


def check_enum_dtype(dt) -> dict | None:
    return (np.dtype(dt).metadata or {}).get("enum")


def check_dtype(**kwds):
    """h5py's older ``check_dtype(vlen=dt | enum=dt | ref=dt)``."""
    if len(kwds) != 1:
        raise TypeError("Exactly one keyword may be provided")
    (name, dt), = kwds.items()
    if name == "vlen":
        return check_vlen_dtype(dt)
    if name == "enum":
        return check_enum_dtype(dt)
    if name == "ref":
        return check_ref_dtype(dt)
    raise TypeError(f'Unknown special type "{name}"')


def opaque_dtype(dt) -> np.dtype:
    """``dt`` marked to be stored as HDF5 opaque bytes (h5py's ``opaque_dtype``;
    datetimes and timedeltas are stored this way)."""
    return np.dtype(dt, metadata={"h5py_opaque": True})


def check_opaque_dtype(dt) -> bool:
    """Whether ``dt`` carries h5py's opaque mark (a plain ``V<n>`` does not, as in h5py)."""
    return bool((np.dtype(dt).metadata or {}).get("h5py_opaque", False))


def complex_compat_dtype(dt) -> np.dtype:
    """The two-float compound h5py stores a complex type as (members named by
    ``get_config().complex_names``), as ``h5py.complex_compat_dtype``."""
    dt = np.dtype(dt)
    if dt.kind != "c":
        raise TypeError(f"A complex dtype is needed, not {dt}")
    part = np.dtype(f"{dt.byteorder}f{dt.itemsize // 2}")
    real, imag = get_config().complex_names
    return np.dtype([(real, part), (imag, part)])


def check_complex_dtype(dt) -> np.dtype | None:
    """The complex dtype ``dt`` stands for: itself if complex, the complex type of a
    compound of two equal floats named as ``get_config().complex_names``, else None."""
    dt = np.dtype(dt)
    if dt.kind == "c":
        return dt
    if dt.names is None or tuple(dt.names) != tuple(get_config().complex_names):
        return None
    real, imag = (dt.fields[n][0] for n in dt.names)
    if real != imag or real.kind != "f" or real.itemsize not in (4, 8) or dt.itemsize != 2 * real.itemsize \
            or dt.fields[dt.names[1]][1] != real.itemsize:
        return None
    return np.dtype(f"{real.byteorder}c{2 * real.itemsize}")


def is_vlen_text(dtype: np.dtype) -> bool:
    return check_vlen_dtype(dtype) in (str, bytes)


# ----------------------------------------------------------- Zarr v3 mapping
_NATIVE_NAMES: dict = {}  # (kind, itemsize) -> numpy's name of that number type


def _native_name(dtype: np.dtype) -> str:
    """numpy's name of the number type ``dtype`` (kind b, i, u, f or c) in native byte
    order, worked out once per type: numpy computes ``dtype.name`` in Python, and a
    dataset's creation asked for it a dozen times."""
    key = (dtype.kind, dtype.itemsize)
    name = _NATIVE_NAMES.get(key)
    if name is None:
        name = _NATIVE_NAMES[key] = dtype.newbyteorder("=").name
    return name


def _numeric_name(dtype: np.dtype) -> str | None:
    return _NUMERIC.get(_native_name(dtype)) if dtype.kind in "biufc" else None


def to_zarr(dtype) -> tuple:
    """(Zarr ``data_type``, array-to-bytes codec, reserved extras) for a dtype.

    Raises TypeError, as h5py does, for what cannot be stored (numpy unicode,
    object arrays that are not strings, variable-length numeric sequences).
    """
    dtype = np.dtype(dtype)
    vlen = check_vlen_dtype(dtype)
    form = stored_form(dtype)
    if form == "ref":
        return "string", {"name": "vlen-utf8", "configuration": {}}, {"ref": "object"}
    if form == "vlen":
        return "bytes", {"name": "vlen-bytes", "configuration": {}}, compound.sequence_record(vlen_base(dtype))
    if form == "compound":
        spec = compound.compound_spec(user_dtype(dtype))
        return "bytes", {"name": "vlen-bytes", "configuration": {}}, {"compound": spec}
    if vlen is str:
        return "string", {"name": "vlen-utf8", "configuration": {}}, {}
    if vlen is bytes:
        return "bytes", {"name": "vlen-bytes", "configuration": {}}, {}
    if dtype.kind == "S":
        extra = {"string_encoding": dtype.metadata["h5py_encoding"]} if (dtype.metadata or {}).get("h5py_encoding") else {}
        return ({"name": "null_terminated_bytes", "configuration": {"length_bytes": dtype.itemsize}},
                {"name": "bytes"}, extra)
    if dtype.fields is not None:
        fields = []
        for name in dtype.names:
            sub = dtype.fields[name][0]
            sub_name = _numeric_name(sub)
            if sub_name is None or sub.shape:
                raise TypeError(f"Compound field {name!r} of type {sub} is not supported (numeric fields only)")
            fields.append([name, sub_name])
        return ({"name": "structured", "configuration": {"fields": fields}},
                {"name": "bytes", "configuration": {"endian": "little"}}, {})
    if _is_extended(dtype):
        return ({"name": "raw_bytes", "configuration": {"length_bytes": dtype.itemsize}}, {"name": "bytes"},
                {"numpy": dtype.newbyteorder("<").str})
    if _is_opaque(dtype):  # bytes with no byte order: kept as they are in memory
        return ({"name": "raw_bytes", "configuration": {"length_bytes": dtype.itemsize}}, {"name": "bytes"},
                {"numpy": dtype.str, **({"opaque": True} if check_opaque_dtype(dtype) else {})})
    name = _numeric_name(dtype)
    if name is None:
        if vlen is not None:
            raise TypeError(f"Variable-length sequences of {vlen} cannot be stored (strings and bytes can)")
        raise no_conversion_path(dtype)
    extra = {"enum": check_enum_dtype(dtype)} if check_enum_dtype(dtype) else {}
    if dtype.itemsize == 1:
        return name, {"name": "bytes"}, extra
    return name, {"name": "bytes", "configuration": {"endian": "big" if dtype.byteorder == ">" else "little"}}, extra


def no_conversion_path(dtype) -> TypeError:
    """h5py's error for a numpy type HDF5 has none for (numpy's UTF-32 text; a datetime64
    or timedelta64, with a unit or without, not marked with ``opaque_dtype``)."""
    return TypeError(f"No conversion path for dtype: {np.dtype(dtype)!r}")


def _is_extended(dtype: np.dtype) -> bool:
    """x86's 80-bit extended precision as numpy holds it (float128, complex256), which h5py stores."""
    return dtype.kind in "fc" and _native_name(dtype) in ("float128", "complex256")


def _is_opaque(dtype: np.dtype) -> bool:
    """HDF5's opaque class as h5py maps it: ``V<n>`` with no fields, or a dtype
    with h5py's opaque mark (datetime64, timedelta64...)."""
    return (dtype.kind == "V" and dtype.names is None and dtype.subdtype is None) or (
        check_opaque_dtype(dtype) and dtype.kind in "MmV")


def _is_raw(dtype: np.dtype) -> bool:
    return _is_extended(dtype) or _is_opaque(dtype)


def stored_dtype(dtype) -> np.dtype:
    """The dtype chunks hold in memory: structured types packed and little-endian."""
    dtype = np.dtype(dtype)
    if _is_extended(dtype):
        return dtype.newbyteorder("<")  # stored as raw little-endian bytes
    if dtype.fields is None:
        form = stored_form(dtype)
        if form == "vlen":
            return vlen_dtype(vlen_base(dtype))  # h5py reports the base as a numpy dtype
        return ref_dtype if form == "ref" else dtype  # h5py's ref_dtype -> ours
    if compound.needs_record_form(dtype):
        compound.compound_spec(dtype)  # refuses what cannot be stored, with h5py's TypeError
        return record_carrier(compound.hdf5_layout(dtype))  # stored record by record, offsets kept
    return np.dtype([(n, dtype.fields[n][0].newbyteorder("<")) for n in dtype.names])


def from_zarr(data_type, array_codec: dict, reserved: dict) -> np.dtype:
    """The numpy dtype (with h5py's metadata marks) of a stored Zarr v3 array."""
    if isinstance(data_type, dict):
        name, cfg = data_type.get("name"), data_type.get("configuration") or {}
        if name == "null_terminated_bytes":
            # h5py marks every fixed-length string type it returns with its encoding
            enc = reserved.get("string_encoding", "ascii")
            return np.dtype(f"S{int(cfg['length_bytes'])}", metadata={"h5py_encoding": enc})
        if name == "raw_bytes" and reserved.get("numpy"):
            # float128 / complex256 as h5py keeps them; opaque types (V<n>, marked datetimes)
            return opaque_dtype(reserved["numpy"]) if reserved.get("opaque") else np.dtype(reserved["numpy"])
        if name == "structured":
            return np.dtype([(f, _numeric_dtype(t, "little")) for f, t in cfg["fields"]])
        raise FormatError(f"unsupported Zarr v3 data type {data_type!r}")
    if data_type == "string":
        return ref_dtype if reserved.get("ref") == "object" else string_dtype()
    if data_type == "bytes":
        if reserved.get("vlen"):
            return vlen_dtype(compound.sequence_base_from(reserved))
        if reserved.get("compound"):
            return record_carrier(compound.compound_dtype(reserved["compound"]))
        return string_dtype("ascii")
    endian = (array_codec.get("configuration") or {}).get("endian")
    dtype = _numeric_dtype(data_type, endian)
    if reserved.get("enum"):
        dtype = np.dtype(dtype, metadata={"enum": compound.enum_members(reserved["enum"])})
    return dtype


def _numeric_dtype(name, endian) -> np.dtype:
    if name not in _NUMERIC:
        raise FormatError(f"unsupported Zarr v3 data type {name!r}")
    dtype = np.dtype(name)
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">" if endian == "big" else "<")
    return dtype


# ---------------------------------------------------------------- scalars
def encode_float(x: float):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def decode_float(v) -> float:
    if isinstance(v, str):
        if v.startswith("0x"):
            raise FormatError("hex-encoded float fill values are not supported")
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return float(v)


def encode_scalar(value, dtype: np.dtype):
    """A fill value as Zarr v3 JSON for ``dtype``."""
    dtype = np.dtype(dtype)
    vlen = check_vlen_dtype(dtype)
    if vlen is str or stored_form(dtype) == "ref":
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    if stored_form(dtype) in ("vlen", "compound"):
        return base64.b64encode(bytes(value) if isinstance(value, bytes) else b"").decode()
    if _is_raw(dtype):  # raw_bytes: the value's bytes, so no precision is lost
        return base64.b64encode(np.asarray(value, dtype=dtype).tobytes()).decode()
    if vlen is bytes or dtype.kind in "SV":
        raw = value.encode() if isinstance(value, str) else bytes(np.asarray(value, dtype=dtype).tobytes()
                                                                  if dtype.kind == "V" else value)
        return base64.b64encode(raw).decode()
    value = np.asarray(value, dtype=dtype)[()]
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return int(value)
    if dtype.kind == "f":
        return encode_float(float(value))
    if dtype.kind == "c":
        return [encode_float(value.real), encode_float(value.imag)]
    raise TypeError(f"cannot encode a scalar of dtype {dtype}")


def decode_scalar(value, dtype: np.dtype):
    dtype = np.dtype(dtype)
    vlen = check_vlen_dtype(dtype)
    if vlen is str or stored_form(dtype) == "ref":
        return str(value)
    if stored_form(dtype) == "compound":
        return base64.b64decode(value) if value else b""
    if _is_raw(dtype):
        raw = base64.b64decode(value) if isinstance(value, str) else b""
        return np.frombuffer(raw.ljust(dtype.itemsize, b"\0"), dtype=dtype)[0]
    if vlen is bytes or stored_form(dtype) == "vlen" or dtype.kind in "SV":
        raw = base64.b64decode(value) if value else b""
        if dtype.kind == "V":
            return np.frombuffer(raw.ljust(dtype.itemsize, b"\0"), dtype=dtype)[0]
        return raw if vlen is bytes else np.bytes_(raw)
    if dtype.kind == "c":
        return np.asarray(complex(decode_float(value[0]), decode_float(value[1])), dtype)[()]
    if dtype.kind == "f":
        return np.asarray(decode_float(value), dtype)[()]
    return np.asarray(value, dtype)[()]


def zero_fill(dtype: np.dtype):
    """h5py's default fill value for ``dtype``."""
    dtype = np.dtype(dtype)
    vlen = check_vlen_dtype(dtype)
    form = stored_form(dtype)
    if vlen is str or form == "ref":
        return ""
    if vlen is bytes or form in ("vlen", "compound"):
        return b""
    return np.zeros((), dtype=dtype)[()]


# ------------------------------------- references and vlen sequences
def stored_form(dtype) -> str | None:
    """"ref" for object references, "vlen" for variable-length numeric
    sequences (both held in their stored form by the engine), else None."""
    dtype = np.dtype(dtype)
    if dtype.names is not None:
        return "compound" if compound.needs_record_form(dtype) else None
    meta = dtype.metadata
    if not meta:
        return None
    if meta.get("h5py_record") is not None:
        return "compound"
    if meta.get("ref") is not None:
        # h5py's ref_dtype carries h5py's class: object references are told by name
        if meta["ref"] is not Reference and getattr(meta["ref"], "__name__", "") != "Reference":
            raise TypeError("Region references cannot be stored by dosna_like (object references can)")
        return "ref"
    vlen = meta.get("vlen")
    if vlen is not None and vlen not in (str, bytes):
        return "vlen"
    return None


def vlen_base(dtype) -> np.dtype:
    """The element type of a variable-length sequence dtype (TypeError if not storable)."""
    base = np.dtype(check_vlen_dtype(dtype))
    if base.kind in "Mm":
        raise no_conversion_path(base)
    return compound.sequence_base(base)


def _item_to_stored(item, form: str, base, stored_ok: bool = False):
    if stored_ok and isinstance(item, str if form == "ref" else bytes):
        return item  # converted already (create_dataset converts its data once more)
    if form == "ref":
        return ref_to_path(item)
    return compound.sequence_to_bytes(item, base)


def to_stored(value, dtype, shape: tuple | None = None, stored_ok: bool = False) -> np.ndarray:
    """An object array of stored items (path strings, bytes) for a ref or vlen-sequence dtype.

    ``shape``: the shape of the selection written, which tells one sequence
    (``v[0] = [1, 2, 3]``) from a list of them (``v[:2] = [[1], [2, 3]]``).
    """
    form = stored_form(dtype)
    base = vlen_base(dtype) if form == "vlen" else None
    if form == "compound":
        return _records_to_stored(value, user_dtype(dtype), stored_ok)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        arr = value
    elif form == "vlen" and shape == ():
        arr = np.empty((), dtype=object)
        arr[()] = value
    elif form == "vlen" and isinstance(value, np.ndarray) and shape is not None and value.ndim == len(shape) + 1:
        arr = np.empty(value.shape[:-1], dtype=object)  # a numeric array: its last axis holds each sequence
        for index in np.ndindex(arr.shape):
            arr[index] = value[index]
    elif form == "vlen" and isinstance(value, (list, tuple)) and value and all(np.ndim(v) == 0 for v in value) \
            and shape is None:
        arr = np.empty((), dtype=object)  # one sequence given as a list of numbers
        arr[()] = value
    elif isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > (form == "vlen")):
        items = list(value)
        arr = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            arr[i] = item
    else:
        arr = np.empty((), dtype=object)
        arr[()] = value
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    for i, item in enumerate(flat.tolist()):
        out[i] = _item_to_stored(item, form, base, stored_ok)
    return out.reshape(arr.shape)


def record_carrier(dtype: np.dtype) -> np.dtype:
    """The dtype the engine holds a record-form compound in: variable-length
    bytes (one stored item per record), carrying the compound itself."""
    return np.dtype("O", metadata={"vlen": bytes, "h5py_record": np.dtype(dtype)})


def user_dtype(dtype) -> np.dtype:
    """The dtype h5py shows for an engine dtype (a record carrier's compound, else itself)."""
    dtype = np.dtype(dtype)
    return (dtype.metadata or {}).get("h5py_record", dtype)


def _records_to_stored(value, dtype: np.dtype, stored_ok: bool) -> np.ndarray:
    if stored_ok and isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return value  # converted already
    arr = value if isinstance(value, np.ndarray) and value.dtype.names is not None else np.asarray(value, dtype=dtype)
    if arr.dtype != dtype:
        converted = np.zeros(arr.shape, dtype)
        for name in dtype.names:
            converted[name] = arr[name]
        arr = converted
    layout = compound.record_layout(dtype)
    out = np.empty(arr.size, dtype=object)
    for i, record in enumerate(arr.reshape(-1)):
        out[i] = compound.record_to_bytes(record, dtype, layout)
    return out.reshape(arr.shape)


def from_stored(stored, dtype):
    """References or arrays (h5py's read values) from stored items; scalars stay scalars."""
    form = stored_form(dtype)
    base = vlen_base(dtype) if form == "vlen" else None
    if form == "compound":
        dtype = user_dtype(dtype)
        layout = compound.record_layout(dtype)
        if not isinstance(stored, np.ndarray):
            return compound.record_from_bytes(stored, dtype, layout)
        out = np.zeros(stored.size, dtype=dtype)
        for i, item in enumerate(stored.reshape(-1).tolist()):
            out[i] = compound.record_from_bytes(item, dtype, layout)
        return out.reshape(stored.shape)

    def one(item):
        if form == "ref":
            return ref_from_path(item)
        return compound.sequence_from_bytes(item, base)

    if not isinstance(stored, np.ndarray):
        return one(stored)
    out = np.empty(stored.size, dtype=np.dtype(dtype))
    for i, item in enumerate(stored.reshape(-1).tolist()):
        out[i] = one(item)
    return out.reshape(stored.shape)
