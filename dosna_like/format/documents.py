"""The on-store format: Zarr v3 node documents, chunk keys, dtype and fill values.

Every group and dataset is a node with a ``zarr.json`` document.  What Zarr v3
cannot say (h5py's maxshape, typed attribute values) goes into the reserved
``_dosna_like`` entry of the node's ``attributes``, hidden from ``.attrs``.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError
from . import dtypes
from .reserved import RESERVED, reserved_in

__all__ = ["ArrayMeta", "dumps", "editable_copy", "group_document", "loads"]


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
    empty: bool = False  # h5py.Empty: no dataspace at all (stored as a 0-d array)

    def to_document(self) -> dict:
        data_type, _, extra = dtypes.to_zarr(self.dtype)
        attributes = dict(self.attributes)
        reserved = dict(reserved_in(attributes, None))
        reserved.update(extra)
        reserved["maxshape"] = [None if m is None else int(m) for m in self.maxshape]
        if self.empty:
            reserved["empty"] = True
        attributes[RESERVED] = reserved
        doc = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": data_type,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": dtypes.encode_scalar(self.fill_value, self.dtype),
            "codecs": self.codecs,
            "attributes": attributes,
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = self.dimension_names
        return doc

    @classmethod
    def from_document(cls, doc: dict, path: str | None = None) -> "ArrayMeta":
        """The array a Zarr v3 document describes; FormatError (naming the node at
        ``path`` when given) for anything this library cannot read."""
        try:
            codecs = doc["codecs"]
            attributes = doc.get("attributes") or {}
            reserved = reserved_in(attributes, path)
            dtype = dtypes.from_zarr(doc["data_type"], codecs[0], reserved)
            grid = doc["chunk_grid"]
            if grid["name"] != "regular":
                raise FormatError(f"unsupported chunk grid {grid['name']!r}")
            enc = doc.get("chunk_key_encoding", {"name": "default"})
            sep = (enc.get("configuration") or {}).get("separator", "/")
            if enc["name"] != "default" or sep != "/":
                raise FormatError(f"unsupported chunk key encoding {enc}")
            shape = tuple(doc["shape"])
            maxshape = tuple(reserved.get("maxshape", shape))
            return cls(
                shape=shape,
                dtype=dtype,
                chunks=tuple(grid["configuration"]["chunk_shape"]),
                fill_value=dtypes.decode_scalar(doc["fill_value"], dtype),
                codecs=codecs,
                maxshape=maxshape,
                attributes=attributes,
                dimension_names=doc.get("dimension_names"),
                empty=bool(reserved.get("empty")),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise FormatError(f"invalid Zarr v3 array document: {exc!r}") from exc


def group_document(attributes: dict | None = None) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attributes or {}}


def editable_copy(doc: dict) -> dict:
    """A copy of a node document whose attributes, and their reserved entry,
    can be changed in place without touching ``doc``.  User attribute values
    are shared: they are only ever replaced, never changed in place."""
    new = dict(doc)
    attributes = new["attributes"] = dict(doc.get("attributes") or {})
    if RESERVED in attributes:
        attributes[RESERVED] = copy.deepcopy(attributes[RESERVED])
    return new


def dumps(doc: dict) -> bytes:
    # one line: json's C encoder (indent= would take the pure-Python one, ~5x slower)
    return json.dumps(doc, allow_nan=False).encode()


def loads(raw: bytes, key: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{key}: not a JSON document ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") not in ("group", "array"):
        raise FormatError(f"{key}: not a Zarr v3 node document")
    return doc
