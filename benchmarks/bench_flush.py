"""The cost of ``flush()`` on a file with many nodes: consolidated metadata and the sidecar.

    .venv/bin/python benchmarks/bench_flush.py [--nodes 250,1000,4000] [--repeat 5]

A flush that follows a change rewrites the root ``zarr.json`` with zarr's
consolidated metadata of every node, and the search sidecar.  Per file of N
datasets (in 20 groups), the median time of ``attrs[...] = ...; flush()`` on
one dataset, beside h5py doing the same on an HDF5 file of the same tree in
the same run, and the size of the root document.  Linear growth in N is the
expected cost of one flush; a flush after every change costs N times that.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dosna_like  # noqa: E402


def timed_flushes(f, repeat: int) -> float:
    times = []
    for i in range(repeat):
        f["g0/d0"].attrs["k"] = i
        t0 = time.perf_counter()
        f.flush()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="250,1000,4000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-flush-")
    try:
        for n in (int(x) for x in args.nodes.split(",")):
            url, path = os.path.join(tmp, f"d{n}"), os.path.join(tmp, f"h{n}.h5")
            with dosna_like.File(url, "w") as f, h5py.File(path, "w") as h:
                for i in range(n):
                    f.create_dataset(f"g{i % 20}/d{i}", shape=(4,), dtype="i4")
                    h.create_dataset(f"g{i % 20}/d{i}", shape=(4,), dtype="i4")
            with dosna_like.File(url, "r+") as f, h5py.File(path, "r+") as h:
                ours, theirs = timed_flushes(f, args.repeat), timed_flushes(h, args.repeat)
            root = os.path.getsize(os.path.join(url, "zarr.json"))
            print(f"{n:6d} datasets: flush {ours * 1e3:8.1f} ms ({ours / n * 1e6:5.1f} us per node), "
                  f"h5py {theirs * 1e3:6.2f} ms, ratio {ours / theirs:8.1f}x, root zarr.json {root / 1024:7.0f} KiB",
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
