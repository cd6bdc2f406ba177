"""Zero-copy import (issue 13, item 4): stores whose chunks are byte ranges of an HDF5 file.

Every value, dtype, shape and attr of the catalogue is compared with h5py
reading the same file; writes are compared with h5py writing a copy of the
file (copy on write: the imported file stays byte for byte unchanged);
materialized stores are read by zarr-python; zarr-python refuses a
referencing array instead of reading fill values; the file is confined to
the store's directory unless trusted; a changed file is refused.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
import warnings

import fsspec
import h5py
import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dosna_like
from dosna_like.storage.hdf5_referencing import TABLE_NAME, ReferencingStore, StaleReferenceError
from dosna_like.storage.hdf5_refs import Hdf5FallbackWarning

from .conftest import S3_BUCKET
from .test_hdf5_in_place import compare, write_catalogue


def _md5(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.fixture
def imported(tmp_path):
    """(HDF5 path, store path) of the catalogue imported by reference beside it."""
    src = str(tmp_path / "catalogue.h5")
    write_catalogue(src)
    dest = str(tmp_path / "catalogue.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = dosna_like.import_hdf5(src, dest, reference=True)
    assert report.referenced_chunks > 0
    return src, dest


def _same(ours, path) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Hdf5FallbackWarning)
        with h5py.File(path, "r") as theirs:
            return compare(ours, theirs, layout=False)


def test_reference_store_reads_equal_h5py(imported):
    src, dest = imported
    with dosna_like.File(dest, "r") as f:
        assert _same(f, src) == []
        assert isinstance(f["gzip4"]._io.store, ReferencingStore)
        assert not os.path.exists(os.path.join(dest, "gzip4", "c"))  # nothing was copied
    other = src + ".other.h5"  # the comparator sees a planted difference
    write_catalogue(other)
    with h5py.File(other, "r+") as h:
        h["gzip4"][3, 3] = 99.0
    with dosna_like.File(dest, "r") as f:
        assert any("gzip4" in d for d in _same(f, other))


def test_hard_links_are_one_object_as_in_h5py(imported):
    src, dest = imported
    for opened in (src, dest):
        with dosna_like.File(opened, "r") as f, h5py.File(src, "r") as h:
            assert (f["hard"] == f["chunked"]) == (h["hard"] == h["chunked"]) == True  # noqa: E712
            assert f["hard"].name == "/chunked" or f["hard"].name == "/hard"
            assert type(f.get("hard", getlink=True)).__name__ == "HardLink"


def test_zarr_python_refuses_referenced_arrays_then_reads_materialized(imported):
    src, dest = imported
    for opening in (lambda: zarr.open_array(os.path.join(dest, "gzip4"), mode="r")[:],
                    lambda: zarr.open_group(dest, mode="r", use_consolidated=False)["gzip4"][:],
                    lambda: zarr.open_group(dest, mode="r")["gzip4"][:]):
        with pytest.raises(ValueError, match="dosna_like_hdf5_references"):
            opening()
    report = dosna_like.materialize_references(dest)
    assert report.referenced_chunks > 0
    assert not any(name == TABLE_NAME for _, _, names in os.walk(dest) for name in names)
    os.rename(src, src + ".gone")  # the store no longer needs the file
    with h5py.File(src + ".gone", "r") as h, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.open_group(dest, mode="r")
        for name in ("gzip4", "shuffle_gzip", "contiguous", "chunked", "fletcher", "fill", "group/nested/values"):
            assert np.array_equal(z[name][...], h[name][()]), name
        with dosna_like.File(dest, "r") as f:
            assert compare(f, h, layout=False) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_writes_copy_on_write_as_h5py(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("cow")
    src = str(folder / "f.h5")
    rng = np.random.default_rng(1)
    with h5py.File(src, "w") as f:
        f.create_dataset("z", data=rng.integers(0, 1000, (40, 30)), chunks=(8, 7), compression="gzip",
                         shuffle=True, fillvalue=0)
        f.create_dataset("c", data=rng.standard_normal((33, 5)))  # contiguous: virtual chunks
    before = _md5(src)
    mirror = str(folder / "mirror.h5")
    shutil.copy(src, mirror)
    dest = str(folder / "f.zarr")
    dosna_like.import_hdf5(src, dest, reference=True)
    with dosna_like.File(dest, "r+") as f, h5py.File(mirror, "r+") as h:
        for _ in range(data.draw(st.integers(1, 4))):
            name = data.draw(st.sampled_from(["z", "c"]))
            shape = h[name].shape
            a0 = data.draw(st.integers(0, shape[0] - 1))
            a1 = data.draw(st.integers(a0 + 1, shape[0]))
            b0 = data.draw(st.integers(0, shape[1] - 1))
            b1 = data.draw(st.integers(b0 + 1, shape[1]))
            value = data.draw(st.sampled_from([0, 5, -1]))  # 0 is z's fill value: those chunks are deleted
            f[name][a0:a1, b0:b1] = value
            h[name][a0:a1, b0:b1] = value
        for name in ("z", "c"):
            assert np.array_equal(f[name][()], h[name][()])
    with dosna_like.File(dest, "r") as f, h5py.File(mirror, "r") as h:
        for name in ("z", "c"):
            assert np.array_equal(f[name][()], h[name][()])
    assert _md5(src) == before


def test_reference_outside_the_store_directory_needs_trust(tmp_path):
    src = str(tmp_path / "data" / "f.h5")
    os.makedirs(os.path.dirname(src))
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(100.0), chunks=(10,), compression="gzip")
    dest = str(tmp_path / "stores" / "f.zarr")
    dosna_like.import_hdf5(src, dest, reference=True)
    with dosna_like.File(dest, "r") as f:
        with pytest.raises(PermissionError, match="trust_links"):
            f["x"][()]
    with dosna_like.File(dest, "r", trust_links=True) as f:
        assert np.array_equal(f["x"][()], np.arange(100.0))


def _referenced_arange(tmp_path) -> tuple:
    """(HDF5 file with x = arange(100.0) in chunks of 10, a store referencing it)."""
    src = str(tmp_path / "f.h5")
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(100.0), chunks=(10,))
    dest = str(tmp_path / "f.zarr")
    dosna_like.import_hdf5(src, dest, reference=True)
    return src, dest


def test_a_store_cannot_point_its_references_elsewhere(tmp_path):
    src, dest = _referenced_arange(tmp_path)
    doc_path = os.path.join(dest, "x", "zarr.json")
    text = open(doc_path).read().replace('"file": "f.h5"', '"file": "../../etc/passwd"')
    open(doc_path, "w").write(text)
    with dosna_like.File(dest, "r") as f:
        with pytest.raises(PermissionError):
            f["x"][()]


def test_changed_file_is_refused(tmp_path):
    src, dest = _referenced_arange(tmp_path)
    with h5py.File(src, "r+") as f:
        f["x"][0] = 5.0
    with dosna_like.File(dest, "r") as f:
        with pytest.raises(StaleReferenceError, match="changed since it was imported"):
            f["x"][()]
    assert issubclass(StaleReferenceError, OSError)


def test_s3_reference_import_reads_with_merged_requests(tmp_path, s3_server):
    src = str(tmp_path / "f.h5")
    data = np.random.default_rng(2).standard_normal((256, 64))
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=data, chunks=(16, 64), compression="gzip")
        f.create_dataset("y", data=data)
    fs = fsspec.filesystem("s3")
    base = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}"
    fs.put_file(src, base + "/f.h5")
    dosna_like.import_hdf5(base + "/f.h5", base + "/f.zarr", reference=True)
    with dosna_like.File(base + "/f.zarr", "r") as f:
        f.store.requests.reset()
        assert np.array_equal(f["x"][()], data)
        gets = f.store.requests.snapshot()["get"]
        assert gets < 16  # 16 chunks laid out back to back: fewer range requests than chunks
        assert np.array_equal(f["y"][()], data)
        f2 = dosna_like.File(base + "/f.zarr", "r+")
        f2["x"][0] = 1.0
        f2.close()
    with dosna_like.File(base + "/f.zarr", "r") as f:
        expected = data.copy()
        expected[0] = 1.0
        assert np.array_equal(f["x"][()], expected)


def test_cli_reference_and_materialize(tmp_path):
    src = str(tmp_path / "f.h5")
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(1000).reshape(100, 10), chunks=(10, 10), compression="gzip")
    dest = str(tmp_path / "f.zarr")
    cli = [sys.executable, "-m", "dosna_like.cli"]
    out = subprocess.run(cli + ["import", "--reference", src, dest], capture_output=True, text=True, check=True)
    assert "10 chunks referenced" in out.stdout
    out = subprocess.run(cli + ["import", "--materialize", dest], capture_output=True, text=True, check=True)
    assert "materialized 10" in out.stdout
    assert np.array_equal(zarr.open_array(os.path.join(dest, "x"), mode="r")[...], np.arange(1000).reshape(100, 10))
