"""Search queries over node documents: parsing, checking and evaluation.

A query is a plain dict, never code: it is checked once and turned into a
tree of small Python predicates (no ``eval``, no SQL).  What a query can say:

``{"attr": value}``
    the attribute ``attr`` equals ``value``;
``{"attr": {"$op": operand, ...}}``
    operators ``$eq $ne $gt $gte $lt $lte $in $nin $exists $glob`` (all must hold);
``{"$path": "raw/*"}``
    a glob on the node's path (``$path`` also takes an operator dict); a path
    not starting with '/' is relative to the group searched;
``{"$kind": "dataset"}``, ``{"$ndim": 3}``, ``{"$dtype": "float32"}``
    the node's kind ("dataset", "group" or "datatype" for a committed
    datatype), number of axes, element type;
``{"$and": [q, ...]}``, ``{"$or": [q, ...]}``
    combinations; the keys of one dict are combined with AND.

Semantics, as in MongoDB-style queries: a missing attribute matches only
``$ne``, ``$nin`` and ``{"$exists": False}``; a list-valued (array) attribute
matches a scalar operand when any element does, a list operand when the
whole list is equal; ``$gt``... compare numbers with numbers and strings with
strings (anything else simply does not match); booleans equal only booleans.
Unknown operators or keys raise ``ValueError``, a query that is not a dict
``TypeError``.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Callable

import numpy as np

from ..format.attrvalues import decode_attr
from ..format.reserved import RESERVED, reserved_in, reserved_of

__all__ = [
    "attr_value", "check_limits", "compile_query", "dtype_name", "FIELDS", "MAX_QUERY_DEPTH", "MAX_QUERY_ITEMS",
    "MISSING", "node_kind", "OPERATORS", "plain", "Predicate", "query_value", "values_equal",
]


MISSING = object()  # the value of an attribute or field a node does not have
# (store path, node) -> match; a node has .kind, .ndim, .dtype_name and .attr(name)
Predicate = Callable[[str, object], bool]

_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
OPERATORS = ("$eq", "$ne", *_COMPARISONS, "$in", "$nin", "$exists", "$glob")
FIELDS = ("$path", "$kind", "$ndim", "$dtype")
_KINDS = {"dataset": "dataset", "array": "dataset", "group": "group", "datatype": "datatype"}


# ------------------------------------------------------------ node fields
def node_kind(doc: dict, path: str | None = None) -> str:
    """'dataset', 'group' or 'datatype' (h5py's words; a committed datatype is a Zarr group).

    FormatError (naming the node at ``path``) when a group's reserved entry is damaged.
    """
    if doc.get("node_type") == "array":
        return "dataset"
    return "datatype" if "datatype" in reserved_of(doc, path) else "group"


def dtype_name(doc: dict):
    """The element type's name ('float32'...) of an array document, MISSING for groups."""
    if doc.get("node_type") != "array":
        return MISSING
    name = doc.get("data_type")
    if isinstance(name, Mapping):  # Zarr v3 extension data types are {"name": ...}
        name = name.get("name")
    return name if isinstance(name, str) else MISSING


def plain(value):
    """A decoded attribute value as plain Python (lists, int, float, complex, str...)."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.dtype.kind == "O" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def attr_value(attributes: dict, name: str, path: str | None = None):
    """The value a query compares for attribute ``name`` (MISSING when absent).

    JSON values are used as stored when that is exact (ints, bools, strings);
    floats with NaN/infinity, complex numbers and bytes are decoded first.
    FormatError (naming the node at ``path``) when the reserved entry is damaged.
    """
    if name not in attributes or name == RESERVED:
        return MISSING
    return query_value(attributes[name], reserved_in(attributes, path).get("attrs", {}).get(name))


def query_value(value, record: dict | None):
    """:func:`attr_value` of a stored JSON ``value`` with its type ``record``
    (None for attributes other tools wrote), for callers that hold the record."""
    if record is None:
        return value  # written by another tool: plain JSON already
    dtype = record.get("dtype")
    if record.get("kind") == "str" or (isinstance(dtype, str) and dtype[1:2] in ("b", "i", "u")):
        return value  # numpy's dtype.str: byte order, kind, size ('<i8', '|b1')
    if isinstance(dtype, str) and dtype[1:2] == "f" and type(value) in (float, int):
        return value  # finite floats are stored as they are (NaN and infinities as strings)
    try:
        return plain(decode_attr(value, record))
    except (TypeError, ValueError, KeyError):
        return value


# ------------------------------------------------------------- comparison
def _is_number(x) -> bool:
    return isinstance(x, (int, float, complex)) and not isinstance(x, bool)


def values_equal(a, b) -> bool:
    """Equality without Python's surprises: True is not 1, "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _ordered(a, b) -> bool:
    """Whether ``a`` and ``b`` can be ordered (real numbers, or strings)."""
    if isinstance(a, str) and isinstance(b, str):
        return True
    return (_is_number(a) and _is_number(b)
            and not isinstance(a, complex) and not isinstance(b, complex))


def _any_element(value, test) -> bool:
    """``test`` on a scalar value, or on any element of a (nested) list value."""
    if isinstance(value, list):
        return any(_any_element(v, test) for v in value)
    return test(value)


def _eq(value, operand) -> bool:
    if value is MISSING:
        return False
    if values_equal(value, operand):
        return True
    return isinstance(value, list) and not isinstance(operand, list) and \
        _any_element(value, lambda v: values_equal(v, operand))


_ORDER = {
    "$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b,
}


def _operand(x):
    """A query operand as plain Python (tuples and numpy values included)."""
    if isinstance(x, tuple):
        return [_operand(v) for v in x]
    if isinstance(x, list):
        return [_operand(v) for v in x]
    if isinstance(x, (np.ndarray, np.generic)):
        return plain(x)
    return x


def _op_test(op: str, operand) -> Callable[[object], bool]:
    """A test of one value (possibly MISSING) for ``{op: operand}``."""
    if op == "$eq":
        return lambda v: _eq(v, operand)
    if op == "$ne":
        return lambda v: not _eq(v, operand)
    if op in _ORDER:
        if not (_is_number(operand) or isinstance(operand, str)) or isinstance(operand, complex):
            raise ValueError(f"{op} needs a number or a string, not {operand!r}")
        order = _ORDER[op]
        return lambda v: v is not MISSING and _any_element(v, lambda x: _ordered(x, operand) and order(x, operand))
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise ValueError(f"{op} needs a list, not {operand!r}")
        choices = list(operand)
        if op == "$in":
            return lambda v: any(_eq(v, c) for c in choices)
        return lambda v: not any(_eq(v, c) for c in choices)
    if op == "$exists":
        if not isinstance(operand, bool):
            raise ValueError(f"$exists needs true or false, not {operand!r}")
        return lambda v: (v is not MISSING) == operand
    if op == "$glob":
        if not isinstance(operand, str):
            raise ValueError(f"$glob needs a string pattern, not {operand!r}")
        return lambda v: v is not MISSING and _any_element(
            v, lambda x: isinstance(x, str) and fnmatch.fnmatchcase(x, operand))
    raise ValueError(f"unknown query operator {op!r} (known: {', '.join(OPERATORS)})")


def _is_operator_dict(spec) -> bool:
    return isinstance(spec, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in spec)


def _value_test(spec, normalize=None) -> Callable[[object], bool]:
    """A test of one value for a query entry's right-hand side (a value or an operator dict)."""
    if not _is_operator_dict(spec):
        spec = {"$eq": spec}
    tests = []
    for op, operand in spec.items():
        if not (isinstance(op, str) and op.startswith("$")):
            raise ValueError(f"cannot mix operators and plain keys in {dict(spec)!r}")
        operand = _operand(operand)
        if normalize is not None and op != "$exists":
            operand = normalize(op, operand)
        tests.append(_op_test(op, operand))
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


# ----------------------------------------------------------------- fields
def _each(operand, func):
    return [func(x) for x in operand] if isinstance(operand, list) else func(operand)


def _path_normalizer(base: str):
    """Path operands are relative to the searched group unless they start with '/'."""
    prefix = "/" + base if base else ""

    def absolute(x):
        if isinstance(x, str) and not x.startswith("/"):
            return f"{prefix}/{x}"
        return x

    return lambda op, operand: _each(operand, absolute)


def _kind_normalizer(op, operand):
    def kind(x):
        if op == "$glob":
            return x
        if x not in _KINDS:
            raise ValueError(f"$kind is 'dataset', 'group' or 'datatype', not {x!r}")
        return _KINDS[x]

    return _each(operand, kind)


def _dtype_normalizer(op, operand):
    def name(x):
        if op == "$glob" or op in _COMPARISONS:
            return x
        try:
            return np.dtype(x).name
        except TypeError as exc:
            raise ValueError(f"$dtype: {x!r} is not a data type") from exc

    return _each(operand, name)


def _field_predicate(key: str, spec, base: str) -> Predicate:
    if key == "$path":
        if isinstance(spec, str):
            spec = {"$glob": spec}
        test = _value_test(spec, _path_normalizer(base))
        return lambda path, node: test("/" + path)
    if key == "$kind":
        test = _value_test(spec, _kind_normalizer)
        return lambda path, node: test(node.kind)
    if key == "$ndim":
        test = _value_test(spec)
        return lambda path, node: test(node.ndim)
    if key == "$dtype":
        test = _value_test(spec, _dtype_normalizer)
        return lambda path, node: test(node.dtype_name)
    raise AssertionError(key)


def _attr_predicate(name: str, spec) -> Predicate:
    test = _value_test(spec)
    return lambda path, node: test(node.attr(name))


def _combination(key: str, spec, base: str) -> Predicate:
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(f"{key} needs a non-empty list of queries")
    parts = [_compile(q, base) for q in spec]
    if key == "$and":
        return lambda path, node: all(p(path, node) for p in parts)
    return lambda path, node: any(p(path, node) for p in parts)


MAX_QUERY_DEPTH = 32  # nested dicts and lists; deeper would only exhaust Python's recursion
MAX_QUERY_ITEMS = 100_000  # dict entries and list elements in all


def check_limits(query) -> None:
    """ValueError when a query nests deeper than MAX_QUERY_DEPTH or holds more
    than MAX_QUERY_ITEMS items (walked without recursion, so any input is safe)."""
    pending, items = [(query, 1)], 0
    while pending:
        value, depth = pending.pop()
        if isinstance(value, Mapping):
            children = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        else:
            continue
        if depth > MAX_QUERY_DEPTH:
            raise ValueError(f"query nests deeper than {MAX_QUERY_DEPTH} levels")
        items += len(children)
        if items > MAX_QUERY_ITEMS:
            raise ValueError(f"query holds more than {MAX_QUERY_ITEMS} items")
        pending.extend((child, depth + 1) for child in children)


def _compile(query, base: str) -> Predicate:
    if not isinstance(query, Mapping):
        raise TypeError(f"a query is a dict, not {type(query).__name__}")
    parts = []
    for key, spec in query.items():
        if not isinstance(key, str):
            raise TypeError(f"query keys are strings, not {key!r}")
        if key in ("$and", "$or"):
            parts.append(_combination(key, spec, base))
        elif key in FIELDS:
            parts.append(_field_predicate(key, spec, base))
        elif key.startswith("$"):
            raise ValueError(f"unknown query key {key!r} (known: $and, $or, {', '.join(FIELDS)})")
        else:
            parts.append(_attr_predicate(key, spec))
    if not parts:
        return lambda path, node: True
    if len(parts) == 1:
        return parts[0]
    return lambda path, node: all(p(path, node) for p in parts)


def compile_query(query=None, equals: Mapping | None = None, base: str = "") -> Predicate:
    """A predicate ``(path, node) -> bool`` for ``query`` AND ``equals``.

    Parameters
    ----------
    query: the query dict (or None for "everything").
    equals: keyword equalities (``search(sample="mouse-1")``), combined with AND.
    base: store path of the group searched ('' for the root); relative
        ``$path`` operands are taken inside it.
    """
    parts = []
    if query is not None:
        check_limits(query)
        parts.append(_compile(query, base))
    if equals:
        parts.append(_compile(dict(equals), base))
    if not parts:
        return lambda path, node: True
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    return lambda path, node: first(path, node) and second(path, node)
