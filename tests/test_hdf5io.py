"""HDF5 import and export: round trips against real h5py files, streaming, failures.

Both sides of every comparison are read with h5py itself (or, for stores,
through dosna_like's h5py API), never from the code under test.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import tracemalloc
import warnings
import zlib

import h5py
import joblib
import numpy as np
import pytest
import zarr

import dosna_like
from dosna_like.codecs.deflate_wrappers import gzip_to_zlib, zlib_to_gzip
from dosna_like.transfer import backend_tasks, hdf5_import
from dosna_like.errors import IncompleteFileWarning
from dosna_like.hl.files import incomplete_datasets
from dosna_like.transfer.common import incomplete_mark
from tests.conftest import run_json_script

NUMERIC = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16", ">i4", ">f8"]


# ---------------------------------------------------------------- fixtures
def make_hdf5(path: str, seed: int = 0) -> str:
    """An HDF5 file using most of what h5py writes: layouts, filters, types, attributes, links."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "experiment"
        f.attrs["n"] = np.int32(3)
        f.attrs["scale"] = np.arange(4.0)
        f.attrs["flag"] = np.bool_(True)
        f.attrs["code"] = np.bytes_(b"xyz")
        f.attrs["names"] = np.array(["a", "bc"], dtype=h5py.string_dtype())
        f.attrs["nothing"] = h5py.Empty("i4")
        f.attrs["pair"] = np.array((1, 2.5), dtype=[("a", "i4"), ("b", "f8")])
        raw = f.create_group("raw")
        raw.attrs["units"] = "K"
        for dt in NUMERIC:
            data = (rng.standard_normal((37, 23)) * 40).astype(dt) if dt != "?" else rng.random((37, 23)) > 0.5
            raw.create_dataset(f"gz_{dt.replace('>', 'be')}", data=data, chunks=(8, 8), compression="gzip",
                               compression_opts=int(rng.integers(1, 9)), shuffle=True)
        f.create_dataset("layout/contiguous", data=rng.standard_normal((20, 30)).astype("f4"))
        f.create_dataset("layout/contiguous_part", shape=(50, 40), dtype=">i2", fillvalue=5)
        f["layout/contiguous_part"][:10] = 1
        f.create_dataset("layout/contiguous_unwritten", shape=(30, 20), dtype="f8", fillvalue=-7.5)
        f.create_dataset("layout/chunked_plain", data=np.arange(1000, dtype="i4").reshape(40, 25), chunks=(7, 9))
        f.create_dataset("layout/shuffle_only", data=np.arange(100, dtype="u2"), chunks=(16,), shuffle=True)
        f.create_dataset("layout/gzip_only", data=np.arange(300, dtype="f8"), chunks=(64,), compression=9)
        f.create_dataset("layout/fletcher", data=np.arange(50, dtype="i8"), chunks=(10,), fletcher32=True)
        f.create_dataset("layout/lzf", data=np.arange(60, dtype="i2"), chunks=(16,), compression="lzf")
        f.create_dataset("layout/sparse", shape=(100, 100), dtype="f4", chunks=(10, 10), fillvalue=-1.0)
        f["layout/sparse"][5:15, 50:60] = 3.0
        f.create_dataset("layout/growing", data=np.arange(10), maxshape=(None,), chunks=(4,))
        f.create_dataset("layout/zero_size", shape=(0, 5), dtype="f4", chunks=(4, 5), maxshape=(None, 5))
        f.create_dataset("layout/scalar", data=np.float32(2.5))
        f.create_dataset("layout/empty", data=h5py.Empty("f8"))
        f.create_dataset("types/fixed_str", data=np.array([b"ab", b"cde"], dtype="S3"))
        f.create_dataset("types/vlen_str", data=["x", "yy", "zzz"], dtype=h5py.string_dtype())
        f.create_dataset("types/compound", data=np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")]))
        f.create_dataset("types/enum", data=np.array([0, 1, 1], dtype=h5py.enum_dtype({"off": 0, "on": 1}, "i1")))
        f["types/enum"].attrs["doc"] = "an enum"
        f["raw/gz_f4"].attrs["sample"] = "mouse-1"
        f["raw/gz_f4"].attrs["temp"] = 300.5
        f["links/soft"] = h5py.SoftLink("/raw/gz_f4")
        f["links/dangling"] = h5py.SoftLink("/nowhere")
        f["links/external"] = h5py.ExternalLink("other.h5", "/x")
        f["links/hard"] = f["layout/chunked_plain"]
    return path


def describe(path: str) -> dict:
    """Everything h5py says about a file: name -> (kind, details...)."""
    out = {}
    with h5py.File(path, "r") as f:
        def attrs(obj) -> dict:
            return {k: _value(obj.attrs[k]) for k in obj.attrs}

        out["/"] = ("group", attrs(f))

        def visit(name, link):
            if isinstance(link, h5py.SoftLink):
                out["/" + name] = ("soft", link.path)
                return
            if isinstance(link, h5py.ExternalLink):
                out["/" + name] = ("external", link.filename, link.path)
                return
            obj = f[name]
            if isinstance(obj, h5py.Group):
                out["/" + name] = ("group", attrs(obj))
            else:
                dt = obj.dtype
                out["/" + name] = ("dataset", obj.shape, dt, h5py.check_enum_dtype(dt),
                                   h5py.check_string_dtype(dt), _value(obj[()]), attrs(obj))

        f.visititems_links(visit)
    return out


def _value(v):
    if isinstance(v, h5py.Empty):
        return ("Empty", v.dtype)
    if isinstance(v, np.ndarray):
        return ("array", v.dtype, v.shape, v.tolist())
    if isinstance(v, np.generic):
        return ("scalar", v.dtype, v.item())
    return (type(v).__name__, v)


def assert_same_file(a: str, b: str) -> None:
    da, db = describe(a), describe(b)
    assert sorted(da) == sorted(db)
    for name in da:
        if da[name] != db[name]:
            raise AssertionError(f"{name} differs:\n  {da[name]}\n  {db[name]}")
    with h5py.File(b, "r") as f:  # the second name is still the same object
        assert f["links/hard"] == f["layout/chunked_plain"]


@pytest.fixture(scope="module")
def source_h5(tmp_path_factory) -> str:
    return make_hdf5(str(tmp_path_factory.mktemp("src") / "source.h5"))


# ------------------------------------------------------------- round trips
def test_round_trip_gives_an_identical_file(source_h5, file_url, tmp_path):
    report = dosna_like.import_hdf5(source_h5, file_url, njobs=2)
    assert report.skipped == [] and report.raw_chunks > 0
    with dosna_like.File(file_url, "r") as f, h5py.File(source_h5, "r") as h:
        for dt in NUMERIC:  # raw chunks became standard Zarr gzip chunks
            name = f"raw/gz_{dt.replace('>', 'be')}"
            assert f[name].compression == "gzip" and f[name].shuffle and f[name].chunks == (8, 8)
            np.testing.assert_array_equal(f[name][...], h[name][...])
        np.testing.assert_array_equal(f["layout/sparse"][...], h["layout/sparse"][...])
        assert f.get("links/soft", getlink=True).path == "/raw/gz_f4"
        assert [o.name for o in f.search(sample="mouse-1")] == ["/raw/gz_f4"]
    out = str(tmp_path / "back.h5")
    back = dosna_like.export_hdf5(file_url, out, njobs=2)
    assert back.raw_chunks > 0
    assert_same_file(source_h5, out)
    with h5py.File(out, "r") as h:  # layouts come back too
        assert h["layout/contiguous_part"].chunks is None and h["layout/chunked_plain"].chunks == (7, 9)
        assert h["raw/gz_f4"].compression == "gzip" and h["raw/gz_f4"].shuffle


_UNDER_INSTALL = """
import json, sys, threading
import dosna_like
from dosna_like.storage.real_h5py import real_h5py
stand_in = dosna_like.install_as_h5py()
src, store, out, out2 = sys.argv[1:]
copied = dosna_like.import_hdf5(src, store, njobs=2)
dosna_like.export_hdf5(store, out, njobs=2)
dosna_like.export_hdf5(src, out2, njobs=2)  # the file opened in place: some chunks read through h5py by workers
seen = []  # a worker thread's own block while this thread holds one (an export reading a file in place)


def work():
    with real_h5py() as inner:
        seen.append(inner is outer)


with real_h5py() as outer:
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(30)
import h5py
print(json.dumps({"raw_chunks": copied.raw_chunks, "still_installed": h5py is stand_in, "seen": seen}))
"""


def test_import_and_export_use_the_real_h5py_while_install_as_h5py_is_on(source_h5, tmp_path):
    # in a subprocess: the install must not leak into this process's h5py
    out, out2 = str(tmp_path / "back.h5"), str(tmp_path / "back2.h5")
    result = run_json_script(_UNDER_INSTALL, source_h5, tmp_path / "store", out, out2, timeout=600)
    assert result["raw_chunks"] > 0 and result["still_installed"] and result["seen"] == [True]
    assert_same_file(source_h5, out)  # read with real h5py here
    assert_same_file(source_h5, out2)


def test_exporting_an_hdf5_file_opened_in_place_gives_the_same_file(source_h5, tmp_path):
    # such a file lists no chunks: its whole grid is exported (a chunk it lacks reads as the fill value)
    out = str(tmp_path / "again.h5")
    report = dosna_like.export_hdf5(source_h5, out, njobs=2)
    assert report.raw_chunks > 0
    assert_same_file(source_h5, out)

@pytest.mark.parametrize("backend", [None, "threading"])
def test_checksummed_chunks_cross_raw_also_on_a_joblib_backend(tmp_path, backend):
    data = np.arange(600, dtype="f8").reshape(20, 30)
    url = str(tmp_path / "store")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("x", data=data, chunks=(8, 16))  # no compression: the crc32c added by default
        assert [c["name"] for c in ds._meta.codecs][-1] == "crc32c" and ds.compression is None
    out = str(tmp_path / "out.h5")
    with joblib.parallel_config(backend=backend, n_jobs=2) if backend else contextlib.nullcontext():
        report = dosna_like.export_hdf5(url, out)
    assert report.raw_chunks == 6  # 3 x 2 chunks, their checksums checked and cut off
    with h5py.File(out, "r") as h:
        assert h["x"].chunks == (8, 16) and h["x"].dtype == data.dtype
        np.testing.assert_array_equal(h["x"][()], data)


def test_deflate_kept_as_zlib_streams(source_h5, tmp_path):
    url, out = str(tmp_path / "zlib.h5"), str(tmp_path / "zlib-back.h5")
    report = dosna_like.import_hdf5(source_h5, url, deflate_as="zlib")
    with dosna_like.File(url, "r") as f, h5py.File(source_h5, "r") as h:
        assert f["raw/gz_f8"].compression == "zlib"
        np.testing.assert_array_equal(f["raw/gz_f8"][...], h["raw/gz_f8"][...])
        with h5py.File(source_h5, "r") as again:  # the stored bytes are HDF5's own
            info = again["layout/gzip_only"].id.get_chunk_info(0)
            raw = again["layout/gzip_only"].id.read_direct_chunk(info.chunk_offset)[1]
        assert f.store.get("layout/gzip_only/c/0") == raw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numcodecs.zlib is outside the Zarr v3 spec
        np.testing.assert_array_equal(zarr.open_group(url, mode="r")["raw/gz_i2"][...],
                                      h5py.File(source_h5, "r")["raw/gz_i2"][...])
    assert report.raw_chunks > 0
    assert dosna_like.export_hdf5(url, out).raw_chunks > 0
    assert_same_file(source_h5, out)
    with pytest.raises(ValueError):
        dosna_like.import_hdf5(source_h5, str(tmp_path / "x.h5"), deflate_as="lzma")


def test_deflate_as_zlib_applies_to_empty_datasets_too(tmp_path):
    src, url = str(tmp_path / "src.h5"), str(tmp_path / "zlib.h5")
    with h5py.File(src, "w") as h:
        h.create_dataset("full", data=np.arange(100.0), chunks=(10,), compression="gzip")
        h.create_dataset("none", shape=(0, 4), maxshape=(None, 4), chunks=(8, 4), dtype="f4",
                         compression="gzip")
    dosna_like.import_hdf5(src, url, deflate_as="zlib")
    with dosna_like.File(url, "r") as f:
        assert f["none"].compression == f["full"].compression == "zlib"
        assert f["none"].shape == (0, 4) and f["none"].maxshape == (None, 4)


def test_zarr_python_reads_the_imported_chunks(source_h5, tmp_path):
    url = str(tmp_path / "imported.h5")
    dosna_like.import_hdf5(source_h5, url)
    root = zarr.open_group(url, mode="r")
    with h5py.File(source_h5, "r") as h, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr notes the numcodecs.shuffle codec is outside the spec
        for name in ("raw/gz_f4", "raw/gz_bei4", "layout/chunked_plain", "layout/gzip_only", "layout/sparse"):
            np.testing.assert_array_equal(root[name][...], h[name][...])


def test_store_to_store_copy_keeps_everything(source_h5, file_url, tmp_path):
    src = f"memory://copy-src/{os.path.basename(tmp_path)}.h5"
    dosna_like.import_hdf5(source_h5, src)
    report = dosna_like.copy_store(src, file_url)
    assert report.raw_chunks > 0
    out = str(tmp_path / "copied.h5")
    dosna_like.export_hdf5(file_url, out)
    assert_same_file(source_h5, out)
    sub = file_url.rstrip("/") + "-sub"
    dosna_like.copy_store(src, sub, path="raw")
    with dosna_like.File(sub, "r") as f, h5py.File(source_h5, "r") as h:
        assert sorted(f) == sorted(h["raw"]) and f.attrs["units"] == "K"
        np.testing.assert_array_equal(f["gz_f8"][...], h["raw/gz_f8"][...])



@pytest.mark.parametrize("compression", [None, "gzip"])
def test_a_copy_of_a_store_open_for_appending_here_holds_its_held_rows(tmp_path, compression):
    """Appends keep a part-filled edge chunk in memory until it fills or is flushed; a copy made
    meanwhile in the same process holds what a reader of the source sees, those rows too."""
    src, dest = str(tmp_path / "src.h5"), str(tmp_path / "dest.h5")
    rows = np.arange(300 * 4, dtype="i8").reshape(300, 4)
    with dosna_like.File(src, "w") as f:
        ds = f.create_dataset("x", shape=(0, 4), maxshape=(None, 4), chunks=(128, 4), dtype="i8",
                              compression=compression)
        for start in range(0, 300, 100):  # the last chunk, rows 256-299, is held, not stored
            ds.resize(start + 100, axis=0)
            ds[start:start + 100] = rows[start:start + 100]
        with dosna_like.File(src, "r") as reader:
            seen = reader["x"][...]
        report = dosna_like.copy_store(src, dest)
        with dosna_like.File(dest, "r") as copied:
            np.testing.assert_array_equal(copied["x"][...], seen)
        np.testing.assert_array_equal(seen, rows)
        assert report.datasets == 1
    with dosna_like.File(src, "r") as f:  # the source is as its writer left it
        np.testing.assert_array_equal(f["x"][...], rows)


# -------------------------------------------------------------- streaming
@pytest.mark.parametrize("layout", ["chunked", "gzip", "contiguous"])
def test_memory_stays_bounded_by_a_few_chunks(tmp_path, layout):
    data = np.random.default_rng(1).standard_normal((384, 32768)).astype("f4")  # 48 MiB
    src = str(tmp_path / "big.h5")
    with h5py.File(src, "w") as h:
        if layout == "contiguous":
            h["x"] = data
        else:
            h.create_dataset("x", data=data, chunks=(16, 8192), compression="gzip" if layout == "gzip" else None)
    url = str(tmp_path / "big.store")
    tracemalloc.start()
    try:
        dosna_like.import_hdf5(src, url, njobs=2)
        imported_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        dosna_like.export_hdf5(url, str(tmp_path / "back.h5"), njobs=2)
        exported_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert imported_peak < data.nbytes / 4, imported_peak  # measured: 1.5-6 MiB of 48
    assert exported_peak < data.nbytes / 4, exported_peak
    with h5py.File(str(tmp_path / "back.h5"), "r") as h:
        np.testing.assert_array_equal(h["x"][...], data)


def test_progress_bar_on_request_and_none_without_a_terminal(source_h5, tmp_path, capsys):
    dosna_like.import_hdf5(source_h5, str(tmp_path / "quiet.h5"))
    assert capsys.readouterr().err == ""
    dosna_like.import_hdf5(source_h5, str(tmp_path / "loud.h5"), progress=True)
    assert "import" in capsys.readouterr().err


# ---------------------------------------------------------------- failures
def _interrupted_import(source_h5, file_url, monkeypatch) -> None:
    """An import that fails after a few chunks (a simulated full disk)."""
    calls = []

    def failing(raw, nbytes):
        calls.append(1)
        if len(calls) > 5:
            raise OSError("disk full (simulated)")
        return zlib_to_gzip(raw, nbytes)

    monkeypatch.setattr(hdf5_import, "zlib_to_gzip", failing)
    with pytest.raises(OSError, match="simulated"):
        dosna_like.import_hdf5(source_h5, file_url, njobs=2)


def test_a_failed_import_leaves_the_store_marked_incomplete(source_h5, file_url, monkeypatch):
    _interrupted_import(source_h5, file_url, monkeypatch)
    with pytest.warns(IncompleteFileWarning), dosna_like.File(file_url, "r") as f:
        mark = incomplete_mark(f._document())
        assert mark is not None and mark["source"] == source_h5
        assert "title" not in f.attrs  # the root's attributes are the last step
    monkeypatch.setattr(hdf5_import, "zlib_to_gzip", zlib_to_gzip)
    dosna_like.import_hdf5(source_h5, file_url, overwrite=True)
    with dosna_like.File(file_url, "r") as f:
        assert incomplete_mark(f._document()) is None


def test_opening_an_unfinished_import_warns_and_names_the_datasets_that_lack_data(source_h5, file_url,
                                                                                   monkeypatch):
    _interrupted_import(source_h5, file_url, monkeypatch)
    for mode in ("r", "a"):
        with pytest.warns(IncompleteFileWarning, match="INCOMPLETE") as caught:
            dosna_like.File(file_url, mode).close()
        assert len(caught) == 1 and source_h5 in str(caught[0].message)
    with pytest.warns(IncompleteFileWarning), dosna_like.File(file_url, "r") as f, h5py.File(source_h5, "r") as h:
        named = incomplete_datasets(f._state.index.nodes())
        assert named and f"{len(named)} incomplete dataset(s)" in str(caught[0].message)
        differ = []
        f.visititems(lambda name, obj: differ.append("/" + name) if isinstance(obj, dosna_like.Dataset)
                     and obj.shape and not np.array_equal(obj[...], h[name][...]) else None)
        assert differ and set(differ) <= set(named)  # no dataset reads wrong without being named
    monkeypatch.setattr(hdf5_import, "zlib_to_gzip", zlib_to_gzip)
    dosna_like.import_hdf5(source_h5, file_url, overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a finished import: not a word, and no dataset keeps a mark
        with dosna_like.File(file_url, "r") as f:
            assert incomplete_datasets(f._state.index.nodes()) == []


def test_a_failed_export_never_leaves_a_partial_destination(source_h5, tmp_path, monkeypatch):
    url = str(tmp_path / "store.h5")
    dosna_like.import_hdf5(source_h5, url)

    def failing(raw, nbytes):
        raise OSError("network down (simulated)")

    monkeypatch.setattr(backend_tasks, "gzip_to_zlib", failing)
    out = tmp_path / "out.h5"
    with pytest.raises(OSError, match="simulated"):
        dosna_like.export_hdf5(url, str(out))
    assert not out.exists() and (tmp_path / "out.h5.partial").exists()


def test_existing_destinations_need_overwrite(source_h5, tmp_path):
    url, out = str(tmp_path / "s.h5"), str(tmp_path / "o.h5")
    dosna_like.import_hdf5(source_h5, url)
    with pytest.raises(FileExistsError):
        dosna_like.import_hdf5(source_h5, url)
    dosna_like.export_hdf5(url, out)
    with pytest.raises(FileExistsError):
        dosna_like.export_hdf5(url, out)
    dosna_like.export_hdf5(url, out, overwrite=True)
    dosna_like.import_hdf5(source_h5, url, overwrite=True)


@pytest.fixture
def unsupported_h5(tmp_path) -> str:
    path = str(tmp_path / "odd.h5")
    with h5py.File(path, "w") as f:
        f["fine"] = np.arange(5)
        # object references and vlen sequences import (tests/test_references.py); these do not
        f.create_dataset("refs", (2,), dtype=h5py.regionref_dtype)
        # (opaque types import since they are stored as raw bytes: test_dtypes.py)
        # (sequences of records with sequence members import: test_h5py_suite_gaps.py; so do nested
        # records with them: test_nested_references.py)
        f["fine"].attrs["pointer"] = f["fine"].regionref[1:3]
        f["fine"].attrs["ok"] = 1
    return path


def test_unsupported_objects_fail_before_anything_is_written(unsupported_h5, tmp_path):
    url = str(tmp_path / "dest.h5")
    with pytest.raises(hdf5_import.UnsupportedObjectError) as err:
        dosna_like.import_hdf5(unsupported_h5, url)
    assert isinstance(err.value, TypeError)
    for name in ("/refs", "/fine@pointer"):
        assert name in str(err.value)
    assert not os.path.exists(url)


def test_skip_unsupported_imports_the_rest_and_lists_what_it_left(unsupported_h5, tmp_path):
    url = str(tmp_path / "dest.h5")
    with pytest.warns(UserWarning, match="skipped"):
        report = dosna_like.import_hdf5(unsupported_h5, url, skip_unsupported=True)
    assert sorted(name for name, _ in report.skipped) == ["/fine@pointer", "/refs"]
    with dosna_like.File(url, "r") as f:
        assert list(f) == ["fine"] and dict(f["fine"].attrs) == {"ok": 1}
        np.testing.assert_array_equal(f["fine"][...], np.arange(5))


def test_committed_datatypes(tmp_path):
    src = str(tmp_path / "named.h5")
    with h5py.File(src, "w") as f:
        f["kind"] = np.dtype([("x", "f4"), ("y", "i2")])
        f["kind"].attrs["about"] = "a point"
    url, out = str(tmp_path / "named.store"), str(tmp_path / "named-back.h5")
    dosna_like.import_hdf5(src, url)
    dosna_like.export_hdf5(url, out)
    with h5py.File(out, "r") as f:
        assert isinstance(f["kind"], h5py.Datatype)
        assert f["kind"].dtype == np.dtype([("x", "f4"), ("y", "i2")]) and f["kind"].attrs["about"] == "a point"


# ------------------------------------------------------------ transcoding
def test_deflate_wrappers_are_rewritten_losslessly():
    data = np.arange(5000, dtype="i4").tobytes()
    gz = zlib_to_gzip(zlib.compress(data, 6), len(data))
    assert gzip.decompress(gz) == data
    assert zlib_to_gzip(zlib.compress(data), len(data) + 1) is None  # wrong size
    assert zlib_to_gzip(b"not zlib at all", len(data)) is None
    broken = bytearray(zlib.compress(data))
    broken[-1] ^= 0xFF  # Adler-32 mismatch
    assert zlib_to_gzip(bytes(broken), len(data)) is None
    import io

    buf = io.BytesIO()
    with gzip.GzipFile(filename="named.bin", mode="wb", fileobj=buf, mtime=123) as g:
        g.write(data)  # a header with a file name, as other writers make
    assert zlib.decompress(gzip_to_zlib(buf.getvalue(), len(data))) == data
    assert gzip_to_zlib(gzip.compress(data) + gzip.compress(data), 2 * len(data)) is None


@pytest.mark.parametrize("shape, chunks", [((4,), (2,)), ((3, 4), (2, 3)), ((5,), (5,))])
def test_export_of_sequences_that_all_have_one_length(tmp_path, shape, chunks):
    """Variable-length sequences of equal length in a chunk export (h5py's ``ds[box] =``
    reads such a block as a 2-d array of numbers and refuses it); the values are h5py's."""
    url, out = str(tmp_path / "seq.store"), str(tmp_path / "seq.h5")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("v", shape, dtype=h5py.vlen_dtype("i4"), chunks=chunks)
        for index in np.ndindex(shape):
            ds[index] = np.arange(2, dtype="i4") + sum(index)
        want = ds[...]
    dosna_like.export_hdf5(url, out)
    with h5py.File(out, "r") as f:
        got = f["v"][...]
        assert f["v"].dtype == h5py.vlen_dtype("i4") and got.shape == shape
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(want.ravel(), got.ravel()))
