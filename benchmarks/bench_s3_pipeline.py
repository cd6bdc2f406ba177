"""Object storage: the fetch pipeline, the client library, and the peers, in one run.

    .venv/bin/python benchmarks/bench_s3_pipeline.py [--repeat 5] [--json out.json]

On a local S3 endpoint (moto on 127.0.0.1), one float32 array of
512x512x64 in chunks of 32x32x64 (256 chunks of 256 KiB), written once by
each peer.  Reported, medians of ``--repeat`` runs, every side measured in
the same run, in turn:

* open + full read, and write: dosna_like with chunk bodies through obstore
  (the default), dosna_like through aiobotocore (``body_client="botocore"``),
  zarr-python (FsspecStore over s3fs) and TensorStore; ratios against each;
* client CPU per GET: process CPU time of a full read / number of chunks,
  for dosna_like's two clients (the moto server is another process);
* on ``slowmem://`` (25 ms per call, in memory): the mean number of requests
  in flight during a full read and a full write, against ``io_concurrency``.

The machine's load moves every number; the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import dosna_like  # noqa: E402
from backends.latency import SlowMemoryFileSystem  # noqa: E402
from backends.s3_local import LocalS3  # noqa: E402

SHAPE, CHUNKS = (512, 512, 64), (32, 32, 64)
BUCKET = "dosna-pipeline"


def _dosna(server, client):
    opts = {**server.storage_options, "body_client": client}
    url = f"s3://{BUCKET}/dosna-{client}.h5"

    def write(data):
        with dosna_like.File(url, "w", storage_options=opts) as f:
            f.create_dataset("x", data=data, chunks=CHUNKS)

    def read():
        with dosna_like.File(url, "r", storage_options=opts, rdcc_nbytes=0) as f:
            return f["x"][...]
    return write, read


def _zarr(server):
    import zarr
    from zarr.storage import FsspecStore

    url = f"s3://{BUCKET}/zarr.zarr"

    def store(read_only):
        return FsspecStore.from_url(url, storage_options=server.storage_options, read_only=read_only)

    def write(data):
        arr = zarr.create_array(store=store(False), shape=SHAPE, dtype="f4", chunks=CHUNKS,
                                compressors=None, filters=None, fill_value=0, overwrite=True)
        arr[...] = data

    def read():
        return np.asarray(zarr.open_array(store=store(True), mode="r")[...])
    return write, read


def _tensorstore(server):
    import tensorstore as ts

    kvstore = {"driver": "s3", "bucket": BUCKET, "path": "ts.zarr/", "endpoint": server.endpoint_url,
               "aws_region": "us-east-1", "aws_credentials": {"type": "environment"}}
    metadata = {"shape": list(SHAPE), "data_type": "float32", "fill_value": 0,
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(CHUNKS)}},
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}

    def context():
        return ts.Context({"cache_pool": {"total_bytes_limit": 0}})

    def write(data):
        arr = ts.open({"driver": "zarr3", "kvstore": kvstore, "metadata": metadata}, create=True,
                      delete_existing=True, context=context()).result()
        arr.write(data).result()

    def read():
        return ts.open({"driver": "zarr3", "kvstore": kvstore}, read=True, context=context()).result().read().result()
    return write, read


def _timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def s3_case(repeat: int) -> dict:
    server = LocalS3().start()
    try:
        os.environ.update(server.env)  # TensorStore reads its credentials and zarr's s3fs its endpoint here
        server.create_bucket(BUCKET)
        data = np.random.default_rng(7).random(SHAPE).astype("f4")
        peers = {"dosna_like (obstore)": _dosna(server, "obstore"),
                 "dosna_like (botocore)": _dosna(server, "botocore"),
                 "zarr-python": _zarr(server), "tensorstore": _tensorstore(server)}
        times = {name: {"read": [], "write": [], "read_cpu": []} for name in peers}
        for name, (write, read) in peers.items():  # warm-up: written once, checked once
            write(data)
            if not np.array_equal(read(), data):
                raise AssertionError(f"{name} read back something else")
        for _ in range(repeat):
            for name, (write, read) in peers.items():  # in turn, so load shifts hit every peer alike
                wall, cpu, out = _timed(read)
                times[name]["read"].append(wall)
                times[name]["read_cpu"].append(cpu)
                wall, _, _ = _timed(lambda: write(data))
                times[name]["write"].append(wall)
        nchunks = int(np.prod([s // c for s, c in zip(SHAPE, CHUNKS)]))
        result = {}
        for name, t in times.items():
            result[name] = {"open+read s": statistics.median(t["read"]),
                            "read spread s": [min(t["read"]), max(t["read"])],
                            "write s": statistics.median(t["write"]),
                            "client cpu per GET ms": 1000 * statistics.median(t["read_cpu"]) / nchunks}
        return result
    finally:
        server.stop()


def in_flight_case() -> dict:
    fs = SlowMemoryFileSystem(latency=0.025)
    opts = {"latency": 0.025}
    url = "slowmem://pipeline/run.h5"
    data = np.random.default_rng(8).random(SHAPE).astype("f4")
    out = {}
    with dosna_like.File(url, "w", storage_options=opts) as f:
        ds = f.create_dataset("x", shape=SHAPE, dtype="f4", chunks=CHUNKS)
        limit = f.store.io_concurrency
        fs.reset_stats()
        ds[...] = data
        out["write mean in flight"] = round(fs.mean_in_flight, 1)
    with dosna_like.File(url, "r", storage_options=opts, rdcc_nbytes=0) as f:
        fs.reset_stats()
        if not np.array_equal(f["x"][...], data):
            raise AssertionError("slowmem read back something else")
        out["read mean in flight"] = round(fs.mean_in_flight, 1)
        out["read calls"] = fs.calls
    out["io_concurrency"] = limit
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    flight = in_flight_case()
    print(f"slowmem (25 ms): read mean in flight {flight['read mean in flight']} / {flight['io_concurrency']}, "
          f"write {flight['write mean in flight']} / {flight['io_concurrency']}")
    s3 = s3_case(args.repeat)
    ours = s3["dosna_like (obstore)"]
    print(f"\n{'local S3 endpoint':<24}{'open+read':>11}{'write':>9}{'cpu/GET':>10}"
          f"{'read ratio':>12}{'write ratio':>13}")
    for name, row in s3.items():
        print(f"{name:<24}{row['open+read s']:>10.3f}s{row['write s']:>8.3f}s"
              f"{row['client cpu per GET ms']:>8.2f}ms"
              f"{row['open+read s'] / ours['open+read s']:>11.2f}x{row['write s'] / ours['write s']:>12.2f}x")
    print("(ratio = that peer's time / dosna_like (obstore)'s: above 1.0x, dosna_like is faster)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"slowmem": flight, "s3": s3}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
