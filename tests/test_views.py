"""Read views (``hl/views.py``) against h5py: ``astype``, ``asstr`` and ``fields``.

The same file is written with h5py and with dosna_like; each case makes a
view and probes it (dtype, shape, ndim, size, len, ``np.asarray`` with and
without numpy 2's ``copy=``, reads), and :mod:`diffcase` compares the values,
dtypes and exception types.  h5py's behaviour is the expectation; the
``raises`` flags only state which probes exercise an error path, and a case
whose flag h5py contradicts fails as a test bug.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dosna_like
from dosna_like.hl.views import DatasetView

try:  # tests/ may or may not be a package
    from .diffcase import Case, run_case
except ImportError:
    from diffcase import Case, run_case


@pytest.fixture(params=["memory", "local"])
def store_kind(request) -> str:
    """Overrides conftest's: views do no I/O of their own, two store kinds suffice."""
    return request.param


COMPOUND = np.dtype([("a", "i4"), ("b", "f8"), ("c", "i2")])

# dataset id -> op(mod, f) creating it
DATASETS: dict[str, Callable] = {
    "ints": lambda m, f: f.create_dataset("x", data=np.arange(12, dtype="i4").reshape(3, 4), chunks=(2, 2)),
    "int-scalar": lambda m, f: f.create_dataset("x", data=np.int32(-7)),
    "floats": lambda m, f: f.create_dataset("x", data=np.array([1.5, -2.5, 1e10, np.nan])),
    "vlen-text": lambda m, f: f.create_dataset("x", data=np.array(["a", "bé", ""], dtype=object),
                                               dtype=m.string_dtype()),
    "fixed-bytes": lambda m, f: f.create_dataset("x", data=np.array([b"ab", b"c"], dtype="S2")),
    "text-scalar": lambda m, f: f.create_dataset("x", data="hello", dtype=m.string_dtype()),
    "compound": lambda m, f: f.create_dataset("x", data=np.array([(1, 2.0, 3), (4, 5.0, 6)], COMPOUND)),
    "compound-scalar": lambda m, f: f.create_dataset("x", data=np.array((1, 2.0, 3), COMPOUND)),
    "empty": lambda m, f: f.create_dataset("x", data=m.Empty("f4")),
}

# (dataset id, view id, make the view, shape kind: "array" | "scalar" | "empty")
VIEWS = [
    ("ints", "astype-f8", lambda ds: ds.astype("f8"), "array"),
    ("ints", "astype-i1", lambda ds: ds.astype("i1"), "array"),
    ("floats", "astype-u1", lambda ds: ds.astype("u1"), "array"),  # HDF5 saturates, numpy would wrap
    ("int-scalar", "astype-i8", lambda ds: ds.astype("i8"), "scalar"),
    ("empty", "astype-f8", lambda ds: ds.astype("f8"), "empty"),
    ("compound", "astype-by-name", lambda ds: ds.astype([("c", "f8"), ("a", "i8")]), "array"),
    ("vlen-text", "asstr", lambda ds: ds.asstr(), "array"),
    ("vlen-text", "asstr-ascii-replace", lambda ds: ds.asstr("ascii", "replace"), "array"),
    ("fixed-bytes", "asstr", lambda ds: ds.asstr(), "array"),
    ("text-scalar", "asstr", lambda ds: ds.asstr(), "scalar"),
    ("compound", "fields-one", lambda ds: ds.fields("b"), "array"),
    ("compound", "fields-two", lambda ds: ds.fields(["c", "a"]), "array"),
    ("compound", "fields-tuple", lambda ds: ds.fields(("a", "b")), "array"),
    ("compound-scalar", "fields-one", lambda ds: ds.fields("a"), "scalar"),
    ("compound-scalar", "fields-two", lambda ds: ds.fields(["a", "b"]), "scalar"),
]


def plain(value: Any) -> Any:
    """An ``Empty`` as (class name, dtype), so both libraries' can be compared."""
    return ("Empty", value.dtype) if type(value).__name__ == "Empty" else value


# probe id -> (probe(view), the shape kinds for which h5py raises)
PROBES: dict[str, tuple[Callable, set]] = {
    "dtype": (lambda v: v.dtype, set()),
    "shape": (lambda v: v.shape, set()),
    "ndim": (lambda v: v.ndim, set()),
    "size": (lambda v: v.size, set()),
    "len": (lambda v: len(v), {"scalar", "empty"}),
    "asarray": (lambda v: np.asarray(v), {"empty"}),
    "array-copy": (lambda v: np.array(v, copy=True), {"empty"}),
    "array-no-copy": (lambda v: np.array(v, copy=False), {"array", "scalar", "empty"}),
    "read-all": (lambda v: plain(v[()]), set()),
    "read-ellipsis": (lambda v: plain(v[...]), set()),
    "read-first": (lambda v: v[0], {"scalar", "empty"}),
    "read-last-rows": (lambda v: v[-1:], {"scalar", "empty"}),
    "read-list": (lambda v: v[[0, 1]], {"scalar", "empty"}),
    "iterate": (lambda v: list(v), {"scalar", "empty"}),
}


def _view_case(dataset: str, view_id: str, make: Callable, kind: str, probe_id: str) -> Case:
    probe, raising = PROBES[probe_id]
    return Case(f"{dataset}-{view_id}-{probe_id}", lambda m, f: probe(make(DATASETS[dataset](m, f))),
                raises=kind in raising)


CASES = [_view_case(d, v, make, kind, p) for d, v, make, kind in VIEWS for p in PROBES]


def add(id: str, op: Callable, raises: bool = False) -> None:
    CASES.append(Case(id, op, raises))


# ------------------------------------------------------------------ misuse
add("asstr-of-ints", lambda m, f: DATASETS["ints"](m, f).asstr(), raises=True)
add("asstr-of-compound", lambda m, f: DATASETS["compound"](m, f).asstr(), raises=True)
add("asstr-of-empty-float", lambda m, f: DATASETS["empty"](m, f).asstr(), raises=True)
add("fields-of-ints", lambda m, f: DATASETS["ints"](m, f).fields("a"), raises=True)
add("fields-of-empty-float", lambda m, f: DATASETS["empty"](m, f).fields("a"), raises=True)
add("fields-missing-name", lambda m, f: DATASETS["compound"](m, f).fields("zz"), raises=True)
add("fields-one-missing-of-two", lambda m, f: DATASETS["compound"](m, f).fields(["a", "zz"]), raises=True)
add("fields-repeated-name", lambda m, f: DATASETS["compound"](m, f).fields(["a", "a"]), raises=True)
add("fields-bytes-name", lambda m, f: DATASETS["compound"](m, f).fields(b"a"), raises=True)
add("fields-int-name", lambda m, f: DATASETS["compound"](m, f).fields(1), raises=True)
add("fields-none-read", lambda m, f: DATASETS["compound"](m, f).fields([])[()], raises=True)
add("fields-none-dtype", lambda m, f: DATASETS["compound"](m, f).fields([]).dtype)
add("astype-unknown-dtype", lambda m, f: DATASETS["ints"](m, f).astype("nosuch"), raises=True)
add("astype-out-of-range", lambda m, f: DATASETS["ints"](m, f).astype("f8")[5], raises=True)
add("asstr-unknown-encoding", lambda m, f: DATASETS["vlen-text"](m, f).asstr("nosuch")[()], raises=True)
add("asstr-strict-decoding", lambda m, f: DATASETS["vlen-text"](m, f).asstr("ascii")[()], raises=True)
add("asstr-asarray-as-float", lambda m, f: np.asarray(DATASETS["vlen-text"](m, f).asstr(), dtype="f8"),
    raises=True)
add("fields-two-asarray-as-float", lambda m, f: np.asarray(DATASETS["compound"](m, f).fields(["a", "b"]),
                                                           dtype="f8"), raises=True)
add("fields-one-asarray-as-float", lambda m, f: np.asarray(DATASETS["compound"](m, f).fields("a"), dtype="f8"))
add("astype-asarray-as-int16", lambda m, f: np.asarray(DATASETS["ints"](m, f).astype("f8"), dtype="i2"))

# field names in a key of a fields view choose among the view's fields
add("fields-two-key-name", lambda m, f: DATASETS["compound"](m, f).fields(["a", "c"])["a"])
add("fields-two-key-element-name", lambda m, f: DATASETS["compound"](m, f).fields(["a", "c"])[1, "c"])
add("fields-two-key-missing-name", lambda m, f: DATASETS["compound"](m, f).fields(["a", "c"])["b"], raises=True)
add("fields-one-key-name", lambda m, f: DATASETS["compound"](m, f).fields("a")["a"], raises=True)

# dataset reads of several fields of one element give a np.void, as views do
add("dataset-element-two-fields", lambda m, f: DATASETS["compound"](m, f)[0, "a", "c"])
add("dataset-scalar-two-fields", lambda m, f: DATASETS["compound-scalar"](m, f)["c", "a"])
add("dataset-slice-two-fields", lambda m, f: DATASETS["compound"](m, f)[:1, "c", "a"])


# --------------------------------------------- astype: HDF5 conversion paths
SOURCES: dict[str, Callable] = {
    "i4": lambda m: (np.array([1, -2, 300], "i4"), None),
    "u1": lambda m: (np.array([1, 2, 250], "u1"), None),
    "f8": lambda m: (np.array([1.5, -2.5, 1e10]), None),
    "bool": lambda m: (np.array([True, False, True]), None),
    "c16": lambda m: (np.array([1 + 2j, 3, -4j]), None),
    "S3": lambda m: (np.array([b"1", b"22", b"x"]), None),
    "vlen-str": lambda m: (np.array(["1", "22", "x"], dtype=object), m.string_dtype()),
    "vlen-bytes": lambda m: (np.array([b"1", b"22", b"x"], dtype=object), m.string_dtype("ascii")),
    "compound": lambda m: (np.array([(1, 2.0), (3, 4.0), (5, 6.0)], [("a", "i4"), ("b", "f8")]), None),
    "enum": lambda m: (np.array([0, 1, 1], "u1"), m.enum_dtype({"R": 0, "G": 1}, basetype="u1")),
}
TARGETS: dict[str, Callable] = {
    "i4": lambda m: "i4", "i1": lambda m: "i1", "u2": lambda m: "u2", "f4": lambda m: "f4", "bool": lambda m: bool,
    "c16": lambda m: "c16", "S2": lambda m: "S2", "vlen-str": lambda m: m.string_dtype(), "U3": lambda m: "U3",
    "object": lambda m: object, "compound": lambda m: [("a", "i4"), ("b", "f8")],
    "compound-a": lambda m: [("a", "f8")], "compound-x": lambda m: [("x", "f8")],
    "compound-r": lambda m: [("r", "f4")],  # h5py stores complex as a compound of r and i
    "datetime": lambda m: "M8[s]", "opaque": lambda m: "V4",
}
_NUMBERS = {"i4", "i1", "u2", "f4"}
_COMPOUNDS = {"c16", "compound", "compound-a", "compound-x", "compound-r"}
# source -> the targets HDF5 converts it to (every other pair raises)
CONVERTS = {
    "i4": _NUMBERS | {"bool"}, "u1": _NUMBERS | {"bool"}, "bool": _NUMBERS | {"bool"},
    "f8": _NUMBERS,  # no float -> bool path
    "enum": _NUMBERS,
    "c16": _COMPOUNDS, "compound": _COMPOUNDS,
    "S3": {"S2"}, "vlen-str": {"S2", "vlen-str", "object"}, "vlen-bytes": {"S2", "vlen-str", "object"},
}


def _astype_case(source: str, target: str) -> Case:
    def op(m, f):
        data, dtype = SOURCES[source](m)
        ds = f.create_dataset("x", data=data, dtype=dtype)
        return ds.astype(TARGETS[target](m))[...]
    return Case(f"astype-{source}-to-{target}", op, raises=target not in CONVERTS[source])


# h5py artefacts not mirrored: enum -> bool converts by enum member name (an
# enum without FALSE/TRUE members gives arbitrary values), and text -> opaque
# fails with a KeyError from a missing converter.
NOT_MIRRORED = {("enum", "bool"), ("vlen-str", "opaque"), ("vlen-bytes", "opaque")}
CASES += [_astype_case(s, t) for s in SOURCES for t in TARGETS if (s, t) not in NOT_MIRRORED]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_view_matches_h5py(case, h5_path, file_url):
    run_case(case, h5_path, file_url)


# ---------------------------------------------------------- dosna-only API
@pytest.mark.parametrize("dataset, view_id, make, kind", VIEWS, ids=[f"{d}-{v}" for d, v, _, _ in VIEWS])
def test_views_share_one_base_and_len_method(file_url, dataset, view_id, make, kind):
    """``view.len()`` (as ``Dataset.len()``; h5py's views lack it) is ``len(view)``."""
    with dosna_like.File(file_url, "w") as f:
        view = make(DATASETS[dataset](dosna_like, f))
        assert isinstance(view, DatasetView)
        if kind == "array":
            assert view.len() == len(view) == view.shape[0]
        else:
            with pytest.raises(TypeError):
                view.len()
        assert type(view).__name__ in repr(view)
