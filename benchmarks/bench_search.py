"""Search 10,000 datasets by attribute: dosna_like's sidecar index vs walking an HDF5 file with h5py.

    .venv/bin/python benchmarks/bench_search.py [--datasets 10000] [--repeat 7] [--s3]

Builds the same tree twice (100 groups of 100 datasets, three attributes
each): a local dosna_like file and an HDF5 file.  Then, on each, finds the
datasets matching three queries.  h5py has no index: its way is to walk
the file (``visititems``) and read the attributes.  Reported, medians of
``--repeat`` runs:

* warm search: a query on an open file whose index is loaded;
* cold search: open the file + first query (loads and checks the sidecar);
* h5py: open + walk + filter (the same answer, checked equal).

``--s3`` repeats the cold search on a local S3 endpoint (moto), with the
HTTP requests counted.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dosna_like  # noqa: E402

SAMPLES = [f"mouse-{i}" for i in range(10)]
QUERIES = {
    "sample=mouse-3": ({"sample": "mouse-3"}, lambda a: a["sample"] == "mouse-3"),
    "temp>=329.5 (range)": ({"temp": {"$gte": 329.5}}, lambda a: a["temp"] >= 329.5),
    "path~*/d007 and version in [1,2]": ({"$path": "*/d007", "version": {"$in": [1, 2]}},
                                         None),
}


def attributes(i: int) -> dict:
    rng = np.random.default_rng(i)
    return {"sample": SAMPLES[i % 10], "temp": float(np.round(rng.uniform(270, 330), 2)),
            "version": int((i // 100) % 4)}


def build(dosna_url: str, h5_path: str, groups: int, per_group: int) -> None:
    with dosna_like.File(dosna_url, "w") as f, h5py.File(h5_path, "w") as h:
        for g in range(groups):
            dg, hg = f.create_group(f"g{g:03d}"), h.create_group(f"g{g:03d}")
            for d in range(per_group):
                i = g * per_group + d
                ds, hs = dg.create_dataset(f"d{d:03d}", shape=(4,), dtype="f4"), hg.create_dataset(
                    f"d{d:03d}", shape=(4,), dtype="f4")
                for k, v in attributes(i).items():
                    ds.attrs[k] = v
                    hs.attrs[k] = v


def h5py_search(path: str, test) -> list:
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and test(name, dict(obj.attrs)):
            found.append("/" + name)

    with h5py.File(path, "r") as h:
        h.visititems(visit)
    return sorted(found)


def h5py_test(label, fn):
    if fn is None:  # the path query
        return lambda name, a: name.endswith("/d007") and a["version"] in (1, 2)
    return lambda name, a: fn(a)


def median_time(fn, repeat: int) -> tuple:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run_local(workdir: str, n: int, repeat: int) -> dict:
    groups = max(1, n // 100)
    url, h5 = os.path.join(workdir, "search.dl"), os.path.join(workdir, "search.h5")
    t0 = time.perf_counter()
    build(url, h5, groups, n // groups)
    print(f"built {n} datasets in each file in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = {}
    with dosna_like.File(url, "r") as f:
        f.search()  # load the index once for the warm numbers
        for label, (query, fn) in QUERIES.items():
            warm, hits = median_time(lambda: f.search(query), repeat)
            expected = h5py_search(h5, h5py_test(label, fn))
            assert [o.name for o in hits] == expected, label
            rows[label] = {"hits": len(hits), "warm": warm}
    for label, (query, fn) in QUERIES.items():
        def cold():
            with dosna_like.File(url, "r") as f:
                return f.search(query)
        rows[label]["cold"] = median_time(cold, repeat)[0]
        rows[label]["h5py"] = median_time(lambda: h5py_search(h5, h5py_test(label, fn)), max(3, repeat // 2))[0]
    return rows


def run_s3(n: int, repeat: int) -> None:
    from backends.s3_local import LocalS3

    with LocalS3() as server:
        os.environ.update(server.env)
        server.create_bucket("bench")
        url = "s3://bench/search.dl"
        groups = max(1, n // 100)
        with dosna_like.File(url, "w") as f:
            for g in range(groups):
                grp = f.create_group(f"g{g:03d}")
                for d in range(n // groups):
                    grp.create_dataset(f"d{d:03d}", shape=(4,), dtype="f4").attrs.update(attributes(g * 100 + d))
        counts = collections.Counter()
        probe = dosna_like.File(url, "r")
        probe.store.fs.s3.meta.events.register("before-send.s3", lambda request, **kw: counts.update([request.method]))

        def cold():
            with dosna_like.File(url, "r") as f:
                return f.search(sample="mouse-3")

        cold()
        counts.clear()
        t, hits = median_time(cold, repeat)
        per_run = {k: v / repeat for k, v in counts.items()}
        print(f"\nS3 (local moto endpoint), {n} datasets: open + first search {t * 1e3:.0f} ms, "
              f"{len(hits)} hits, HTTP requests per open+search: {per_run}")
        probe.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--s3", action="store_true", help="also time open + search on a local S3 endpoint")
    parser.add_argument("--workdir", help="where to build the files (default: a temporary directory)")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-search-")
    try:
        rows = run_local(workdir, args.datasets, args.repeat)
        print(f"\n{args.datasets} datasets, medians of {args.repeat}; speedup = t_h5py / t_dosna_like")
        print(f"{'query':36} {'hits':>5} {'warm search':>12} {'open+search':>12} {'h5py walk':>10} {'speedup':>8}")
        for label, r in rows.items():
            print(f"{label:36} {r['hits']:5d} {r['warm'] * 1e3:9.2f} ms {r['cold'] * 1e3:9.1f} ms "
                  f"{r['h5py'] * 1e3:7.0f} ms {r['h5py'] / r['cold']:7.1f}x")
        if args.s3:
            run_s3(args.datasets, max(3, args.repeat // 2))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
