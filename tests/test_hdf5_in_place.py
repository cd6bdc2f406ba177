"""HDF5 files opened in place (issue 13): every value, dtype, shape and attr as h5py's.

A catalogue of files written by h5py is opened through ``dosna_like.File``
from a local path, ``memory://``, S3 (the local endpoint), an ``io.BytesIO``
and an fsspec file object, and compared object by object with h5py reading
the same file; the comparator is checked to catch a planted difference.
"""
from __future__ import annotations

import io
import os
import uuid
import warnings

import fsspec
import h5py
import numpy as np
import pytest

import dosna_like
from dosna_like.storage.hdf5_refs import Hdf5FallbackWarning, Hdf5LeftOutWarning, Hdf5RefStore

S3_BUCKET = "dosna-tests"


def write_catalogue(path: str, userblock: int = 0) -> None:
    """An HDF5 file with every layout, filter and dtype kind the tests compare."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 40))
    kwargs = {"userblock_size": userblock} if userblock else {}
    with h5py.File(path, "w", **kwargs) as f:
        f.attrs["title"] = "catalogue"
        f.attrs["version"] = np.int32(3)
        f.attrs["scale"] = np.array([1.5, 2.5])
        f.create_dataset("contiguous", data=a)
        f.create_dataset("big_endian", data=np.arange(1000, dtype=">i4"))
        _compact(f, "compact", np.arange(10, dtype="u2"))
        f.create_dataset("chunked", data=a, chunks=(64, 16))
        for level in (0, 4, 9):
            f.create_dataset(f"gzip{level}", data=a, chunks=(50, 40), compression="gzip", compression_opts=level)
        f.create_dataset("shuffle_gzip", data=(a * 100).astype("i8"), chunks=(30, 7), compression="gzip",
                         shuffle=True)
        f.create_dataset("fletcher", data=a, chunks=(100, 10), fletcher32=True, shuffle=True,
                         compression="gzip")
        f.create_dataset("lzf", data=a.astype("f4"), chunks=(64, 8), compression="lzf")
        f.create_dataset("scaleoffset", data=np.arange(500, dtype="i4"), chunks=(100,), scaleoffset=0)
        if h5py.h5z.filter_avail(h5py.h5z.FILTER_SZIP):
            f.create_dataset("szip", data=(a * 10).astype("i4"), chunks=(50, 8), compression="szip")
        f.create_dataset("fill", shape=(100, 10), chunks=(10, 10), fillvalue=-7, dtype="i2")
        f["fill"][20:35] = 1
        f.create_dataset("unwritten", shape=(50,), dtype="f8", fillvalue=np.nan)
        f.create_dataset("fixed_bytes", data=np.array([b"ab", b"cdef"], dtype="S4"))
        f.create_dataset("vlen_str", data=["alpha", "beta", "gamma"], dtype=h5py.string_dtype())
        f.create_dataset("compound", data=np.array([(1, 2.5), (3, 4.5)], dtype=[("i", "<i4"), ("x", "<f8")]))
        f.create_dataset("scalar", data=np.float32(2.5))
        f.create_dataset("empty", data=h5py.Empty("f4"))
        f.create_dataset("zero_size", shape=(0, 3), dtype="i4")
        f.create_dataset("bool", data=np.array([True, False, True]))
        f.create_dataset("complex", data=np.arange(6) * (1 + 2j), chunks=(3,), compression="gzip")
        f.create_dataset("resizable", data=np.arange(10), chunks=(4,), maxshape=(None,))
        g = f.create_group("group/nested")
        g.attrs["units"] = "m"
        g.attrs["bytes"] = np.bytes_(b"raw")
        g.create_dataset("values", data=np.arange(12).reshape(3, 4), chunks=(2, 2), compression="gzip")
        g["values"].attrs["long_name"] = "values"
        f["soft"] = h5py.SoftLink("/group/nested/values")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f["external"] = h5py.ExternalLink("other.h5", "/x")
        f["hard"] = f["chunked"]
        nc = f.create_group("netcdf")  # netCDF4's layout: dimension scales attached to variables
        nc.attrs["Conventions"] = "CF-1.8"
        nc["time"] = np.arange(4.0)
        nc["time"].make_scale("time")
        nc["lat"] = np.linspace(-10, 10, 3)
        nc["lat"].make_scale("lat")
        nc.create_dataset("temp", data=np.arange(12, dtype="f4").reshape(4, 3), chunks=(2, 3), compression="gzip")
        nc["temp"].dims[0].attach_scale(nc["time"])
        nc["temp"].dims[1].attach_scale(nc["lat"])
        nc["temp"].dims[1].label = "latitude"
        nc["temp"].attrs["units"] = "K"


def _compact(f, name: str, data: np.ndarray) -> None:
    """A dataset with the compact layout (its data in the object header): h5py's low-level API."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple(data.shape)
    dsid = h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(data.dtype), space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def _values_equal(x, y) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.dtype.kind == "f" or x.dtype.kind == "c":
        return np.array_equal(x, y, equal_nan=True)
    return np.array_equal(x, y)


def _scale_refs(f, value) -> list:
    """HDF5's dimension-scale reference attributes as the names they point to."""
    if value.dtype.names:  # REFERENCE_LIST: (dataset, axis) records
        return sorted((f[ref].name, int(axis)) for ref, axis in value.tolist())
    return [[f[ref].name for ref in refs] for refs in value]


def compare(ours, theirs, layout: bool = True) -> list:
    """Differences between a dosna_like file and h5py's view of the same HDF5 file
    (``layout``: also chunks and compression as h5py reports them)."""
    found = []

    def attrs(obj_a, obj_b, where):
        a, b = obj_a.attrs, obj_b.attrs
        if sorted(a.keys()) != sorted(b.keys()):
            found.append(f"{where}: attr names {sorted(a.keys())} != {sorted(b.keys())}")
            return
        for name in a.keys():
            x, y = a[name], b[name]
            if name in ("REFERENCE_LIST", "DIMENSION_LIST"):  # references: compare their targets
                if _scale_refs(obj_a.file, x) != _scale_refs(obj_b.file, y) or x.dtype != y.dtype:
                    found.append(f"{where}@{name}: {x!r} != {y!r}")
            elif type(x) is not type(y) or not _values_equal(x, y):
                found.append(f"{where}@{name}: {x!r} != {y!r}")

    def visit(g_ours, g_theirs, path):
        attrs(g_ours, g_theirs, path)
        if sorted(g_ours) != sorted(g_theirs):
            found.append(f"{path}: members {sorted(g_ours)} != {sorted(g_theirs)}")
        for name in g_theirs:
            link = g_theirs.get(name, getlink=True)
            mine = g_ours.get(name, getlink=True)
            if type(mine).__name__ != type(link).__name__:
                found.append(f"{path}/{name}: link {mine!r} != {link!r}")
            if isinstance(link, (h5py.ExternalLink,)) or name == "dangling":
                continue
            a, b = g_ours[name], g_theirs[name]
            if isinstance(b, h5py.Group):
                visit(a, b, f"{path}/{name}")
                continue
            if (a.shape, a.dtype, a.chunks if b.chunks or layout else None, a.maxshape if b.shape is not None else None,
                    str(a.fillvalue) if a.shape else 0) != \
                    (b.shape, b.dtype, b.chunks, b.maxshape, str(b.fillvalue) if b.shape else 0):
                found.append(f"{path}/{name}: {(a.shape, a.dtype, a.chunks, a.maxshape)} != "
                             f"{(b.shape, b.dtype, b.chunks, b.maxshape)}")
                continue
            mine, theirs_ = (a.chunks, a.compression, a.shuffle, a.fletcher32), \
                (b.chunks, b.compression, b.shuffle, b.fletcher32)
            if layout and mine != theirs_:
                found.append(f"{path}/{name}: layout {mine} != {theirs_}")
            if layout and b.compression == "gzip" and a.compression_opts != b.compression_opts:
                found.append(f"{path}/{name}: gzip level {a.compression_opts} != {b.compression_opts}")
            attrs(a, b, f"{path}/{name}")
            if b.is_scale != a.is_scale or [d.label for d in a.dims] != [d.label for d in b.dims] or \
                    [[s.name for s in d.values()] for d in a.dims] != [[s.name for s in d.values()] for d in b.dims]:
                found.append(f"{path}/{name}: dimension scales differ")
            if b.shape is None:
                continue
            if not _values_equal(a[()], b[()]):
                found.append(f"{path}/{name}: values differ")
            if b.ndim and b.shape[0] > 3 and not _values_equal(a[1:-1:2], b[1:-1:2]):
                found.append(f"{path}/{name}: selection differs")

    visit(ours, theirs, "")
    return found


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("h5") / "catalogue.h5")
    write_catalogue(path)
    return path


def _check(ours, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Hdf5FallbackWarning)
        with h5py.File(path, "r") as theirs:
            assert compare(ours, theirs) == []


def test_comparator_catches_a_planted_difference(catalogue, tmp_path):
    other = str(tmp_path / "other.h5")
    write_catalogue(other)
    with h5py.File(other, "r+") as f:
        f["gzip4"][3, 3] = 99.0
        f["group/nested"].attrs["units"] = "km"
    with dosna_like.File(other, "r") as ours:
        with h5py.File(catalogue, "r") as theirs, warnings.catch_warnings():
            warnings.simplefilter("ignore", Hdf5FallbackWarning)
            diffs = compare(ours, theirs)
    assert any("gzip4" in d for d in diffs) and any("units" in d for d in diffs)


@pytest.mark.parametrize("userblock", [0, 512, 4096])
def test_local_file_in_place(tmp_path, userblock):
    path = str(tmp_path / "c.h5")
    write_catalogue(path, userblock)
    with dosna_like.File(path, "r") as f:
        assert isinstance(f.store, Hdf5RefStore)
        assert f.mode == "r"
        _check(f, path)


def test_memory_url_bytesio_and_fsspec_file(catalogue):
    raw = open(catalogue, "rb").read()
    name = f"memory://hdf5/{uuid.uuid4().hex}.h5"
    fsspec.filesystem("memory").pipe_file(name, raw)
    with dosna_like.File(name, "r") as f:
        _check(f, catalogue)
    with dosna_like.File(io.BytesIO(raw), "r") as f:
        _check(f, catalogue)
    with fsspec.open(name, "rb") as fobj, dosna_like.File(fobj, "r") as f:
        _check(f, catalogue)


def test_s3_in_place_and_saved_map(catalogue, s3_server, tmp_path):
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
    fs = fsspec.filesystem("s3")
    fs.put_file(catalogue, url)
    with dosna_like.File(url, "r", hdf5_refs="beside") as f:
        _check(f, catalogue)
    assert fs.exists(url + ".dosna-refs.json")
    fs.invalidate_cache()
    with dosna_like.File(url, "r", hdf5_refs="beside") as f:
        counts = f.store.requests.snapshot()
        assert counts == {"head": 1, "get": 1}  # the file's HEAD and the saved map
        assert np.array_equal(f["gzip4"][()], h5py.File(catalogue, "r")["gzip4"][()])
    chained = f"simplecache::{url}"
    with dosna_like.File(chained, "r", hdf5_refs=str(tmp_path / "refs")) as f:
        _check(f, catalogue)


def test_changed_file_invalidates_its_saved_map(tmp_path):
    path = str(tmp_path / "m.h5")
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(10)
    with dosna_like.File(path, "r", hdf5_refs="beside") as f:
        assert f["x"][3] == 3
    os.utime(path, ns=(1, 1))
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(10) * 2
        f["y"] = np.arange(3)
    with dosna_like.File(path, "r", hdf5_refs="beside") as f:
        assert list(f) == ["x", "y"] and f["x"][3] == 6


def test_fallback_warns_once_and_reads_right(catalogue):
    with dosna_like.File(catalogue, "r") as f, h5py.File(catalogue, "r") as h:
        with pytest.warns(Hdf5FallbackWarning, match="scaleoffset"):
            assert np.array_equal(f["scaleoffset"][()], h["scaleoffset"][()])
        with warnings.catch_warnings():
            warnings.simplefilter("error", Hdf5FallbackWarning)
            assert np.array_equal(f["scaleoffset"][5:170:3], h["scaleoffset"][5:170:3])
            assert list(f["vlen_str"][()]) == list(h["vlen_str"][()])  # a type read through h5py: quietly


@pytest.mark.parametrize("mode", ["r+", "a"])
def test_write_modes_raise_oserror_naming_the_way_forward(catalogue, mode):
    before = open(catalogue, "rb").read()
    with pytest.raises(OSError, match="dosna-like import"):
        dosna_like.File(catalogue, mode)
    with pytest.raises(OSError, match="dosna-like import"):
        dosna_like.File(io.BytesIO(before), mode)
    assert open(catalogue, "rb").read() == before


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_exclusive_create_on_an_hdf5_file_is_file_exists_as_h5py(catalogue, mode):
    before = open(catalogue, "rb").read()
    with pytest.raises(FileExistsError):
        h5py.File(catalogue, mode)
    with pytest.raises(FileExistsError):
        dosna_like.File(catalogue, mode)
    assert open(catalogue, "rb").read() == before


def test_read_only_objects(catalogue):
    with dosna_like.File(catalogue, "r") as f:
        with pytest.raises((OSError, ValueError)):
            f["chunked"][0, 0] = 1.0
        with pytest.raises((OSError, ValueError)):
            f.create_group("new")


def test_not_hdf5_file_object():
    with pytest.raises(OSError):
        dosna_like.File(io.BytesIO(b"not an hdf5 file at all"), "r")


def test_reopen_on_s3_reads_the_saved_map_not_the_file(catalogue, s3_server):
    from dosna_like.storage.registry import filesystem_for
    from tests.conftest import HttpCounter

    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
    fs = fsspec.filesystem("s3")
    fs.put_file(catalogue, url)
    dosna_like.File(url, "r", hdf5_refs="beside").close()
    # the s3fs instance the file is read through (opened with the S3 back end's options)
    counter = HttpCounter(filesystem_for(url)[0].fs)
    with dosna_like.File(url, "r", hdf5_refs="beside") as f:
        opened = counter.take()
        values = f["gzip4"][()]
        read = counter.take()
    # the file's HEAD and the map, in one round trip (hdf5_refs= says an HDF5 file is there: no store
    # probe before them)
    assert opened == {"GET": 1, "HEAD": 1}, opened
    # gzip4's 6 stored chunks lie back to back in the file: one merged range request
    assert read == {"GET": 1}
    assert values.shape == (300, 40)


def test_cli_and_search_on_hdf5_files(catalogue, tmp_path):
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "bucket"
    folder.mkdir()
    shutil.copy(catalogue, folder / "run.h5")
    shutil.copy(catalogue, folder / "run.nc")
    (folder / "notes.h5").write_bytes(b"not hdf5")
    hits = dosna_like.search(str(folder), units="m")
    assert sorted((os.path.basename(h.url), h.path) for h in hits) == [
        ("run.h5", "/group/nested"), ("run.nc", "/group/nested")]
    obj = hits[0].open()
    try:
        assert obj.attrs["units"] == "m"
    finally:
        obj.file.close()
    cli = [sys.executable, "-m", "dosna_like.cli"]
    out = subprocess.run(cli + ["ls", str(folder / "run.h5")], capture_output=True, text=True, check=True).stdout
    assert "HDF5 file, read in place" in out and "gzip4" in out
    out = subprocess.run(cli + ["info", str(folder / "run.h5") + "/gzip4"], capture_output=True, text=True,
                         check=True).stdout
    assert "HDF5 file, read in place" in out and "(300, 40)" in out


def _axis_key(draw, st, n: int):
    if draw(st.booleans()):
        return draw(st.integers(-n, n - 1))
    start = draw(st.one_of(st.none(), st.integers(0, n)))
    stop = draw(st.one_of(st.none(), st.integers(0, n)))
    return slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 7))))


def test_selections_equal_h5py(catalogue):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    with dosna_like.File(catalogue, "r") as f, h5py.File(catalogue, "r") as h:
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.data(), st.sampled_from(["gzip4", "contiguous", "shuffle_gzip", "fill", "fletcher"]))
        def check(data, name):
            shape = h[name].shape
            key = tuple(_axis_key(data.draw, st, n) for n in shape)
            assert _values_equal(f[name][key], h[name][key]), (name, key)

        check()


def test_pickled_in_place_handle_reopens_with_its_saved_map(tmp_path):
    path = str(tmp_path / "p.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(50.0), chunks=(10,), compression="gzip")
    with dosna_like.File(path, "r", hdf5_refs="beside") as f:
        restore, (file_cls, handle_cls, spec, own) = f["x"].__reduce__()
        assert spec["hdf5_refs"] == "beside"
    os.remove(path + ".dosna-refs.json")
    ds = restore(file_cls, handle_cls, {**spec, "pid": -1}, own)  # as a worker process opens it
    assert ds.file.store.hdf5_refs == "beside"
    assert os.path.exists(path + ".dosna-refs.json")  # the worker kept the map where the user asked
    np.testing.assert_array_equal(ds[()], np.arange(50.0))
    ds.file.close()


def test_hard_links_are_one_object_and_layout_as_h5py(tmp_path):
    path = str(tmp_path / "h.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("g", data=np.arange(100.0), chunks=(10,), compression="gzip", compression_opts=6)
        f.create_dataset("c", data=np.arange(10))
        grp = f.create_group("grp")
        grp["loop"] = grp  # a group that contains itself
        f["alias"] = grp
        f["h"] = f["g"]
    with dosna_like.File(path, "r") as ours, h5py.File(path, "r") as theirs:
        for a, b in (("h", "g"), ("alias", "grp"), ("grp/loop", "grp"), ("c", "g")):
            assert (ours[a] == ours[b]) == (theirs[a] == theirs[b]), (a, b)
            assert ours[a].name == theirs[a].name
        for name in ("g", "c", "h"):
            assert (ours[name].chunks, ours[name].compression, ours[name].compression_opts) == \
                (theirs[name].chunks, theirs[name].compression, theirs[name].compression_opts)


def test_in_place_reading_works_while_dosna_like_stands_in_for_h5py(tmp_path):
    """Opening an HDF5 file reads its metadata with the real h5py, also when
    ``import h5py`` gives dosna_like (a library reading an existing .h5ad/.nc)."""
    import sys

    path = str(tmp_path / "in.h5")
    with h5py.File(path, "w") as h5:
        records = np.zeros(50, [("a", "<i4"), ("b", "<f8")])
        records["b"] = np.arange(50.0)
        h5.create_dataset("records", data=records, chunks=(7,))  # a compound: read through h5py, chunk by chunk
        h5.create_dataset("text", data=["a", "bc"], dtype=h5py.string_dtype())
        h5.attrs["note"] = "hi"
    real = sys.modules["h5py"]
    with dosna_like.as_h5py() as standin:
        import h5py as swapped
        assert swapped is standin
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Hdf5FallbackWarning)
            with swapped.File(path, "r") as f:
                assert isinstance(f, dosna_like.File)
                assert f.attrs["note"] == "hi" and f["text"][1] == b"bc"
                np.testing.assert_array_equal(f["records"]["b"], np.arange(50.0))
        assert sys.modules["h5py"] is standin  # still standing in after the reads
    assert sys.modules["h5py"] is real


def test_reopen_fetches_the_saved_map_alongside_the_head(catalogue, monkeypatch):
    import asyncio
    import time

    from backends.latency import SlowMemoryFileSystem
    from dosna_like.storage.hdf5_open import open_hdf5_store

    fs = SlowMemoryFileSystem(latency=0.2)
    url = f"slowmem://hdf5/{uuid.uuid4().hex}.h5"
    with open(catalogue, "rb") as fh:
        fs.pipe_file(url, fh.read())
    open_hdf5_store(url, {"latency": 0.2}, refs="beside").close()  # builds and saves the map
    head = SlowMemoryFileSystem._info

    async def head_once_a_request_is_out(self, path, **kwargs):
        # so the test does not hang on thread scheduling: the HEAD waits (5 s at most) for the
        # map's GET; a map fetched after the HEAD leaves it alone in flight
        deadline = time.monotonic() + 5
        while not self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        return await head(self, path, **kwargs)

    monkeypatch.setattr(SlowMemoryFileSystem, "_info", head_once_a_request_is_out)
    fs.reset_stats()
    store = open_hdf5_store(url, {"latency": 0.2}, refs="beside")
    try:
        assert store.requests.snapshot() == {"head": 1, "get": 1}
        assert (fs.calls, fs.max_in_flight) == (2, 2)  # the HEAD and the map's GET at once
        with dosna_like.File(catalogue, "r") as local:
            assert store.refmap["nodes"] == local.store.refmap["nodes"]
    finally:
        store.close()


def test_what_the_in_place_view_leaves_out_is_named_when_the_file_opens(tmp_path):
    """A committed datatype and a region-reference attribute are not in the in-place view
    (h5py shows both): opening says so, naming them, and the rest reads as h5py's."""
    path = str(tmp_path / "left.h5")
    with h5py.File(path, "w") as f:
        f["t"] = np.dtype("f4")
        d = f.create_dataset("x", data=np.arange(4))
        d.attrs["ok"] = 7
        d.attrs["reg"] = d.regionref[1:2]
    with pytest.warns(Hdf5LeftOutWarning) as seen:
        with dosna_like.File(path, "r") as f:
            assert list(f) == ["x"]
            assert dict(f["x"].attrs) == {"ok": 7}
            np.testing.assert_array_equal(f["x"][...], np.arange(4))
    messages = [str(w.message) for w in seen if issubclass(w.category, Hdf5LeftOutWarning)]
    assert len(messages) == 1 and "t (committed datatype)" in messages[0] and "x@reg" in messages[0], messages
    with warnings.catch_warnings():
        warnings.simplefilter("error", Hdf5LeftOutWarning)
        with h5py.File(path, "r") as f:  # h5py has both: the warning is about a real difference
            assert "t" in f and "reg" in f["x"].attrs


def test_an_hdf5_file_with_nothing_left_out_opens_without_that_warning(tmp_path):
    path = str(tmp_path / "whole.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(4)).attrs["ok"] = 7
    with warnings.catch_warnings():
        warnings.simplefilter("error", Hdf5LeftOutWarning)
        with dosna_like.File(path, "r") as f:
            assert dict(f["x"].attrs) == {"ok": 7}


@pytest.mark.parametrize("where", ["local", "s3"])
def test_hdf5_refs_on_a_store_or_a_new_name_opens_the_store(where, tmp_path, request):
    """hdf5_refs= makes the path be tried as an HDF5 file first; a store there (even one named
    like a .h5 file) still opens as the store, and write modes create or refuse as without it."""
    if where == "s3":
        request.getfixturevalue("s3_server")
        base = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}"
    else:
        base = str(tmp_path)
    url = f"{base}/store.h5"
    with dosna_like.File(url, "w", hdf5_refs="beside") as f:  # a new name: a store is made
        f["x"] = np.arange(6)
    with dosna_like.File(url, "r", hdf5_refs="beside") as f:
        assert np.array_equal(f["x"][()], np.arange(6))
        assert f.store.url.rstrip("/").endswith("store.h5")
    with dosna_like.File(url, "a", hdf5_refs="beside") as f:
        f["y"] = 1.5
    with dosna_like.File(url, "r") as f:
        assert sorted(f) == ["x", "y"]
    h5 = str(tmp_path / "real.h5")
    with h5py.File(h5, "w") as f:
        f["z"] = np.arange(3)
    if where == "s3":
        fsspec.filesystem("s3").put_file(h5, f"{base}/real.h5")
        h5 = f"{base}/real.h5"
    for mode in ("r+", "a"):
        with pytest.raises(OSError, match="import"):
            dosna_like.File(h5, mode, hdf5_refs="beside")
    with dosna_like.File(h5, "r", hdf5_refs="beside") as f:
        assert np.array_equal(f["z"][()], np.arange(3))
