"""bool and enum types meet as in h5py: HDF5 stores numpy bool as the enum
``{FALSE: 0, TRUE: 1}`` and converts one enum into another by member name.

h5py hands a bool array to HDF5 with that enum type (``ds[...] =``, ``create_dataset``),
and reads an enum dataset into bool through it (``astype(bool)``, ``np.asarray(ds, bool)``,
``read_direct``); what is not an array, lists and numpy scalars, and attribute data, it
converts with numpy first (integers).  HDF5 defines the by-name conversion when every
source name is a destination's; where it is not, h5py 3.16 gives values that follow the
order of the member names (recorded below), and ours refuses with OSError.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import dosna_like

try:
    from .test_dtypes import both
except ImportError:  # run as a plain script directory
    from test_dtypes import both

# enums holding FALSE and TRUE (in any order, any values): a bool array converts by name
NAMED = {"values-5-7": ({"FALSE": 5, "TRUE": 7}, "u1"), "swapped": ({"TRUE": 0, "FALSE": 1}, "i1"),
         "wide": ({"TRUE": 300, "FALSE": -2}, "i2"), "and-MAYBE": ({"FALSE": 0, "TRUE": 1, "MAYBE": 2}, "i1"),
         "and-Z": ({"Z": 3, "FALSE": 9, "TRUE": 4}, "i1")}
# enums lacking one or both names: h5py's values from [True, False, True] (by the order of the names)
UNNAMED = {"none": ({"RED": 0, "GREEN": 1}, "i1", [0, 1, 0]), "only-TRUE": ({"TRUE": 1, "X": 0}, "i1", [0, 1, 0]),
           "only-FALSE": ({"FALSE": 3, "Y": 0}, "i1", [0, 3, 0]),
           "lower-case": ({"false": 0, "true": 1}, "i1", [1, 0, 1])}
SOURCE = np.array([True, False, True])


def _enum(m, case: str) -> np.dtype:
    members, base = (NAMED[case] if case in NAMED else UNNAMED[case][:2])
    return m.enum_dtype(members, basetype=base)


def _by_name(case: str, values) -> list:
    members = NAMED[case][0]
    return [members["TRUE"] if v else members["FALSE"] for v in values]


def _outcome(action):
    try:
        out = action()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc)
    return np.asarray(out).tolist(), np.asarray(out).dtype.str


def _writes(m, f, case: str) -> dict:
    kind = _enum(m, case)
    ds = f.create_dataset("set", (3,), dtype=kind)
    lists = f.create_dataset("list", (3,), dtype=kind)
    lists[...] = [True, False, True]
    lists[1] = np.True_
    f.attrs.create("attr", SOURCE, dtype=kind)
    return {"set": _outcome(lambda: (ds.__setitem__(Ellipsis, SOURCE), ds[...])[1]),
            "after": ds[...].tolist(),
            "create": _outcome(lambda: f.create_dataset("made", data=SOURCE, dtype=kind)[...]),
            "left": "made" in f and f["made"].shape,
            "numpy-first": (lists[...].tolist(), lists.dtype.str),
            "attr": (f.attrs["attr"].tolist(), f.attrs["attr"].dtype.str)}


def _reads(m, f, case: str) -> dict:
    kind = _enum(m, case)
    ds = f.create_dataset("enum", data=np.array(list(kind.metadata["enum"].values()), kind))
    into = np.ones(len(ds), bool)
    return {"astype": _outcome(lambda: ds.astype(bool)[...]), "asarray": _outcome(lambda: np.asarray(ds, bool)),
            "read_direct": _outcome(lambda: (ds.read_direct(into), into)[1]),
            "plain": ds[...].tolist(), "astype-int": _outcome(lambda: ds.astype("i4")[...])}


@pytest.mark.parametrize("case", sorted(NAMED))
def test_a_bool_array_into_an_enum_with_false_and_true_converts_by_name(file_url, h5_path, case):
    want, got = both(file_url, h5_path, lambda m, f: _writes(m, f, case))
    assert got["set"][0] == got["create"][0] == _by_name(case, SOURCE)
    assert got["numpy-first"] == want["numpy-first"] and got["attr"] == want["attr"]  # integers: 1, 0
    assert got["left"] == want["left"]
    assert got == want  # h5py 3.16 writes these by name too (not so with a member named before FALSE: below)


def test_a_member_named_before_false_leaves_ours_by_name(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("x", (3,), dtype=m.enum_dtype({"A": 5, "TRUE": 0, "FALSE": 1}, basetype="i1"))
        ds[...] = SOURCE
        return ds[...].tolist()

    want, got = both(file_url, h5_path, op)
    assert got == [0, 1, 0]  # TRUE is 0, FALSE is 1
    assert want != got  # h5py's values follow the order of the names: if this fails, h5py converts by name now


@pytest.mark.parametrize("case", sorted(UNNAMED))
def test_a_bool_array_into_an_enum_without_false_and_true_is_refused(file_url, h5_path, case):
    want, got = both(file_url, h5_path, lambda m, f: _writes(m, f, case))
    assert want["set"][0] == want["create"][0] == UNNAMED[case][2]  # h5py: by the order of the names
    assert got["set"] is got["create"] is OSError
    assert got["after"] == [0, 0, 0]  # nothing written
    assert got["left"] == want["left"] == (3,)  # create_dataset leaves the dataset, as when HDF5's write fails
    for key in ("numpy-first", "attr"):  # not through HDF5's enum conversion: integers, as h5py
        assert got[key] == want[key]


@pytest.mark.parametrize("case", sorted(NAMED) + sorted(UNNAMED))
def test_an_enum_dataset_read_as_bool(file_url, h5_path, case):
    want, got = both(file_url, h5_path, lambda m, f: _reads(m, f, case))
    assert got["plain"] == want["plain"] and got["astype-int"] == want["astype-int"]
    members = (NAMED.get(case) or UNNAMED[case])[0]
    if set(members) <= {"FALSE", "TRUE"}:  # each member has its bool: by name, as h5py
        assert got == want
        assert got["astype"][0] == [name == "TRUE" for name in members]
    else:  # h5py reads MAYBE, Z, RED... as some bool; ours refuses
        assert not isinstance(want["astype"], type)
        assert got["astype"] is got["asarray"] is got["read_direct"] is OSError


def test_an_enum_value_that_is_no_member_is_refused_as_bool(tmp_path):
    kind = {"FALSE": 5, "TRUE": 7}
    with h5py.File(tmp_path / "h.h5", "w") as h, dosna_like.File(str(tmp_path / "d"), "w") as f:
        theirs = h.create_dataset("x", data=np.array([5, 9, 7], "i1"), dtype=h5py.enum_dtype(kind, basetype="i1"))
        ours = f.create_dataset("x", data=np.array([5, 9, 7], "i1"), dtype=dosna_like.enum_dtype(kind, basetype="i1"))
        assert theirs.astype(bool)[...].tolist() == [False, True, True]  # HDF5: all ones for 9
        assert ours[...].tolist() == theirs[...].tolist()
        with pytest.raises(OSError):
            ours.astype(bool)[...]
        assert ours.astype(bool)[::2].tolist() == theirs.astype(bool)[::2].tolist() == [False, True]


def test_an_enum_array_written_into_a_bool_dataset_is_integers(file_url, h5_path):
    # a numpy array keeps no HDF5 enum type when h5py writes it: its integers convert
    def op(m, f):
        out = {}
        for members in ({"FALSE": 5, "TRUE": 7}, {"TRUE": 0, "FALSE": 1}, {"RED": 0, "GREEN": 1}):
            kind = m.enum_dtype(members, basetype="i1")
            arr = np.array(list(members.values()), "i1").astype(kind)
            ds = f.create_dataset(f"b{len(out)}", (2,), dtype=bool)
            ds[...] = arr
            made = f.create_dataset(f"c{len(out)}", data=arr, dtype=bool)
            out[repr(members)] = (ds[...].tolist(), made[...].tolist())
        return out

    want, got = both(file_url, h5_path, op)
    assert got == want
    assert got[repr({"FALSE": 5, "TRUE": 7})][0] == [True, True]
