"""Contiguous datasets: ``chunks`` None where h5py makes a dataset contiguous.

h5py chunks a dataset only when asked (``chunks=True`` or a shape), or when a
``maxshape`` (even one equal to the shape) or a filter needs it; otherwise the
dataset is contiguous: ``chunks`` is None, ``iter_chunks()`` and ``resize()``
raise TypeError, ``create_dataset_like`` makes another contiguous one.  Each
creation runs on the real h5py and on dosna_like (every store kind) and the
answers are compared; so are HDF5 files opened in place and import/export
round trips.  The comparator is checked on a planted difference first.
"""
from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

import dosna_like

CASES = {
    "shape": dict(shape=(100,), dtype="f4"),
    "shape_2d": dict(shape=(10, 20), dtype="i4"),
    "chunks_none": dict(shape=(100,), dtype="f4", chunks=None),
    "data": dict(data=np.arange(10)),
    "zero_length": dict(shape=(0,), dtype="f4"),
    "zero_length_2d": dict(shape=(0, 5), dtype="f8"),
    "scalar": dict(shape=(), dtype="f4"),
    "scalar_data": dict(data=5.0),
    "scalar_chunks_false": dict(shape=(), dtype="f4", chunks=False),
    "empty": dict(data=h5py.Empty("f4")),
    "fillvalue": dict(shape=(10,), dtype="f4", fillvalue=3),
    "fill_time": dict(shape=(10,), dtype="f4", fill_time="never"),
    "vlen_str": dict(shape=(3,), dtype=h5py.string_dtype()),
    "bytes": dict(data=np.array([b"ab", b"c"])),
    "compound": dict(shape=(4,), dtype=[("a", "i4"), ("b", "f8")]),
    "shuffle_false": dict(shape=(10,), dtype="f4", shuffle=False, fletcher32=False),
    "maxshape_none": dict(shape=(10,), dtype="f4", maxshape=None),
    # chunked
    "gzip": dict(shape=(10,), dtype="f4", compression="gzip"),
    "gzip_level": dict(shape=(10,), dtype="f4", compression=4),
    "shuffle": dict(shape=(10,), dtype="f4", shuffle=True),
    "fletcher32": dict(shape=(10,), dtype="f4", fletcher32=True),
    "maxshape": dict(shape=(10,), dtype="f4", maxshape=(20,)),
    "maxshape_equal": dict(shape=(10,), dtype="f4", maxshape=(10,)),
    "maxshape_int": dict(shape=10, dtype="f4", maxshape=10),
    # (not shape (0,) with maxshape (0,): h5py guesses chunks (1024,), which its own create_dataset_like
    # then refuses as larger than the shape; ours guesses (1,): a chunk-guess difference, not a layout one)
    "unlimited": dict(shape=(10,), dtype="f4", maxshape=(None,)),
    "chunks_true": dict(shape=(10,), dtype="f4", chunks=True),
    "chunks_given": dict(shape=(10,), dtype="f4", chunks=(5,)),
}
CHUNKS_GIVEN = {"chunks_given"}  # the only case where h5py's and our chunk shapes must be equal (others: guesses)


def _outcome(call):
    """('ok', value) or ('raised', the exception)."""
    try:
        return "ok", call()
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return "raised", exc


def _iter_chunks(ds):
    return list(ds.iter_chunks())


def _resize(ds):
    ds.resize(tuple(s + 2 for s in ds.shape) if ds.shape else (3,))
    return ds.shape


def _like(ds):
    like = ds.parent.create_dataset_like(ds.name.rsplit("/", 1)[-1] + "_like", ds)
    return like.chunks is None, like.id.get_create_plist().get_layout()


def assert_same_layout(ours, real, exact_chunks: bool = False, writable: bool = True) -> None:
    """``ours`` reports the layout h5py's ``real`` does: chunks None or not (equal
    when ``exact_chunks``), ``get_layout()``, and what ``iter_chunks``, ``resize``
    (if ``writable``) and ``create_dataset_like`` do: same values, or an exception
    of h5py's type."""
    assert (ours.chunks is None) == (real.chunks is None), (ours.name, ours.chunks, real.chunks)
    if exact_chunks:
        assert ours.chunks == real.chunks
    assert ours.id.get_create_plist().get_layout() == real.id.get_create_plist().get_layout()
    if real.chunks is not None:
        assert ours.id.get_create_plist().get_chunk() == ours.chunks
    checks = [_iter_chunks] + ([_resize, _like] if writable else [_resize])
    for check in checks:
        kind, value = _outcome(lambda: check(real))
        if kind == "raised":
            with pytest.raises(type(value)):
                check(ours)
        elif check is _iter_chunks and not exact_chunks:
            assert bool(check(ours)) == bool(value)  # slices of guessed chunks: their number may differ
        else:
            assert check(ours) == value, check.__name__


def test_comparator_catches_a_planted_difference(h5_path):
    with h5py.File(h5_path, "w") as f:
        contiguous = f.create_dataset("c", shape=(10,), dtype="f4")
        chunked = f.create_dataset("k", shape=(10,), dtype="f4", chunks=(5,))
        other = f.create_dataset("o", shape=(10,), dtype="f4", chunks=(2,))
        with pytest.raises(AssertionError):
            assert_same_layout(chunked, contiguous)
        with pytest.raises(AssertionError):
            assert_same_layout(contiguous, chunked)
        with pytest.raises(AssertionError):
            assert_same_layout(other, chunked, exact_chunks=True)
        assert_same_layout(f.create_dataset("c2", shape=(10,), dtype="f4"), contiguous)


@pytest.mark.parametrize("case", sorted(CASES))
def test_creation_layout_as_h5py(case, file_url, h5_path):
    kwargs = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with h5py.File(h5_path, "w") as real_file, dosna_like.File(file_url, "w") as f:
            real = real_file.create_dataset(case, **kwargs)
            ours = f.create_dataset(case, **kwargs)
            assert_same_layout(ours, real, exact_chunks=case in CHUNKS_GIVEN)
        with dosna_like.File(file_url, "r") as f:  # as stored
            assert (f[case].chunks is None) == (real_file_chunks(h5_path, case) is None)


def real_file_chunks(path: str, name: str):
    with h5py.File(path, "r") as f:
        return f[name].chunks


@pytest.mark.parametrize("kwargs", [dict(chunks=False), dict(chunks=False, compression="gzip"),
                                    dict(chunks=False, maxshape=(10,)), dict(chunks=False, shuffle=True)])
def test_chunks_false_refused_as_h5py(kwargs, h5_path):
    with h5py.File(h5_path, "w") as real_file, dosna_like.File("memory://contig/false.h5", "w") as f:
        with pytest.raises(Exception) as real:
            real_file.create_dataset("x", shape=(10,), dtype="f4", **kwargs)
        with pytest.raises(type(real.value)):
            f.create_dataset("x", shape=(10,), dtype="f4", **kwargs)


def test_iter_chunks_of_a_contiguous_dataset_refuses_any_selection(file_url, h5_path):
    with h5py.File(h5_path, "w") as real_file, dosna_like.File(file_url, "w") as f:
        for g in (real_file, f):
            g.create_dataset("x", shape=(4, 4), dtype="i2")
        for sel in ((slice(0, 2), slice(0, 2)), (slice(0, 2),), None):
            with pytest.raises(TypeError):
                list(real_file["x"].iter_chunks(sel))
            with pytest.raises(TypeError):
                list(f["x"].iter_chunks(sel))


def test_resize_of_a_contiguous_dataset_refused_in_read_only_mode_too(file_url, h5_path):
    """h5py tests the layout before the file's mode: TypeError, not RuntimeError."""
    with h5py.File(h5_path, "w") as real_file, dosna_like.File(file_url, "w") as f:
        for g in (real_file, f):
            g.create_dataset("x", data=np.arange(4))
    with h5py.File(h5_path, "r") as real_file, dosna_like.File(file_url, "r") as f:
        assert_same_layout(f["x"], real_file["x"], writable=False)


def test_contiguous_dataset_is_stored_in_chunks_and_reads_right(file_url):
    """The store keeps its chunk grid: values, the chunk-level API and dask use it."""
    data = np.arange(5000.0).reshape(100, 50)
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", data=data)
        assert ds.chunks is None and ds.chunk_size == (100, 50)
        ds[10:20, 5] = -1.0
        data[10:20, 5] = -1.0
        np.testing.assert_array_equal(ds[...], data)
        assert ds.total_chunks == 1 and ds.get_chunk_data((0, 0)).shape == (100, 50)
        np.testing.assert_array_equal(ds.to_dask().compute(), data)
        clone = ds.clone("y")
        assert clone.chunks is None and clone.maxshape == ds.maxshape
        copied = f.create_group("g")
        f.copy("x", copied)
        assert copied["x"].chunks is None
        np.testing.assert_array_equal(copied["x"][...], data)
    with dosna_like.File(file_url, "r") as f:
        assert f["x"].chunks is None and f["y"].chunks is None
        np.testing.assert_array_equal(f["x"][...], data)


def test_copy_between_libraries_keeps_the_layout(file_url, h5_path):
    with h5py.File(h5_path, "w") as real_file, dosna_like.File(file_url, "w") as f:
        real_file.create_dataset("c", data=np.arange(6))
        real_file.create_dataset("k", data=np.arange(6), chunks=(2,))
        for name in ("c", "k"):
            f.copy(real_file[name], f, name)  # h5py -> ours
            f.copy(f[name], real_file, name + "_back")  # ours -> h5py
            assert f[name].chunks == real_file[name].chunks == real_file[name + "_back"].chunks
            np.testing.assert_array_equal(real_file[name + "_back"][...], np.arange(6))


def _write_layouts(path: str) -> list:
    """An h5py file with each layout; the names of its datasets."""
    with h5py.File(path, "w") as f:
        f.create_dataset("contiguous", data=np.arange(100.0).reshape(10, 10))
        f.create_dataset("chunked", data=np.arange(100.0), chunks=(10,))
        f.create_dataset("gzip", data=np.arange(100.0), compression="gzip")
        f.create_dataset("maxshape_equal", data=np.arange(10), maxshape=(10,))
        f.create_dataset("scalar", data=1.5)
        f.create_dataset("strings", data=np.array([b"a", b"bc"]))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((4,))
        h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, space, dcpl=dcpl)
        f["compact"][...] = np.arange(4, dtype="i4")
        return list(f)


def test_hdf5_file_opened_in_place_reports_h5py_layouts(tmp_path):
    path = str(tmp_path / "layouts.h5")
    names = _write_layouts(path)
    with h5py.File(path, "r") as real_file, dosna_like.File(path, "r") as f:
        for name in names:
            assert_same_layout(f[name], real_file[name], exact_chunks=True, writable=False)
            np.testing.assert_array_equal(f[name][()], real_file[name][()])


def test_import_export_round_trip_keeps_contiguous_datasets_contiguous(tmp_path):
    path, back = str(tmp_path / "layouts.h5"), str(tmp_path / "back.h5")
    names = _write_layouts(path)
    store = str(tmp_path / "store")
    dosna_like.import_hdf5(path, store)
    with h5py.File(path, "r") as real_file, dosna_like.File(store, "r") as f:
        for name in names:
            assert f[name].chunks == real_file[name].chunks, name
            np.testing.assert_array_equal(f[name][()], real_file[name][()])
    dosna_like.export_hdf5(store, back)
    with h5py.File(path, "r") as real_file, h5py.File(back, "r") as out:
        for name in names:
            assert out[name].chunks == real_file[name].chunks, name
            # a compact dataset comes back contiguous: a store has no compact layout
            layout = real_file[name].id.get_create_plist().get_layout()
            expected = h5py.h5d.CONTIGUOUS if layout == h5py.h5d.COMPACT else layout
            assert out[name].id.get_create_plist().get_layout() == expected, name
            np.testing.assert_array_equal(out[name][()], real_file[name][()])


def test_a_contiguous_store_dataset_exports_contiguous(tmp_path):
    store, out = str(tmp_path / "store"), str(tmp_path / "out.h5")
    with dosna_like.File(store, "w") as f:
        f.create_dataset("c", data=np.arange(12).reshape(3, 4))
        f.create_dataset("k", data=np.arange(12).reshape(3, 4), chunks=(1, 4))
        f.create_dataset("m", data=np.arange(12).reshape(3, 4), maxshape=(3, 4))
    dosna_like.export_hdf5(store, out)
    with h5py.File(out, "r") as h, dosna_like.File(store, "r") as f:
        assert h["c"].chunks is None and h["k"].chunks == (1, 4) and h["m"].chunks is not None
        for name in ("c", "k", "m"):
            assert (h[name].chunks is None) == (f[name].chunks is None)
            np.testing.assert_array_equal(h[name][...], np.arange(12).reshape(3, 4))


def test_layout_constants_of_h5py_h5d_as_h5py():
    """Code swapped to ``import dosna_like as h5py`` compares get_layout() with h5py.h5d's constants."""
    real = {name: getattr(h5py.h5d, name) for name in ("COMPACT", "CONTIGUOUS", "CHUNKED")}
    with dosna_like.as_h5py() as swapped:
        assert {name: getattr(swapped.h5d, name) for name in real} == real
        with swapped.File("memory://contig/constants.h5", "w") as f:
            assert f.create_dataset("x", (3,), "i4").id.get_create_plist().get_layout() == swapped.h5d.CONTIGUOUS
            assert f.create_dataset("y", (3,), "i4", chunks=(1,)).id.get_create_plist().get_layout() \
                == swapped.h5d.CHUNKED


def test_map_of_a_contiguous_dataset_into_another_dtype(file_url):
    """DosNa's map writes chunk by chunk into a clone: the clone keeps the stored grid
    (a guess for the wider dtype would cut other chunks), and stays contiguous."""
    data = np.arange(64 * 64 * 80, dtype="f4").reshape(64, 64, 80)  # 1.25 MiB: one chunk as f4, two as f8
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", data=data)
        doubled = ds.map(lambda block: block.astype("f8") * 2, "doubled", dtype="f8")
        assert doubled.chunks is None and doubled.chunk_size == ds.chunk_size and doubled.dtype == np.dtype("f8")
        np.testing.assert_array_equal(doubled[...], data.astype("f8") * 2)
