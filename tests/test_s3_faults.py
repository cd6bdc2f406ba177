"""Object-storage faults against the real local S3 endpoint (issue 18, item 5).

A black-hole endpoint (accepts, never answers) must fail within the retry
budget with a builtin error; a fault-injecting proxy in front of the moto
server (``backends/fault_proxy.py``: 503/500, resets before and after the
request is applied, truncated bodies, delays) must never make a read
silently wrong or raise anything but a builtin ``OSError``.  The time bounds
here are loose limits (a regression to minutes fails them), not speed
measurements.
"""
from __future__ import annotations

import collections
import time
import uuid

import boto3
import numpy as np
import pytest

import dosna_like
from backends.fault_proxy import BlackHole, FaultProxy
from dosna_like.storage import open_store

from .conftest import S3_BUCKET


def _through(endpoint_url: str, **budget) -> dict:
    return {"key": "testing", "secret": "testing", "skip_instance_cache": True,
            "client_kwargs": {"endpoint_url": endpoint_url, "region_name": "us-east-1"}, **budget}


def _is_builtin_os_error(exc: BaseException) -> bool:
    """An OSError whose class is a builtin or one of ours (which subclass the builtins)."""
    module = type(exc).__module__
    return isinstance(exc, OSError) and (module == "builtins" or module.startswith("dosna_like"))


def test_a_black_hole_endpoint_fails_within_the_default_budget():
    with BlackHole() as hole:
        start = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            dosna_like.File(f"s3://{S3_BUCKET}/hole/run.h5", "r", storage_options=_through(hole.endpoint_url))
        elapsed = time.monotonic() - start
    assert elapsed < 60, elapsed  # the default budget is 30 s; botocore x s3fs retries took 454 s
    assert type(info.value) is TimeoutError
    assert f"s3://{S3_BUCKET}/hole/run.h5" in str(info.value) and "GET" in str(info.value)


def test_an_endpoint_going_silent_mid_session_bounds_reads_writes_and_close(s3_server):
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/run.h5"
    data = np.arange(64 * 64, dtype="i4").reshape(64, 64)
    with FaultProxy(s3_server.port, fault_rate=0.0) as proxy:
        opts = _through(proxy.endpoint_url, retry_attempts=3, retry_seconds=15)
        f = dosna_like.File(url, "w", storage_options=opts, rdcc_nbytes=0)
        ds = f.create_dataset("x", data=data, chunks=(16, 16))
        f.flush()  # its document is stored (documents wait in memory until a flush)
        proxy.black_hole = True

        def bounded(action, error, match):
            start = time.monotonic()
            with pytest.raises(error, match=match):
                action()
            assert time.monotonic() - start < 60  # a budget of 15 s; no stacked retries

        bounded(lambda: ds[...], TimeoutError, r"x/c/")
        bounded(lambda: ds.__setitem__((slice(0, 16), slice(0, 16)), -1), TimeoutError, r"x/c/")
        f.attrs["late"] = 1  # kept in memory: stored at the next flush
        # the root group's side object is updated first (format/documents.py), then its zarr.json
        bounded(f.flush, TimeoutError, r"zarr\.json|_dosna_like\.json")
        # close() cannot store the attribute either: it says so, within the budget (443 s before it)
        bounded(f.close, TimeoutError, r"zarr\.json|_dosna_like\.json")
        assert not f
        proxy.black_hole = False
    with dosna_like.File(url, "r", storage_options=_through(s3_server.endpoint_url)) as g:
        np.testing.assert_array_equal(g["x"][...], data)  # the failed write changed nothing


@pytest.mark.parametrize("shards", [False, None], ids=["one_object_per_chunk", "default_shards"])
def test_a_truncated_body_is_retried_not_returned(s3_server, shards):
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/run.h5"
    data = np.random.default_rng(0).random((64, 64))
    with dosna_like.File(url, "w", storage_options=_through(s3_server.endpoint_url)) as f:
        # one GET per chunk, or the default shards' ranged GETs (index, then inner chunks)
        ds = f.create_dataset("x", data=data, chunks=(32, 32), shards=shards)
        assert (ds.shards is None) == (shards is False)
    with FaultProxy(s3_server.port, fault_rate=0.5, faults=("truncate",), seed=3) as proxy:
        with dosna_like.File(url, "r", storage_options=_through(proxy.endpoint_url, retry_attempts=20),
                             rdcc_nbytes=0) as f:
            for _ in range(5):
                np.testing.assert_array_equal(f["x"][...], data)
        assert proxy.counts["truncate"] > 0


def test_a_conditional_update_is_redone_when_another_writer_got_in_first(s3_server):
    """moto's server enforces If-Match / If-None-Match on PUT (checked here by the
    outcome): the other writer's bytes are kept and our change is applied to them."""
    store = open_store(f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}")
    other = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")

    def racing(key, seen):
        def change(old):
            seen.append(old)
            if len(seen) == 1:  # another client writes between our GET and our PUT
                other.put_object(Bucket=S3_BUCKET, Key=store.path(key).partition("/")[2], Body=b"other")
            return (old or b"") + b"+mine"
        return change

    store.set("existing", b"0")
    seen: list = []
    assert store.update("existing", racing("existing", seen)) == b"other+mine"
    assert seen == [b"0", b"other"] and store.get("existing") == b"other+mine"
    seen = []
    assert store.update("new", racing("new", seen)) == b"other+mine"  # If-None-Match: * refused the first PUT
    assert seen == [None, b"other"] and store.get("new") == b"other+mine"


def _chunks_are_old_or_new(stored, old, new, chunk) -> bool:
    for i in range(0, stored.shape[0], chunk):
        for j in range(0, stored.shape[1], chunk):
            box = (slice(i, i + chunk), slice(j, j + chunk))
            if not (np.array_equal(stored[box], old[box]) or np.array_equal(stored[box], new[box])):
                return False
    return True


def test_a_mixed_workload_under_ten_percent_faults(s3_server):
    """Writes (whole and partial), reads, attribute updates and creates through a proxy
    injecting 10% faults: every read is right or raises, every error is a builtin
    OSError, a failed write leaves each chunk old or new, a failed create leaves nothing."""
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/run.h5"
    direct = _through(s3_server.endpoint_url)
    rng = np.random.default_rng(11)
    names = ["a", "b"]
    model = {n: np.zeros((48, 48), dtype="i4") for n in names}
    attrs: dict = {}
    with dosna_like.File(url, "w", storage_options=direct) as f:
        for n in names:
            f.create_dataset(n, shape=(48, 48), dtype="i4", chunks=(16, 16))
    outcome = collections.Counter()
    foreign, wrong = [], []
    with FaultProxy(s3_server.port, fault_rate=0.1, seed=5, delay=0.2) as proxy:
        faulty = _through(proxy.endpoint_url, retry_attempts=2, retry_seconds=10)
        for step in range(60):
            op = ["write", "partial", "read", "read", "attr", "create"][step % 6]
            name = names[int(rng.integers(len(names)))]
            new = model[name].copy()
            if op == "write":
                new[...] = rng.integers(1, 1000, new.shape)
            elif op == "partial":
                r, c = rng.integers(0, 40, 2)
                new[r:r + 9, c:c + 9] = rng.integers(1, 1000, (9, 9))
            try:
                with dosna_like.File(url, "a", storage_options=faulty, rdcc_nbytes=0) as f:
                    if op in ("write", "partial"):
                        f[name][...] = new
                        model[name] = new
                    elif op == "read":
                        got = f[name][...]
                        if not np.array_equal(got, model[name]):
                            wrong.append((step, name))
                        for k, v in attrs.items():
                            if f.attrs[k] != v:
                                wrong.append((step, k))
                    elif op == "attr":
                        f.attrs[f"k{step % 4}"] = step
                        attrs[f"k{step % 4}"] = step
                    else:
                        f.create_dataset(f"made{step}", data=np.full((20, 20), step, "i4"), chunks=(8, 8))
                outcome["ok"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is inspected below
                outcome[type(exc).__name__] += 1
                if not _is_builtin_os_error(exc):
                    foreign.append(repr(exc))
                with dosna_like.File(url, "a", storage_options=direct) as f:
                    if op in ("write", "partial"):
                        stored = f[name][...]
                        if not _chunks_are_old_or_new(stored, model[name], new, 16):
                            wrong.append((step, "torn chunk"))
                        model[name] = stored
                    elif op == "attr":
                        if f"k{step % 4}" in f.attrs:
                            attrs[f"k{step % 4}"] = f.attrs[f"k{step % 4}"]
                    elif op == "create":
                        if f"made{step}" in f:  # its document was stored before the failure
                            del f[f"made{step}"]
                        again = f.create_dataset(f"made{step}", shape=(20, 20), dtype="i4", chunks=(8, 8))
                        if again[...].any():  # nothing of the failed create shows through
                            wrong.append((step, "leftover chunks"))
    print(f"faults: {dict(proxy.counts)}; outcomes: {dict(outcome)}")  # shown with pytest -s
    assert proxy.counts["requests"] > 300 and sum(proxy.counts[k] for k in ("503", "500", "reset",
                                                  "applied_reset", "truncate", "delay")) > 20, proxy.counts
    assert not foreign, foreign
    assert not wrong, (wrong, outcome)
    assert outcome["ok"] > 30, outcome


_TRANSIENT = ("503", "500", "reset", "truncate")


def _fault_total(proxy) -> int:
    return sum(proxy.counts[k] for k in _TRANSIENT)


def _persistent_failure_is_a_clear_os_error(s3_server, open_and_read, status: str):
    """Every request answered with ``status``: a builtin OSError naming it, within a 3-attempt budget."""
    with FaultProxy(s3_server.port, fault_rate=1.0, faults=(status,)) as proxy:
        start = time.monotonic()
        with pytest.raises(OSError) as info:
            open_and_read(_through(proxy.endpoint_url, retry_attempts=3, retry_seconds=20))
        elapsed = time.monotonic() - start
        seen = proxy.counts["requests"]
    assert _is_builtin_os_error(info.value), repr(info.value)
    assert status in str(info.value) and "3 attempts" in str(info.value), str(info.value)
    assert elapsed < 60 and 3 <= seen <= 6, (elapsed, seen)  # 3 tries, no stacked retry layers


@pytest.mark.parametrize("layer,budget_at", [("simplecache", "top"), ("blockcache", "top"),
                                             ("simplecache", "s3")])
def test_chained_cache_urls_read_under_the_retry_budget(s3_server, tmp_path, layer, budget_at):
    """``simplecache::s3://`` and ``blockcache::s3://``: transient faults are retried and
    give right data; a persistent one is a builtin OSError within the budget.  The budget
    may be given at the top of the options or under the ``s3`` layer's own key."""
    base = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/run.h5"
    rng = np.random.default_rng(4)
    data = {n: rng.random((64, 64)) for n in ("a", "b")}
    with dosna_like.File(base, "w", storage_options=_through(s3_server.endpoint_url)) as f:
        for n, v in data.items():
            f.create_dataset(n, data=v, chunks=(16, 16))
        f.attrs["who"] = "chained"

    def chained(s3_options, cache):
        if budget_at == "s3":  # left where it is: among the s3 layer's options
            return {"s3": s3_options, layer: {"cache_storage": str(tmp_path / cache)}}
        budget = {k: s3_options.pop(k) for k in ("retry_attempts", "retry_seconds") if k in s3_options}
        return {"s3": s3_options, layer: {"cache_storage": str(tmp_path / cache)}, **budget}

    with FaultProxy(s3_server.port, fault_rate=0.3, faults=_TRANSIENT, seed=8) as proxy:
        for trial in range(3):  # a cache of its own each time: every object is fetched again
            opts = chained(_through(proxy.endpoint_url, retry_attempts=20), f"c{trial}")
            with dosna_like.File(f"{layer}::{base}", "r", storage_options=opts, rdcc_nbytes=0) as f:
                assert f.attrs["who"] == "chained"
                for n, v in data.items():
                    np.testing.assert_array_equal(f[n][...], v)
        assert _fault_total(proxy) > 5, proxy.counts

    def open_and_read(s3_options):
        with dosna_like.File(f"{layer}::{base}", "r", storage_options=chained(s3_options, "dead")) as f:
            f["a"][...]
    _persistent_failure_is_a_clear_os_error(s3_server, open_and_read, "503")


def test_an_hdf5_file_in_place_on_s3_reads_under_the_retry_budget(s3_server, tmp_path):
    """The HEAD, h5py's metadata walk through a file object, and the chunk range reads of an
    HDF5 file opened in place on S3 (plain and ``simplecache::``) are retried under the budget."""
    h5py = pytest.importorskip("h5py")
    local = tmp_path / "in.h5"
    rng = np.random.default_rng(6)
    gz, flat = rng.integers(0, 1000, (96, 64)).astype("i4"), rng.random((40, 30))
    with h5py.File(local, "w") as h:
        h.create_dataset("grp/gz", data=gz, chunks=(16, 16), compression="gzip")
        h.create_dataset("flat", data=flat)
        h["grp"].attrs["units"] = "m"
    key = f"{uuid.uuid4().hex[:10]}/in.h5"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1").upload_file(
        str(local), S3_BUCKET, key)
    url = f"s3://{S3_BUCKET}/{key}"

    def check(f):
        assert f["grp"].attrs["units"] == "m"
        np.testing.assert_array_equal(f["grp/gz"][...], gz)
        np.testing.assert_array_equal(f["flat"][...], flat)

    with FaultProxy(s3_server.port, fault_rate=0.3, faults=_TRANSIENT, seed=9) as proxy:
        for trial in range(3):
            with dosna_like.File(url, "r", storage_options=_through(proxy.endpoint_url, retry_attempts=20),
                                 rdcc_nbytes=0) as f:
                check(f)
        opts = {"s3": _through(proxy.endpoint_url), "simplecache": {"cache_storage": str(tmp_path / "c")},
                "retry_attempts": 20}
        with dosna_like.File(f"simplecache::{url}", "r", storage_options=opts, rdcc_nbytes=0) as f:
            check(f)
        assert _fault_total(proxy) > 5, proxy.counts

    def open_and_read(options):
        with dosna_like.File(url, "r", storage_options=options) as f:
            f["grp/gz"][...]
    _persistent_failure_is_a_clear_os_error(s3_server, open_and_read, "500")
