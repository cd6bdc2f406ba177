"""S3 through the real local endpoint over HTTP: request economy, latency hiding, errors.

Request counts here are the HTTP requests that reach the endpoint, counted by
a proxy in front of it (``backends/fault_proxy.py`` with no faults), whatever
client library sends them; not our own bookkeeping.
"""
from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

import dosna_like
from dosna_like.storage import open_store
from backends.fault_proxy import FaultProxy
from backends.latency import SlowMemoryFileSystem  # noqa: F401  (registers slowmem://)

from .conftest import S3_BUCKET


@pytest.fixture
def s3_url(s3_server) -> str:
    return f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/run.h5"


def test_open_and_read_cost_does_not_grow_with_the_number_of_nodes(s3_server, s3_url):
    data = np.random.default_rng(1).random((1024, 1024)).astype("f4")
    # requests counted at a proxy in front of the endpoint, whatever client library sends them
    with FaultProxy(s3_server.port, fault_rate=0.0) as http:  # stopped however the test ends
        opts = {"skip_instance_cache": True, "client_kwargs": {"endpoint_url": http.endpoint_url}}
        with dosna_like.File(s3_url, "w", storage_options=opts) as f:
            for i in range(30):  # 300 nodes besides the big dataset
                g = f.create_group(f"g{i:02d}")
                for j in range(9):
                    g.create_dataset(f"d{j}", shape=(4,), dtype="i1")
            # shards=False: 64 KiB chunks, one object each (object storage would shard them by default)
            ds = f.create_dataset("g07/big", shape=data.shape, dtype="f4", chunks=(128, 128), shards=False)
            ds[...] = data
        http.take()
        with dosna_like.File(s3_url, "r", storage_options=opts) as f:
            assert http.take() == {"GET": 2}  # the root document and its side object, concurrently
            ds = f["g07/big"]
            assert http.take() == {"GET": 1}  # that node's document only: no LIST, no walk
            np.testing.assert_array_equal(ds[...], data)
            assert http.take() == {"GET": 64}  # one GET per chunk, no HEAD
            # the first listing loads the search index: the sidecar and one LIST page of every
            # node's fingerprint (301 nodes), not a listing and 30 documents and side objects
            assert len(f) == 30
            assert http.take() == {"GET": 2}
            assert [name for name in f["g03"]] == [f"d{j}" for j in range(9)]
            assert len(f["g03"]) == 9 and f["g03/d4"].shape == (4,)  # from the index: no request
            assert http.take() == {}
        with dosna_like.File(s3_url, "a", storage_options=opts) as f:
            ds = f["g07/big"]
            http.take()
            ds[0:128, :] = 1  # 8 complete chunks: 8 PUTs, nothing read
            assert http.take() == {"PUT": 8}
            ds[0:128, :] = 0  # back to the fill value: one delete per chunk under its lock, nothing stored
            deletes = http.take()  # obstore deletes a key with a one-key POST ?delete, botocore with DELETE
            assert set(deletes) <= {"DELETE", "POST"} and sum(deletes.values()) == 8, deletes


def test_a_64_chunk_read_keeps_many_fetches_in_flight():
    url = f"slowmem://bench/{uuid.uuid4().hex[:8]}/run.h5"
    opts = {"latency": 0.025}
    with dosna_like.File(url, "w", storage_options=opts) as f:
        f.create_dataset("x", shape=(64 * 16, 16), dtype="f4", chunks=(16, 16), shards=False)[...] = 1
    with dosna_like.File(url, "r", njobs=2, storage_options=opts) as f:
        ds, fs = f["x"], f.store.fs
        fs.reset_stats()
        assert ds[...].sum() == 64 * 16 * 16
        assert fs.calls == 64
        assert fs.mean_in_flight >= 16, fs.mean_in_flight


def test_the_chunk_gauge_of_the_latency_store_leaves_out_the_documents():
    url = f"slowmem://bench/{uuid.uuid4().hex[:8]}/run.h5"
    opts = {"latency": 0.025}
    with dosna_like.File(url, "w", storage_options=opts) as f:
        f.create_dataset("x", shape=(64 * 16, 16), dtype="f4", chunks=(16, 16), shards=False)[...] = 1
        fs = f.store.fs
    fs.reset_stats()
    with dosna_like.File(url, "r", storage_options=opts) as f:
        ds = f["x"]
        assert (fs.calls, fs.mean_chunks_in_flight) == (3, 0.0)  # documents only: no chunk in flight yet
        assert ds[...].sum() == 64 * 16 * 16
    assert fs.calls == 3 + 64
    # one or two documents at a time before the chunks pull the mean of every call down
    assert fs.mean_in_flight < fs.mean_chunks_in_flight, (fs.mean_in_flight, fs.mean_chunks_in_flight)


@pytest.mark.parametrize("body_client", ["obstore", "botocore"])
def test_sharded_full_read_is_one_get_per_shard_whatever_the_body_client(s3_server, s3_url, body_client):
    data = np.random.default_rng(3).random((64, 64, 8)).astype("f4")
    with FaultProxy(s3_server.port, fault_rate=0.0) as http:
        opts = {"skip_instance_cache": True, "client_kwargs": {"endpoint_url": http.endpoint_url},
                "body_client": body_client}
        with dosna_like.File(s3_url, "w", storage_options=opts) as f:
            f.create_dataset("x", data=data, chunks=(8, 8, 8), shards=(16, 32, 8))  # 8 shards of 8 chunks
        with dosna_like.File(s3_url, "r", rdcc_nbytes=0, storage_options=opts) as f:
            ds = f["x"]
            http.take()
            out = ds[...]
            assert http.take() == {"GET": 8}  # each shard whole, no index read first
            assert out.dtype == data.dtype
            np.testing.assert_array_equal(out, data)
            np.testing.assert_array_equal(ds[3:40, 5:9, 2], data[3:40, 5:9, 2])
            assert http.take() == {"GET": 3}  # indexes kept: one ranged GET in each of 3 shards
            raw = f.store.get("x/c/0/0/0")  # one object asked for: bytes, whichever client carried it
            assert type(raw) is bytes
            assert f.store.get_many(["x/c/0/0/0", "x/c/1/0/0"])["x/c/0/0/0"] == raw


def test_shards_over_5_mib_are_one_put_each_through_obstore(s3_server, s3_url):
    # obstore's multipart upload (its default over 5 MiB) took 2 POSTs + a PUT per 5 MiB part, and concurrent
    # ones failed (PermissionError): its part uploads called the credential provider with no event loop
    data = np.random.default_rng(5).random((3072, 1024)).astype("f4")  # 2 shards of 6 MiB
    with FaultProxy(s3_server.port, fault_rate=0.0) as http:
        opts = {"skip_instance_cache": True, "client_kwargs": {"endpoint_url": http.endpoint_url},
                "body_client": "obstore"}
        with dosna_like.File(s3_url, "w", storage_options=opts) as f:
            ds = f.create_dataset("x", shape=data.shape, dtype="f4", chunks=(256, 1024), shards=(1536, 1024))
            http.take()
            ds[...] = data
            assert http.take() == {"PUT": 2}
        with dosna_like.File(s3_url, "r", storage_options=opts) as f:
            np.testing.assert_array_equal(f["x"][...], data)


def test_concurrency_is_configurable(s3_server):
    store = open_store(f"s3://{S3_BUCKET}/x", io_concurrency=4)
    assert store.io_concurrency == 4


def test_missing_bucket_or_key_is_file_not_found(s3_server):
    with pytest.raises(FileNotFoundError, match="no-such-bucket"):
        dosna_like.File("s3://no-such-bucket/run.h5", "r")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        dosna_like.File(f"s3://{S3_BUCKET}/nothing-here/run.h5", "r")


def test_unreachable_endpoint_is_os_error_in_bounded_time():
    opts = {"key": "k", "secret": "s",
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},
            "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 2}}}
    start = time.monotonic()
    with pytest.raises(OSError):
        dosna_like.File(f"s3://{S3_BUCKET}/run.h5", "r", storage_options=opts)
    assert time.monotonic() - start < 60


def test_bad_credentials_are_permission_error():
    from backends.s3_local import LocalS3

    with LocalS3(require_auth=True) as server:
        good = server.make_credentials()
        server.create_bucket("guarded", good)
        with dosna_like.File("s3://guarded/run.h5", "w", storage_options=good) as f:
            f["x"] = np.arange(3)
        with pytest.raises(PermissionError):
            dosna_like.File("s3://guarded/run.h5", "r", storage_options=dict(good, secret="wrong"))
        with dosna_like.File("s3://guarded/run.h5", "r", storage_options=good) as f:
            np.testing.assert_array_equal(f["x"][...], np.arange(3))


def test_storage_options_and_chained_cache_urls(s3_server, s3_url, tmp_path):
    data = np.arange(100, dtype="i8").reshape(10, 10)
    with dosna_like.File(s3_url, "w", storage_options=s3_server.storage_options) as f:
        f.create_dataset("x", data=data, chunks=(5, 5))
        f.attrs["who"] = "s3"
    cached = "simplecache::" + s3_url
    with dosna_like.File(cached, "r", storage_options={"s3": s3_server.storage_options,
                                                      "simplecache": {"cache_storage": str(tmp_path)}}) as f:
        np.testing.assert_array_equal(f["x"][...], data)
        assert f.attrs["who"] == "s3"


def test_credentials_from_an_aws_profile(s3_server, tmp_path, monkeypatch):
    creds = tmp_path / "credentials"
    creds.write_text("[dosna-test]\naws_access_key_id = from-profile\naws_secret_access_key = from-profile\n")
    config = tmp_path / "config"
    config.write_text(f"[profile dosna-test]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint_url}\n")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "dosna-test")
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:8]}/profile.h5"
    with dosna_like.File(url, "w", storage_options={"skip_instance_cache": True}) as f:
        f["x"] = np.arange(4)  # reaches the endpoint only through the profile's endpoint_url
    with dosna_like.File(url, "r", storage_options={"skip_instance_cache": True}) as f:
        np.testing.assert_array_equal(f["x"][...], np.arange(4))


def test_a_chained_cache_serves_no_stale_chunk_after_this_store_rewrites_or_deletes(s3_server, s3_url, tmp_path):
    """``simplecache::s3://``: what this handle rewrites or deletes is dropped from the cache,
    so its next read is the new data (a change made elsewhere is documented as unseen)."""
    opts = {"s3": s3_server.storage_options, "simplecache": {"cache_storage": str(tmp_path)}}
    cached = "simplecache::" + s3_url
    old, new = np.arange(64, dtype="i4").reshape(8, 8), -np.arange(64, dtype="i4").reshape(8, 8)
    with dosna_like.File(cached, "w", storage_options=opts, rdcc_nbytes=0) as f:
        f.create_dataset("x", data=old, chunks=(4, 4))
        f.flush()
        np.testing.assert_array_equal(f["x"][...], old)  # every chunk now in the local cache
        f["x"][...] = new
        np.testing.assert_array_equal(f["x"][...], new)
        f["x"][0, 0] = 7  # a partial write reads the chunk it changes
        new[0, 0] = 7
        np.testing.assert_array_equal(f["x"][...], new)
        del f["x"]
        f.create_dataset("x", shape=(8, 8), dtype="i4", chunks=(4, 4))
        np.testing.assert_array_equal(f["x"][...], np.zeros((8, 8), "i4"))
