"""Handles pickle and chunk work runs past one process (issue 15).

Pickle round trips of every handle kind on every store kind; a dask.distributed
``LocalCluster`` of two worker processes (one per module, shared by the tests)
computing ``from_array(...)`` and ``to_dask()`` reductions and ``da.store``
writes on local and S3 stores; DosNa's ``map``/``apply`` under joblib's dask
backend, run in at least two worker processes and equal to the threaded run;
four spawned processes writing disjoint chunk-aligned regions.  Every result is
compared with numpy.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import uuid

import numpy as np
import pytest

import dosna_like as h5py
from dosna_like.hl.pickling import restore_handle

from .conftest import S3_BUCKET
from .distributed_writer import region_values, write_region

# test dependencies (the "test" extra): a missing one must fail, never skip
import dask.array as dask_array  # noqa: E402
import distributed  # noqa: E402
import joblib  # noqa: E402

SHAPE, CHUNKS = (64, 48), (16, 16)


def _data(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(SHAPE)


def _url(kind: str, tmp_path) -> str:
    name = f"dist-{uuid.uuid4().hex[:12]}.h5"
    return str(tmp_path / name) if kind == "local" else f"s3://{S3_BUCKET}/{name}"


@pytest.fixture(scope="module")
def client(s3_server):
    """Two worker processes, started after the S3 endpoint so they inherit its environment."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


# ----------------------------------------------------------------- pickling
def test_every_handle_kind_round_trips(file_url):
    data = _data()
    compound = np.zeros(5, dtype=[("a", "i4"), ("b", "f8")])
    compound["a"], compound["b"] = np.arange(5), np.linspace(0, 1, 5)
    with h5py.File(file_url, "w") as f:
        ds = f.create_dataset("g/x", data=data, chunks=CHUNKS)
        f.create_dataset("s", data=np.array([b"ab", b"cde"], dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("c", data=compound)
        handles = [f, f["g"], ds, ds.astype("f4"), f["s"].asstr(), f["c"].fields("b")]
        back = [pickle.loads(pickle.dumps(h)) for h in handles]
        assert back[0] is f  # the same process lands on the same open file
        assert back[1] == f["g"] and back[1].name == "/g" and back[2] == ds
        np.testing.assert_array_equal(back[2][:], data)
        np.testing.assert_array_equal(back[3][:], data.astype("f4"))
        assert back[3][:].dtype == np.float32
        assert list(back[4][:]) == ["ab", "cde"]
        np.testing.assert_array_equal(back[5][:], compound["b"])
        back[2][0:16] = 7.0  # an unpickled writable handle writes through the same file
        np.testing.assert_array_equal(ds[0:16], np.full((16, 48), 7.0))


def test_pickled_handle_reopens_in_another_process_without_truncating(file_url, store_kind):
    if store_kind == "memory":
        pytest.skip("a memory store lives in one process")
    data = _data(1)
    with h5py.File(file_url, "w") as f:
        f.create_dataset("x", data=data, chunks=CHUNKS)
        restore, (file_cls, handle_cls, spec, own) = f["x"].__reduce__()
    assert restore is restore_handle and spec["mode"] == "r+"  # a "w" file reopens writable
    # what a worker does: the pickling process is another one, so the file is opened again
    ds = restore(file_cls, handle_cls, {**spec, "pid": -1}, own)
    again = restore(file_cls, handle_cls, {**spec, "pid": -1}, own)
    assert again.file is ds.file  # once per process
    np.testing.assert_array_equal(ds[:], data)  # not truncated
    ds[16:32] = -1.0
    expected = data.copy()
    expected[16:32] = -1.0
    with h5py.File(file_url, "r") as f:
        np.testing.assert_array_equal(f["x"][:], expected)


def test_closed_handle_refuses_to_pickle():
    f = h5py.File(f"memory://dist/{uuid.uuid4().hex}.h5", "w")
    ds = f.create_dataset("x", data=np.arange(4))
    f.close()
    with pytest.raises(ValueError):
        pickle.dumps(ds)


# ---------------------------------------------------------------- the cluster
@pytest.mark.parametrize("kind", ["local", "s3"])
def test_from_array_sum_on_a_cluster_of_processes(client, kind, tmp_path):
    data = _data(2)
    url = _url(kind, tmp_path)
    with h5py.File(url, "w") as f:
        ds = f.create_dataset("x", data=data, chunks=CHUNKS)
        total = dask_array.from_array(ds, chunks=ds.chunks).sum().compute()
        np.testing.assert_allclose(total, data.sum())
        arr = ds.to_dask()
        assert arr.chunksize == CHUNKS
        np.testing.assert_array_equal(arr[5:40, 3:30].compute(), data[5:40, 3:30])
        pids = dask_array.map_blocks(lambda b: np.full((1, 1), os.getpid()), arr, chunks=(1, 1)).compute()
        assert os.getpid() not in set(pids.ravel())


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_store_into_a_dataset_from_workers(client, kind, tmp_path):
    data = _data(3)
    url = _url(kind, tmp_path)
    with h5py.File(url, "w") as f:
        ds = f.create_dataset("y", shape=SHAPE, dtype="f8", chunks=CHUNKS)
        dask_array.store(dask_array.from_array(data, chunks=CHUNKS) * 2 + 1, ds, lock=False)
        np.testing.assert_array_equal(ds[:], data * 2 + 1)


def _pid_of_chunk(block: np.ndarray) -> np.ndarray:
    return np.full(block.shape, os.getpid(), dtype="i8")


def _smooth(block: np.ndarray) -> np.ndarray:
    return np.sqrt(block) * 3 - block.mean()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_map_and_apply_under_the_dask_backend(client, kind, tmp_path):
    data = _data(4)
    url = _url(kind, tmp_path)
    with h5py.File(url, "w") as f:
        ds = f.create_dataset("x", data=data, chunks=CHUNKS, shards=False)  # per-chunk tasks
        threaded = ds.map(_smooth, "threaded")
        with joblib.parallel_config(backend="dask"):
            spread = ds.map(_smooth, "spread")
            pids = ds.map(_pid_of_chunk, "pids", dtype="i8")
            spread_twice = ds.map(_smooth, "twice")
            spread_twice.apply(lambda b: b + 1)
        np.testing.assert_array_equal(spread[:], threaded[:])
        np.testing.assert_array_equal(threaded[:16, :16], _smooth(data[:16, :16]))
        np.testing.assert_array_equal(spread_twice[:], threaded[:] + 1)
        workers = set(np.unique(pids[:])) - {os.getpid()}  # map runs its first chunk in the caller
        assert len(workers) >= 2, workers


# ------------------------------------------------------- several writers
@pytest.mark.parametrize("kind", ["local", "s3"])
def test_four_processes_write_disjoint_regions(kind, tmp_path, s3_server):
    url = _url(kind, tmp_path)
    with h5py.File(url, "w") as f:
        ds = f.create_dataset("x", shape=SHAPE, dtype="f8", chunks=CHUNKS)
        payload = pickle.dumps(ds)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    regions = [slice(16 * k, 16 * (k + 1)) for k in range(4)]  # chunk-aligned rows
    procs = [context.Process(target=write_region, args=(payload, rows, k, queue))
             for k, rows in enumerate(regions)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    pids = {queue.get(timeout=10) for _ in procs}
    assert len(pids) == 4
    expected = np.concatenate([region_values(k, (16, SHAPE[1])) for k in range(4)])
    with h5py.File(url, "r") as f:
        np.testing.assert_array_equal(f["x"][:], expected)
        assert {f[f"by_{k}"][0] for k in range(4)} == pids  # new nodes from every process
        assert dict(f["x"].attrs) == {f"writer_{k}": k for k in range(4)}  # merged, none lost


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_import_under_the_dask_backend_equals_the_threaded_import(client, kind, tmp_path):
    import h5py as h5  # the real h5py: the import source
    source = tmp_path / "source.h5"
    data, counts = _data(5), np.arange(40 * 30, dtype="i4").reshape(40, 30)
    with h5.File(source, "w") as f:
        f.create_dataset("a/gz", data=data, chunks=CHUNKS, compression="gzip")
        f.create_dataset("raw", data=counts, chunks=(8, 30))
        f["raw"].attrs["unit"] = "count"
    threaded = h5py.import_hdf5(str(source), _url(kind, tmp_path), progress=False)
    url = _url(kind, tmp_path)
    with joblib.parallel_config(backend="dask"):
        spread = h5py.import_hdf5(str(source), url, progress=False)
    assert spread.raw_chunks == threaded.raw_chunks == 12 + 5  # every stored chunk went as it was
    with h5py.File(url, "r") as f:
        np.testing.assert_array_equal(f["a/gz"][:], data)
        np.testing.assert_array_equal(f["raw"][:], counts)
        assert f["raw"].attrs["unit"] == "count"


def test_export_and_decoded_import_under_the_dask_backend(client, tmp_path):
    import h5py as h5  # the real h5py: the export's reader and the import's source

    data, counts = _data(6), np.arange(64 * 48, dtype="i4").reshape(SHAPE)
    url = _url("local", tmp_path)
    with h5py.File(url, "w") as f:
        f.create_dataset("gz", data=data, chunks=CHUNKS, compression="gzip")
        f.create_dataset("flat", data=counts)  # created without chunks: exported contiguous
        f.create_dataset("sparse", shape=SHAPE, chunks=CHUNKS, fillvalue=-1, dtype="i4")
        f["sparse"][0:16, 0:16] = 5
    threaded = str(tmp_path / "threaded.h5")
    spread = str(tmp_path / "spread.h5")
    h5py.export_hdf5(url, threaded, progress=False)
    with joblib.parallel_config(backend="dask"):
        report = h5py.export_hdf5(url, spread, progress=False)
    assert set(report.processes) - {os.getpid()}, report.processes  # the chunk work left this process
    with h5.File(threaded, "r") as a, h5.File(spread, "r") as b:
        for name in ("gz", "flat", "sparse"):
            np.testing.assert_array_equal(a[name][()], b[name][()])
            assert (a[name].chunks, a[name].compression) == (b[name].chunks, b[name].compression)
        np.testing.assert_array_equal(b["gz"][()], data)
        np.testing.assert_array_equal(b["flat"][()], counts)
    # decoded import: a contiguous source and a filter the store does not keep as it is
    source = str(tmp_path / "decoded.h5")
    with h5.File(source, "w") as f:
        f.create_dataset("flat", data=counts)
        f.create_dataset("scaled", data=counts, chunks=(16, 48), scaleoffset=0)
    with joblib.parallel_config(backend="dask"):
        report = h5py.import_hdf5(source, _url("local", tmp_path), progress=False)
    assert report.raw_chunks == 0 and set(report.processes) - {os.getpid()}, report
    with h5py.File(report.dest, "r") as f:
        np.testing.assert_array_equal(f["flat"][()], counts)
        np.testing.assert_array_equal(f["scaled"][()], counts)
