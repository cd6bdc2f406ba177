"""Differential cases for opaque-marked datetimes and marked compound members in datasets.

h5py stores a datetime64 or timedelta64 only when it is marked with
``h5py.opaque_dtype`` (an HDF5 opaque type), and HDF5 converts an opaque type
only to itself: writing an array of any other type into such a dataset, a
fill value of another type, or reading it into another type is refused (a
TypeError for a datetime without the mark, which has no HDF5 type at all;
else OSError, or ValueError for a fill value), while Python values and numpy
scalars go through numpy and are accepted.  Compound members keep their
marks (opaque datetimes, enums).  Each case runs on h5py and on dosna_like
(``diffcase``) on every store kind; h5py's outcome is the expectation, and
each op returns h5py's marks on the dtypes it reads, which numpy's dtype
comparison ignores.
"""
from __future__ import annotations

import numpy as np
import pytest

try:  # tests/ may or may not be a package
    from .diffcase import STORE_KINDS, Case, run_case
except ImportError:
    from diffcase import STORE_KINDS, Case, run_case


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    """Overrides conftest's: the differential store kinds (all three by default)."""
    return request.param


NS = np.dtype("M8[ns]")
TIMES = np.array([1, 2, 3, 4], dtype=NS)


def ot(m, dt=NS):
    return m.opaque_dtype(np.dtype(dt))


def marks(m, dtype):
    out = [str(dtype), m.check_opaque_dtype(dtype), m.check_enum_dtype(dtype)]
    if dtype.names is not None:
        out.append([(n, marks(m, dtype.fields[n][0])) for n in dtype.names])
    return out


def seen(m, value):
    """A value read, with the marks on its dtype."""
    return [value, marks(m, value.dtype)] if isinstance(value, np.ndarray) else value


def opaque_ds(m, f, name="a"):
    return f.create_dataset(name, data=TIMES.astype(ot(m)), chunks=(2,))


def contents(name="a"):
    """post-check: the dataset's values and marks (or the names in the file, if it is not there)."""
    return lambda m, f: seen(m, f[name][...]) if name in f else sorted(f)


CASES: list[Case] = []


def add(id, op, raises=False, post=None):
    CASES.append(Case(id, op, raises, post))


# ------------------------------------------------------------------ creating
add("create-marked-data", lambda m, f: (opaque_ds(m, f), marks(m, f["a"].dtype))[1], post=contents())
add("create-shape-dtype", lambda m, f: marks(m, f.create_dataset("a", shape=(3,), dtype=ot(m)).dtype),
    post=contents())
add("create-timedelta", lambda m, f: marks(m, f.create_dataset("a", data=np.arange(3).astype(ot(m, "m8[s]"))).dtype),
    post=contents())
add("create-list-data", lambda m, f: f.create_dataset("a", data=[1, 2], dtype=ot(m)) and None, post=contents())
add("create-unmarked-data", lambda m, f: f.create_dataset("a", data=TIMES), raises=True, post=contents())
add("create-unmarked-data-marked-dtype", lambda m, f: f.create_dataset("a", data=TIMES, dtype=ot(m)), raises=True,
    post=contents())
add("create-int-data-marked-dtype", lambda m, f: f.create_dataset("a", data=np.arange(4), dtype=ot(m)), raises=True,
    post=contents())
add("create-other-unit-data", lambda m, f: f.create_dataset("a", data=TIMES.astype("M8[s]").astype(ot(m, "M8[s]")),
                                                            dtype=ot(m)), raises=True, post=contents())
add("fill-marked", lambda m, f: f.create_dataset("a", shape=(3,), dtype=ot(m), fillvalue=np.array(5, ot(m))) and None,
    post=contents())
add("fill-datetime-scalar", lambda m, f: f.create_dataset("a", shape=(3,), dtype=ot(m),
                                                          fillvalue=np.datetime64(5, "ns")), raises=True)
add("fill-int", lambda m, f: f.create_dataset("a", shape=(3,), dtype=ot(m), fillvalue=0), raises=True)
add("fill-value-read", lambda m, f: f.create_dataset("a", shape=(3,), dtype=ot(m)).fillvalue)
add("create-like", lambda m, f: f.create_dataset_like("b", f.create_dataset("a", shape=(3,), dtype=ot(m))),
    raises=True)
add("require-same", lambda m, f: marks(m, f.require_dataset("a", shape=(4,), dtype=NS, exact=False).dtype)
    if opaque_ds(m, f) else None)
add("require-int", lambda m, f: (opaque_ds(m, f), f.require_dataset("a", shape=(4,), dtype="i8")), raises=True)

# ------------------------------------------------------------------ writing
add("write-marked-array", lambda m, f: opaque_ds(m, f).__setitem__(slice(0, 2), TIMES[2:].astype(ot(m))),
    post=contents())
add("write-unmarked-array", lambda m, f: opaque_ds(m, f).__setitem__(slice(0, 2), TIMES[2:]), raises=True,
    post=contents())
add("write-unmarked-0d", lambda m, f: opaque_ds(m, f).__setitem__(0, np.array(9, NS)), raises=True, post=contents())
add("write-int-array", lambda m, f: opaque_ds(m, f).__setitem__(Ellipsis, np.arange(4)), raises=True,
    post=contents())
add("write-float-array", lambda m, f: opaque_ds(m, f).__setitem__(slice(0, 2), np.array([1.5, 2.5])), raises=True,
    post=contents())
add("write-void-array", lambda m, f: opaque_ds(m, f).__setitem__(slice(0, 2), np.zeros(2, "V8")), raises=True,
    post=contents())
add("write-other-unit", lambda m, f: opaque_ds(m, f).__setitem__(
    slice(0, 2), np.array([1, 2], "M8[s]").astype(ot(m, "M8[s]"))), raises=True, post=contents())
add("write-python-ints", lambda m, f: opaque_ds(m, f).__setitem__(Ellipsis, [5, 6, 7, 8]), post=contents())
add("write-int", lambda m, f: opaque_ds(m, f).__setitem__(0, 7), post=contents())
add("write-datetime-scalar", lambda m, f: opaque_ds(m, f).__setitem__(1, np.datetime64(9, "ns")), post=contents())
add("write-marked-0d", lambda m, f: opaque_ds(m, f).__setitem__(1, np.array(9, ot(m))), post=contents())
add("write-datetime-list", lambda m, f: opaque_ds(m, f).__setitem__(
    slice(2, 4), [np.datetime64(7, "ns"), np.datetime64(8, "ns")]), post=contents())
add("write-direct-marked", lambda m, f: opaque_ds(m, f).write_direct(TIMES[::-1].astype(ot(m))), post=contents())
add("write-direct-unmarked", lambda m, f: opaque_ds(m, f).write_direct(TIMES[::-1].copy()), raises=True,
    post=contents())
add("write-direct-int", lambda m, f: opaque_ds(m, f).write_direct(np.arange(4)), raises=True, post=contents())
add("group-setitem-unmarked", lambda m, f: f.__setitem__("a", TIMES), raises=True, post=contents())
add("group-setitem-marked", lambda m, f: f.__setitem__("a", TIMES.astype(ot(m))), post=contents())

# ------------------------------------------------------------------ reading
add("read-all", lambda m, f: seen(m, opaque_ds(m, f)[...]))
add("read-one", lambda m, f: opaque_ds(m, f)[2])
add("read-mask", lambda m, f: seen(m, opaque_ds(m, f)[np.array([True, False, True, False])]))
add("read-iter", lambda m, f: list(opaque_ds(m, f)))
add("read-direct-marked", lambda m, f: (lambda out: (opaque_ds(m, f).read_direct(out), seen(m, out))[1])(
    np.zeros(4, ot(m))))
add("read-direct-unmarked", lambda m, f: opaque_ds(m, f).read_direct(np.zeros(4, NS)), raises=True)
add("read-direct-int", lambda m, f: opaque_ds(m, f).read_direct(np.zeros(4, "i8")), raises=True)
add("astype-same-unmarked", lambda m, f: seen(m, opaque_ds(m, f).astype(NS)[...]))
add("astype-same-marked", lambda m, f: seen(m, opaque_ds(m, f).astype(ot(m))[...]))
add("astype-int", lambda m, f: opaque_ds(m, f).astype("i8")[...], raises=True)
add("resize", lambda m, f: (lambda d: (d.resize((4,)), seen(m, d[...]))[1])(
    f.create_dataset("a", data=TIMES[:2].astype(ot(m)), maxshape=(None,))))

# ------------------------------------------------------------------ marked compound members
TE = [("t", NS), ("k", "<i4")]


def compound(m):
    return np.dtype([("t", ot(m)), ("k", "<i4")])


def enum_compound(m):
    return np.dtype([("c", m.enum_dtype({"OFF": 0, "ON": 1}, basetype="i1")), ("v", "<f4")])


def cds(m, f, name="c"):
    return f.create_dataset(name, data=np.array([(TIMES[0], 1), (TIMES[1], 2)], compound(m)), chunks=(1,))


add("compound-opaque-create", lambda m, f: (cds(m, f), marks(m, f["c"].dtype))[1], post=contents("c"))
add("compound-opaque-shape-dtype", lambda m, f: marks(m, f.create_dataset("c", shape=(2,), dtype=compound(m)).dtype),
    post=contents("c"))
add("compound-opaque-field-read", lambda m, f: seen(m, cds(m, f)["t"]))
add("compound-opaque-record-write", lambda m, f: cds(m, f).__setitem__(0, (np.datetime64(5, "ns"), 7)),
    post=contents("c"))
add("compound-opaque-array-write", lambda m, f: cds(m, f).__setitem__(
    slice(0, 2), np.array([(TIMES[3], 3), (TIMES[2], 4)], compound(m))), post=contents("c"))
add("compound-unmarked-create", lambda m, f: f.create_dataset("c", data=np.array([(TIMES[0], 1)], TE)), raises=True,
    post=contents("c"))
add("compound-enum-create", lambda m, f: marks(m, f.create_dataset(
    "c", data=np.array([(1, 2.5), (0, 1.0)], enum_compound(m))).dtype), post=contents("c"))
add("compound-enum-field-read", lambda m, f: seen(m, f.create_dataset(
    "c", data=np.array([(1, 2.5)], enum_compound(m)))["c"]))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_opaque_datasets(case, h5_path, file_url):
    run_case(case, h5_path, file_url)


def test_opaque_compound_survives_reopen(file_url, tmp_path):
    """Reopened, a compound with an opaque datetime member and an enum member has both marks,
    as h5py reads them from its own file."""
    import h5py

    import dosna_like
    rows = [(np.datetime64(5, "ns"), 1, 1), (np.datetime64(-3, "ns"), 0, 2)]
    values = {}
    for mod, where in ((h5py, str(tmp_path / "ref.h5")), (dosna_like, file_url)):
        dtype = np.dtype([("t", mod.opaque_dtype(NS)), ("e", mod.enum_dtype({"B": 1, "A": 0}, basetype="u1")),
                          ("k", "<i2")])
        with mod.File(where, "w") as f:
            f.create_dataset("c", data=np.array(rows, dtype))
        with mod.File(where, "r") as f:
            data = f["c"][...]
            values[mod.__name__] = (data, [marks(mod, f["c"].dtype), marks(mod, data.dtype)])
    (theirs, their_marks), (ours, our_marks) = values["h5py"], values["dosna_like"]
    np.testing.assert_array_equal(ours, theirs, strict=True)
    assert our_marks == their_marks
    assert our_marks[0][3][0][1][1] is True and our_marks[0][3][1][1][2] == {"A": 0, "B": 1}
