"""The on-store format: Zarr v3 node documents, chunk keys, dtype and fill values.

Every group and dataset is a node with a ``zarr.json`` document.  What Zarr v3
cannot say (h5py's maxshape, typed attribute values) goes into the reserved
``_dosna_like`` entry of the node's ``attributes`` in memory, hidden from
``.attrs``.  :func:`dumps` and :func:`loads` are the store boundary: an array's
entry is stored as the top-level extension field ``"dosna_like"`` (with
``"must_understand": false``), so zarr-python and xarray show exactly the
user's attributes; the previous layout (entry inside the attributes) still
reads, and is migrated when the document is next written.  Every array we
write carries ``dimension_names`` (:func:`dimension_names`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError
from . import dtypes
from .reserved import RESERVED, reserved_in
from .sharding import ShardSpec, sharding_codec, unwrap_sharding

EXTENSION = "dosna_like"  # the top-level extension field holding an array's reserved entry

__all__ = ["EXTENSION", "ArrayMeta", "MAX_CHUNK_NBYTES", "consolidated_root", "dimension_names", "dumps", "editable_copy",
           "group_document", "loads", "stored_document", "with_dimension_names"]


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
    # sharded (format/sharding.py): ``chunks`` and ``codecs`` are then the inner ones
    sharding: ShardSpec | None = None
    # a subarray dtype (h5py ``dtype=("f4", (3, 2))``): the element's axes, stored as the
    # trailing axes of ``shape`` and ``chunks`` (whole in every chunk), so other Zarr tools
    # see a plain array of the base type; ``dtype`` is that base type
    subshape: tuple = ()

    @property
    def h5_shape(self) -> tuple:
        """The shape h5py shows: the stored shape without the subarray's axes."""
        return self.shape[:len(self.shape) - len(self.subshape)]

    @property
    def h5_chunks(self) -> tuple:
        return self.chunks[:len(self.chunks) - len(self.subshape)]

    @property
    def h5_maxshape(self) -> tuple:
        return self.maxshape[:len(self.maxshape) - len(self.subshape)]

    @property
    def h5_dtype(self) -> np.dtype:
        """The dtype h5py shows: a record carrier's compound, a subarray type, else ``dtype``."""
        base = dtypes.user_dtype(self.dtype)
        return np.dtype((base, self.subshape)) if self.subshape else base

    def to_document(self) -> dict:
        data_type, _, extra = dtypes.to_zarr(self.dtype)
        attributes = dict(self.attributes)
        reserved = dict(reserved_in(attributes, None))
        reserved.update(extra)
        reserved["maxshape"] = [None if m is None else int(m) for m in self.maxshape]
        if self.empty:
            reserved["empty"] = True
        if self.subshape:
            reserved["subarray"] = [int(n) for n in self.subshape]
        attributes[RESERVED] = reserved
        doc = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": data_type,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.grid_chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": dtypes.encode_scalar(self.fill_value, self.dtype),
            "codecs": self.codecs if self.sharding is None else [
                sharding_codec(self.sharding, self.chunks, self.codecs)],
            "attributes": attributes,
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = self.dimension_names
        return with_dimension_names(doc)

    @property
    def grid_chunks(self) -> tuple:
        """The shape of one stored object: the shard shape, or the chunk shape."""
        return self.chunks if self.sharding is None else self.sharding.shards

    @classmethod
    def from_document(cls, doc: dict, path: str | None = None) -> "ArrayMeta":
        """The array a Zarr v3 document describes; FormatError (naming the node at
        ``path`` when given) for anything this library cannot read."""
        try:
            grid = doc["chunk_grid"]
            if grid["name"] != "regular":
                raise FormatError(f"unsupported chunk grid {grid['name']!r}")
            chunks, codecs, sharding = unwrap_sharding(doc["codecs"], tuple(grid["configuration"]["chunk_shape"]))
            attributes = doc.get("attributes") or {}
            reserved = reserved_in(attributes, path)
            dtype = dtypes.from_zarr(doc["data_type"], codecs[0], reserved)
            enc = doc.get("chunk_key_encoding", {"name": "default"})
            sep = (enc.get("configuration") or {}).get("separator", "/")
            if enc["name"] != "default" or sep != "/":
                raise FormatError(f"unsupported chunk key encoding {enc}")
            shape = tuple(doc["shape"])
            maxshape = tuple(reserved.get("maxshape", shape))
            _check_layout(shape, chunks, dtype)
            if sharding is not None:
                _check_layout(shape, sharding.shards, dtype, limit=False)
            subshape = tuple(reserved.get("subarray", ()))
            k = len(subshape)
            if k and (k > len(shape) or shape[-k:] != subshape or chunks[-k:] != subshape
                      or maxshape[-k:] != subshape):
                raise FormatError(f"subarray axes {list(subshape)} are not the whole trailing axes of "
                                  f"shape {list(shape)}, chunks {list(chunks)}")
            return cls(
                shape=shape,
                dtype=dtype,
                chunks=chunks,
                fill_value=dtypes.decode_scalar(doc["fill_value"], dtype),
                codecs=codecs,
                maxshape=maxshape,
                attributes=attributes,
                dimension_names=doc.get("dimension_names"),
                empty=bool(reserved.get("empty")),
                sharding=sharding,
                subshape=subshape,
            )
        except FormatError as exc:
            if path is None or repr("/" + path.strip("/")) in str(exc):
                raise
            raise FormatError(f"node {'/' + path.strip('/')!r}: {exc}") from exc
        except (KeyError, TypeError, IndexError, ValueError, OverflowError) as exc:
            where = "" if path is None else f"node {'/' + path.strip('/')!r}: "
            raise FormatError(f"{where}invalid Zarr v3 array document: {exc!r}") from exc


# A chunk is decoded whole into memory: a document declaring a larger one is
# refused before anything is allocated (HDF5 caps a chunk at 4 GiB too).
MAX_CHUNK_NBYTES = 2**32


def _check_layout(shape: tuple, chunks: tuple, dtype, limit: bool = True) -> None:
    """Shape and chunk shape a reader can trust: integers, shapes >= 0, chunks
    >= 1 per axis, one per axis, and a chunk of at most MAX_CHUNK_NBYTES."""
    if len(chunks) != len(shape):
        raise FormatError(f"chunk shape {list(chunks)} does not match shape {list(shape)}")
    for n in shape:
        if type(n) is not int or n < 0:
            raise FormatError(f"invalid shape {list(shape)}")
    for n in chunks:
        if type(n) is not int or n < 1:
            raise FormatError(f"invalid chunk shape {list(chunks)}")
    nbytes = dtype.itemsize
    for n in chunks:
        nbytes *= n
    if limit and nbytes > MAX_CHUNK_NBYTES:
        raise FormatError(f"chunk shape {list(chunks)} declares {nbytes} bytes per chunk "
                          f"(more than {MAX_CHUNK_NBYTES})")


def dimension_names(shape, labels, scales=None, scale: str | None = None) -> list:
    """Zarr's ``dimension_names`` of an array we write (xarray needs one per axis).

    Per axis: the h5py label; else the dimension name of the first attached
    scale; else, for a 1-d dimension scale, its own name (a netCDF coordinate
    variable); else ``phony_dim_<length>`` (``_<k>`` added for the k-th repeat
    of a length in one array), so arrays of one group that share a length
    share the name and xarray never sees one name with two sizes.
    """
    names, seen = [], {}
    for i, n in enumerate(shape):
        name = labels[i] if labels and i < len(labels) else None
        if not name and scales and i < len(scales) and scales[i]:
            name = scales[i][0][1]
        if not name and scale and len(shape) == 1:
            name = scale
        if not name:
            k = seen[n] = seen.get(n, -1) + 1
            name = f"phony_dim_{n}" + (f"_{k}" if k else "")
        names.append(name)
    return names


def with_dimension_names(doc: dict) -> dict:
    """``doc`` (an array document we are about to write) with its ``dimension_names``
    recomputed from its h5py labels, attached scales and shape."""
    if doc.get("node_type") != "array":
        return doc
    reserved = reserved_in(doc.get("attributes"), None)
    labels = reserved.get("dim_labels")
    if labels is None:  # a document of the previous layout or another tool: its names are labels
        labels = list(doc.get("dimension_names") or [])
        attributes = doc["attributes"] = dict(doc.get("attributes") or {})
        reserved = attributes[RESERVED] = dict(reserved)
        reserved["dim_labels"] = labels + [None] * (len(doc["shape"]) - len(labels))
    doc["dimension_names"] = dimension_names(doc["shape"], labels, reserved.get("dim_scales"),
                                             reserved.get("scale"))
    return doc


def group_document(attributes: dict | None = None) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attributes or {}}


def editable_copy(doc: dict) -> dict:
    """A copy of a node document whose attributes, and their reserved entry,
    can be changed in place without touching ``doc``.  User attribute values
    are shared: they are only ever replaced, never changed in place."""
    new = dict(doc)
    attributes = new["attributes"] = dict(doc.get("attributes") or {})
    if RESERVED in attributes:
        attributes[RESERVED] = _json_copy(attributes[RESERVED])
    return new


def _json_copy(value):
    """A deep copy of a JSON value (dicts and lists copied, the rest immutable):
    ``copy.deepcopy`` costs ten times as much, on every attribute change."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_json_copy(v) for v in value)
    return value


def stored_document(doc: dict) -> dict:
    """``doc`` as it is stored: an array's reserved entry moves from its
    attributes to the extension field (``doc`` itself is not changed)."""
    attributes = doc.get("attributes")
    if doc.get("node_type") != "array" or not isinstance(attributes, dict) or RESERVED not in attributes:
        return doc
    stored = dict(doc)
    attributes = stored["attributes"] = dict(attributes)
    reserved = attributes.pop(RESERVED)
    stored[EXTENSION] = {"must_understand": False, **reserved} if isinstance(reserved, dict) else reserved
    return stored


def dumps(doc: dict) -> bytes:
    """The stored bytes of a node document; an array's ``dimension_names`` are
    recomputed in ``doc`` first (labels, scales or shape may have changed)."""
    with_dimension_names(doc)
    # one line: json's C encoder (indent= would take the pure-Python one, ~5x slower)
    return json.dumps(stored_document(doc), allow_nan=False).encode()


def _memory_form(doc: dict) -> dict:
    # the inverse of _stored_form; the previous layout (entry in the attributes) is already it
    doc.pop("consolidated_metadata", None)  # zarr's copy of the hierarchy, rewritten on flush/close
    if EXTENSION not in doc:
        return doc
    reserved = doc.pop(EXTENSION)
    if isinstance(reserved, dict):
        reserved = {k: v for k, v in reserved.items() if k != "must_understand"}
    attributes = doc.get("attributes")
    if attributes is None:
        attributes = doc["attributes"] = {}
    if isinstance(attributes, dict):
        attributes[RESERVED] = reserved
    return doc


def consolidated_root(root: dict, nodes: dict) -> dict:
    """The root document with zarr-python 3's inline consolidated metadata of
    ``nodes`` ({path: document}, the root excluded), as ``zarr.consolidate_metadata``
    writes it: zarr and xarray then open the whole hierarchy with one request."""
    stored = stored_document(root)
    stored["consolidated_metadata"] = {
        "kind": "inline", "must_understand": False,
        "metadata": {path: stored_document(doc) for path, doc in sorted(nodes.items()) if path},
    }
    return stored


def loads(raw: bytes, key: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{key}: not a JSON document ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") not in ("group", "array"):
        raise FormatError(f"{key}: not a Zarr v3 node document")
    return _memory_form(doc)
