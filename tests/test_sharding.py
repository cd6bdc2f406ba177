"""Sharded Zarr v3 arrays (``sharding_indexed``): written and read by dosna_like,
by zarr-python and by TensorStore, on every store kind, against numpy."""
from __future__ import annotations

import uuid
import warnings

import numpy as np
import pytest
import tensorstore as ts
import zarr
from hypothesis import HealthCheck, given, settings, strategies as st

import dosna_like
from dosna_like.errors import CorruptChunkError

from .conftest import S3_BUCKET, HttpCounter, run_threads

# every codec chain create_dataset builds, inside shards
CHAINS = [
    {},
    {"compression": "gzip"},
    {"compression": "gzip", "compression_opts": 9, "shuffle": True},
    {"compression": "zstd"},
    {"compression": "blosc"},
    {"compression": "lz4"},
    {"fletcher32": True},
    {"compression": "zstd", "shuffle": True, "fletcher32": True},
]


def _chain_id(kw: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in kw.items()) or "raw"


def _data(shape, dtype="f4", seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 100).astype(dtype)


@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("chain", CHAINS, ids=_chain_id)
def test_zarr_reads_our_sharded_arrays(file_url, chain, location):
    data = _data((45, 37))
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("g/x", shape=data.shape, dtype="f4", chunks=(5, 4),
                              shards={"shape": (15, 12), "index_location": location}, fillvalue=-7, **chain)
        ds[:30] = data[:30]  # rows 30.. stay unwritten: whole shards and inner chunks are missing
        ds[40, 3:9] = 0.5
        assert ds.chunks == (5, 4) and ds.shards == (15, 12)
    expected = data.copy()
    expected[30:] = -7
    expected[40, 3:9] = 0.5
    arr = zarr.open_group(file_url, mode="r")["g/x"]
    assert arr.shards == (15, 12) and arr.chunks == (5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numcodecs.* codecs are outside the Zarr spec
        np.testing.assert_array_equal(arr[...], expected)
    with dosna_like.File(file_url, "r") as f:
        np.testing.assert_array_equal(f["g/x"][...], expected)
        assert f["g/x"].compression == chain.get("compression")
        assert f["g/x"].fletcher32 == bool(chain.get("fletcher32"))


ZARR_CHAINS = {
    "raw": dict(compressors=None),
    "gzip": dict(compressors=zarr.codecs.GzipCodec(level=2)),
    "zstd": dict(compressors=zarr.codecs.ZstdCodec()),
    "blosc": dict(compressors=zarr.codecs.BloscCodec()),
    "crc32c": dict(compressors=[zarr.codecs.ZstdCodec(), zarr.codecs.Crc32cCodec()]),
    "big-endian": dict(compressors=None, serializer=zarr.codecs.BytesCodec(endian="big")),
}


@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("chain", list(ZARR_CHAINS))
def test_we_read_and_write_zarr_sharded_arrays(tmp_path, chain, location):
    url = str(tmp_path / "z.zarr")
    root = zarr.open_group(url, mode="w")
    arr = root.create_array("a", shape=(50, 33), chunks=(5, 3), dtype="i4", fill_value=3,
                            shards={"shape": (20, 12), "index_location": location}, **ZARR_CHAINS[chain])
    data = np.arange(50 * 33, dtype="i4").reshape(50, 33)
    data[:20, :12] = 3  # a whole shard of fill: zarr does not store it
    data[25:30, 3:6] = 3  # one inner chunk of fill inside a stored shard: not stored either
    arr[...] = data
    with dosna_like.File(url, "r") as f:
        ds = f["a"]
        assert ds.chunks == (5, 3) and ds.shards == (20, 12) and ds.fillvalue == 3
        np.testing.assert_array_equal(ds[...], data)
        np.testing.assert_array_equal(ds[7:44:5, 2:31:4], data[7:44:5, 2:31:4])
        assert not ds.has_chunk((5, 1)) and ds.has_chunk((5, 2))
    with dosna_like.File(url, "a") as f:
        f["a"][18:23, 10:15] = -1  # across four shards, partly covering inner chunks
        data[18:23, 10:15] = -1
    np.testing.assert_array_equal(zarr.open_array(url + "/a", mode="r")[...], data)


def test_tensorstore_reads_ours_and_we_read_tensorstores(tmp_path):
    data = _data((40, 30), "i2", seed=3)
    url = str(tmp_path / "ours")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=(8, 5), shards=(16, 15), compression="gzip")
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": url + "/x"}}
    np.testing.assert_array_equal(ts.open(spec).result().read().result(), data)

    theirs = str(tmp_path / "theirs")
    zarr.open_group(theirs, mode="w")  # the enclosing group
    arr = ts.open({
        "driver": "zarr3", "kvstore": {"driver": "file", "path": theirs + "/t"}, "create": True,
        "metadata": {"shape": [40, 30], "data_type": "int16", "fill_value": 0,
                     "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [16, 15]}},
                     "codecs": [{"name": "sharding_indexed", "configuration": {
                         "chunk_shape": [8, 5], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                                           {"name": "zstd", "configuration": {"level": 3}}],
                         "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                          {"name": "crc32c"}], "index_location": "end"}}]},
    }).result()
    arr.write(data).result()
    with dosna_like.File(theirs, "r") as f:
        np.testing.assert_array_equal(f["t"][...], data)


def test_shards_keyword_errors():
    with dosna_like.File(f"memory://sh-{uuid.uuid4().hex}", "w") as f:
        with pytest.raises(ValueError, match="multiple"):
            f.create_dataset("a", shape=(10, 10), chunks=(4, 4), shards=(6, 8))
        with pytest.raises(ValueError, match="rank"):
            f.create_dataset("b", shape=(10, 10), chunks=(4, 4), shards=(8,) * 3)
        with pytest.raises(TypeError):
            f.create_dataset("c", data=1.0, shards=(1,))
        with pytest.raises(ValueError, match="index_location"):
            f.create_dataset("d", shape=(10,), chunks=(2,), shards={"shape": (4,), "index_location": "middle"})
        ds = f.create_dataset("e", shape=(10, 10), chunks=(4, 4), shards=8)
        assert ds.shards == (8, 8)
        assert f.create_dataset("plain", shape=(4,)).shards is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_selections_on_sharded_arrays_match_numpy(data):
    shape = data.draw(st.tuples(st.integers(1, 23), st.integers(1, 19)), label="shape")
    chunks = data.draw(st.tuples(st.integers(1, 6), st.integers(1, 6)), label="chunks")
    per = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="per")
    shards = tuple(c * p for c, p in zip(chunks, per))
    location = data.draw(st.sampled_from(["end", "start"]))
    expected = np.full(shape, 9, dtype="i4")
    with dosna_like.File(f"memory://hyp-{uuid.uuid4().hex}", "w") as f:
        ds = f.create_dataset("x", shape=shape, dtype="i4", chunks=chunks, fillvalue=9, maxshape=(None, None),
                              shards={"shape": shards, "index_location": location},
                              compression=data.draw(st.sampled_from([None, "gzip"])))

        def a_slice(n):
            start = data.draw(st.integers(0, n - 1))
            stop = data.draw(st.integers(start + 1, n))
            return slice(start, stop, data.draw(st.integers(1, 3)))

        for _ in range(data.draw(st.integers(1, 4))):
            key = (a_slice(shape[0]), a_slice(shape[1]))
            value = data.draw(st.integers(-1000, 1000))
            if data.draw(st.booleans()):
                value = np.arange(expected[key].size, dtype="i4").reshape(expected[key].shape) + value
            ds[key] = value
            expected[key] = value
            np.testing.assert_array_equal(ds[...], expected)
            read_key = (a_slice(shape[0]), data.draw(st.integers(0, shape[1] - 1)))
            np.testing.assert_array_equal(ds[read_key], expected[read_key])


def test_chunk_level_api_works_on_inner_chunks(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(12, 10), dtype="i2", chunks=(3, 5), shards=(6, 10), maxshape=(None, 10))
        ds[...] = np.arange(120, dtype="i2").reshape(12, 10)
        assert ds.chunk_grid == (4, 2) and ds.has_chunk((3, 1))
        np.testing.assert_array_equal(ds.get_chunk_data((1, 1)), np.arange(120).reshape(12, 10)[3:6, 5:])
        ds.del_chunk((1, 1))
        assert not ds.has_chunk((1, 1)) and ds.has_chunk((1, 0))
        assert (ds[3:6, 5:] == 0).all() and ds[3, 4] == 34
        ds.set_chunk_data((0, 0), 7)
        assert (ds[0:3, 0:5] == 7).all() and ds[0, 5] == 5
        ds.resize((7, 10))  # inner chunk row 2 is cut, row 3 and shard 1's rest dropped
        ds.resize((12, 10))
        expected = np.arange(120, dtype="i2").reshape(12, 10)
        expected[0:3, 0:5] = 7
        expected[3:6, 5:] = 0
        expected[7:] = 0
        np.testing.assert_array_equal(ds[...], expected)
        assert not ds.has_chunk((3, 0))


def test_a_damaged_shard_index_is_an_error_naming_the_shard(tmp_path):
    url = str(tmp_path / "d")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=np.arange(64, dtype="f8"), chunks=(4,), shards=(16,))
    path = tmp_path / "d" / "x" / "c" / "1"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # inside the index: its crc32c no longer matches
    path.write_bytes(bytes(raw))
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["x"][:16], np.arange(16))
        with pytest.raises(CorruptChunkError, match="x/c/1"):
            f["x"][20]
    with pytest.raises(ValueError, match="checksum"):
        zarr.open_array(url + "/x", mode="r")[20]  # zarr-python refuses it too


def test_concurrent_partial_writes_to_one_shard_lose_nothing(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(8, 64), dtype="i4", chunks=(8, 4), shards=(8, 64), njobs=1)

        def writer(col):
            for row in range(8):
                ds[row, col] = col + 1  # each write rewrites the one shard

        run_threads(writer, range(0, 64, 3))  # raises what a writer raised
        expected = np.zeros((8, 64), "i4")
        expected[:, ::3] = np.arange(0, 64, 3) + 1
        np.testing.assert_array_equal(ds[...], expected)


@pytest.fixture
def s3_file(s3_server) -> str:
    return f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/sharded.h5"


def test_s3_requests_one_index_per_shard_ranges_and_whole_shard_puts(s3_file):
    data = _data((64, 64, 16))
    with dosna_like.File(s3_file, "w") as f:
        f.create_dataset("x", shape=data.shape, dtype="f4", chunks=(8, 8, 8), shards=(32, 32, 16))
    # chunk bodies through botocore, whose hooks HttpCounter counts (obstore's requests are the same ones)
    botocore_bodies = {"body_client": "botocore"}
    probe = dosna_like.File(s3_file, "r", storage_options=botocore_bodies)
    http = HttpCounter(probe.store.fs)
    with dosna_like.File(s3_file, "a", storage_options=botocore_bodies) as f:
        ds = f["x"]
        http.take()
        ds[...] = data  # 4 shards covered completely: 4 PUTs, nothing read
        assert http.take() == {"PUT": 4}
        ds[0, 0, 0] = 1  # a partial shard: read it whole, write it whole
        data[0, 0, 0] = 1
        assert http.take() == {"GET": 1, "PUT": 1}
    with dosna_like.File(s3_file, "r", rdcc_nbytes=0, storage_options=botocore_bodies) as f:  # count every fetch
        ds = f["x"]
        http.take()
        np.testing.assert_array_equal(ds[0:8, 0:8, :], data[0:8, 0:8, :])
        assert http.take() == {"GET": 2}  # the shard's index, then its 2 inner chunks in one run
        np.testing.assert_array_equal(ds[1:3, 9, :], data[1:3, 9, :])
        assert http.take() == {"GET": 1}  # index cached: one ranged GET
        np.testing.assert_array_equal(ds[...], data)
        assert http.take() == {"GET": 4}  # every chunk wanted: each shard whole, in one GET
        np.testing.assert_array_equal(ds[40, 40, 3], data[40, 40, 3])
        assert http.take() == {"GET": 1}  # index kept from that read: one ranged GET of one inner chunk
    probe.close()


def test_copies_clones_and_likes_keep_the_shards(tmp_path):
    import h5py

    data = np.arange(300, dtype="i4").reshape(20, 15)
    with dosna_like.File(str(tmp_path / "a"), "w") as f, h5py.File(str(tmp_path / "b.h5"), "w") as h:
        src = f.create_dataset("src", data=data, chunks=(5, 5), shards=(10, 15), compression="gzip")
        f.copy(src, "copied")
        like = f.create_dataset_like("like", src)
        clone = src.clone("cloned")
        for ds in (f["copied"], like, clone):
            assert ds.shards == (10, 15) and ds.chunks == (5, 5)
        np.testing.assert_array_equal(f["copied"][...], data)
        f.copy(src, h, "in_hdf5")  # HDF5 has no shards: the inner chunks stay
        assert h["in_hdf5"].chunks == (5, 5)
        np.testing.assert_array_equal(h["in_hdf5"][...], data)


def test_strings_in_shards_and_xarray_dask_open_sharded_stores(tmp_path):
    import dask.array as da
    import xarray as xr

    url = str(tmp_path / "s")
    words = [f"w{i}" * i for i in range(7)]
    grid = np.arange(24.0).reshape(4, 6)
    with dosna_like.File(url, "w") as f:
        s = f.create_dataset("s", shape=(10,), dtype=dosna_like.string_dtype(), chunks=(2,), shards=(4,))
        s[:7] = words
        f.create_dataset("x", data=grid, chunks=(2, 3), shards=(4, 6))
    assert zarr.open_group(url, mode="r")["s"][...].tolist() == words + ["", "", ""]
    with dosna_like.File(url, "r") as f:
        assert [v.decode() for v in f["s"][...]] == words + ["", "", ""]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opened = xr.open_zarr(url)
    np.testing.assert_array_equal(opened["x"].values, grid)
    np.testing.assert_array_equal(da.from_zarr(url, component="x").compute(), grid)


def test_export_and_info_of_a_sharded_dataset(tmp_path, capsys):
    import h5py
    from dosna_like.cli import main

    data = np.arange(600, dtype="f8").reshape(20, 30)
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=(5, 5), shards=(10, 30), compression="gzip")
    assert main(["info", url + "/x"]) == 0
    assert "chunks        (5, 5) in shards (10, 30)  (2 of 2 shards stored)" in capsys.readouterr().out
    assert main(["export", url, str(tmp_path / "o.h5"), "--no-progress"]) == 0
    with h5py.File(tmp_path / "o.h5", "r") as h:
        assert h["x"].chunks == (5, 5) and h["x"].compression == "gzip"
        np.testing.assert_array_equal(h["x"][...], data)


def test_apply_and_map_rewrite_each_shard_once(tmp_path):
    url = str(tmp_path / "m")
    data = np.arange(32 * 40, dtype="i4").reshape(32, 40)
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("x", data=data, chunks=(4, 5), shards=(16, 20))  # 4 shards of 16 inner chunks
        store = f.store
        before = store.requests.snapshot().get("put", 0)
        ds.apply(lambda block: block * 2)
        assert store.requests.snapshot().get("put", 0) - before == 4  # one PUT per shard, not per inner chunk
        np.testing.assert_array_equal(ds[...], data * 2)
        out = ds.map(lambda block: block + 1, "y")
        assert out.shards == (16, 20)
        np.testing.assert_array_equal(out[...], data * 2 + 1)


# ------------------------------------------------- default shards on object storage
def test_default_shard_rule():
    from dosna_like.hl.creation import SHARD_TARGET_BYTES, default_shards
    assert default_shards((1024, 1024, 64), (32, 32, 32), 4) == (128, 256, 64)  # 8 MiB, fewest-chunk axis first
    assert default_shards((4096, 4096), (64, 64), 8) == (1024, 1024)
    assert default_shards((100,), (10,), 8) == (100,)  # never past the array's extent
    assert default_shards((10,), (10,), 8) is None  # one chunk: nothing to gather
    assert default_shards((4096, 4096), (512, 256), 8) is None  # 1 MiB chunks are big enough
    shards = default_shards((1000, 1000, 7), (10, 10, 1), 2)
    assert all(s % c == 0 for s, c in zip(shards, (10, 10, 1))) and np.prod(shards) * 2 <= SHARD_TARGET_BYTES


def test_small_chunks_on_s3_are_sharded_unless_asked_not_to(s3_file, tmp_path):
    data = _data((256, 64))
    with dosna_like.File(s3_file, "w") as f:
        ds = f.create_dataset("x", data=data, chunks=(8, 8))
        assert ds.chunks == (8, 8) and ds.shards == (256, 64)  # 2 KiB inner chunks, one 64 KiB shard
        assert f.create_dataset("off", data=data, chunks=(8, 8), shards=False).shards is None
        assert f.create_dataset("grows", data=data, chunks=(8, 8), maxshape=(None, 64)).shards is None
        assert f.create_dataset("auto", data=data).shards is None  # one guessed chunk
        assert f.create_dataset("big", shape=(2048, 512), dtype="f8", chunks=(256, 512)).shards is None  # 1 MiB
    with dosna_like.File(s3_file, "r") as f:
        np.testing.assert_array_equal(f["x"][...], data)
        np.testing.assert_array_equal(f["x"][3:70:5, 7], data[3:70:5, 7])
        assert f["x"].shards == (256, 64) and f["off"].shards is None
    np.testing.assert_array_equal(zarr.open_array(s3_file + "/x", mode="r")[...], data)
    with dosna_like.File(str(tmp_path / "local.h5"), "w") as f:  # a local directory: no default
        assert f.create_dataset("x", data=data, chunks=(8, 8)).shards is None


# ------------------------------------------------- a cached shard index gone stale
def _rewrite_in_another_process(url: str, seed: int) -> None:
    import subprocess
    import sys
    script = ("import sys, numpy as np, dosna_like\n"
              "with dosna_like.File(sys.argv[1], 'r+') as f:\n"
              "    f['x'][...] = (np.random.default_rng(int(sys.argv[2])).standard_normal((64, 64)) * 100)"
              ".astype('f4') * np.arange(64, dtype='f4')[:, None]\n")
    subprocess.run([sys.executable, "-c", script, url, str(seed)], check=True, timeout=120)


def _expected(seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((64, 64)) * 100).astype("f4") * np.arange(64, dtype="f4")[:, None]


@pytest.mark.parametrize("writer", ["process", "handle"])
def test_a_stale_shard_index_is_read_again_not_trusted(file_url, writer):
    if writer == "process" and file_url.startswith("memory://"):
        pytest.skip("a memory:// store lives in one process")  # the 'handle' case covers it
    with dosna_like.File(file_url, "w") as f:  # gzip: inner chunks of varying sizes, each with crc32c
        f.create_dataset("x", data=_data((64, 64)), chunks=(8, 8), shards=(64, 64), compression="gzip")
    with dosna_like.File(file_url, "r", rdcc_nbytes=0) as f:
        ds = f["x"]
        np.testing.assert_array_equal(ds[:8, :8], _data((64, 64))[:8, :8])  # index cached
        if writer == "process":
            _rewrite_in_another_process(file_url, 5)
        else:
            with dosna_like.File(file_url, "r+") as other:
                other["x"][...] = _expected(5)
        # every inner chunk moved inside the shard: the kept index is stale
        np.testing.assert_array_equal(ds[...], _expected(5))
        np.testing.assert_array_equal(ds[40:50, 3:17], _expected(5)[40:50, 3:17])
        assert ds[63, 63] == _expected(5)[63, 63]


def test_a_read_of_shards_some_with_a_stale_index_reads_what_another_handle_wrote(file_url):
    # four shards: on S3 the two without a kept index come whole through the fetch
    # pipeline, the two with one (stale) by ranges, then again with a fresh index
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("x", data=_data((64, 64)), chunks=(8, 8), shards=(32, 32), compression="gzip")
    with dosna_like.File(file_url, "r", rdcc_nbytes=0) as f:
        ds = f["x"]
        np.testing.assert_array_equal(ds[:40, :8], _data((64, 64))[:40, :8])  # indexes of shards (0,0), (1,0) kept
        with dosna_like.File(file_url, "r+") as other:
            other["x"][...] = _expected(7)
        out = ds[...]
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, _expected(7))


def test_a_stale_index_of_shards_without_checksums_needs_refresh(tmp_path):
    url = str(tmp_path / "raw.h5")
    with dosna_like.File(url, "w") as f:  # raw inner chunks, no checksum: equal sizes, nothing to catch
        f.create_dataset("x", data=_data((64, 64)), chunks=(8, 8), shards=(64, 64), checksum=False)
    with dosna_like.File(url, "r", rdcc_nbytes=0) as f:
        ds = f["x"]
        ds[0, 0]  # index cached
        with dosna_like.File(url, "r+") as other:
            other["x"][:8] = 0  # the first row of chunks left out of the shard: the others move
        ds.refresh()  # the documented way to see another writer's shards (h5py's SWMR refresh)
        expected = _data((64, 64))
        expected[:8] = 0
        np.testing.assert_array_equal(f["x"][...], expected)


def test_raw_inner_chunks_of_one_shard_are_one_shard_write(s3_file):
    data = _data((32, 32))
    with dosna_like.File(s3_file, "w", storage_options={"body_client": "botocore"}) as f:  # counted by its hooks
        src = f.create_dataset("src", data=data, chunks=(8, 8), shards=False)
        dest = f.create_dataset("dest", shape=(32, 32), dtype="f4", chunks=(8, 8), shards=(32, 16))
        coords = [(i, j) for i in range(4) for j in range(4)]
        raws = [(c, src._io.get_raw(c)) for c in coords]
        http = HttpCounter(f.store.fs)
        http.take()
        dest._io.put_raws(raws)  # 16 inner chunks of 2 shards: 2 PUTs, nothing to read (no shard yet)
        assert http.take() == {"GET": 2, "PUT": 2}  # each shard read (absent) and written once
        dest._io.put_raw((0, 0), src._io.get_raw((0, 0)))
        http.take()
        np.testing.assert_array_equal(dest[...], data)
        plain = f.create_dataset("plain", shape=(32, 32), dtype="f4", chunks=(8, 8), shards=False)
        http.take()
        plain._io.put_raws(raws)  # unsharded: one PUT per chunk, in one batch
        assert http.take() == {"PUT": 16}
        np.testing.assert_array_equal(plain[...], data)



def test_set_chunk_data_with_slices_into_a_shard_writes_what_the_chunk_path_writes(file_url):
    """Slices of an inner chunk become a selection of the array (its conditional shard
    update): steps, partial ranges and the bounds of the chunk as numpy gives them."""
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(8, 1000), dtype="i4", chunks=(8, 256), shards=(8, 1024))
        ds.set_chunk_data((0, 1), np.arange(128, dtype="i4"), slices=(slice(2, 4), slice(None, None, 2)))
        ds.set_chunk_data((0, 3), np.int32(7), slices=(5, slice(200, None)))  # the chunk ends at 1000
        expected = np.zeros((8, 1000), "i4")
        expected[2:4, 256:512:2] = np.arange(128)
        expected[5, 968:1000] = 7
        np.testing.assert_array_equal(ds[...], expected)
