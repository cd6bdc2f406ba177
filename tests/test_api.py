"""The public API on every store kind (memory, local; S3 joins in its own suite).

Behaviour that h5py defines is checked against h5py in test_h5py_differential;
this file covers what is ours: the engine's promises, the store layer,
parallelism settings and the name rules.
"""
from __future__ import annotations

import numpy as np
import pytest

import dosna_like
from dosna_like.errors import CorruptChunkError
from dosna_like.format.keys import chunk_key


@pytest.fixture
def f(file_url):
    with dosna_like.File(file_url, "w") as fh:
        yield fh


def stored_chunk_keys(ds) -> set:
    prefix = ds._path + "/c"
    return {k for k in ds.file.store.list_keys(prefix)}


# ------------------------------------------------------------------ files
def test_file_round_trip_and_modes(file_url):
    data = np.arange(60, dtype="i4").reshape(6, 10)
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("g/x", data=data, chunks=(4, 4))
        f.attrs["title"] = "run"
    with dosna_like.File(file_url, "r") as f:
        assert f.mode == "r" and f.filename == file_url and f.name == "/"
        np.testing.assert_array_equal(f["g/x"][...], data)
        assert f.attrs["title"] == "run"
        with pytest.raises(OSError):
            f["g/x"][0, 0] = 1
    with dosna_like.File(file_url, "a") as f:
        f["g/x"][0, 0] = -1
        assert f.mode == "r+"
    with dosna_like.File(file_url, "r+") as f:
        assert f["g/x"][0, 0] == -1
    with pytest.raises(FileExistsError):
        dosna_like.File(file_url, "x")
    with dosna_like.File(file_url, "w") as f:
        assert len(f) == 0


def test_missing_file_and_bad_mode(file_url):
    with pytest.raises(FileNotFoundError):
        dosna_like.File(file_url, "r")
    with pytest.raises(FileNotFoundError):
        dosna_like.File(file_url, "r+")
    with pytest.raises(ValueError):
        dosna_like.File(file_url, "rw")


def test_h5py_file_options_a_store_cannot_honour_are_refused(file_url):
    """What h5py does with these is not comparable (it opens a SWMR reader or an MPI
    file); dosna_like raises h5py's type for an option its build lacks, before any I/O."""
    with dosna_like.File(file_url, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="SWMR"):
        dosna_like.File(file_url, "r", swmr=True)
    for driver in ("family", "split", "mpio", "ros3", "fileobj"):
        with pytest.raises(ValueError, match=driver):
            dosna_like.File(file_url, "r", driver=driver)
    # driver="core", backing_store=False is a memory store now (tests/test_compat.py)
    with dosna_like.File(file_url, "r", driver="core", libver="latest", rdcc_w0=0.5) as f:  # harmless: accepted
        np.testing.assert_array_equal(f["x"][...], np.arange(3))
        assert f.swmr_mode is False and f.driver == "core"  # the driver asked for, as h5py reports it
    with dosna_like.File(file_url, "r", driver=f.driver) as f:  # what File.driver reports opens the file
        assert list(f) == ["x"]


def test_closed_file_is_false_and_refuses_use(file_url):
    f = dosna_like.File(file_url, "w")
    ds = f.create_dataset("x", data=np.arange(3))
    assert f and ds
    f.close()
    assert not f and not ds
    assert "Closed" in repr(f)
    with pytest.raises(ValueError):
        ds[0]


def test_w_refuses_to_wipe_a_directory_that_is_not_a_store(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        dosna_like.File(str(target), "w")
    assert (target / "notes.txt").read_text() == "keep me"


# ----------------------------------------------------------------- groups
def test_group_tree_iteration_and_visit(f):
    f.create_group("b/c/d")
    f.create_dataset("a", data=[1, 2])
    f["b"].create_dataset("z", data=np.zeros(3))
    assert list(f) == ["a", "b"]
    assert list(f["b"]) == ["c", "z"]
    assert "b/c/d" in f and "/b/c" in f["b"] and "nope" not in f
    assert f["b/c"]["/a"] == f["a"]
    seen = []
    f.visit(seen.append)
    assert seen == ["a", "b", "b/c", "b/c/d", "b/z"]
    assert f.visititems(lambda n, o: n if isinstance(o, dosna_like.Dataset) and n.endswith("z") else None) == "b/z"
    assert f["b/c"].parent == f["b"] and f["b/c"].file == f
    del f["b"]
    assert list(f) == ["a"] and "b/c/d" not in f


@pytest.mark.parametrize("bad", ["a/../b", "x\x00y", "tab\there", ""])  # "a//b" is "a/b", as HDF5
def test_bad_names_are_refused_and_nothing_is_written(f, bad):
    with pytest.raises(ValueError):
        f.create_group(bad)
    with pytest.raises(ValueError):
        f.create_dataset(bad, data=[1])
    assert len(f) == 0


# ---------------------------------------------------------------- engine
def test_missing_chunks_read_as_fill_and_fill_chunks_are_not_stored(f):
    # shards=False: one object per chunk (a partial shard left empty stays as an index, chunks/sharded.py)
    ds = f.create_dataset("x", shape=(10, 10), dtype="f8", chunks=(5, 5), fillvalue=np.nan, shards=False)
    assert np.isnan(ds[...]).all()
    ds[0:5, 0:5] = 1.0
    ds[5:, 5:] = np.nan  # equals the fill value: nothing to store
    assert stored_chunk_keys(ds) == {chunk_key("x", (0, 0))}
    ds[0:5, 0:5] = np.nan  # back to fill: the stored chunk is removed
    assert stored_chunk_keys(ds) == set()
    ds[0, 0] = -0.0  # differs from fill by bits: kept
    assert stored_chunk_keys(ds) == {chunk_key("x", (0, 0))}


def test_negative_zero_is_not_mistaken_for_zero_fill(f):
    ds = f.create_dataset("x", shape=(4,), dtype="f4", chunks=(2,))
    ds[...] = -0.0
    assert np.signbit(ds[...]).all()


def test_complete_chunk_writes_do_not_read_and_partial_ones_do(f):
    ds = f.create_dataset("x", shape=(8, 8), dtype="i2", chunks=(4, 4), shards=False)  # one object per chunk
    ds[...] = 1
    ds.file.store.requests.reset()
    ds._io.cache.clear()
    ds[0:4, 0:8] = 2  # two complete chunks
    assert ds.file.store.requests.snapshot().get("get", 0) == 0
    ds._io.cache.clear()
    ds[0:2, 0:2] = 3  # partial: read-modify-write
    assert ds.file.store.requests.snapshot().get("get", 0) == 1
    expected = np.ones((8, 8), "i2")
    expected[0:4] = 2
    expected[0:2, 0:2] = 3
    np.testing.assert_array_equal(ds[...], expected)


def test_chunk_cache_is_sized_by_rdcc_nbytes(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("x", data=np.arange(64, dtype="f8").reshape(8, 8), chunks=(4, 4))  # 128 B chunks
    with dosna_like.File(file_url, "r", rdcc_nbytes=256) as f:
        ds = f["x"]
        ds[0, 0], ds[0, 4], ds[4, 0]
        requests = f.store.requests
        requests.reset()
        ds[4, 1]  # most recent: cached
        ds[0, 5]  # second most recent: cached
        assert requests.snapshot().get("get", 0) == 0
        ds[0, 1]  # evicted by the 256-byte bound
        assert requests.snapshot().get("get", 0) == 1
    with dosna_like.File(file_url, "r", rdcc_nbytes=0) as f:
        ds = f["x"]
        ds[0, 0]
        f.store.requests.reset()
        ds[0, 0]
        assert f.store.requests.snapshot().get("get", 0) == 1


def test_corrupt_chunk_error_names_its_key(f):
    ds = f.create_dataset("x", data=np.arange(100, dtype="f4"), chunks=(10,), compression="gzip", shards=False)
    key = chunk_key("x", (3,))
    f.store.set(key, b"definitely not gzip")
    ds._io.cache.clear()
    with pytest.raises(CorruptChunkError, match="x/c/3"):
        ds[...]
    with pytest.raises(OSError):
        ds[35]
    np.testing.assert_array_equal(ds[:30], np.arange(30))


def test_failed_write_loses_nothing(f):
    data = np.arange(20.0).reshape(4, 5)
    ds = f.create_dataset("x", data=data, chunks=(2, 2))
    with pytest.raises(TypeError):
        ds[0:2] = np.ones(3)  # broadcast mismatch
    with pytest.raises(ValueError):
        ds[0] = ["1", "2", "x", "4", "5"]  # not numbers
    np.testing.assert_array_equal(ds[...], data)


def test_chunk_writes_leave_no_partial_objects(f):
    ds = f.create_dataset("x", data=np.random.rand(50, 50), chunks=(7, 7), compression="zstd", shards=False)
    assert not any(k.endswith(".partial") for k in f.store.fs.find(f.store.root))
    assert len(stored_chunk_keys(ds)) == 64


def test_njobs_propagates_and_can_be_overridden(file_url):
    with dosna_like.File(file_url, "w", njobs=3) as f:
        g = f.create_group("g")
        ds = g.create_dataset("x", shape=(4,), dtype="i1")
        assert f.njobs == g.njobs == ds.njobs == 3
        g.njobs = 1
        assert g.njobs == 1 and ds.njobs == 1 and f["g"].njobs == 3
        ds2 = f.create_dataset("y", shape=(4,), dtype="i1", njobs=2)
        assert ds2.njobs == 2
        with pytest.raises(ValueError):
            ds2.njobs = 0
        with pytest.raises(ValueError):
            ds2.njobs = True
    with pytest.raises(ValueError):
        dosna_like.File(file_url, "a", njobs=True)


@pytest.mark.parametrize("njobs", [1, 2, 4])
def test_parallel_reads_and_writes_match_numpy(file_url, njobs):
    rng = np.random.default_rng(njobs)
    data = rng.standard_normal((37, 29, 5)).astype("f4")
    with dosna_like.File(file_url, "w", njobs=njobs) as f:
        ds = f.create_dataset("x", shape=data.shape, dtype="f4", chunks=(8, 7, 5), compression="blosc")
        ds[...] = data
        ds[3:30:4, ::3, 2] = -1
        data[3:30:4, ::3, 2] = -1
    with dosna_like.File(file_url, "r", njobs=njobs) as f:
        np.testing.assert_array_equal(f["x"][...], data)
        np.testing.assert_array_equal(f["x"][[1, 5, 36], 2:20, :], data[[1, 5, 36], 2:20, :])


@pytest.mark.parametrize("compression, opts, shuffle", [
    (None, None, False), ("gzip", None, False), ("gzip", 9, True), (3, None, False),
    ("blosc", None, False), ("blosc", {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle"}, False),
    ("zstd", 5, True), ("lz4", None, False),
])
def test_compression_round_trips(f, compression, opts, shuffle):
    data = (np.arange(3000) % 17).astype("i4").reshape(30, 100)
    ds = f.create_dataset("x", data=data, chunks=(8, 32), compression=compression,
                          compression_opts=opts, shuffle=shuffle)
    np.testing.assert_array_equal(ds[...], data)
    assert ds.shuffle == shuffle
    expected = "gzip" if compression == 3 else compression
    assert ds.compression == expected


def test_numcodecs_codec_objects_and_unknown_names(f):
    import numcodecs

    ds = f.create_dataset("x", data=np.arange(100.0), compression=numcodecs.BZ2(level=5))
    np.testing.assert_array_equal(ds[...], np.arange(100.0))
    assert ds.compression == "bz2"
    with pytest.raises(ValueError, match="gzip"):  # the message lists the names that exist
        f.create_dataset("y", shape=(3,), dtype="i1", compression="no-such-codec")
    with pytest.raises(ValueError):
        f.create_dataset("z", shape=(3,), dtype="i1", compression=numcodecs.Pickle())


def test_automatic_chunks_suit_object_storage(f):
    ds = f.create_dataset("x", shape=(4096, 4096), dtype="f8")
    assert ds.chunks is None  # contiguous in h5py's terms; stored in chunks all the same
    nbytes = np.prod(ds.chunk_size) * 8
    assert 256 * 1024 <= nbytes <= 4 * 1024 * 1024
    small = f.create_dataset("s", shape=(10, 3), dtype="f8")
    assert small.chunk_size == (10, 3)
    grow = f.create_dataset("g", shape=(0, 3), maxshape=(None, 3), dtype="f4")
    assert grow.chunks[0] >= 1024


def test_resize_shrink_then_grow_shows_fill(f):
    ds = f.create_dataset("x", data=np.arange(1, 21).reshape(4, 5), maxshape=(None, None), chunks=(3, 3))
    ds.resize((2, 2))
    np.testing.assert_array_equal(ds[...], [[1, 2], [6, 7]])
    ds.resize((4, 5))
    expected = np.zeros((4, 5), int)
    expected[:2, :2] = [[1, 2], [6, 7]]
    np.testing.assert_array_equal(ds[...], expected)
    ds.resize(7, axis=0)
    assert ds.shape == (7, 5)


def test_attributes_written_between_resizes_survive_them(file_url):
    """Attribute writes keep the open dataset's layout; later layout changes keep the attributes."""
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", data=np.arange(6, dtype="i2"), maxshape=(None,), chunks=(4,),
                              compression="gzip")
        ds.attrs["units"] = "m"
        ds.attrs.create("scale", 0.5, dtype="f4")
        ds.resize((9,))
        ds[6:] = [7, 8, 9]
        ds.attrs["units"] = "km"
        del ds.attrs["scale"]
        ds.attrs["v"] = np.arange(3, dtype="u1")
        ds.resize((8,))
        assert ds.shape == (8,) and ds.compression == "gzip"
        np.testing.assert_array_equal(ds[...], [0, 1, 2, 3, 4, 5, 7, 8])
    with dosna_like.File(file_url, "r") as f:
        ds = f["x"]
        assert dict(ds.attrs).keys() == {"units", "v"}
        assert ds.attrs["units"] == "km"
        assert ds.attrs["v"].dtype == np.dtype("u1")
        assert ds.shape == (8,) and ds.dtype == np.dtype("i2")
        np.testing.assert_array_equal(ds[...], [0, 1, 2, 3, 4, 5, 7, 8])


def test_iter_chunks_and_direct_io(f):
    ds = f.create_dataset("x", data=np.arange(50).reshape(5, 10), chunks=(2, 4))
    blocks = list(ds.iter_chunks())
    assert len(blocks) == 9
    assert sorted((b[0].start, b[1].start) for b in blocks) == [(r, c) for r in (0, 2, 4) for c in (0, 4, 8)]
    assert list(ds.iter_chunks(np.s_[1:3, 5:9])) == [
        (slice(1, 2, 1), slice(5, 8, 1)), (slice(1, 2, 1), slice(8, 9, 1)),
        (slice(2, 3, 1), slice(5, 8, 1)), (slice(2, 3, 1), slice(8, 9, 1))]
    dest = np.zeros((3, 3), dtype=ds.dtype)
    ds.read_direct(dest, np.s_[1:3, 2:5], np.s_[0:2, :])
    np.testing.assert_array_equal(dest[:2], np.arange(50).reshape(5, 10)[1:3, 2:5])
    ds.write_direct(np.full((2, 2), -7), np.s_[:, :], np.s_[0:2, 0:2])
    assert (ds[0:2, 0:2] == -7).all()
