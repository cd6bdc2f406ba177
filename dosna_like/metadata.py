"""The on-store format: Zarr v3 node documents, chunk keys, dtype and fill values.

Every group and dataset is a node with a ``zarr.json`` document.  What Zarr v3
cannot say (h5py's maxshape, typed attribute values) goes into the reserved
``_dosna_like`` entry of the node's ``attributes``, hidden from ``.attrs``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from .errors import FormatError

META_KEY = "zarr.json"
RESERVED = "_dosna_like"

_V3_NAMES = {
    "bool": "bool",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
    "float16": "float16", "float32": "float32", "float64": "float64",
    "complex64": "complex64", "complex128": "complex128",
}


def node_key(path: str, name: str = META_KEY) -> str:
    """Store key of ``name`` inside node ``path`` ('' is the root)."""
    return f"{path}/{name}" if path else name


def chunk_key(path: str, coords: tuple) -> str:
    """Zarr v3 'default' chunk key encoding with '/' separators."""
    tail = "".join(f"/{c}" for c in coords)  # a 0-d array's only chunk is plain 'c'
    return f"{path}/c{tail}" if path else f"c{tail}"


# ------------------------------------------------------------------ dtypes
def dtype_to_v3(dtype: np.dtype) -> tuple:
    """Zarr v3 data type name and byte order ('little'/'big'/None) of a numpy dtype."""
    dtype = np.dtype(dtype)
    name = _V3_NAMES.get(dtype.newbyteorder("=").name)
    if name is None:
        raise TypeError(f"No Zarr v3 data type for dtype {dtype} (supported: bool, ints, floats, complex)")
    if dtype.itemsize == 1:
        return name, None
    return name, "big" if dtype.byteorder == ">" else "little"


def dtype_from_v3(name: str, endian: str | None) -> np.dtype:
    if name not in _V3_NAMES:
        raise FormatError(f"unsupported Zarr v3 data type {name!r}")
    dtype = np.dtype(name)
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">" if endian == "big" else "<")
    return dtype


# ------------------------------------------------------------- fill values
def _encode_float(x: float):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def _decode_float(v) -> float:
    if isinstance(v, str):
        if v.startswith("0x"):
            raise FormatError("hex-encoded float fill values are not supported")
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return float(v)


def encode_scalar(value, dtype: np.dtype):
    """A numpy scalar as Zarr v3 JSON (used for fill values and typed attrs)."""
    value = np.asarray(value, dtype=dtype)[()]
    kind = np.dtype(dtype).kind
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f":
        return _encode_float(float(value))
    if kind == "c":
        return [_encode_float(value.real), _encode_float(value.imag)]
    raise TypeError(f"cannot encode a scalar of dtype {dtype}")


def decode_scalar(value, dtype: np.dtype):
    kind = np.dtype(dtype).kind
    if kind == "c":
        return np.asarray(complex(_decode_float(value[0]), _decode_float(value[1])), dtype)[()]
    if kind == "f":
        return np.asarray(_decode_float(value), dtype)[()]
    return np.asarray(value, dtype)[()]


# --------------------------------------------------------------- documents
@dataclass
class ArrayMeta:
    """Everything the engine needs to know about a stored array."""

    shape: tuple
    dtype: np.dtype
    chunks: tuple
    fill_value: object
    codecs: list  # the Zarr v3 codec list, bytes codec included
    maxshape: tuple
    attributes: dict = field(default_factory=dict)
    dimension_names: list | None = None

    def to_document(self) -> dict:
        attributes = dict(self.attributes)
        reserved = dict(attributes.get(RESERVED, {}))
        reserved["maxshape"] = [None if m is None else int(m) for m in self.maxshape]
        attributes[RESERVED] = reserved
        doc = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": dtype_to_v3(self.dtype)[0],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": encode_scalar(self.fill_value, self.dtype),
            "codecs": self.codecs,
            "attributes": attributes,
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = self.dimension_names
        return doc

    @classmethod
    def from_document(cls, doc: dict) -> "ArrayMeta":
        try:
            codecs = doc["codecs"]
            endian = None
            for c in codecs:
                if c["name"] == "bytes":
                    endian = (c.get("configuration") or {}).get("endian")
            dtype = dtype_from_v3(doc["data_type"], endian)
            grid = doc["chunk_grid"]
            if grid["name"] != "regular":
                raise FormatError(f"unsupported chunk grid {grid['name']!r}")
            enc = doc.get("chunk_key_encoding", {"name": "default"})
            sep = (enc.get("configuration") or {}).get("separator", "/")
            if enc["name"] != "default" or sep != "/":
                raise FormatError(f"unsupported chunk key encoding {enc}")
            shape = tuple(doc["shape"])
            attributes = doc.get("attributes") or {}
            reserved = attributes.get(RESERVED, {})
            maxshape = tuple(reserved.get("maxshape", shape))
            return cls(
                shape=shape,
                dtype=dtype,
                chunks=tuple(grid["configuration"]["chunk_shape"]),
                fill_value=decode_scalar(doc["fill_value"], dtype),
                codecs=codecs,
                maxshape=maxshape,
                attributes=attributes,
                dimension_names=doc.get("dimension_names"),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise FormatError(f"invalid Zarr v3 array document: {exc!r}") from exc


def group_document(attributes: dict | None = None) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attributes or {}}


def dumps(doc: dict) -> bytes:
    return json.dumps(doc, indent=2, allow_nan=False).encode()


def loads(raw: bytes, key: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{key}: not a JSON document ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") not in ("group", "array"):
        raise FormatError(f"{key}: not a Zarr v3 node document")
    return doc
