"""HDF5 files read in place (issue 13): dosna_like vs h5py on the same files, in one run.

    .venv/bin/python benchmarks/bench_hdf5_in_place.py            # 256 MiB per file
    .venv/bin/python benchmarks/bench_hdf5_in_place.py --quick    # 64 MiB, 3 repetitions
    .venv/bin/python benchmarks/bench_hdf5_in_place.py --no-s3    # local files only

Two chunked float32 files written by h5py: gzip-4 + shuffle, and no filter.
Timed: open + full read (``f["x"][...]``) + close, best of N, for h5py and for
``dosna_like.File(path, "r")`` (the file opened in place: its metadata read
with h5py into a reference map, then chunks read as byte ranges in parallel and
decoded by dosna_like's codecs).  On the local S3 endpoint (moto, requests
counted at the server, ``s3_counting.py``) h5py reads through an s3fs file
object, the usual way, and dosna_like opens the ``s3://`` URL, first building
the reference map and saving it beside the file, then reopening with it.
Prints a table with ratios (h5py time / dosna_like time: above 1 is faster)
and writes ``results.json`` into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import h5py  # noqa: E402

import dosna_like  # noqa: E402
from dosna_like.storage import hdf5_ranges  # noqa: E402

FILTERS = {"gzip4+shuffle": {"compression": "gzip", "compression_opts": 4, "shuffle": True}, "none": {}}


def make_data(mib: int) -> np.ndarray:
    side = int(round((mib * 2**20 / 4 / 64) ** 0.5))
    rng = np.random.default_rng(0)
    field = np.add.outer(np.arange(side), np.arange(side)).astype("f4")[:, :, None] % 97
    return (field + rng.integers(0, 8, (side, side, 64))).astype("f4")


def best(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def read_h5py(source):
    with h5py.File(source, "r") as f:
        return f["x"][...]


def read_dosna(source, **kwargs):
    with dosna_like.File(source, "r", **kwargs) as f:
        return f["x"][...]


def local_cases(folder: str, data: np.ndarray, repeat: int) -> list:
    rows = []
    for name, filters in FILTERS.items():
        path = os.path.join(folder, f"{name}.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=data, chunks=(128, 128, 64), **filters)
        assert np.array_equal(read_dosna(path), data)
        t_h5 = best(lambda: read_h5py(path), repeat)
        t_us = best(lambda: read_dosna(path), repeat)
        rows.append({"case": f"local {name}", "h5py_s": t_h5, "dosna_like_s": t_us, "ratio": t_h5 / t_us,
                     "file_bytes": os.path.getsize(path)})
    return rows


def s3_cases(folder: str, data: np.ndarray, repeat: int) -> list:
    import fsspec

    from benchmarks.s3_counting import CountingS3

    server = CountingS3().start()
    os.environ.update(server.env)
    rows = []
    try:
        server.create_bucket("bench")
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        for name in FILTERS:
            url = f"s3://bench/{name}.h5"
            fs.put_file(os.path.join(folder, f"{name}.h5"), url)

            def h5py_read():
                s3 = fsspec.filesystem("s3", skip_instance_cache=True)
                with s3.open(url, "rb") as fobj:
                    return read_h5py(fobj)

            server.reset_counts()
            h5py_read()
            h5_requests = server.counts()
            t_h5 = best(h5py_read, repeat)
            server.reset_counts()
            start = time.perf_counter()
            assert np.array_equal(read_dosna(url, hdf5_refs="beside"), data)
            t_first = time.perf_counter() - start
            first_requests = server.counts()
            server.reset_counts()
            read_dosna(url, hdf5_refs="beside")
            reopen_requests = server.counts()
            t_us = best(lambda: read_dosna(url, hdf5_refs="beside"), repeat)
            rows.append({"case": f"s3 {name}", "h5py_s": t_h5, "dosna_like_s": t_us, "ratio": t_h5 / t_us,
                         "dosna_like_first_open_s": t_first, "h5py_requests": h5_requests,
                         "dosna_like_first_requests": first_requests, "dosna_like_reopen_requests": reopen_requests})
    finally:
        server.stop()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB files, 3 repetitions")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--no-local", action="store_true", help="S3 cases only (the files are still written)")
    parser.add_argument("--merge-mib", type=float, help="merge touching byte ranges into requests of up to "
                        "this many MiB (default: dosna_like.storage.hdf5_ranges.MERGE_LIMIT)")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)
    mib = 64 if args.quick else 256
    repeat = args.repeat or (3 if args.quick else 5)
    if args.merge_mib:
        hdf5_ranges.MERGE_LIMIT = int(args.merge_mib * 2**20)
    print(f"merge limit {hdf5_ranges.MERGE_LIMIT / 2**20:g} MiB", flush=True)
    data = make_data(mib)
    with tempfile.TemporaryDirectory() as folder:
        rows = local_cases(folder, data, repeat)
        if args.no_local:
            rows = []
        if not args.no_s3:
            rows += s3_cases(folder, data, repeat)
    print(f"{'case':<22}{'h5py s':>10}{'dosna_like s':>14}{'ratio':>8}  requests (h5py / dosna_like reopen)")
    for row in rows:
        requests = ""
        if "h5py_requests" in row:
            requests = f"{row['h5py_requests']} / {row['dosna_like_reopen_requests']}"
        print(f"{row['case']:<22}{row['h5py_s']:>10.3f}{row['dosna_like_s']:>14.3f}{row['ratio']:>8.2f}  {requests}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "hdf5_in_place.json"), "w") as fh:
        json.dump({"mib": mib, "repeat": repeat, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
