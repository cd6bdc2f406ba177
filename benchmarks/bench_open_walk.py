"""Requests to open a file and walk its whole tree on the local S3 endpoint.

    .venv/bin/python benchmarks/bench_open_walk.py [--groups 20] [--datasets 10]

Why: a group's reserved entry (links, typed attribute records, creation
order) lives in a side object beside its ``zarr.json`` (format/documents.py),
so reading a group can cost one more request.  This counts, at the server
(``benchmarks/s3_counting.py``), what a fresh process pays to open a file whose
groups all have links and typed attributes and to walk it: with the file's
verified search index (``f.search()`` first, the O(1)-listing path), and by
plain listing (``visititems`` reading every group's attributes and links).
It also counts zarr-python's consolidated open of the same store.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import dosna_like  # noqa: E402
from benchmarks.s3_counting import CountingS3  # noqa: E402

BUCKET = "bench-open-walk"


def write(url: str, groups: int, datasets: int, options: dict) -> None:
    with dosna_like.File(url, "w", storage_options=options) as f:
        f.attrs["title"] = "walk"
        for i in range(groups):
            g = f.create_group(f"g{i:03d}")
            g.attrs["scale"] = np.float32(0.5)  # a typed attribute: a record in the reserved entry
            g.attrs["n"] = np.int16(i)
            for j in range(datasets):
                g.create_dataset(f"d{j}", data=np.arange(4, dtype="i2"))
            g["soft"] = dosna_like.SoftLink(f"/g{i:03d}/d0")
            g["ext"] = dosna_like.ExternalLink("other.h5", "/x")


def walk_listing(url: str, options: dict) -> int:
    seen = []
    with dosna_like.File(url, "r", storage_options=options) as f:
        def visit(name, obj):
            seen.append((name, dict(obj.attrs)))
            if isinstance(obj, dosna_like.Group):
                seen.append(obj.get("soft", getlink=True))
        f.visititems(visit)
    return len(seen)


def walk_index(url: str, options: dict) -> int:
    seen = []
    with dosna_like.File(url, "r", storage_options=options) as f:
        f.search()  # loads and checks the sidecar index: later listings come from it
        f.visititems(lambda name, obj: seen.append((name, dict(obj.attrs))))
    return len(seen)


def zarr_open(url: str, options: dict) -> int:
    import zarr
    store = zarr.storage.FsspecStore.from_url(url, storage_options=options, read_only=True)
    root = zarr.open_group(store, mode="r", zarr_format=3)
    return sum(1 for _ in root.members(max_depth=None))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--datasets", type=int, default=10)
    args = parser.parse_args(argv)
    s3 = CountingS3().start()
    try:
        os.environ.update(s3.env)
        s3.create_bucket(BUCKET)
        url = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/walk.h5"
        options = s3.storage_options
        write(url, args.groups, args.datasets, options)
        print(f"{args.groups} groups x {args.datasets} datasets, each group with a soft link, an external "
              "link and typed attributes", flush=True)
        for name, func in [("open + walk by listing", walk_listing), ("open + walk from the index", walk_index),
                           ("zarr-python open + members", zarr_open)]:
            s3.reset_counts()
            start = time.perf_counter()
            n = func(url, options)
            seconds = time.perf_counter() - start
            counts = s3.counts()
            print(f"  {name:32s} {sum(counts.values()):5d} requests {counts}  ({n} items, {seconds:.2f} s)",
                  flush=True)
    finally:
        s3.stop()


if __name__ == "__main__":
    main()
