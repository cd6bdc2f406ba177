"""``create_dataset(scaleoffset=...)`` against real h5py: the argument checks and
their exception types, what the dataset reports, and the values a reopened file
gives (HDF5's chunk cache hides the loss until then, so h5py's side is always
read after reopening), bit for bit; what zarr-python reads of the store; the
setting across export_hdf5, import_hdf5 and an HDF5 file opened in place."""
from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
import zarr

import dosna_like
from dosna_like.codecs.scaleoffset import ScaleOffset


def _create(lib, path, kwargs):
    """What creating a dataset gives: its report, or the exception type."""
    with lib.File(path, "w") as f:
        try:
            ds = f.create_dataset("x", **kwargs)
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            return type(exc)
        return (ds.scaleoffset, ds.chunks is not None, ds.compression, ds.shuffle, ds.fletcher32,
                tuple(ds.filter_ids))


@pytest.mark.parametrize("kwargs", [
    dict(shape=(20, 30), dtype=float, scaleoffset=True),
    dict(shape=(20, 30), dtype=float, scaleoffset=-0.1),
    dict(shape=(20, 30), dtype="i4", scaleoffset=-1),
    dict(shape=(20, 30), dtype=bool, scaleoffset=True),
    dict(shape=(20, 30), dtype="S3", scaleoffset=2),
    dict(shape=(20, 30), dtype="c8", scaleoffset=2),
    dict(shape=(20, 30), dtype="f4", scaleoffset=2.5),
    dict(shape=(20, 30), dtype="f8", scaleoffset=0),
    dict(shape=(20, 30), dtype="i8", scaleoffset=True),
    dict(shape=(20, 30), dtype="u2", scaleoffset=9),
    dict(shape=(20, 30), dtype="i1", scaleoffset=12),
    dict(shape=(20, 30), dtype="i4", scaleoffset=2, fletcher32=True),
    dict(shape=(20, 30), dtype="i4", scaleoffset=3, chunks=False),
    dict(shape=(), dtype="i4", scaleoffset=3),
    dict(shape=(20, 30), dtype="f4", scaleoffset=3, compression="gzip", shuffle=True),
    dict(shape=(20, 30), dtype="f2", scaleoffset=3),
    dict(shape=(20, 30), dtype=h5py.enum_dtype({"a": 0, "b": 1}, basetype="i1"), scaleoffset=1),
    dict(shape=(20, 30), dtype=("i4", (2,)), scaleoffset=1),
    dict(shape=(20, 30), dtype=h5py.string_dtype(), scaleoffset=1),
], ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_arguments_as_h5py(tmp_path, kwargs):
    expected = _create(h5py, tmp_path / "h.h5", kwargs)
    assert _create(dosna_like, str(tmp_path / "d"), kwargs) == expected


def _data(kind: str, rng) -> tuple:
    """(data, create_dataset keywords) of one value case."""
    shape = (37, 50)  # edge chunks on both axes
    if kind.startswith("f"):
        dtype, digits = kind.split("-")
        data = ((rng.random(shape) - 0.5) * 2e4).astype(dtype)
        data[3, :7] = 0  # the fill value's code
        data[5, 2] = 1e-9
        return data, {"scaleoffset": int(digits)}
    dtype, bits = kind.split("-")
    info = np.iinfo(dtype)
    data = rng.integers(max(info.min, -5000), min(info.max, 9000), shape, endpoint=True).astype(dtype)
    data[1, :5] = 0
    return data, {"scaleoffset": True if bits == "auto" else int(bits)}


CASES = ["f8-4", "f8-0", "f4-2", "f4-1", "i8-12", "i8-auto", "i4-12", "i2-9", "i1-3", "u1-5", "u2-auto", "u8-10",
         "i4-32"]


@pytest.mark.parametrize("fill", [None, 7])
@pytest.mark.parametrize("kind", CASES)
def test_values_as_a_reopened_h5py_file(tmp_path, kind, fill):
    data, kwargs = _data(kind, np.random.default_rng(len(kind) * 31 + (fill or 0)))
    kwargs.update(chunks=(16, 16), fillvalue=fill)
    data[2, :3] = 7
    with h5py.File(tmp_path / "h.h5", "w") as f:
        f.create_dataset("x", data=data, **kwargs)
    with h5py.File(tmp_path / "h.h5", "r") as f:
        expected = f["x"][()]
    store = str(tmp_path / "d")
    with dosna_like.File(store, "w") as f:
        ds = f.create_dataset("x", data=data, **kwargs)
        np.testing.assert_array_equal(ds[()], expected)  # what is read is what is stored
    with dosna_like.File(store, "r") as f:
        got = f["x"][()]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    # zarr-python reads the same values: they are stored plain
    np.testing.assert_array_equal(zarr.open_array(store, path="x", mode="r")[...], expected)


def test_lossy_as_h5py_promises(tmp_path):
    """h5py's own test: floats within 10**-D and changed; too few bits lose data."""
    rng = np.random.default_rng(5)
    data = (rng.random((100, 300)) - 0.5) * 20 * 10 ** 4
    ints = rng.integers(0, 2 ** 13 - 1, (100, 300))
    with dosna_like.File(str(tmp_path / "d"), "w") as f:
        f.create_dataset("f", data=data, scaleoffset=4)
        f.create_dataset("i", data=ints, scaleoffset=12)
        f.create_dataset("auto", data=ints, scaleoffset=True)
    with dosna_like.File(str(tmp_path / "d"), "r") as f:
        assert np.abs(f["f"][()] - data).max() <= 10 ** -4 and not (f["f"][()] == data).all()
        assert not (f["i"][()] == ints).all()
        np.testing.assert_array_equal(f["auto"][()], ints)


def test_partial_writes_stay_within_precision(tmp_path):
    """A chunk written in parts is quantized again at each write (HDF5 quantizes what
    its cache holds when it evicts it): still within 10**-D, and read as stored."""
    data = np.linspace(-50, 50, 400).reshape(20, 20)
    with dosna_like.File(str(tmp_path / "d"), "w") as f:
        ds = f.create_dataset("x", shape=(20, 20), dtype="f8", chunks=(10, 10), scaleoffset=2)
        ds[:5] = data[:5]
        ds[5:] = data[5:]
        first = ds[()]
    with dosna_like.File(str(tmp_path / "d"), "r") as f:
        np.testing.assert_array_equal(f["x"][()], first)
        assert np.abs(first - data).max() <= 1e-2


@pytest.mark.parametrize("values", [[np.nan, 1.5, 2.25, 3.0], [1.5, np.inf, 2.25, 3.0], [-np.inf, 1.5, 2.2, 3.0]])
def test_non_finite_kept_where_hdf5_keeps_them(tmp_path, values):
    data = np.array(values)
    with h5py.File(tmp_path / "h.h5", "w") as f:
        f.create_dataset("x", data=data, scaleoffset=1, chunks=(4,))
    with h5py.File(tmp_path / "h.h5", "r") as f:
        expected = f["x"][()]
    with dosna_like.File(str(tmp_path / "d"), "w") as f:
        f.create_dataset("x", data=data, scaleoffset=1, chunks=(4,))
    with dosna_like.File(str(tmp_path / "d"), "r") as f:
        np.testing.assert_array_equal(f["x"][()], expected)


def test_nan_hdf5_would_replace_is_an_error(tmp_path):
    """HDF5 stores the chunk's minimum in place of a NaN that is not first: silently
    wrong, so refused here (ValueError) and nothing is stored."""
    data = np.array([1.5, np.nan, 2.25, 3.0])
    with h5py.File(tmp_path / "h.h5", "w") as f:
        f.create_dataset("x", data=data, scaleoffset=1, chunks=(4,))
    with h5py.File(tmp_path / "h.h5", "r") as f:
        assert f["x"][1] == 1.5  # the loss refused here
    with dosna_like.File(str(tmp_path / "d"), "w") as f:
        ds = f.create_dataset("x", shape=(4,), dtype="f8", scaleoffset=1, chunks=(4,))
        with pytest.raises(ValueError, match="scaleoffset"):
            ds[...] = data
        np.testing.assert_array_equal(ds[()], np.zeros(4))


def test_quantizer_leaves_lossless_cases_alone():
    ints = np.arange(-3, 300, dtype="i2")
    assert ScaleOffset(0, 0)(ints) is ints  # automatic bits
    assert ScaleOffset(16, 0)(ints) is ints  # the type's width
    wide = np.array([0.0, 1e12, 5.5])  # a range past 2**63 at 10**9: stored at full precision
    assert ScaleOffset(9, 0)(wide) is wide


def test_setting_crosses_to_and_from_hdf5(tmp_path):
    rng = np.random.default_rng(3)
    floats = (rng.random((50, 60)) - 0.5) * 2000
    ints = rng.integers(0, 2 ** 13, (50, 60))
    source = tmp_path / "s.h5"
    with h5py.File(source, "w") as f:
        f.create_dataset("f", data=floats, scaleoffset=3, chunks=(16, 16))
        f.create_dataset("i", data=ints, scaleoffset=12, chunks=(16, 16))
    with h5py.File(source, "r") as f:
        hf, hi = f["f"][()], f["i"][()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback to h5py for the filter's chunks
        with dosna_like.File(str(source), "r") as g:
            assert (g["f"].scaleoffset, g["i"].scaleoffset) == (3, 12)
            assert g["f"].filter_ids == (6,)
            np.testing.assert_array_equal(g["f"][()], hf)
    imported = str(tmp_path / "imported")
    dosna_like.import_hdf5(str(source), imported, progress=False)
    with dosna_like.File(imported, "r") as g:
        assert (g["f"].scaleoffset, g["i"].scaleoffset) == (3, 12)
        np.testing.assert_array_equal(g["f"][()], hf)
        np.testing.assert_array_equal(g["i"][()], hi)
    exported = tmp_path / "e.h5"
    dosna_like.export_hdf5(imported, str(exported), progress=False)
    with h5py.File(exported, "r") as f:
        assert (f["f"].scaleoffset, f["i"].scaleoffset) == (3, 12)
        np.testing.assert_array_equal(f["f"][()], hf)  # HDF5's filter on its own values: the same
        np.testing.assert_array_equal(f["i"][()], hi)


def test_copy_and_create_like_keep_the_setting(tmp_path):
    """h5py's ``copy`` and ``create_dataset_like`` keep the filter; so do ours, across libraries."""
    data = np.linspace(0, 10, 64).reshape(8, 8)
    with h5py.File(tmp_path / "h.h5", "w") as h, dosna_like.File(str(tmp_path / "d"), "w") as d:
        h.create_dataset("x", data=data, scaleoffset=2, chunks=(4, 4))
        d.create_dataset("x", data=data, scaleoffset=2, chunks=(4, 4))
        h.copy("x", h, "y")
        d.copy("x", d, "y")
        d.copy(h["x"], d, "from_h5py")
        like = (h.create_dataset_like("z", h["x"]).scaleoffset, d.create_dataset_like("z", d["x"]).scaleoffset)
        assert like == (2, 2)
        assert (d["y"].scaleoffset, d["from_h5py"].scaleoffset) == (h["y"].scaleoffset, 2)
    with h5py.File(tmp_path / "h.h5", "r") as h, dosna_like.File(str(tmp_path / "d"), "r") as d:
        np.testing.assert_array_equal(d["y"][()], h["y"][()])
        np.testing.assert_array_equal(d["from_h5py"][()], h["x"][()])


@pytest.mark.parametrize("shards", [None, (32, 32)])
def test_every_store_kind_and_sharding(file_url, tmp_path, shards):
    """The quantization is the chunk encoder's: the same values whichever store and
    whether inner chunks of shards; partial writes included."""
    data = ((np.random.default_rng(9).random((40, 40)) - 0.5) * 100).astype("f4")
    with h5py.File(tmp_path / "h.h5", "w") as f:
        f.create_dataset("x", data=data, scaleoffset=2, chunks=(16, 16))
    with h5py.File(tmp_path / "h.h5", "r") as f:
        expected = f["x"][()]
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=data.shape, dtype="f4", scaleoffset=2, chunks=(16, 16), shards=shards)
        ds[...] = data
        np.testing.assert_array_equal(ds[()], expected)
        ds[3:5, 3:5] = data[3:5, 3:5]  # a partial write: quantized again, within the precision
        assert np.abs(ds[()] - data).max() <= 0.01
    with dosna_like.File(file_url, "r") as f:
        assert f["x"].scaleoffset == 2
        assert np.abs(f["x"][()] - data).max() <= 0.01


def test_copy_on_write_of_a_referencing_store(tmp_path):
    """A chunk written into a store that references an HDF5 dataset with the filter is
    quantized as h5py's write into the file would be."""
    source = tmp_path / "s.h5"
    rng = np.random.default_rng(4)
    with h5py.File(source, "w") as f:
        f.create_dataset("x", data=(rng.random((40, 40)) - 0.5) * 2000, scaleoffset=3, chunks=(16, 16))
    block = (rng.random((16, 16)) - 0.5) * 2000
    written = tmp_path / "w.h5"
    written.write_bytes(source.read_bytes())
    with h5py.File(written, "a") as f:
        f["x"][:16, :16] = block
    with h5py.File(written, "r") as f:
        expected = f["x"][()]
    store = str(tmp_path / "ref")
    dosna_like.import_hdf5(str(source), store, reference=True, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with dosna_like.File(store, "r+") as g:
            g["x"][:16, :16] = block
        with dosna_like.File(store, "r") as g:
            assert g["x"].scaleoffset == 3
            np.testing.assert_array_equal(g["x"][()], expected)
