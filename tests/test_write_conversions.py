"""Writing an array into a dataset of another type: HDF5's conversion paths decide,
as in h5py (no path between numbers and text, numbers into complex, floats into
bool...), and the exception type is h5py's.  Each pair runs on real h5py too."""
from __future__ import annotations

import uuid

import h5py
import numpy as np
import pytest

import dosna_like

from .conftest import S3_BUCKET

_COMPOUND = np.dtype([("a", "i4"), ("b", "f8")])
SOURCES = {"i4": np.array([1, 2], "i4"), "f8": np.array([1.5, 2.5]), "S2": np.array([b"1", b"2"]),
           "U1": np.array(["1", "2"]), "bool": np.array([True, False]), "c16": np.array([1 + 1j, 2]),
           "compound": np.array([(1, 1.5), (2, 2.5)], _COMPOUND),
           # no member in common with the compound or complex targets: h5py's ValueError (an empty type)
           "other-compound": np.array([(1, 1.5), (2, 2.5)], [("x", "i4"), ("y", "f8")]),
           # one member in common with the compound target, none with complex
           "part-compound": np.array([(1, 1.5), (2, 2.5)], [("b", "f8"), ("y", "f8")]),
           # the real part only, for complex targets (h5py's members r, i)
           "part-complex": np.array([(9.0, 1), (8.0, 2)], [("r", "f8"), ("q", "i4")]),
           # h5py writes an object array as variable-length text, whatever it holds
           "object-int": np.array([1, 2], object), "object-text": np.array(["1", b"2"], object),
           "object-str": np.array(["1", "é"], object), "object-bytes": np.array([b"1", b"2"], object),
           # fixed-length text marked UTF-8 (plain S is ASCII): no path between the two in HDF5
           "S2-utf8": np.array([b"1", b"2"], h5py.string_dtype("utf-8", 2))}
TARGETS = {"i4": "i4", "f8": "f8", "S3": "S3", "bool": "bool", "c16": "c16", "compound": _COMPOUND,
           "enum": h5py.enum_dtype({"RED": 0, "GREEN": 1}, basetype="i1"), "vlen-str": h5py.string_dtype(),
           "f2": "f2",  # h5py's create_dataset converts data for float16 with numpy first
           "S3-utf8": h5py.string_dtype("utf-8", 3)}
# bool is HDF5's enum {FALSE: 0, TRUE: 1}, converted into another enum by member name; the
# enum target has neither name, so h5py writes values that follow the order of its member
# names ([0, 1] from [True, False]), where ours refuses with OSError (tests/test_bool_enum.py)
_NO_NAMES = {("bool", "enum"): [0, 1]}


@pytest.fixture(params=["memory", "local"])
def url(request, tmp_path) -> str:
    name = f"w-{uuid.uuid4().hex[:12]}.h5"
    return f"memory://tests/{name}" if request.param == "memory" else str(tmp_path / name)


def _write(lib, path, target, source):
    """What writing ``source`` into a new dataset of ``target`` gives: the values read back, or the error type."""
    with lib.File(path, "w") as f:
        ds = f.create_dataset("x", shape=(2,), dtype=TARGETS[target])
        try:
            ds[...] = SOURCES[source]
        except Exception as exc:  # noqa: BLE001 - the type is the result compared
            return type(exc)
        return ds[...]


def _same_outcome(ours, theirs, pair=None) -> None:
    """The same error type (or a subclass), or equal values of the same dtype."""
    if pair in _NO_NAMES:
        assert theirs.tolist() == _NO_NAMES[pair] and ours is OSError
        return
    if isinstance(theirs, type):
        assert ours is theirs or (isinstance(ours, type) and issubclass(ours, theirs)), (ours, theirs)
    else:
        assert not isinstance(ours, type), ours
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("source", list(SOURCES))
def test_writes_across_types_convert_or_fail_as_in_h5py(tmp_path, url, source, target):
    theirs = _write(h5py, str(tmp_path / "h5py.h5"), target, source)
    _same_outcome(_write(dosna_like, url, target, source), theirs, (source, target))


def _create(lib, path, target, source):
    """``create_dataset(data=source, dtype=target)``: (values read back or error type, dataset left)."""
    with lib.File(path, "w") as f:
        try:
            ds = f.create_dataset("x", data=SOURCES[source], dtype=TARGETS[target])
        except Exception as exc:  # noqa: BLE001 - the type is the result compared
            return type(exc), "x" in f and f["x"].shape == (2,)
        return ds[...], True


def _compare_creates(tmp_path, url, source, target) -> None:
    theirs, their_left = _create(h5py, str(tmp_path / "h5py.h5"), target, source)
    ours, our_left = _create(dosna_like, url, target, source)
    assert our_left == their_left
    _same_outcome(ours, theirs, (source, target))


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("source", list(SOURCES))
def test_create_dataset_with_data_it_cannot_convert_leaves_the_dataset_as_h5py(tmp_path, url, source, target):
    """Also: floats into a compound are written by ``ds[...] =`` (numpy fills every member)
    but refused by ``create_dataset``, which hands them to HDF5 as they are (OSError)."""
    _compare_creates(tmp_path, url, source, target)


_S3_CASES = [("f8", "compound"), ("compound", "c16"), ("other-compound", "compound"), ("U1", "S3"), ("f8", "bool"),
             ("S2", "i4"), ("i4", "f8")]


@pytest.mark.parametrize("source, target", _S3_CASES)
def test_writes_and_creates_across_types_on_s3(s3_server, tmp_path, source, target):
    theirs = _write(h5py, str(tmp_path / "h5py.h5"), target, source)
    _same_outcome(_write(dosna_like, f"s3://{S3_BUCKET}/w-{uuid.uuid4().hex[:12]}.h5", target, source), theirs)
    _compare_creates(tmp_path, f"s3://{S3_BUCKET}/c-{uuid.uuid4().hex[:12]}.h5", source, target)


def _overwrite(lib, url, target, source, key):
    """``source`` written at ``key`` over a dataset of ``target`` holding other values."""
    start = {"compound": np.array([(5, 5.5), (6, 6.5)], _COMPOUND), "c16": np.array([1 + 2j, 3 + 4j])}[target]
    with lib.File(url, "w") as f:
        ds = f.create_dataset("x", data=start)
        try:
            ds[key] = SOURCES[source] if key is Ellipsis else SOURCES[source][1:]
        except Exception as exc:  # noqa: BLE001 - the type is the result compared
            return type(exc)
        return ds[...]


@pytest.mark.parametrize("key", [Ellipsis, slice(0, 1)], ids=["all", "first"])
@pytest.mark.parametrize("source, target", [("part-compound", "compound"), ("compound", "compound"),
                                            ("other-compound", "compound"), ("part-complex", "c16")])
def test_a_compound_array_writes_the_members_it_names_and_keeps_the_others(tmp_path, url, source, target, key):
    """HDF5 writes the members matched by name (numpy's casts go by position)."""
    theirs = _overwrite(h5py, str(tmp_path / "h5py.h5"), target, source, key)
    _same_outcome(_overwrite(dosna_like, url, target, source, key), theirs)
