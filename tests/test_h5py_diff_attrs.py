"""Differential catalogue of attribute types: the same script on h5py and on dosna_like.

Every case writes attributes of one kind h5py knows (variable-length and
fixed-length text and bytes, numpy unicode, bools, integers, floats, complex
numbers, compounds, enums, opaque values and marked datetimes, object
references, variable-length sequences, arrays of each, ``Empty``) on a file,
reads them back through ``attrs[name]`` and ``attrs.get_id(name)`` while the
file is open and again after reopening it, and returns what it read as plain
data plus h5py's marks on each dtype (``check_enum_dtype``,
``check_opaque_dtype``, ``check_string_dtype``, ``check_vlen_dtype``), which
numpy's dtype comparison ignores.  ``diffcase`` compares the outcomes of the
two libraries: equal values, types, shapes and dtypes, or exceptions of
h5py's class.  A case whose write h5py refuses also compares which attributes
the reopened file holds.  No expected value is written here: h5py's outcome
is the expectation.

The cases run on every store kind, S3 included (``diffcase.STORE_KINDS``).
At the bottom: zarr-python reads the enum attributes' values.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import zarr

import dosna_like

from .diffcase import (TIMES, Case, assert_same_value, diff_store_kind, marked_nested, marked_records, normalize,
                       run_case)

store_kind = diff_store_kind  # overrides conftest's: the differential store kinds


# ------------------------------------------------------------------ reading
def _string_info(m, dtype):
    info = m.check_string_dtype(dtype)
    return None if info is None else (info.encoding, info.length)  # each library has its own namedtuple


def marks(m, dtype):
    """h5py's marks on ``dtype`` (and on each member of a compound), as plain data."""
    if dtype is None:
        return None
    out = [str(dtype), m.check_enum_dtype(dtype), m.check_opaque_dtype(dtype), _string_info(m, dtype),
           m.check_vlen_dtype(dtype), m.check_ref_dtype(dtype) is not None]
    if dtype.names is not None:
        out.append([(name, marks(m, dtype.fields[name][0])) for name in dtype.names])
    if dtype.subdtype is not None:
        out.append(marks(m, dtype.subdtype[0]))
    return out


def plain(m, f, value):
    """An attribute value as plain data: references as their targets' names, Empty as its dtype."""
    if isinstance(value, m.Empty):
        return ["Empty", marks(m, value.dtype)]
    if isinstance(value, m.Reference):
        return ["Reference", f[value].name if value else None]
    if isinstance(value, np.ndarray) and m.check_ref_dtype(value.dtype) is not None:
        return ["References", list(value.shape), [f[r].name if r else None for r in value.ravel().tolist()]]
    if isinstance(value, np.ndarray) and value.dtype == object and any(isinstance(x, np.ndarray)
                                                                       for x in value.ravel()):
        # sequences: diffcase compares object arrays item by item, not arrays inside them
        return ["Sequences", list(value.shape), [(str(x.dtype), x.tolist()) for x in value.ravel()]]
    if isinstance(value, (np.ndarray, np.void)) and value.dtype.names is not None and value.dtype.hasobject:
        # records with sequences or references: field by field, each as plain data
        rows = [[plain(m, f, row[n]) for n in value.dtype.names] for row in np.asarray(value).ravel()]
        return ["Records", str(value.dtype), list(np.shape(value)), rows]
    return value


def describe(m, f, name, obj=None):
    """What h5py code sees of attribute ``name`` of ``obj`` (``f``): value, its marks, get_id's
    dtype and shape."""
    attrs = (f if obj is None else obj).attrs
    value = attrs[name]
    ident = attrs.get_id(name)
    return [plain(m, f, value), marks(m, getattr(value, "dtype", None)), marks(m, ident.dtype), ident.shape]


def attr_case(id, write, raises=False):
    """A file-level case: ``write(m, f)`` on a new file; every attribute it made, read live and
    after reopening (a refused write: the attributes the reopened file holds)."""
    def op(m, path):
        with m.File(path, "w") as f:
            f.create_group("g")
            f.create_dataset("d", data=np.arange(3))
            write(m, f)
            live = [(name, describe(m, f, name)) for name in f.attrs]
        with m.File(path, "r") as f:
            return live, [(name, describe(m, f, name)) for name in f.attrs]

    def post(m, path):
        with m.File(path, "r") as f:
            return list(f.attrs)

    return Case(id, op, raises, post if raises else None, file_level=True)


def setting(value):
    return lambda m, f: f.attrs.__setitem__("a", value(m, f) if callable(value) else value)


def creating(value, dtype=None, shape=None):
    return lambda m, f: f.attrs.create("a", value(m, f) if callable(value) else value,
                                       dtype=dtype(m) if callable(dtype) else dtype, shape=shape)


def enum(m, base="i1"):
    return m.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype=base)


def opaque(dt):
    return lambda m: m.opaque_dtype(np.dtype(dt))


SPANS = np.array([1, -2, 3], dtype="m8[s]")
POINT = np.dtype([("x", "<f8"), ("y", "<i4")])

CASES: list[Case] = []
WRITES: dict = {}  # id -> write, of the cases h5py accepts


def add(id, write, raises=False):
    CASES.append(attr_case(id, write, raises))
    if not raises:
        WRITES[id] = write


# ------------------------------------------------------------------ text and bytes
add("str", setting("héllo"))
add("str-empty", setting(""))
add("str-nul", setting("a\x00b"), raises=True)
add("np-str", setting(np.str_("abc")), raises=True)
add("str-list", setting(["a", "bc", "déf"]))
add("str-2d", setting([["a", "b"], ["c", "d"]]))
add("str-vlen-array", setting(lambda m, f: np.array(["x", "yz"], dtype=m.string_dtype())))
add("str-vlen-ascii-array", setting(lambda m, f: np.array([b"x", b"yz"], dtype=m.string_dtype("ascii"))))
add("str-create-vlen-dtype", creating("abc", dtype=lambda m: m.string_dtype()))
add("str-create-vlen-list", creating(["a", "b"], dtype=lambda m: m.string_dtype()))
add("bytes", setting(b"abc"))
add("bytes-not-utf8", setting(b"\xff\xfe"))
add("bytes-nul", setting(b"a\x00b"), raises=True)
add("bytes-not-utf8-nul", setting(b"\xff\x00"), raises=True)
add("bytes-list", setting([b"a", b"bc"]))
add("bytes-list-not-utf8", setting([b"\xff", b"a"]))
add("bytes-array-not-utf8", setting(np.array([b"\xff\xfe", b"a"], dtype=object)))
add("np-bytes", setting(np.bytes_(b"ab")))
add("fixed-bytes-array", setting(np.array([b"a", b"bcd"])))
add("fixed-bytes-2d", setting(np.array([[b"a", b"b"], [b"c", b"d"]], dtype="S2")))
add("fixed-create-dtype", creating(b"ab", dtype="S5"))
add("fixed-utf8-create", creating("ab", dtype=lambda m: m.string_dtype("utf-8", 4)))
add("fixed-utf8-create-non-ascii", creating("é", dtype=lambda m: m.string_dtype("utf-8", 4)), raises=True)
add("unicode-array", setting(np.array(["a", "b"])), raises=True)
add("unicode-scalar-array", setting(np.array("a")), raises=True)
add("unicode-create-dtype", creating(["a"], dtype="U3"), raises=True)
add("object-mixed", setting(np.array(["a", 1], dtype=object)), raises=True)

# ------------------------------------------------------------------ numbers
add("bool", setting(True))
add("np-bool", setting(np.bool_(False)))
add("bool-list", setting([True, False, True]))
add("int", setting(7))
add("int-big", setting(2 ** 62))
add("uint64-max", setting(np.uint64(2 ** 64 - 1)))
add("float", setting(1.5))
add("float-nan-inf", setting(np.array([np.nan, np.inf, -np.inf, -0.0])))
add("list-mixed-numbers", setting([1, 2.5]))
for _dt in ["i1", "i2", ">i4", "u1", "u2", "u4", "u8", "f2", "f4", ">f8", "c8", "c16", ">c16"]:
    add(f"np-{_dt}-scalar", setting(np.array(3, dtype=_dt)[()]))
    add(f"np-{_dt}-array", setting(np.arange(6).reshape(2, 3).astype(_dt)))
add("complex", setting(1 + 2j))
add("complex-nan", setting(np.array([complex(np.nan, 1), 2j])))
add("longdouble", setting(np.array([1.5, 2.5], dtype=np.longdouble)))
add("create-dtype-cast", creating([1.7, -2.2], dtype="i2"))
add("create-shape", creating(np.arange(6), shape=(3, 2)))
add("create-shape-mismatch", creating(np.arange(6), shape=(4,)), raises=True)
add("zero-size", setting(np.zeros((0,), "f4")))
add("zero-size-2d", setting(np.zeros((2, 0), "i2")))
add("subarray-dtype", creating(np.arange(6).reshape(3, 2), dtype=np.dtype(("i4", (2,)))))
add("subarray-dtype-mismatch", creating(np.arange(6).reshape(2, 3), dtype=np.dtype(("i4", (2,)))), raises=True)
add("ragged-list", setting([[1, 2], [3]]), raises=True)
add("none", setting(None), raises=True)
add("dict", setting({"a": 1}), raises=True)

# ------------------------------------------------------------------ compounds
add("compound-array", setting(np.array([(1.5, 2), (3.5, 4)], dtype=POINT)))
add("compound-scalar", setting(np.array((1.5, 2), dtype=POINT)[()]))
add("compound-0d", setting(np.array((1.5, 2), dtype=POINT)))
add("compound-offsets", setting(np.zeros(2, np.dtype({"names": ["a", "b"], "formats": ["i1", "f8"],
                                                       "offsets": [0, 8], "itemsize": 16}))))
add("compound-nested", setting(np.zeros(2, [("p", POINT), ("k", "u2")])))
add("compound-subarray-member", setting(np.ones(2, [("v", "f4", (3,)), ("k", "i8")])))
add("compound-fixed-bytes", setting(np.array([(b"ab", 1)], [("s", "S3"), ("k", "i4")])))
add("compound-vlen-str", setting(lambda m, f: np.array([("ab", 1), ("cd", 2)],
                                                       [("s", m.string_dtype()), ("k", "i4")])))
add("compound-create-dtype", creating([(1.0, 2)], dtype=POINT))
add("compound-unicode-member", setting(np.array([("a", 1)], [("s", "U2"), ("k", "i4")])), raises=True)

# ------------------------------------------------------------------ enums
add("enum-create-scalar", creating(1, dtype=enum))
add("enum-create-list", creating([0, 42, 1], dtype=enum))
add("enum-create-2d", creating([[0, 1], [42, 0]], dtype=enum))
add("enum-create-u8", creating([3], dtype=lambda m: m.enum_dtype({"X": 3, "Y": 2 ** 40}, basetype="u8")))
add("enum-set-array", setting(lambda m, f: np.array([1, 42], dtype=enum(m))))
add("enum-set-0d", setting(lambda m, f: np.array(42, dtype=enum(m))))
add("enum-create-array", creating(lambda m, f: np.array([0, 1], dtype=enum(m, "u2"))))
add("enum-value-not-a-member", creating(7, dtype=enum))
add("enum-names-as-values", creating(["RED"], dtype=enum), raises=True)
add("enum-compound-member", setting(lambda m, f: np.array([(1, 2.5)], [("c", enum(m)), ("v", "f4")])))
add("enum-empty", setting(lambda m, f: m.Empty(enum(m))))
add("enum-modify", lambda m, f: (f.attrs.create("a", [0, 1], dtype=enum(m)), f.attrs.modify("a", [42, 42])))
add("enum-modify-scalar", lambda m, f: (f.attrs.create("a", 1, dtype=enum(m)), f.attrs.modify("a", 0)))

# ------------------------------------------------------------------ opaque
add("opaque-datetime-create", creating(TIMES, dtype=opaque("M8[ns]")))
add("opaque-datetime-set", setting(lambda m, f: TIMES.astype(m.opaque_dtype(TIMES.dtype))))
add("opaque-datetime-scalar", creating(TIMES[0], dtype=opaque("M8[ns]")))
add("opaque-datetime-from-ints", creating([1, 2], dtype=opaque("M8[s]")))
add("opaque-timedelta", creating(SPANS, dtype=opaque("m8[s]")))
add("opaque-datetime-2d", creating(TIMES.reshape(2, 1), dtype=opaque("M8[ns]")))
add("opaque-void", setting(np.array([b"ab", b"cd"], dtype="V2")))
add("opaque-void-scalar", setting(np.void(b"xyz")))
add("opaque-void-marked", creating(np.array([b"ab", b"cd"], dtype="V2"), dtype=opaque("V2")))
add("opaque-datetime-compound", setting(lambda m, f: np.array(
    [(TIMES[0], 1), (TIMES[1], 2)], [("t", m.opaque_dtype(TIMES.dtype)), ("k", "i4")])))
add("opaque-datetime-compound-scalar", setting(lambda m, f: np.array(
    [(TIMES[0], 1)], [("t", m.opaque_dtype(TIMES.dtype)), ("k", "i4")])[0]))
add("datetime-unmarked", setting(TIMES), raises=True)
add("datetime-unmarked-scalar", setting(TIMES[0]), raises=True)
add("timedelta-unmarked", setting(SPANS), raises=True)
add("datetime-unmarked-compound", setting(np.array([(TIMES[0], 1)], [("t", TIMES.dtype), ("k", "i4")])),
    raises=True)
# nested compounds whose members (at any depth, in an array of compounds too) carry h5py's marks
add("nested-marked-members", setting(lambda m, f: marked_records(m, "i1")))
add("nested-marked-members-scalar", setting(lambda m, f: marked_records(m, "i1")[1]))
add("nested-marked-members-create", creating(lambda m, f: marked_records(m, "i1").tolist(),
                                             dtype=lambda m: marked_nested(m, "i1")))
add("nested-marked-members-empty", setting(lambda m, f: m.Empty(marked_nested(m, "i1"))))
add("nested-enum-three-levels", setting(lambda m, f: np.array(
    [(((42, 2.5),),)], [("a", [("b", [("c", enum(m, "u2")), ("x", "<f8")])])])))
add("nested-unmarked-datetime", setting(np.zeros(1, [("a", [("t", TIMES.dtype), ("k", "i4")])])), raises=True)
add("opaque-modify-list", lambda m, f: (f.attrs.create("a", TIMES, dtype=m.opaque_dtype(TIMES.dtype)),
                                        f.attrs.modify("a", [5, 6])))
add("opaque-modify-unmarked-array", lambda m, f: (f.attrs.create("a", TIMES, dtype=m.opaque_dtype(TIMES.dtype)),
                                                  f.attrs.modify("a", TIMES[::-1])), raises=True)
add("opaque-modify-marked-array", lambda m, f: (f.attrs.create("a", TIMES, dtype=m.opaque_dtype(TIMES.dtype)),
                                                f.attrs.modify("a", TIMES[::-1].astype(m.opaque_dtype(TIMES.dtype)))))

# ------------------------------------------------------------------ references and vlen sequences
add("reference", setting(lambda m, f: f["g"].ref))
add("reference-null", setting(lambda m, f: m.Reference()))
add("reference-array", creating(lambda m, f: [f["g"].ref, f["d"].ref], dtype=lambda m: m.ref_dtype))
add("reference-array-2d", creating(lambda m, f: np.array([[f["g"].ref], [f.ref]], dtype=m.ref_dtype)))
add("vlen-int", creating(lambda m, f: np.array([np.arange(3), np.arange(1)], dtype=object),
                         dtype=lambda m: m.vlen_dtype("i4")))
add("vlen-float", creating(lambda m, f: np.array([np.ones(2), np.zeros(0)], dtype=object),
                           dtype=lambda m: m.vlen_dtype("f8")))

# ------------------------------------------------------------------ Empty
for _dt in ["f4", "i8", "S4", "bool"]:
    add(f"empty-{_dt}", setting(lambda m, f, dt=_dt: m.Empty(dt)))
add("empty-vlen-str", setting(lambda m, f: m.Empty(m.string_dtype())))
add("empty-compound", setting(lambda m, f: m.Empty(POINT)))
add("empty-opaque-datetime", setting(lambda m, f: m.Empty(m.opaque_dtype(TIMES.dtype))))
add("empty-modify", lambda m, f: (f.attrs.__setitem__("a", m.Empty("f4")), f.attrs.modify("a", 1.0)), raises=True)


# ------------------------------------------------------------------ more shapes and spellings
add("empty-list", setting([]))
add("list-of-lists-str", setting([["a", "b"], ["c", "d"]]))
add("object-array-str", setting(np.array(["a", "bc"], dtype=object)))
add("object-array-bytes", setting(np.array([b"a", b"bc"], dtype=object)))
add("object-array-mixed-text", setting(np.array(["a", b"bc"], dtype=object)), raises=True)
add("str-0d-vlen", setting(lambda m, f: np.array("x", dtype=m.string_dtype())))
add("bytes-create-ascii", creating(b"x", dtype=lambda m: m.string_dtype("ascii")))
add("str-create-ascii-list", creating(["x", "yz"], dtype=lambda m: m.string_dtype("ascii")))
add("create-shape-int", creating([1, 2, 3], shape=3))
add("create-dtype-object-str", creating(["a", "b"], dtype="O"), raises=True)
add("create-committed-type", lambda m, f: (f.__setitem__("T", np.dtype("<i2")), f.attrs.create("a", [1, 2],
                                                                                             dtype=f["T"])))
add("float16-scalar", setting(np.float16(1.5)))
add("longdouble-scalar", setting(np.longdouble(2.5)))
add("complex-compat-compound", setting(np.array([(1.0, 2.0)], dtype=[("r", "<f8"), ("i", "<f8")])))
add("compound-complex-member", setting(np.array([(1 + 2j, 3)], [("z", "c16"), ("k", "i2")])))
add("compound-2d", setting(np.zeros((2, 2), POINT)))
add("compound-bool-member", setting(np.array([(True, 1)], [("b", "?"), ("k", "i2")])))
add("compound-vlen-seq-member", setting(lambda m, f: np.array([(np.arange(2), 1)], [("s", m.vlen_dtype("i4")),
                                                                                    ("k", "i2")])))
add("compound-reference-member", setting(lambda m, f: np.array([(f["g"].ref, 1)], [("r", m.ref_dtype),
                                                                                  ("k", "i2")])))
add("enum-bool-values", creating([True, False], dtype=enum))
add("enum-from-float", creating([1.0, 42.0], dtype=enum))
add("vlen-int-2d", creating(lambda m, f: np.array([[np.arange(2)], [np.arange(1)]], dtype=object),
                            dtype=lambda m: m.vlen_dtype("i8")))
add("dataset-object", setting(lambda m, f: f["d"]))
add("name-unicode", lambda m, f: f.attrs.__setitem__("ñame", 1))
add("name-bytes", lambda m, f: f.attrs.__setitem__(b"nb", 1))
add("modify-str-with-bytes", lambda m, f: (f.attrs.__setitem__("a", "x"), f.attrs.modify("a", b"yz")))
add("modify-int-with-float", lambda m, f: (f.attrs.create("a", [1, 2], dtype="i2"), f.attrs.modify("a", [1.7, 2.2])))
add("modify-fixed-bytes", lambda m, f: (f.attrs.create("a", b"ab", dtype="S4"), f.attrs.modify("a", b"abcdef")))
add("modify-shape-1-to-scalar", lambda m, f: (f.attrs.__setitem__("a", [1]), f.attrs.modify("a", 5)))
add("modify-compound", lambda m, f: (f.attrs.__setitem__("a", np.zeros(2, POINT)),
                                     f.attrs.modify("a", np.ones(2, POINT))))
add("modify-subarray", lambda m, f: (f.attrs.create("a", np.arange(4).reshape(2, 2), dtype=np.dtype(("i4", (2,)))),
                                     f.attrs.modify("a", np.ones((2, 2)))), raises=True)
add("modify-subarray-rows", lambda m, f: (f.attrs.create("a", np.arange(4).reshape(2, 2), dtype=np.dtype(("i4", (2,)))),
                                          f.attrs.modify("a", [7, 8])), raises=True)
add("modify-reference", lambda m, f: (f.attrs.__setitem__("a", f.ref), f.attrs.modify("a", f["g"].ref)))

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_attribute_catalogue(case, h5_path, file_url):
    run_case(case, h5_path, file_url)


@pytest.mark.parametrize("case_id", list(WRITES))
def test_attribute_catalogue_in_hdf5_file(case_id, h5_path):
    """The same attributes written by h5py into an HDF5 file, which dosna_like opens in place:
    it reads what h5py reads (values, types, marks, get_id)."""
    with h5py.File(h5_path, "w") as f:
        f.create_group("g")
        f.create_dataset("d", data=np.arange(3))
        WRITES[case_id](h5py, f)
    read = {}
    for mod in (h5py, dosna_like):
        with mod.File(h5_path, "r") as f:
            read[mod] = normalize([(name, describe(mod, f, name)) for name in f.attrs])
    assert_same_value(read[h5py], read[dosna_like], case_id)


class _OnDataset:
    """``f`` to a case's write, but whose ``attrs`` are dataset ``d``'s."""

    def __init__(self, f):
        self._f, self.attrs, self.ref = f, f["d"].attrs, f.ref

    def __getitem__(self, name):
        return self._f[name]

    def __setitem__(self, name, value):
        self._f[name] = value


def copied_case(case_id) -> Case:
    """The write of a catalogue case on dataset ``d``, which ``Group.copy`` then copies: the
    copy's attributes, read live and after reopening."""
    def op(m, path):
        with m.File(path, "w") as f:
            f.create_group("g")
            f.create_dataset("d", data=np.arange(3))
            WRITES[case_id](m, _OnDataset(f))
            f.copy("d", "copy")
            live = [(name, describe(m, f, name, f["copy"])) for name in f["copy"].attrs]
        with m.File(path, "r") as f:
            return live, [(name, describe(m, f, name, f["copy"])) for name in f["copy"].attrs]

    return Case(f"copied-{case_id}", op, file_level=True)


@pytest.mark.parametrize("case_id", list(WRITES))
def test_attribute_catalogue_copied(case_id, h5_path, file_url):
    run_case(copied_case(case_id), h5_path, file_url)


@pytest.mark.parametrize("case_id", list(WRITES))
def test_attribute_catalogue_imported_and_exported(case_id, tool_url, tmp_path):
    """The attributes h5py wrote, imported into a store (local or S3) and exported back to an
    HDF5 file: dosna_like reads the imported ones, and h5py the exported ones, as h5py reads
    the original file."""
    source, exported = str(tmp_path / "source.h5"), str(tmp_path / "exported.h5")
    with h5py.File(source, "w") as f:
        f.create_group("g")
        f.create_dataset("d", data=np.arange(3))
        WRITES[case_id](h5py, f)
    dosna_like.import_hdf5(source, tool_url)
    dosna_like.export_hdf5(tool_url, exported)
    read = []
    for mod, where in ((h5py, source), (dosna_like, tool_url), (h5py, exported)):
        with mod.File(where, "r") as f:
            read.append(normalize([(name, describe(mod, f, name)) for name in f.attrs]))
    assert_same_value(read[0], read[1], f"{case_id}: imported")
    assert_same_value(read[0], read[2], f"{case_id}: exported")


# ------------------------------------------------------------------ other tools
def test_zarr_reads_enum_attribute_values(tool_url):
    """Enum attributes are stored as their plain values: zarr-python reads the numbers,
    dosna_like reads them back with the member names (as h5py gives them)."""
    kind = dosna_like.enum_dtype({"OFF": 0, "ON": 1, "ERROR": 9}, basetype="i2")
    with dosna_like.File(tool_url, "w") as f:
        f.attrs.create("state", [1, 9, 0], dtype=kind)
        f.attrs.create("one", 9, dtype=kind)
        f.attrs["set"] = np.array([[0, 1]], dtype=kind)
    attrs = zarr.open_group(tool_url, mode="r").attrs
    assert (attrs["state"], attrs["one"], attrs["set"]) == ([1, 9, 0], 9, [[0, 1]])
    with dosna_like.File(tool_url, "r") as f:
        for name in ("state", "set"):
            assert dosna_like.check_enum_dtype(f.attrs[name].dtype) == {"ERROR": 9, "OFF": 0, "ON": 1}
        assert dosna_like.check_enum_dtype(f.attrs.get_id("one").dtype) == {"ERROR": 9, "OFF": 0, "ON": 1}
        np.testing.assert_array_equal(f.attrs["set"], np.array([[0, 1]], "i2"), strict=True)
