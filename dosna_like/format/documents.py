"""The on-store format: Zarr v3 node documents, chunk keys, dtype and fill values.

Every group and dataset is a node with a ``zarr.json`` document.  What Zarr v3
cannot say (h5py's maxshape, links, typed attribute values) goes into the
reserved ``_dosna_like`` entry of the node's ``attributes`` in memory, hidden
from ``.attrs``.  :func:`dumps` and :func:`loads` are the store boundary, so
zarr-python and xarray show exactly the user's attributes:

* an array's entry is stored as the top-level extension field ``"dosna_like"``
  (with ``"must_understand": false``);
* a group's entry is stored in the side object ``_dosna_like.json`` beside its
  ``zarr.json`` (:func:`side_document`; zarr-python 3.1 refuses any extra key in
  a group document), with a copy of the JSON value of each attribute it holds
  a type record for: a record is applied only while the attribute still has
  that value, so a value another tool (or a writer killed between the two
  objects) changed reads as that tool's plain value, never with a stale type.

The previous layout (the entry inside the attributes) still reads, and is
migrated when the document is next written.  Every array we write carries
``dimension_names`` (:func:`dimension_names`).  :func:`fetch_documents` reads
nodes with their side objects: one concurrent batch of documents, then one of
the side objects of the groups among them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError
from . import dtypes
from .keys import SIDE_KEY, node_key
from .reserved import RESERVED, reserved_in
from .sharding import ShardSpec, sharding_codec, unwrap_sharding

EXTENSION = "dosna_like"  # the top-level extension field holding an array's reserved entry

SIDE_FORMAT = "dosna_like.group"  # the side object's "format"

__all__ = ["EXTENSION", "ArrayMeta", "MAX_CHUNK_NBYTES", "SIDE_FORMAT", "CONSOLIDATED_FINGERPRINTS",
           "consolidated_arrays", "consolidated_root", "dimension_names", "dumps", "editable_copy", "fetch_documents", "group_document", "loads", "side_document",
           "stored_document", "with_side", "with_dimension_names"]


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


_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def _json_copy(value):
    """A deep copy of a JSON value (dicts and lists copied, the rest immutable):
    ``copy.deepcopy`` costs ten times as much, on every attribute change.
    Scalars are taken as they are without a call each."""
    if isinstance(value, dict):
        return {k: v if type(v) in _JSON_SCALARS else _json_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(v if type(v) in _JSON_SCALARS else _json_copy(v) for v in value)
    return value


def stored_document(doc: dict) -> dict:
    """``doc`` as its ``zarr.json`` stores it (``doc`` itself is not changed): an
    array's reserved entry moves from its attributes to the extension field; a
    group's leaves them (it is stored in the side object, :func:`side_document`)."""
    attributes = doc.get("attributes")
    if not isinstance(attributes, dict) or RESERVED not in attributes:
        return doc
    node_type = doc.get("node_type")
    if node_type not in ("array", "group"):
        return doc
    stored = dict(doc)
    attributes = stored["attributes"] = dict(attributes)
    reserved = attributes.pop(RESERVED)
    if node_type == "array":
        stored[EXTENSION] = {"must_understand": False, **reserved} if isinstance(reserved, dict) else reserved
    return stored


def side_document(doc: dict, always: bool = False) -> bytes | None:
    """The bytes of a group's side object (None: an array, or a group whose
    reserved entry is empty, unless ``always``).

    ``{"format": "dosna_like.group", "reserved": {...}, "values": {name: value}}``:
    ``values`` copies the stored JSON value of each attribute the entry holds a
    type record for (see the module docstring).
    """
    if doc.get("node_type") != "group":
        return None
    attributes = doc.get("attributes")
    reserved = attributes.get(RESERVED) if isinstance(attributes, dict) else None
    if not reserved and not always:
        return None
    records = reserved.get("attrs") if isinstance(reserved, dict) else None
    values = {name: attributes[name] for name in records if name in attributes} if isinstance(records, dict) else {}
    side = {"format": SIDE_FORMAT, "reserved": {} if reserved is None else reserved, "values": values}
    return json.dumps(side, allow_nan=False).encode()


def with_side(doc: dict, raw, key: str) -> dict:
    """A group ``doc`` (as :func:`loads` returned it) with the reserved entry of
    its side object ``raw`` (bytes, or None when there is none: the document is
    kept as it is, a previous-layout entry in its attributes included)."""
    if raw is None or doc.get("node_type") != "group":
        return doc
    try:
        side = json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{key}: not a JSON document ({exc})") from exc
    if not isinstance(side, dict) or side.get("format") != SIDE_FORMAT or "reserved" not in side:
        raise FormatError(f"{key}: not a dosna_like group side object")
    attributes = doc.get("attributes")
    if attributes is None:
        attributes = doc["attributes"] = {}
    if not isinstance(attributes, dict):
        return doc  # reserved_in names the damage when the node is used
    reserved, values = side["reserved"], side.get("values")
    records = reserved.get("attrs") if isinstance(reserved, dict) else None
    if isinstance(records, dict) and isinstance(values, dict):
        # a record types the value it was written with, and no other (module docstring)
        kept = {name: record for name, record in records.items()
                if name in attributes and name in values and values[name] == attributes[name]}
        if len(kept) != len(records):
            reserved = dict(reserved, attrs=kept)
    attributes[RESERVED] = reserved  # the side object wins over a previous-layout entry
    return doc


def fetch_documents(store, paths, damaged: set | None = None) -> dict:
    """``{path: document}`` of the nodes among ``paths`` that have a ``zarr.json``,
    groups with their side objects: one concurrent batch (``store.get_many``)
    of documents, then one of the side objects of the groups among them.

    A damaged document raises FormatError, or, when ``damaged`` is given,
    has its path added there and is left out.
    """
    keys = {node_key(p): p for p in paths}
    docs = {}
    for key, raw in store.get_many(keys).items():
        try:
            docs[keys[key]] = loads(raw, key)
        except FormatError:
            if damaged is None:
                raise
            damaged.add(keys[key])
    sides = {node_key(p, SIDE_KEY): p for p, doc in docs.items() if doc["node_type"] == "group"}
    for key, raw in (store.get_many(sides) if sides else {}).items():
        try:
            with_side(docs[sides[key]], raw, key)
        except FormatError:
            if damaged is None:
                raise
            damaged.add(sides[key])
            del docs[sides[key]]
    return docs


def dumps(doc: dict, inline: bool = False) -> bytes:
    """The stored bytes of a node document's ``zarr.json``; an array's
    ``dimension_names`` are recomputed in ``doc`` first (labels, scales or shape
    may have changed).  A group's reserved entry is left out (it goes to
    :func:`side_document`), unless ``inline``: kept in its attributes, the
    previous layout, for documents only this library reads (an HDF5 file's
    nodes opened in place)."""
    with_dimension_names(doc)
    stored = doc if inline and doc.get("node_type") == "group" else stored_document(doc)
    # one line: json's C encoder (indent= would take the pure-Python one, ~5x slower)
    return json.dumps(stored, allow_nan=False).encode()


def _memory_form(doc: dict, consolidated: dict | None = None) -> dict:
    # the inverse of _stored_form; the previous layout (entry in the attributes) is already it
    held = doc.pop("consolidated_metadata", None)  # zarr's copy of the hierarchy, rewritten on flush/close
    if consolidated is not None and isinstance(held, dict):
        consolidated.update(held)
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


def consolidated_root(root: dict, nodes: dict, fingerprints: dict | None = None) -> dict:
    """The root document with zarr-python 3's inline consolidated metadata of
    ``nodes`` ({path: document}, the root excluded), as ``zarr.consolidate_metadata``
    writes it: zarr and xarray then open the whole hierarchy with one request.

    ``fingerprints`` ({path: the store's fingerprint of the node's stored document})
    go beside it (zarr reads only ``kind`` and ``metadata``), so a reader uses an
    entry only while the store still shows that fingerprint (:func:`consolidated_arrays`)."""
    stored = stored_document(root)
    stored["consolidated_metadata"] = {
        "kind": "inline", "must_understand": False,
        "metadata": {path: stored_document(doc) for path, doc in sorted(nodes.items()) if path},
    }
    if fingerprints:
        stored["consolidated_metadata"][CONSOLIDATED_FINGERPRINTS] = {
            p: fp for p, fp in fingerprints.items() if p and fp and p in nodes}
    return stored


CONSOLIDATED_FINGERPRINTS = "dosna_like_fingerprints"  # beside zarr's "metadata" in the root's copy


def consolidated_arrays(consolidated: dict) -> dict:
    """``{path: (fingerprint, document)}`` of the arrays in a root's consolidated
    metadata (as :func:`loads` gave it) that carry the fingerprint they were
    written with; in memory form.  Groups are left out: their reserved entries
    live in side objects, which zarr's copy does not hold."""
    meta, fps = consolidated.get("metadata"), consolidated.get(CONSOLIDATED_FINGERPRINTS)
    if not isinstance(meta, dict) or not isinstance(fps, dict):
        return {}
    out = {}
    for path, doc in meta.items():
        fp = fps.get(path)
        if (type(fp) is str and isinstance(doc, dict) and doc.get("zarr_format") == 3
                and doc.get("node_type") == "array"):
            out[path] = (fp, _memory_form(doc))
    return out


def loads(raw: bytes, key: str, side=None, consolidated: dict | None = None) -> dict:
    """The in-memory form of a stored ``zarr.json`` (``raw``) at ``key``; a group's
    side object's bytes ``side`` (None: none) give its reserved entry; a dict
    ``consolidated`` receives the document's consolidated metadata, if any."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{key}: not a JSON document ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") not in ("group", "array"):
        raise FormatError(f"{key}: not a Zarr v3 node document")
    doc = _memory_form(doc, consolidated)
    return doc if side is None else with_side(doc, side, f"{key} (its {SIDE_KEY})")
