"""Object references in HDF5 files read in place and imported (issue 13): datasets of
references, scalar ones, and compound datasets with reference members (as NWB files hold).

Each reference read through dosna_like must name the object h5py's names (null ones
stay null), whole and in selections, on a local path, S3 and a ``BytesIO``.
"""
from __future__ import annotations

import io
import uuid

import fsspec
import h5py
import numpy as np
import pytest

import dosna_like

S3_BUCKET = "dosna-tests"


@pytest.fixture(scope="module")
def refs_file(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("refs") / "refs.h5")
    with h5py.File(path, "w") as f:
        targets = [f.create_dataset(f"data/t{i}", data=np.arange(i + 1)) for i in range(5)]
        grp = f.create_group("data/sub")
        pool = [t.ref for t in targets] + [grp.ref, f.ref, h5py.Reference()]
        flat = f.create_dataset("flat", shape=(23,), dtype=h5py.ref_dtype, chunks=(5,))
        flat[...] = [pool[i % len(pool)] for i in range(23)]
        grid = f.create_dataset("grid", shape=(4, 6), dtype=h5py.ref_dtype)  # contiguous
        grid[...] = np.array([pool[(3 * i) % len(pool)] for i in range(24)], dtype=object).reshape(4, 6)
        f.create_dataset("one", data=targets[2].ref, dtype=h5py.ref_dtype)
        kind = np.dtype([("id", "<i4"), ("target", h5py.ref_dtype), ("weight", "<f8")])
        rows = f.create_dataset("rows", shape=(9,), dtype=kind, chunks=(4,))
        for i in range(9):
            rows[i] = (i, pool[i % len(pool)], i / 4)
    return path


def _same(ours_file, ours, theirs_file, theirs) -> None:
    """Each reference names what h5py's names; null stays null (arrays, records, scalars)."""
    ours, theirs = np.asarray(ours, dtype=object), np.asarray(theirs, dtype=object)
    assert ours.shape == theirs.shape
    for mine, their in zip(ours.reshape(-1), theirs.reshape(-1)):
        assert bool(mine) == bool(their)
        if their:
            assert ours_file[mine].name == theirs_file[their].name


def _check(f, path: str) -> None:
    with h5py.File(path, "r") as h:
        for name, picks in (("flat", [np.s_[...], np.s_[3:17], np.s_[::4]]),
                            ("grid", [np.s_[...], np.s_[1:3, 2:]]),
                            ("one", [()])):
            for pick in picks:
                _same(f, f[name][pick], h, h[name][pick])
        assert f["rows"].dtype.names == h["rows"].dtype.names
        got, want = f["rows"][...], h["rows"][...]
        for member in ("id", "weight"):
            np.testing.assert_array_equal(got[member], want[member])
        _same(f, got["target"], h, want["target"])
        _same(f, f["rows"][2:7]["target"], h, h["rows"][2:7]["target"])


def in_place_source(path: str, where: str, request):
    """The HDF5 file at ``path`` as ``File(...)`` opens it in place: the path itself
    ("local"), a BytesIO of its bytes, or a copy on the test S3 endpoint ("s3")."""
    if where == "bytesio":
        return io.BytesIO(open(path, "rb").read())
    if where == "s3":
        request.getfixturevalue("s3_server")
        source = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
        fsspec.filesystem("s3").put_file(path, source)
        return source
    return path


@pytest.mark.parametrize("where", ["local", "bytesio", "s3"])
def test_references_read_in_place_name_what_h5py_names(refs_file, where, request):
    source = in_place_source(refs_file, where, request)
    with dosna_like.File(source, "r") as f:
        _check(f, refs_file)


def test_references_imported_name_what_h5py_names(refs_file, tmp_path):
    store = str(tmp_path / "imported.h5")
    dosna_like.import_hdf5(refs_file, store)
    with dosna_like.File(store, "r") as f:
        _check(f, refs_file)
    back = str(tmp_path / "back.h5")
    dosna_like.export_hdf5(store, back)
    with h5py.File(back, "r") as b, h5py.File(refs_file, "r") as h:  # and out again, as h5py references
        for name in ("flat", "grid"):
            for mine, their in zip(b[name][...].reshape(-1), h[name][...].reshape(-1)):
                assert bool(mine) == bool(their) and (not their or b[mine].name == h[their].name)
        for mine, their in zip(b["rows"]["target"], h["rows"]["target"]):
            assert bool(mine) == bool(their) and (not their or b[mine].name == h[their].name)
