"""The reserved metadata namespace: what Zarr v3 cannot say, hidden from ``.attrs``.

In memory, every node document's ``attributes`` may hold ``"_dosna_like": {...}``,
a JSON object with the keys of :data:`RESERVED_KEYS` (the one list of them).
On the store (``documents.dumps``/``loads`` translate), an array keeps it
outside its attributes, in the top-level Zarr v3 extension field
``"dosna_like": {"must_understand": false, ...}`` that zarr-python 3.1 reads,
keeps when it rewrites the document, and never shows as an attribute.  A group
keeps it in its side object ``_dosna_like.json`` beside its ``zarr.json``
(zarr-python 3.1 refuses any extra key in a group document).  Stores of the
previous layout (the entry in the attributes) read the same and move it out
when next written.  Other Zarr tools can damage it (``attrs["_dosna_like"] =
"oops"`` on a previous-layout node, or a broken side object).  Every read therefore goes through
:func:`reserved_of` / :func:`reserved_in`, which check the value and raise the
project's :class:`~dosna_like.errors.FormatError` (an ``OSError``, what h5py
raises for an unreadable object header) naming the node, never the
``AttributeError`` of calling ``.get`` on a string.  Writes go through
:func:`edit_reserved`.  Unknown keys are kept and ignored, so a newer
version's additions survive an older one's rewrite.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import FormatError

__all__ = [
    "RESERVED",
    "RESERVED_KEYS",
    "ReservedKey",
    "edit_reserved",
    "node_label",
    "reserved_in",
    "reserved_of",
]

RESERVED = "_dosna_like"
_ABSENT = object()  # no reserved entry at all (JSON null is a damaged one)


@dataclass(frozen=True)
class ReservedKey:
    """One key of the reserved namespace: its JSON types and what it means.

    ``types``: the Python types (as JSON decodes them) the value may have;
    ``items``: for a list the type of its elements, for an object the type
    of its values (None: not checked); ``nodes``: which nodes carry it.
    """

    types: tuple
    items: tuple | None
    nodes: str
    meaning: str


RESERVED_KEYS: dict[str, ReservedKey] = {
    "maxshape": ReservedKey((list,), (int, type(None)), "arrays",
                            "h5py's maxshape: per axis a length, or null for unlimited"),
    "empty": ReservedKey((bool,), None, "arrays",
                         "h5py.Empty: no dataspace (stored as a 0-d array)"),
    "h5py_contiguous": ReservedKey((bool,), None, "arrays",
                                   "contiguous in h5py terms: created without chunks=, maxshape= or a filter "
                                   "(chunks None, resize refused, exported contiguous)"),
    "hdf5": ReservedKey((dict,), (str,), "arrays",
                        "a dataset of an HDF5 file opened in place: what h5py reports of it ('layout': "
                        "'contiguous' or 'compact' -> chunks None; 'compression': 'gzip' for HDF5's deflate, "
                        "'gzip_level'; 'szip': 'nn,8' for h5py's ('nn', 8); 'scaleoffset': '3'; 'filter_ids': '2,1'; "
                        "'filter_names': a JSON list)"),
    "string_encoding": ReservedKey((str,), None, "arrays",
                                   "fixed-length bytes: h5py's string encoding mark ('ascii' or 'utf-8')"),
    "enum": ReservedKey((dict,), (int,), "arrays", "enum dtype: member name -> integer value"),
    "ref": ReservedKey((str,), None, "arrays",
                       "object reference dtype ('object'): each string is the target's path, '' when null"),
    "compound": ReservedKey((dict,), None, "arrays",
                            "compound stored record by record (format/compound.py): fields, offsets, itemsize"),
    "numpy": ReservedKey((str,), None, "arrays",
                         "raw_bytes arrays: the numpy type they hold (float128 / complex256, little-endian)"),
    "subarray": ReservedKey((list,), (int,), "arrays",
                            "subarray dtype (h5py dtype=('f4', (3, 2))): the lengths of the trailing axes "
                            "that hold each element's subarray"),
    "fill_time": ReservedKey((str,), None, "arrays",
                             "h5py's fill_time ('alloc', 'never'; absent: 'ifset', the default)"),
    "h5py_fill_value": ReservedKey((bool, int, float, str, list), None, "arrays",
                                   "fill_time='never': the fill value h5py reports (encoded as Zarr's fill_value), "
                                   "while chunks never written read as zeros"),
    "opaque": ReservedKey((bool,), None, "arrays",
                          "raw_bytes arrays: the numpy type carries h5py's opaque mark (opaque_dtype)"),
    "vlen_enum": ReservedKey((dict,), (int,), "arrays",
                             "variable-length sequence of an enum: member name -> integer value"),
    "vlen": ReservedKey((str, list, dict), None, "arrays",
                        "variable-length sequence dtype: the base's numpy type string, or numpy descr for a compound "
                        "(items stored little-endian), or {'compound': <compound record>} for a compound with "
                        "variable-length members (format/compound.py)"),
    "attrs": ReservedKey((dict,), (dict,), "any node",
                         "per attribute name, its numpy type record (format/attrvalues.py)"),
    "links": ReservedKey((dict,), (dict,), "groups",
                         "per member name, a soft, hard or external link record (format/links.py)"),
    "track_order": ReservedKey((bool,), None, "groups",
                               "members (and the order list below) kept in creation order"),
    "order": ReservedKey((list,), (str,), "groups", "member names in creation order (track_order groups)"),
    "datatype": ReservedKey((str, list, dict), None, "groups",
                            "a committed datatype: numpy's dtype description, or a compound's record-form spec "
                            "(format/compound.py) when it has variable-length fields (opened as a Datatype)"),
    "dim_labels": ReservedKey((list,), (str, type(None)), "arrays",
                              "h5py's dims[i].label per axis (null: none; Zarr's dimension_names then "
                              "come from an attached scale or the phony_dim default)"),
    "dim_scales": ReservedKey((list,), (list,), "arrays",
                              "per axis, the attached dimension scales as [path, dimension name] pairs"),
    "scale": ReservedKey((str,), None, "arrays",
                         "this array is a dimension scale (h5py make_scale): its NAME"),
    "checksum": ReservedKey((str,), None, "arrays",
                            "'crc32c': the last codec is a checksum the library added for integrity "
                            "(not asked for as fletcher32; h5py's view and HDF5 exports leave it out)"),
    "scaleoffset": ReservedKey((int,), None, "arrays",
                               "h5py's scaleoffset= (integers: minbits, 0 automatic; floats: decimal digits): "
                               "chunks are stored already quantized as HDF5's filter reads them back "
                               "(codecs/scaleoffset.py)"),
    "incomplete": ReservedKey((dict,), None, "the root and arrays",
                              "an import or store copy is running or failed: {source, started}; "
                              "on an array, the import has not finished writing its chunks"),
}


def node_label(path: str) -> str:
    """How an error names a node: by h5py's absolute name."""
    return f"node {'/' + path.strip('/')!r}"


def _damaged(path: str | None, what: str) -> FormatError:
    # path None: the caller names the node when it re-raises (the search index does)
    where = "" if path is None else f"{node_label(path)}: "
    return FormatError(f"{where}{what} (written by another tool?)")


def _type_names(types: tuple) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
             type(None): "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _is(value, types: tuple) -> bool:
    # JSON's true is a Python bool, which is an int: an integer slot refuses it
    if type(value) is bool and bool not in types:
        return False
    return isinstance(value, types)


# per key: (its types, its items' types) as sets of exact types, so that the
# common value (of exactly a JSON type) is checked by one set lookup; anything
# else (a subclass, a bool where an integer goes) takes :func:`_is`.  Every
# document read or built is checked, several times per dataset created.
_EXACT = {key: (frozenset(spec.types), frozenset(spec.items or ()))
          for key, spec in RESERVED_KEYS.items()}


def _check(reserved, path: str | None) -> None:
    if type(reserved) is not dict and not isinstance(reserved, dict):
        raise _damaged(path, f"the reserved attribute {RESERVED!r} is a {type(reserved).__name__}, "
                             "not a JSON object")
    for key, value in reserved.items():
        exact = _EXACT.get(key)
        if exact is None:
            continue
        spec = RESERVED_KEYS[key]
        if type(value) not in exact[0] and not _is(value, spec.types):
            raise _damaged(path, f"{RESERVED}.{key} is a {type(value).__name__}, not {_type_names(spec.types)}")
        if spec.items is not None:
            item_types = exact[1]
            for item in (value.values() if isinstance(value, dict) else value):
                if type(item) not in item_types and not _is(item, spec.items):
                    raise _damaged(path, f"{RESERVED}.{key} holds a {type(item).__name__}, "
                                         f"not {_type_names(spec.items)}")


def reserved_in(attributes, path: str | None) -> Mapping:
    """The checked reserved entry of a node's ``attributes`` ({} when it has none).

    ``path`` names the node in the error (None when the caller does not know
    it).  The result is the stored dict itself: read it, never change it
    (writes go through :func:`edit_reserved` on a copy of the document).
    Raises FormatError when the attributes are not a JSON object, the entry
    is not one, or a known key has the wrong type.
    """
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise _damaged(path, f"its attributes are a {type(attributes).__name__}, not a JSON object")
    reserved = attributes.get(RESERVED, _ABSENT)
    if reserved is _ABSENT:
        return {}
    _check(reserved, path)
    return reserved


def reserved_of(doc, path: str | None) -> Mapping:
    """The checked reserved entry of a node document (``{}`` for None or none);
    :func:`reserved_in` of its ``attributes``."""
    return {} if doc is None else reserved_in(doc.get("attributes"), path)


def edit_reserved(attributes: dict, path: str | None) -> dict:
    """The reserved entry of ``attributes`` to change in place, created when absent.

    For the update functions that are given a fresh copy of a node's
    attributes.  A damaged entry raises FormatError rather than being
    overwritten: it may be another tool's data.
    """
    reserved_in(attributes, path)
    return attributes.setdefault(RESERVED, {})

