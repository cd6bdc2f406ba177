"""Nodes of the search index: a summary of each node document (kind, shape,
dtype, attribute values) that queries read, and helpers over node documents.
"""
from __future__ import annotations

import json
import numpy as np

from ..errors import FormatError
from ..format.attrvalues import decode_attr
from ..format.documents import ArrayMeta
from ..format.reserved import RESERVED, reserved_in, reserved_of
from ..format.sharding import SHARDING_CODEC
from .query import MISSING, attr_value, dtype_name, node_kind, query_value

__all__ = [
    "doc_attrs", "doc_chunks", "doc_dtype", "doc_nbytes", "doc_shape", "Node", "NODE_KINDS", "Nodes",
    "select_nodes", "summarize",
]


# =================================================================== nodes
def _json_exact(value) -> bool:
    """Whether JSON gives ``value`` back as it is (so a query can read it from the sidecar)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_json_exact(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in value.items())
    return False


def summarize(doc: dict, path: str | None = None) -> tuple:
    """(kind, shape, dtype name, dtype text, {attr: query value}, [attrs read from the doc]).

    FormatError naming the node at ``path`` when its reserved entry is damaged.
    """
    records = reserved_of(doc, path).get("attrs", {})  # checked once, first
    kind = node_kind(doc, path)
    shape = list(doc.get("shape") or []) if doc.get("node_type") == "array" else None
    name = dtype_name(doc)
    name = None if name is MISSING else name
    dtype = doc_dtype(doc)
    text = str(dtype) if dtype is not None else name
    if dtype is not None:
        name = dtype.name
    attributes = doc.get("attributes") or {}
    values, lazy = {}, []
    for attr in attributes:
        if attr == RESERVED:
            continue
        value = query_value(attributes[attr], records.get(attr))
        if _json_exact(value):
            values[attr] = value
        else:  # complex numbers, undecodable bytes...: read from the document when asked
            lazy.append(attr)
    return kind, shape, name, text, values, lazy


class Node:
    """One group or dataset in the index: its fingerprint, its summary, its document.

    The document is parsed only when something needs it (a search hit, a
    listing of links); queries read the summary.
    """

    __slots__ = ("fp", "path", "_doc", "_raw", "_summary")

    def __init__(self, fp: str, doc: dict | None = None, raw: str | None = None, summary: tuple | None = None,
                 path: str | None = None):
        self.fp = fp
        self.path = path  # the node's store path, for errors that name it
        self._doc = doc
        self._raw = raw
        self._summary = summary

    @property
    def doc(self) -> dict:
        if self._doc is None:
            try:
                doc = json.loads(self._raw)
            except ValueError as exc:
                raise FormatError(f"search index: unreadable document ({exc})") from exc
            if not isinstance(doc, dict) or doc.get("node_type") not in ("group", "array"):
                raise FormatError("search index: an entry is not a Zarr v3 node document")
            self._doc = doc
        return self._doc

    def offer_doc(self, doc: dict) -> None:
        """``doc``, parsed elsewhere, as this node's document unless one is parsed already
        (the caller checked it is the document of this node's fingerprint)."""
        if self._doc is None:
            self._doc = doc

    def holds(self, doc: dict) -> bool:
        """Whether this node was made from ``doc`` itself (not an equal copy)."""
        return self._doc is doc

    @property
    def summary(self) -> tuple:
        if self._summary is None:
            self._summary = summarize(self.doc, self.path)
        return self._summary

    @property
    def kind(self) -> str:
        return self.summary[0]

    @property
    def node_type(self) -> str:
        return "array" if self.summary[0] == "dataset" else "group"

    @property
    def shape(self):
        shape = self.summary[1]
        return None if shape is None else tuple(shape)

    @property
    def ndim(self):
        shape = self.summary[1]
        return MISSING if shape is None else len(shape)

    @property
    def dtype_name(self):
        name = self.summary[2]
        return MISSING if name is None else name

    @property
    def dtype_text(self) -> str:
        return self.summary[3] or ""

    def attr(self, name: str):
        """The query value of attribute ``name`` (MISSING when the node has none)."""
        summary = self.summary
        value = summary[4].get(name, MISSING)
        if value is MISSING and name in summary[5]:
            return attr_value(self.doc.get("attributes") or {}, name, self.path)
        return value

    def entry(self) -> list:
        """The node as the sidecar stores it."""
        raw = self._raw if self._raw is not None else json.dumps(self._doc, separators=(",", ":"))
        return [self.fp, *self.summary, raw]

    @classmethod
    def from_entry(cls, entry, path: str | None = None) -> "Node | None":
        """A node from a sidecar entry, or None when the entry is malformed."""
        if type(entry) is not list or len(entry) != 8:
            return None
        fp, kind, shape, name, text, values, lazy, raw = entry
        if (type(fp) is not str or kind not in NODE_KINDS or type(raw) is not str or type(values) is not dict
                or type(lazy) is not list or (shape is not None and type(shape) is not list)
                or (name is not None and type(name) is not str) or (text is not None and type(text) is not str)):
            return None
        return cls(fp, raw=raw, summary=(kind, shape, name, text, values, lazy), path=path)


Nodes = dict  # store path -> Node


# ========================================================== node summaries
def doc_dtype(doc: dict):
    """The numpy dtype of an array document (None for groups or types numpy lacks)."""
    if doc.get("node_type") != "array":
        return None
    try:
        return ArrayMeta.from_document(doc).dtype
    except (FormatError, TypeError, ValueError):
        return None


def doc_attrs(doc: dict, path: str | None = None) -> dict:
    """The attributes of a node document, decoded as h5py returns them
    (FormatError naming the node at ``path`` when its reserved entry is damaged)."""
    attributes = doc.get("attributes") or {}
    records = reserved_in(attributes, path).get("attrs", {})
    out = {}
    for name in sorted(attributes):
        if name == RESERVED:
            continue
        try:
            out[name] = decode_attr(attributes[name], records.get(name))
        except (TypeError, ValueError, KeyError):
            out[name] = attributes[name]
    return out


def doc_shape(doc: dict):
    return tuple(doc["shape"]) if doc.get("node_type") == "array" else None


def doc_chunks(doc: dict):
    if doc.get("node_type") != "array":
        return None
    try:
        codecs = doc.get("codecs") or []
        if codecs and isinstance(codecs[0], dict) and codecs[0].get("name") == SHARDING_CODEC:
            return tuple(codecs[0]["configuration"]["chunk_shape"])  # the inner chunks, h5py's .chunks
        return tuple(doc["chunk_grid"]["configuration"]["chunk_shape"])
    except (KeyError, TypeError, AttributeError):
        return None


def select_nodes(nodes: Nodes, base: str, predicate) -> list:
    """Sorted paths strictly inside the group at ``base`` whose documents match.

    Every node's summary is read, whatever the query, so a node another tool
    damaged fails the search with a FormatError naming it (as h5py fails on an
    unreadable object) rather than being silently left out or half read.
    """
    prefix = base + "/" if base else ""
    found = []
    for p, node in nodes.items():
        if p.startswith(prefix) and p != base:
            node.summary  # noqa: B018 - computed (and checked) here, cached on the node
            if predicate(p, node):
                found.append(p)
    return sorted(found)


NODE_KINDS = ("group", "dataset", "datatype")


def doc_nbytes(doc: dict) -> int:
    """Logical bytes of an array document (0 for groups and unknown types)."""

    dtype = doc_dtype(doc)
    if dtype is None:
        return 0
    return int(np.prod(doc["shape"], dtype=np.int64)) * dtype.itemsize
