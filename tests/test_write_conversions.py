"""Writing an array into a dataset of another type: HDF5's conversion paths decide,
as in h5py (no path between numbers and text, numbers into complex, floats into
bool...), and the exception type is h5py's.  Each pair runs on real h5py too."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import dosna_like

_COMPOUND = np.dtype([("a", "i4"), ("b", "f8")])
SOURCES = {"i4": np.array([1, 2], "i4"), "f8": np.array([1.5, 2.5]), "S2": np.array([b"1", b"2"]),
           "U1": np.array(["1", "2"]), "bool": np.array([True, False]), "c16": np.array([1 + 1j, 2]),
           "compound": np.array([(1, 1.5), (2, 2.5)], _COMPOUND)}
TARGETS = {"i4": "i4", "f8": "f8", "S3": "S3", "bool": "bool", "c16": "c16", "compound": _COMPOUND}
# h5py raises ValueError from numpy there; we raise TypeError: a left difference, on record
_KNOWN = {("compound", "c16")}


def _write(lib, path, target, source):
    """What writing ``source`` into a new dataset of ``target`` gives: the values read back, or the error type."""
    with lib.File(path, "w") as f:
        ds = f.create_dataset("x", shape=(2,), dtype=TARGETS[target])
        try:
            ds[...] = SOURCES[source]
        except Exception as exc:  # noqa: BLE001 - the type is the result compared
            return type(exc)
        return ds[...]


def _same_outcome(ours, theirs) -> None:
    """The same error type (or a subclass), or equal values of the same dtype."""
    if isinstance(theirs, type):
        assert ours is theirs or (isinstance(ours, type) and issubclass(ours, theirs)), (ours, theirs)
    else:
        assert not isinstance(ours, type), ours
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("source", list(SOURCES))
def test_writes_across_types_convert_or_fail_as_in_h5py(tmp_path, source, target):
    theirs = _write(h5py, str(tmp_path / "h5py.h5"), target, source)
    ours = _write(dosna_like, str(tmp_path / "ours.h5"), target, source)
    if (source, target) in _KNOWN:  # the difference as it stands, so a change to either side shows
        assert (theirs, ours) == (ValueError, TypeError)
        return
    _same_outcome(ours, theirs)


def _create(lib, path, target, source):
    """``create_dataset(data=source, dtype=target)``: (values read back or error type, dataset left)."""
    with lib.File(path, "w") as f:
        try:
            ds = f.create_dataset("x", data=SOURCES[source], dtype=TARGETS[target])
        except Exception as exc:  # noqa: BLE001 - the type is the result compared
            return type(exc), "x" in f and f["x"].shape == (2,)
        return ds[...], True


@pytest.mark.parametrize("target", [t for t in TARGETS if t != "compound"])  # h5py: create into a compound differs
@pytest.mark.parametrize("source", list(SOURCES))
def test_create_dataset_with_data_it_cannot_convert_leaves_the_dataset_as_h5py(tmp_path, source, target):
    theirs, their_left = _create(h5py, str(tmp_path / "h5py.h5"), target, source)
    ours, our_left = _create(dosna_like, str(tmp_path / "ours.h5"), target, source)
    if (source, target) in _KNOWN:
        assert (theirs, ours) == (ValueError, TypeError)
        return
    assert our_left == their_left
    _same_outcome(ours, theirs)
