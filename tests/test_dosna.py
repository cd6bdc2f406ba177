"""DosNa compatibility (cluster.py, chunk_access.py) on every store kind.

Cluster, Pool and auto_init as DosNa users wrote them; njobs propagation
Cluster -> Pool -> Dataset; the chunk-level Dataset API compared against
numpy on the same data.
"""
from __future__ import annotations

from collections.abc import Mapping
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numcodecs
import numpy as np
import pytest

import dosna_like as dn
from dosna_like.hl import chunk_access
from dosna_like.hl import cluster as cluster_module
from dosna_like.hl.cluster import NotConnectedError, PoolNotFoundError
from dosna_like.chunks.pools import default_njobs

from .conftest import S3_BUCKET, run_threads

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def cluster_url(store_kind, tmp_path, request) -> str:
    """A fresh, empty cluster root on the store kind under test."""
    name = f"cluster-{uuid.uuid4().hex[:12]}"
    if store_kind == "memory":
        return f"memory://dosna-tests/{name}"
    if store_kind == "local":
        return str(tmp_path / name)
    request.getfixturevalue("s3_server")
    return f"s3://{S3_BUCKET}/{name}"


@pytest.fixture
def cluster(cluster_url):
    with dn.Cluster(cluster_url) as c:
        yield c


@pytest.fixture
def pool(cluster):
    with cluster.create_pool("p") as p:
        yield p


@pytest.fixture
def no_default_cluster(monkeypatch):
    """Each auto_init test starts without a singleton and leaves none behind."""
    monkeypatch.setattr(cluster_module, "_default_cluster", None)
    yield
    c = cluster_module.default_cluster()
    if c is not None:
        c.disconnect()


def chunk_keys(ds) -> list:
    prefix = ds._path + "/c"
    return [k for k in ds.file.store.list_keys(prefix) if k == prefix or k.startswith(prefix + "/")]


# ------------------------------------------------------------------ cluster
def test_dosna_tutorial_flow(cluster_url):
    data = np.random.default_rng(0).random((70, 100, 60)).astype("f4")
    C = dn.Cluster(cluster_url).connect()
    pool = C.create_pool("tutorial")
    ds = pool.create_dataset("data", data=data, chunks=32)
    assert ds.chunks == (32, 32, 32) and ds.chunk_size == (32, 32, 32)
    np.testing.assert_array_equal(ds[0, 0, :10], data[0, 0, :10])
    pool.close()
    C.disconnect()

    expected = data.copy()
    update = np.random.default_rng(1).random((70, 100, 60)).astype("f4")
    with dn.Cluster(cluster_url) as C:
        with C["tutorial"] as pool:
            ds = pool["data"]
            ds[36:80, 89:, :56] = update[36:80, 89:, :56]
        assert not pool
    expected[36:80, 89:, :56] = update[36:80, 89:, :56]
    with dn.Cluster(cluster_url) as C, C.get_pool("tutorial", "r") as pool:
        np.testing.assert_array_equal(pool["data"][...], expected)


def test_connect_disconnect(cluster_url):
    C = dn.Cluster(cluster_url)
    assert not C.connected
    with pytest.raises(ConnectionError):
        C.create_pool("p")
    with pytest.raises(NotConnectedError):
        C.list_pools()
    assert C.connect() is C and C.connected
    assert C.connect() is C  # connecting twice is harmless
    pool = C.create_pool("p")
    ds = pool.create_dataset("x", data=np.arange(10))
    C.disconnect()
    assert not C.connected and not pool and not pool.is_open
    with pytest.raises(ValueError):
        ds[0]  # closed with the cluster, as when DosNa shut its connection down
    with C:
        assert C.connected and "p" in C
        np.testing.assert_array_equal(C["p"]["x"][...], np.arange(10))
    assert not C.connected
    assert "disconnected" in repr(C)


def test_pool_management(cluster):
    assert cluster.list_pools() == [] and len(cluster) == 0
    for name in ("tutorial", "tut", "b"):
        cluster.create_pool(name).close()
    assert cluster.list_pools() == ["b", "tut", "tutorial"]
    assert list(cluster) == ["b", "tut", "tutorial"] and len(cluster) == 3
    assert cluster.has_pool("tut") and "tut" in cluster
    assert not cluster.has_pool("tu") and "tu" not in cluster
    with pytest.raises(FileExistsError):
        cluster.create_pool("tut")

    with pytest.raises(KeyError):
        cluster["missing"]
    with pytest.raises(FileNotFoundError):
        cluster.get_pool("missing")
    with pytest.raises(PoolNotFoundError):
        cluster.get_pool("missing", "a")
    assert "missing" not in cluster  # lookups create nothing

    with cluster["tutorial"] as p:
        p["keep"] = np.arange(5)
    held = cluster["tut"]
    assert cluster.del_pool("tut") is True
    assert not held  # open handles of a deleted pool are closed
    assert cluster.del_pool("tut") is False
    assert cluster.list_pools() == ["b", "tutorial"]
    with cluster["tutorial"] as p:  # a pool whose name extends the deleted one is untouched
        np.testing.assert_array_equal(p["keep"][...], np.arange(5))
    del cluster["b"]
    with pytest.raises(KeyError):
        del cluster["b"]
    assert cluster.list_pools() == ["tutorial"]


def test_cluster_is_a_mapping_of_pools(cluster, cluster_url):
    assert isinstance(cluster, Mapping)
    assert list(cluster.keys()) == [] and cluster.get("p") is None
    for name in ("b", "a"):
        with cluster.create_pool(name) as p:
            p.attrs["name"] = name
    assert list(cluster.keys()) == ["a", "b"] and "a" in cluster.keys()
    items = list(cluster.items())
    assert [name for name, _ in items] == ["a", "b"]
    assert all(isinstance(p, dn.Pool) and p.pool_name == name and p.attrs["name"] == name for name, p in items)
    assert [p.pool_name for p in cluster.values()] == ["a", "b"]
    assert cluster.get("a").pool_name == "a"
    assert cluster.get("missing") is None and cluster.get("missing", 0) == 0
    with dn.Cluster(cluster_url) as same, dn.Cluster(cluster_url.rstrip("/") + "-other") as other:
        assert cluster == same  # the same pools at the same place
        assert cluster != other and other == {}
    assert "missing" not in cluster and "a/b" not in cluster  # lookups create nothing and refuse nothing
    assert cluster.list_pools() == ["a", "b"]


@pytest.mark.parametrize("name", ["", "..", "a/..", "a/b", "/a", "a/", ".", "a\x00b", "tab\tname", "zarr.json"])
def test_pool_names_follow_the_name_rules(cluster, name):
    with pytest.raises(ValueError):
        cluster.create_pool(name)
    with pytest.raises(ValueError):
        cluster.has_pool(name)
    assert name not in cluster
    assert cluster.list_pools() == []


def test_pool_name_types(cluster):
    with pytest.raises(TypeError):
        cluster.create_pool(3)
    cluster.create_pool(b"bytes-name").close()
    assert cluster.list_pools() == ["bytes-name"]


def test_pool_is_a_file(cluster):
    data = np.arange(24, dtype="i2").reshape(4, 6)
    with cluster.create_pool("p") as pool:
        assert isinstance(pool, dn.File) and isinstance(pool, dn.Pool)
        assert pool.name == "/" and pool.pool_name == "p" and pool.cluster is cluster
        assert pool.mode == "r+" and 'pool "p"' in repr(pool)
        pool.create_group("g").create_dataset("d", data=data, chunks=(3, 4))
        pool.attrs["owner"] = "dosna"
        pool["g/d"].attrs["units"] = "K"
    # the same store is an ordinary file at pool_url
    with dn.File(cluster.pool_url("p"), "r") as f:
        np.testing.assert_array_equal(f["g/d"][...], data)
        assert f.attrs["owner"] == "dosna" and f["g/d"].attrs["units"] == "K"
    with cluster.get_pool("p", "r") as pool:
        assert pool.mode == "r"
        with pytest.raises(OSError):
            pool["g/d"][0, 0] = 1
        with pytest.raises(ValueError):
            pool.create_group("h")


def test_pool_modes(cluster):
    with pytest.raises(PoolNotFoundError):
        dn.Pool("q", "r", cluster=cluster)
    with dn.Pool("q", cluster=cluster) as p:  # DosNa's default 'a' creates
        p["x"] = np.ones(3)
    with dn.Pool("q", cluster=cluster) as p:  # ... and opens
        assert list(p) == ["x"]
    with pytest.raises(FileExistsError):
        dn.Pool("q", "x", cluster=cluster)
    with dn.Pool("q", "w", cluster=cluster) as p:
        assert list(p) == []


def test_pool_follows_cluster_storage_options(store_kind, cluster_url, request):
    options = {}
    if store_kind == "s3":
        options = request.getfixturevalue("s3_server").storage_options
    with dn.Cluster(cluster_url, storage_options=options) as C, C.create_pool("p") as pool:
        pool["x"] = np.arange(4)
        for key, value in options.items():
            assert pool.store.fs.storage_options[key] == value
        assert C.storage_options == options


# --------------------------------------------------------- default cluster
def test_cluster_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(cluster_module.CLUSTER_ENV, str(tmp_path / "from-env"))
    assert dn.Cluster().url == str(tmp_path / "from-env")
    monkeypatch.delenv(cluster_module.CLUSTER_ENV)
    monkeypatch.chdir(tmp_path)
    with dn.Cluster() as C, C.create_pool("p"):
        assert C.url == os.path.join(str(tmp_path), "dosna-cluster")
    assert os.path.isfile(tmp_path / "dosna-cluster" / "p" / "zarr.json")
    assert dn.Cluster("rel").url == os.path.join(str(tmp_path), "rel")


def test_auto_init_singleton(cluster_url, no_default_cluster):
    with pytest.raises(ConnectionError):
        dn.Pool("tutorial")
    C = dn.auto_init(njobs=3, url=cluster_url)
    assert cluster_module.default_cluster() is C and C.connected and C.njobs == 3
    with dn.Pool("tutorial") as p:
        p.create_dataset("data", data=np.arange(100), chunks=10)
        assert p.cluster is C and p.njobs == 3 and p["data"].njobs == 3
    with dn.Pool("tutorial", "r") as p:
        np.testing.assert_array_equal(p["data"][...], np.arange(100))
    assert C.list_pools() == ["tutorial"]
    C2 = dn.auto_init(url=cluster_url)
    assert cluster_module.default_cluster() is C2 and C.connected  # replaced, not disconnected
    with dn.Pool("tutorial", "r") as p:
        assert p.cluster is C2
    C2.disconnect()
    with pytest.raises(NotConnectedError):
        dn.Pool("tutorial")


def test_njobs_propagation(cluster_url):
    assert dn.Cluster(cluster_url).njobs == default_njobs()
    with pytest.raises(ValueError):
        dn.Cluster(cluster_url, njobs=0)
    with dn.Cluster(cluster_url, njobs=3) as C:
        pool = C.create_pool("p")
        g = pool.create_group("g")
        ds = g.create_dataset("d", shape=(10,))
        own = g.create_dataset("own", shape=(10,), njobs=1)
        assert (pool.njobs, g.njobs, ds.njobs, own.njobs) == (3, 3, 3, 1)
        C.njobs = 5  # followed live by everything that did not override it
        assert (pool.njobs, g.njobs, ds.njobs, pool["g/d"].njobs, own.njobs) == (5, 5, 5, 5, 1)
        with pytest.raises(ValueError):
            C.njobs = -1
        fixed = C.get_pool("p", njobs=2)
        assert fixed.njobs == 2 and fixed["g/d"].njobs == 2
        handle = pool["g/d"]
        handle.njobs = 4  # per handle, as the rest of the library
        assert handle.njobs == 4 and ds.njobs == 5
        assert C.create_pool("q", njobs=1)["/"].njobs == 1


def test_map_and_apply_run_with_the_dataset_njobs(pool, monkeypatch):
    seen = []
    real = chunk_access.user_chunk_map

    def spy(func, items, njobs):
        seen.append((len(items), njobs))
        return real(func, items, njobs)

    monkeypatch.setattr(chunk_access, "user_chunk_map", spy)
    ds = pool.create_dataset("d", data=np.arange(100.0), chunks=10, njobs=2, shards=False)
    ds.apply(np.sqrt)
    out = ds.map(np.negative, "neg")
    assert seen == [(10, 2), (9, 2)]  # map does the first chunk itself to learn the dtype
    assert out.njobs == 2
    np.testing.assert_allclose(out[...], -np.sqrt(np.arange(100.0)))


# ------------------------------------------------------------ chunk access
def test_chunk_grid(pool):
    ds = pool.create_dataset("d", shape=(10, 7, 5), dtype="i4", chunks=(4, 3, 5))
    assert ds.chunk_size == ds.chunks == (4, 3, 5)
    assert ds.chunk_grid == (3, 3, 1) and ds.total_chunks == 9
    assert ds.chunk_bounds((2, 1, 0)) == (slice(8, 10), slice(3, 6), slice(0, 5))
    assert ds.chunk_bounds((-1, -1, 0)) == (slice(8, 10), slice(6, 7), slice(0, 5))
    empty = pool.create_dataset("e", shape=(0, 4), dtype="f4", chunks=(2, 2), maxshape=(None, 4))
    assert empty.chunk_grid == (0, 2) and empty.total_chunks == 0


def test_get_chunk_data_returns_the_in_bounds_part(pool):
    data = np.arange(10 * 7 * 5, dtype="i4").reshape(10, 7, 5)
    ds = pool.create_dataset("d", data=data, chunks=(4, 3, 5))
    for idx in np.ndindex(*ds.chunk_grid):
        np.testing.assert_array_equal(ds.get_chunk_data(idx), data[ds.chunk_bounds(idx)])
    edge = ds.get_chunk_data((2, 2, 0))
    assert edge.shape == (2, 1, 5) and edge.dtype == data.dtype
    np.testing.assert_array_equal(ds.get_chunk_data((1, 0, 0), slices=(slice(1, 3), 2)), data[5:7, 2])
    np.testing.assert_array_equal(ds.get_chunk_data((2, 2, 0), slices=np.s_[..., ::2]), data[8:, 6:, ::2])
    assert ds.get_chunk_data((0, 0, 0), slices=(1, 1, 1)) == data[1, 1, 1]
    got = ds.get_chunk_data((0, 0, 0))
    got[...] = -5  # a copy: neither the store nor the cache changes
    np.testing.assert_array_equal(ds.get_chunk_data((0, 0, 0)), data[:4, :3])
    np.testing.assert_array_equal(ds[...], data)


def test_missing_chunk_reads_as_fill(pool):
    ds = pool.create_dataset("d", shape=(5, 5), dtype="f8", chunks=(3, 3), fillvalue=-1.5)
    assert not ds.has_chunk((1, 1))
    np.testing.assert_array_equal(ds.get_chunk_data((1, 1)), np.full((2, 2), -1.5))
    np.testing.assert_array_equal(ds.get_chunk_data((0, 1), slices=np.s_[0]), np.full(2, -1.5))


def test_set_chunk_data_matches_numpy(pool):
    rng = np.random.default_rng(2)
    expected = np.full((10, 7), 9, dtype="i2")
    ds = pool.create_dataset("d", shape=(10, 7), dtype="i2", chunks=(4, 3), fillvalue=9)
    block = rng.integers(-100, 100, (4, 3)).astype("i2")
    ds.set_chunk_data((1, 1), block)
    expected[4:8, 3:6] = block
    ds.set_chunk_data((2, 2), [[1], [2]])  # edge chunk: its in-bounds part is 2 x 1
    expected[8:, 6:] = [[1], [2]]
    ds.set_chunk_data((0, 2), 7)  # broadcast
    expected[:4, 6:] = 7
    ds.set_chunk_data((1, 1), np.array([40000, -40000]), slices=(slice(0, 2), 0))  # saturates as HDF5
    expected[4:6, 3] = [32767, -32768]
    ds.set_chunk_data((2, 0), np.array([5, 6, 7]), slices=1)  # partial write of a missing chunk
    expected[9, 0:3] = [5, 6, 7]
    np.testing.assert_array_equal(ds[...], expected)
    for idx in np.ndindex(*ds.chunk_grid):
        np.testing.assert_array_equal(ds.get_chunk_data(idx), expected[ds.chunk_bounds(idx)])
    with pytest.raises(ValueError):
        ds.set_chunk_data((2, 2), np.zeros((4, 3)))  # the edge chunk holds 2 x 1 values
    # the padding of an edge chunk keeps the fill value (what Zarr readers expect)
    stored = ds._io._load((2, 2))
    assert stored.shape == (4, 3) and (stored[2:] == 9).all() and (stored[:, 1:] == 9).all()
    with dn.File(pool.filename, "r") as f:
        np.testing.assert_array_equal(f["d"][...], expected)


def test_set_chunk_data_converts_like_hdf5(pool):
    ds = pool.create_dataset("d", shape=(4,), dtype="i1", chunks=(4,))
    ds.set_chunk_data(0, np.array([300.7, -300.0, 1.9, -1.9]))
    np.testing.assert_array_equal(ds[...], [127, -128, 1, -1])
    with pytest.raises(OverflowError):
        ds.set_chunk_data(0, 300)


def test_has_and_del_chunk(pool):
    data = np.arange(1, 37, dtype="f4").reshape(6, 6)
    ds = pool.create_dataset("d", data=data, chunks=(4, 4), shards=False)
    assert all(ds.has_chunk(idx) for idx in np.ndindex(2, 2))
    assert len(chunk_keys(ds)) == 4
    ds.del_chunk((1, 0))
    assert not ds.has_chunk((1, 0)) and ds.has_chunk((0, 0))
    expected = data.copy()
    expected[4:, :4] = 0
    np.testing.assert_array_equal(ds[...], expected)  # the cache does not serve the deleted chunk
    ds.del_chunk((1, 0))  # deleting a missing chunk is harmless, as in DosNa
    ds.set_chunk_data((0, 1), 0)  # a chunk equal to the fill value is not stored
    assert not ds.has_chunk((0, 1)) and len(chunk_keys(ds)) == 2
    ds.set_chunk_data((0, 1), 1)
    assert ds.has_chunk((0, 1))


def test_clear(pool):
    ds = pool.create_dataset("d", data=np.arange(1, 101).reshape(10, 10), chunks=(3, 3), fillvalue=-7,
                             shards=False)
    sibling = pool.create_dataset("dc", data=np.arange(1, 11), chunks=(5,), shards=False)
    assert len(chunk_keys(ds)) == 16
    np.testing.assert_array_equal(ds[:2, :2], [[1, 2], [11, 12]])  # cached
    ds.clear()
    assert chunk_keys(ds) == [] and not ds.has_chunk((0, 0))
    np.testing.assert_array_equal(ds[...], np.full((10, 10), -7))
    np.testing.assert_array_equal(sibling[...], np.arange(1, 11))
    assert len(chunk_keys(sibling)) == 2
    ds.clear()  # clearing an empty dataset is harmless


@pytest.mark.parametrize("idx, exc", [
    ((3, 0), IndexError), ((0, 3), IndexError), ((-4, 0), IndexError), ((0,), ValueError),
    ((0, 0, 0), ValueError), (0, ValueError), ((0.0, 0), TypeError), ((True, 0), TypeError),
    ((slice(0, 1), 0), TypeError), (("0", 0), TypeError),
])
def test_chunk_index_errors(pool, idx, exc):
    ds = pool.create_dataset("d", shape=(9, 9), dtype="f4", chunks=(3, 3))
    for call in (ds.get_chunk_data, ds.has_chunk, ds.del_chunk, ds.chunk_bounds,
                 lambda i: ds.set_chunk_data(i, 1)):
        with pytest.raises(exc):
            call(idx)


def test_chunk_index_forms(pool):
    data = np.arange(12)
    ds = pool.create_dataset("d", data=data, chunks=(5,))
    np.testing.assert_array_equal(ds.get_chunk_data(1), data[5:10])  # int for 1-D, as numpy
    np.testing.assert_array_equal(ds.get_chunk_data(-1), data[10:])
    np.testing.assert_array_equal(ds.get_chunk_data(np.int64(0)), data[:5])
    np.testing.assert_array_equal(ds.get_chunk_data([2]), data[10:])
    np.testing.assert_array_equal(ds.get_chunk_data(np.array([1])), data[5:10])
    ds.set_chunk_data(-1, [-1, -2])
    np.testing.assert_array_equal(ds[10:], [-1, -2])


def test_scalar_dataset_chunk_access(pool):
    ds = pool.create_dataset("s", data=np.float64(2.5))
    assert ds.chunk_grid == () and ds.total_chunks == 1 and ds.chunk_size is None
    assert ds.get_chunk_data(()) == 2.5
    ds.set_chunk_data((), 4.0)
    assert ds[()] == 4.0
    ds.apply(lambda x: x * 2)
    assert ds[()] == 8.0 and ds.map(np.sqrt, "root")[()] == np.sqrt(8.0)


def test_read_only_pool_refuses_chunk_writes(cluster):
    with cluster.create_pool("p") as p:
        p.create_dataset("d", data=np.arange(10), chunks=(4,))
    with cluster.get_pool("p", "r") as p:
        ds = p["d"]
        np.testing.assert_array_equal(ds.get_chunk_data(2), [8, 9])
        assert ds.has_chunk(0)
        for call in (lambda: ds.set_chunk_data(0, 1), lambda: ds.del_chunk(0), ds.clear,
                     lambda: ds.apply(np.negative)):
            with pytest.raises(OSError):
                call()
        with pytest.raises(ValueError):
            ds.map(np.negative, "neg")
        np.testing.assert_array_equal(ds[...], np.arange(10))


# ------------------------------------------------------ map, apply, clone
def per_chunk(data: np.ndarray, ds, func) -> np.ndarray:
    """What DosNa's map/apply compute: ``func`` on each chunk's in-bounds block."""
    out = None
    for idx in np.ndindex(*ds.chunk_grid):
        block = np.asarray(func(data[ds.chunk_bounds(idx)]))
        if out is None:
            out = np.empty(data.shape, dtype=block.dtype)
        out[ds.chunk_bounds(idx)] = block
    return out


def test_map_is_func_of_each_chunk(pool):
    data = np.random.default_rng(3).random((20, 13, 9))
    ds = pool.create_dataset("d", data=data, chunks=(8, 5, 9), compression="gzip", fillvalue=0.5)
    centre = lambda x: x - x.mean()  # not elementwise: the chunking shows in the result
    out = ds.map(centre, "centred")
    assert out.name == "/centred" and out.shape == ds.shape and out.chunks == ds.chunks
    assert out.dtype == ds.dtype and out.compression == "gzip" and out.fillvalue == 0.5
    np.testing.assert_allclose(out[...], per_chunk(data, ds, centre))
    np.testing.assert_array_equal(ds[...], data)  # the input is untouched
    with pytest.raises(ValueError):
        ds.map(centre, "centred")  # the name is taken, as create_dataset


def test_map_changes_dtype_from_func(pool):
    data = np.random.default_rng(4).random((30, 30)).astype("f4")
    ds = pool.create_dataset("d", data=data, chunks=(7, 11))
    mask = ds.map(lambda x: x > 0.5, "mask")
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask[...], data > 0.5)
    wide = ds.map(lambda x: x.astype("f8") * 3, "wide")
    assert wide.dtype == np.float64
    np.testing.assert_allclose(wide[...], data.astype("f8") * 3)
    ints = ds.map(lambda x: x * 1000, "ints", dtype="i4")
    assert ints.dtype == np.int32
    np.testing.assert_array_equal(ints[...], np.trunc(data * np.float32(1000)).astype("i4"))
    const = ds.map(lambda x: 2, "const")  # a plain Python result keeps the input dtype
    assert const.dtype == np.float32 and (const[...] == 2).all()


def test_map_output_sits_beside_the_input(pool):
    ds = pool.create_group("g").create_dataset("d", data=np.arange(10), chunks=(3,))
    assert ds.map(np.negative, "neg").name == "/g/neg"
    assert ds.map(np.negative, "/top/neg").name == "/top/neg"
    np.testing.assert_array_equal(pool["top/neg"][...], -np.arange(10))
    with pytest.raises(ValueError):
        ds.map(np.negative, "../escape")


def test_map_and_apply_on_empty_dataset(pool):
    ds = pool.create_dataset("e", shape=(0, 3), dtype="u1", chunks=(2, 2), maxshape=(None, 3))
    calls = []
    out = ds.map(lambda x: calls.append(x) or x, "out")
    ds.apply(lambda x: calls.append(x) or x)
    assert calls == [] and out.shape == (0, 3) and out.dtype == np.uint8


def test_map_propagates_func_errors(pool):
    ds = pool.create_dataset("d", data=np.arange(20), chunks=(5,))

    def fails_on_third(x):
        if x[0] == 10:
            raise RuntimeError("bad chunk")
        return x

    with pytest.raises(RuntimeError, match="bad chunk"):
        ds.apply(fails_on_third)
    with pytest.raises(ValueError):
        ds.apply(lambda x: np.zeros(3))  # a result that does not fit the chunk


def test_apply_rewrites_in_place(pool):
    data = np.random.default_rng(5).integers(0, 1000, (17, 23)).astype("i8")
    ds = pool.create_dataset("d", data=data, chunks=(5, 6), fillvalue=-1, shards=False)
    ds.apply(lambda x: x - x.min())
    expected = per_chunk(data, ds, lambda x: x - x.min())
    np.testing.assert_array_equal(ds[...], expected)
    ds.apply(lambda x: x * 0.5)  # converted back to the dataset's dtype, as HDF5 does
    assert ds.dtype == np.int64
    np.testing.assert_array_equal(ds[...], np.trunc(expected * 0.5).astype("i8"))
    ds.apply(lambda x: np.full_like(x, -1))  # all fill: nothing stays stored
    assert chunk_keys(ds) == []
    with dn.File(pool.filename, "r") as f:
        assert (f["d"][...] == -1).all()


@pytest.mark.parametrize("kwds", [
    {},
    {"compression": "gzip", "compression_opts": 7, "shuffle": True},
    {"compression": "zstd", "fletcher32": True},
    {"compression": "blosc", "compression_opts": {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle"}},
    {"compression": numcodecs.BZ2(level=3), "maxshape": (None, 40)},
])
def test_clone_copies_layout_not_data(pool, kwds):
    data = np.arange(600, dtype=">i4").reshape(20, 30)
    ds = pool.create_dataset("d", data=data, chunks=(6, 7), fillvalue=3, **kwds)
    c = ds.clone("c")
    for attr in ("shape", "dtype", "chunks", "maxshape", "fillvalue", "compression",
                 "compression_opts", "shuffle", "fletcher32"):
        assert getattr(c, attr) == getattr(ds, attr), attr
    assert chunk_keys(c) == [] and (c[...] == 3).all()
    c[...] = data
    np.testing.assert_array_equal(c[...], data)
    with dn.File(pool.filename, "r") as f:
        np.testing.assert_array_equal(f["c"][...], data)
    assert pool["d"]._io.meta.codecs == pool["c"]._io.meta.codecs


def test_clone_keeps_an_own_njobs(pool):
    ds = pool.create_dataset("d", shape=(4,), chunks=(2,), njobs=1)
    assert ds.clone("c").njobs == 1
    other = pool.create_dataset("e", shape=(4,), chunks=(2,))
    other_clone = other.clone("f")
    pool.njobs = 3
    assert other_clone.njobs == 3


# ------------------------------------------------------------------ examples
def test_h5py_compat_example_runs_unchanged_on_h5py(tmp_path):
    """The example's claim: flip its one import and real h5py prints the same."""
    source = (EXAMPLES / "h5py_compat.py").read_text()
    assert source.count("import dosna_like as h5py") == 1
    swapped = tmp_path / "h5py_compat_h5py.py"
    swapped.write_text(source.replace("import dosna_like as h5py", "import h5py"))
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
            for script in (EXAMPLES / "h5py_compat.py", swapped)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    ours, theirs = (run.stdout.splitlines() for run in runs)
    assert ours[0].startswith("library: dosna_like") and theirs[0].startswith("library: h5py")
    assert ours[1:] == theirs[1:] and len(ours) > 5


def test_filter_example_without_scipy():
    """The chunk-parallel example's numpy fallback filter also matches the whole-array result."""
    script = str(EXAMPLES / "chunk_parallel_filter.py")
    hide_scipy = ("import runpy, sys; sys.modules['scipy'] = None; sys.argv = [sys.argv[1]]; "
                  "runpy.run_path(sys.argv[0], run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", hide_scipy, script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "numpy (scipy not installed)" in run.stdout and "chunks with halo" in run.stdout


@pytest.mark.parametrize("shards", [None, (32, 4096)], ids=["chunk", "inner_chunk_of_a_shard"])
def test_set_chunk_data_with_slices_and_partial_writes_of_one_chunk_lose_nothing(tmp_path, shards):
    """``set_chunk_data(..., slices=)`` is a read-modify-write of the chunk: it takes the lock
    ``ds[...]`` partial writes of that chunk hold (in a shard: the shard's conditional update,
    which reads the inner chunk inside it), so threads mixing both lose no row (as in h5py)."""
    import threading

    width = 4096 if shards is None else 1024
    with dn.Cluster(str(tmp_path / "c")) as c, c.create_pool("p") as p:
        ds = p.create_dataset("d", shape=(32, 4096), dtype="i4", chunks=(32, width), shards=shards)
        barrier = threading.Barrier(8)

        def writer(row):
            barrier.wait()
            for step in range(1, 31):
                if row % 2:
                    ds.set_chunk_data((0, 0), np.full(width, step, "i4"), slices=(row,))
                else:
                    ds[row, :width] = step

        run_threads(writer, range(8))
        got = ds[:8, :]
    np.testing.assert_array_equal(got[:, :width], np.full((8, width), 30, "i4"))
    assert not got[:, width:].any()
