"""Sharded vs unsharded Zarr v3 arrays with small chunks, locally and on a local S3 endpoint.

    .venv/bin/python benchmarks/bench_sharding.py [--quick] [--repeat 3] [--out bench-sharding]

The issue-14 case: a float32 ``(1024, 1024, 64)`` array (``--quick``:
``(512, 512, 64)``) with small ``(32, 32, 32)`` chunks, stored

* by dosna_like unsharded (one object per 128 KiB chunk),
* by dosna_like sharded (``shards=(256, 256, 64)``: one 16 MiB object per shard),
* by dosna_like with ``shards=`` not given: on S3 the default rule
  (``hl/creation.py: default_shards``, 8 MiB shards), locally unsharded; and
  written in 32-row slabs (whole chunks, parts of a default shard: each a
  read-modify-write of the shards it touches), the default's worst case,
* by zarr-python sharded (same shards), which zarr-python and TensorStore
  read too, and TensorStore reads dosna_like's sharded array,

on a local directory and on the local S3 endpoint (moto, counting the
requests it serves by HTTP method: ``benchmarks/s3_counting.py``).  Timed,
medians of ``--repeat`` runs, every peer in the same run: the whole-array
write, the whole-array read on a freshly opened array, and one small read
(one element, so one inner chunk) on an open array after a first read
(shard index cached).  Printed as a table with the ratios the issue asks for;
written as JSON to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import dosna_like  # noqa: E402
from benchmarks.floor import median_time  # noqa: E402
from benchmarks.s3_counting import CountingS3  # noqa: E402

CHUNKS = (32, 32, 32)
SHARDS = (256, 256, 64)
BUCKET = "bench-sharding"


class Where:
    """A local directory or the counting S3 endpoint, with each peer's way in."""

    def __init__(self, kind: str, base: str, s3: CountingS3 | None):
        self.kind, self.base, self.s3 = kind, base, s3

    def url(self, name: str) -> str:
        return f"s3://{BUCKET}/{self.base}/{name}" if self.kind == "s3" else os.path.join(self.base, name)

    body_client = None  # --body-client: S3 chunk bodies through this client ("botocore"; default obstore)

    def dosna(self, name: str, mode: str, **kw):
        body = {"body_client": self.body_client} if self.body_client else {}
        opts = {"storage_options": {**self.s3.storage_options, **body}} if self.kind == "s3" else {}
        return dosna_like.File(self.url(name), mode, **opts, **kw)

    def zarr_store(self, name: str, read_only: bool = False):
        import zarr
        if self.kind == "s3":
            return zarr.storage.FsspecStore.from_url(self.url(name), storage_options=self.s3.storage_options,
                                                      read_only=read_only)
        return zarr.storage.LocalStore(self.url(name), read_only=read_only)

    def tensorstore_spec(self, name: str) -> dict:
        if self.kind == "s3":
            return {"driver": "s3", "bucket": BUCKET, "path": f"{self.base}/{name}/",
                    "endpoint": self.s3.endpoint_url, "aws_region": "us-east-1",
                    "aws_credentials": {"type": "environment"}}
        return {"driver": "file", "path": self.url(name)}

    def counted(self, func):
        """(result, requests by method) of ``func()``; requests only on S3."""
        if self.s3 is None:
            return func(), {}
        self.s3.reset_counts()
        out = func()
        return out, self.s3.counts()


def run(where: Where, data: np.ndarray, repeat: int) -> dict:
    import tensorstore as ts
    import zarr

    rows = {}

    def record(name, seconds, requests=None):
        rows[name] = {"seconds": seconds, "requests": requests or {}}
        req = sum((requests or {}).values())
        print(f"  {where.kind:5s} {name:44s} {seconds * 1000:9.1f} ms   {req:6d} requests {requests or ''}",
              flush=True)

    # ---- writes
    def dosna_write(name: str, shards):
        def go():
            with where.dosna(name, "w") as f:
                kw = {} if shards is None else {"shards": shards}  # not given: the default rule
                f.create_dataset("x", shape=data.shape, dtype=data.dtype, chunks=CHUNKS, **kw)[...] = data
        return go

    def dosna_slab_write(name: str, shards):
        def go():  # 32-row slabs: whole chunks, but parts of a default shard (read-modify-write)
            with where.dosna(name, "w") as f:
                kw = {} if shards is None else {"shards": shards}
                ds = f.create_dataset("x", shape=data.shape, dtype=data.dtype, chunks=CHUNKS, **kw)
                for start in range(0, data.shape[0], CHUNKS[0]):
                    ds[start:start + CHUNKS[0]] = data[start:start + CHUNKS[0]]
        return go

    def zarr_write():
        root = zarr.open_group(where.zarr_store("zarr-sharded"), mode="w")
        arr = root.create_array("x", shape=data.shape, dtype=data.dtype, chunks=CHUNKS, shards=SHARDS,
                                compressors=None, fill_value=0)
        arr[...] = data

    for name, func in [("write dosna_like unsharded", dosna_write("dl-plain", False)),
                       ("write dosna_like sharded", dosna_write("dl-sharded", SHARDS)),
                       ("write dosna_like default (shards not given)", dosna_write("dl-default", None)),
                       ("slab write dosna_like unsharded", dosna_slab_write("dl-slab-plain", False)),
                       ("slab write dosna_like default", dosna_slab_write("dl-slab-default", None)),
                       ("write zarr-python sharded", zarr_write)]:
        seconds = median_time(func, repeat)
        _, req = where.counted(func)
        record(name, seconds, req)

    # ---- full reads on a freshly opened array
    def dosna_read(name):
        def go():
            with where.dosna(name, "r") as f:
                out = f["x"][...]
            assert np.array_equal(out, data)
        return go

    def zarr_read(name):
        def go():
            out = zarr.open_array(where.zarr_store(name, read_only=True), path="x", mode="r")[...]
            assert np.array_equal(out, data)
        return go

    def ts_read(name):
        def go():
            out = ts.open({"driver": "zarr3", "kvstore": where.tensorstore_spec(f"{name}/x")},
                          context=ts.Context({"cache_pool": {"total_bytes_limit": 0}})).result().read().result()
            assert np.array_equal(out, data)
        return go

    for name, func in [("read dosna_like unsharded", dosna_read("dl-plain")),
                       ("read dosna_like sharded", dosna_read("dl-sharded")),
                       ("read dosna_like default (shards not given)", dosna_read("dl-default")),
                       ("read dosna_like <- zarr-python's shards", dosna_read("zarr-sharded")),
                       ("read zarr-python sharded (its own)", zarr_read("zarr-sharded")),
                       ("read zarr-python <- dosna_like's shards", zarr_read("dl-sharded")),
                       ("read tensorstore <- dosna_like's shards", ts_read("dl-sharded"))]:
        seconds = median_time(func, repeat)
        _, req = where.counted(func)
        record(name, seconds, req)

    # ---- one small read with the shard index cached (decoded-chunk cache off)
    i, j, k = (n // 2 + 3 for n in data.shape)
    with where.dosna("dl-sharded", "r", rdcc_nbytes=0) as f, where.dosna("dl-plain", "r", rdcc_nbytes=0) as g:
        ds, dp = f["x"], g["x"]
        ds[0, 0, 0], dp[0, 0, 0]  # documents read, index of shard 0 cached
        ds[i, j, k]  # that shard's index cached
        for name, func in [("small read dosna_like sharded (index cached)", lambda: ds[i, j, k]),
                           ("small read dosna_like unsharded", lambda: dp[i, j, k])]:
            seconds = median_time(func, max(repeat, 5))
            _, req = where.counted(func)
            record(name, seconds, req)
    zarr_arr = zarr.open_array(where.zarr_store("zarr-sharded", read_only=True), path="x", mode="r")
    zarr_arr[i, j, k]
    seconds = median_time(lambda: zarr_arr[i, j, k], max(repeat, 5))
    _, req = where.counted(lambda: zarr_arr[i, j, k])
    record("small read zarr-python sharded", seconds, req)
    return rows


def ratios(rows: dict) -> dict:
    def t(name):
        return rows[name]["seconds"]

    def n(name):
        return sum(rows[name]["requests"].values())

    out = {
        "full read: unsharded / sharded time": t("read dosna_like unsharded") / t("read dosna_like sharded"),
        "full read: zarr-python / dosna_like time (sharded)":
            t("read zarr-python sharded (its own)") / t("read dosna_like sharded"),
        "full read: tensorstore / dosna_like time (sharded)":
            t("read tensorstore <- dosna_like's shards") / t("read dosna_like sharded"),
        "write: unsharded / sharded time": t("write dosna_like unsharded") / t("write dosna_like sharded"),
        "write: zarr-python / dosna_like time (sharded)":
            t("write zarr-python sharded") / t("write dosna_like sharded"),
    }
    out["full read: unsharded / default time"] = t("read dosna_like unsharded") / t(
        "read dosna_like default (shards not given)")
    out["write: unsharded / default time"] = t("write dosna_like unsharded") / t(
        "write dosna_like default (shards not given)")
    out["32-row slab writes: unsharded / default time"] = t("slab write dosna_like unsharded") / t(
        "slab write dosna_like default")
    if n("read dosna_like sharded"):
        out["full read: unsharded / default requests"] = n("read dosna_like unsharded") / n(
            "read dosna_like default (shards not given)")
        out["full read: unsharded / sharded requests"] = n("read dosna_like unsharded") / n("read dosna_like sharded")
        out["write: unsharded / sharded requests"] = n("write dosna_like unsharded") / n("write dosna_like sharded")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(512, 512, 64): 64 MiB instead of 256 MiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default="local,s3")
    parser.add_argument("--out", default="bench-sharding")
    parser.add_argument("--body-client", default=None, help='"botocore": S3 chunk bodies through s3fs, not obstore')
    args = parser.parse_args(argv)
    Where.body_client = args.body_client
    shape = (512, 512, 64) if args.quick else (1024, 1024, 64)
    rng = np.random.default_rng(0)
    data = (np.add.outer(np.arange(shape[0]), np.arange(shape[1]))[:, :, None] % 97
            + rng.random(shape, dtype=np.float32)).astype("f4")
    print(f"data {shape} float32 ({data.nbytes / 2**20:.0f} MiB), chunks {CHUNKS}, shards {SHARDS}, "
          f"repeat {args.repeat}, CPUs {os.cpu_count()}", flush=True)
    results = {"shape": shape, "chunks": CHUNKS, "shards": SHARDS, "repeat": args.repeat, "kinds": {}}
    tmp = tempfile.mkdtemp(prefix="bench-sharding-")
    s3 = None
    try:
        for kind in args.kinds.split(","):
            if kind == "s3":
                s3 = CountingS3().start()
                os.environ.update(s3.env)
                s3.create_bucket(BUCKET)
                where = Where("s3", uuid.uuid4().hex[:8], s3)
            else:
                where = Where("local", tmp, None)
            rows = run(where, data, args.repeat)
            results["kinds"][kind] = {"rows": rows, "ratios": ratios(rows)}
            for name, value in results["kinds"][kind]["ratios"].items():
                print(f"  {kind:5s} {name:55s} {value:6.2f}x", flush=True)
    finally:
        if s3 is not None:
            s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sharding.json"), "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
