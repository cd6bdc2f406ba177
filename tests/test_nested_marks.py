"""Nested compounds whose members carry h5py's marks (enum, opaque), in datasets.

A member's marks (``check_enum_dtype``, ``check_opaque_dtype``) survive at any
depth: in a compound inside a compound, in an array-of-compounds member,
through a reopen, on every store kind, in an HDF5 file opened in place and
through ``import_hdf5`` / ``export_hdf5``.  h5py's outcome is the expectation
(``diffcase``); numpy's dtype comparison ignores the marks, so each case
returns them as plain data.  The attribute cases are in the catalogue
(``test_h5py_diff_attrs.py``, ``nested-*``).  A store written before these
marks were kept (its compound record has no ``members``) reads as before.
"""
from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

import dosna_like

from .diffcase import (TIMES, Case, assert_same_value, diff_store_kind, marked_nested, marked_records, normalize,
                       run_case)

store_kind = diff_store_kind  # overrides conftest's: the differential store kinds


def marks(m, dtype):
    """h5py's marks on ``dtype``, its members at any depth and its element type, as plain data."""
    out = [str(dtype), m.check_enum_dtype(dtype), m.check_opaque_dtype(dtype)]
    if dtype.names is not None:
        out.append([(n, marks(m, dtype.fields[n][0])) for n in dtype.names])
    if dtype.subdtype is not None:
        out.append(marks(m, dtype.subdtype[0]))
    return out


def seen(m, value):
    """A value read (records as plain data: numpy compares nested records poorly), with its marks."""
    return [np.asarray(value).tolist(), marks(m, np.asarray(value).dtype)]


def contents(name="a"):
    return lambda m, f: [seen(m, f[name][...]), marks(m, f[name].dtype)] if name in f else sorted(f)


CASES: list[Case] = []


def add(id, op, raises=False, post=None):
    CASES.append(Case(id, op, raises, post))


add("create-from-data", lambda m, f: marks(m, f.create_dataset("a", data=marked_records(m), chunks=(1,)).dtype),
    post=contents())
add("create-shape-dtype", lambda m, f: marks(m, f.create_dataset("a", shape=(3,), dtype=marked_nested(m)).dtype),
    post=contents())
add("read-all", lambda m, f: seen(m, f.create_dataset("a", data=marked_records(m))[...]))
add("read-one-record", lambda m, f: seen(m, f.create_dataset("a", data=marked_records(m))[1]))
add("read-nested-field", lambda m, f: seen(m, f.create_dataset("a", data=marked_records(m))["p"]))
add("read-array-field", lambda m, f: seen(m, f.create_dataset("a", data=marked_records(m))["arr"]))
add("write-record", lambda m, f: f.create_dataset("a", data=marked_records(m)).__setitem__(0, marked_records(m)[1]),
    post=contents())
add("nested-unmarked-datetime", lambda m, f: f.create_dataset("a", data=np.zeros(2, [("s", [("t", TIMES.dtype)])])),
    raises=True, post=contents())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_nested_marks(case, h5_path, file_url):
    run_case(case, h5_path, file_url)


def _write_source(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("d", data=marked_records(h5py), chunks=(1,))
        f["d"].attrs.create("a", marked_records(h5py))


def _read(m, where):
    with m.File(where, "r") as f:
        return normalize([seen(m, f["d"][...]), marks(m, f["d"].dtype), seen(m, f["d"].attrs["a"]),
                          marks(m, f["d"].attrs.get_id("a").dtype)])


def test_nested_marks_in_place(h5_path):
    """An HDF5 file opened in place: the dataset's and attribute's nested marks, as h5py reads them."""
    _write_source(h5_path)
    assert_same_value(_read(h5py, h5_path), _read(dosna_like, h5_path), "in place")


def test_nested_marks_imported_and_exported(tool_url, tmp_path):
    """Imported into a store (local or S3) and exported back: the marks are those of the original."""
    source, exported = str(tmp_path / "source.h5"), str(tmp_path / "exported.h5")
    _write_source(source)
    dosna_like.import_hdf5(source, tool_url)
    dosna_like.export_hdf5(tool_url, exported)
    expected = _read(h5py, source)
    assert_same_value(expected, _read(dosna_like, tool_url), "imported")
    assert_same_value(expected, _read(h5py, exported), "exported")


def _drop_members(node):
    """A document as written before nested marks were kept: no ``members`` in compound records."""
    if isinstance(node, dict):
        return {k: _drop_members(v) for k, v in node.items() if k != "members"}
    if isinstance(node, list):
        return [_drop_members(v) for v in node]
    return node


def test_documents_without_member_marks_read_as_before(tmp_path):
    """A dataset stored before members' marks were kept: its compound record has none, and it
    reads with the plain nested type (no marks) and the same values."""
    where = str(tmp_path / "old.h5")
    data = marked_records(dosna_like)
    with dosna_like.File(where, "w") as f:
        f.create_dataset("d", data=data)
    edited = 0
    for root, _, files in os.walk(where):
        if "zarr.json" in files:
            path = os.path.join(root, "zarr.json")
            with open(path) as fh:
                doc = json.load(fh)
            new = _drop_members(doc)
            edited += new != doc
            with open(path, "w") as fh:
                json.dump(new, fh)
    assert edited
    plain = np.dtype([("p", [("q", [("c", "<u2"), ("t", "<M8[ns]"), ("v", "<f4")]), ("w", "V3")]),
                      ("arr", [("c", "<u2"), ("t", "<M8[ns]"), ("v", "<f4")], (2,)), ("k", "<i2")])
    with dosna_like.File(where, "r") as f:
        read = f["d"][...]
        assert marks(dosna_like, f["d"].dtype) == marks(dosna_like, plain)
    assert marks(dosna_like, read.dtype) == marks(dosna_like, plain)
    assert read.tobytes() == data.astype(plain).tobytes()


def test_record_form_compound_datasets_in_place(h5_path):
    """Compounds Zarr's structured type cannot hold (nested, variable-length text members),
    chunked and not, read in place through h5py's decoding as h5py reads them."""
    with h5py.File(h5_path, "w") as f:
        f.create_dataset("d", data=np.ones(2, [("p", [("e", "i1"), ("x", "f4")]), ("k", "i2")]), chunks=(1,))
        f.create_dataset("v", data=np.array([("ab", 1), ("", 2)], [("s", h5py.string_dtype()), ("k", "i2")]),
                         chunks=(1,))
        f.create_dataset("s", data=np.array(("ab", 1), [("s", h5py.string_dtype()), ("k", "i2")]))
    read = {}
    for m in (h5py, dosna_like):
        with m.File(h5_path, "r") as f:
            read[m] = normalize([seen(m, f[name][()]) for name in ("d", "v", "s")])
    assert_same_value(read[h5py], read[dosna_like], "in place")
