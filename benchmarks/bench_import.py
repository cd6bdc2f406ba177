"""Import a 1 GiB HDF5 file into a local store (and export it back) vs h5py's own copy.

    .venv/bin/python benchmarks/bench_import.py [--gib 1] [--repeat 3] [--layouts chunked,gzip,contiguous]

For each layout the source is one float32 dataset of ``--gib`` GiB (a smooth
field plus noise, rounded, so gzip compresses it about 2x):

* ``chunked``: 2 MiB chunks, no filter;
* ``gzip``: 2 MiB chunks, shuffle + gzip level 4;
* ``contiguous``: no chunks.

Timed, interleaved, medians of ``--repeat`` runs, page cache warm, dirty
pages synced to disk (untimed) before each step so no step pays for the
previous one's write-back:

* ``h5py copy``: ``src.copy("x", dst)`` into a new HDF5 file (H5Ocopy: HDF5
  copies the stored chunks without decoding them) -- the reference;
* ``import``: ``dosna_like.import_hdf5(src, dir)``;
* ``export``: ``dosna_like.export_hdf5(dir, new.h5)``;
* ``import ref``: ``import_hdf5(src, dir, reference=True)``, the zero-copy
  import (the store keeps where each chunk is in the file; nothing is copied);
  the summary gives its speedup over the copying ``import`` too;
* for the gzip layout also ``import zlib``: ``import_hdf5(..., deflate_as="zlib")``
  (HDF5's deflate streams stored as they are, no decompression) and
  ``export zlib``: exporting that store (the streams go back as they are).

Speedup = t_h5py_copy / t_dosna_like (> 1: dosna_like is faster).
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
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dosna_like  # noqa: E402

COLS = 16384
CHUNKS = (32, COLS // 1)  # 2 MiB of float32


def make_source(path: str, layout: str, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 8 * np.pi, COLS, dtype="f4")
    opts = {}
    if layout != "contiguous":
        opts["chunks"] = (CHUNKS[0], COLS)
    if layout == "gzip":
        opts.update(compression="gzip", compression_opts=4, shuffle=True)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("x", shape=(rows, COLS), dtype="f4", **opts)
        step = 512
        for i in range(0, rows, step):
            n = min(step, rows - i)
            field = 100 * np.sin(x[None, :] + np.arange(i, i + n, dtype="f4")[:, None] / 97)
            ds[i:i + n] = np.round(field + rng.normal(0, 1, (n, COLS)).astype("f4"), 1)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def h5py_copy(src: str, dst: str) -> None:
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        s.copy("x", d)


def check_same(src: str, store: str, exported: str, rows: int, ref_store: str) -> None:
    picks = [slice(0, 7), slice(rows // 2, rows // 2 + 33), slice(rows - 5, rows)]
    with h5py.File(src, "r") as s, dosna_like.File(store, "r") as d, h5py.File(exported, "r") as e, \
            dosna_like.File(ref_store, "r") as r:
        for sel in picks:
            np.testing.assert_array_equal(d["x"][sel], s["x"][sel])
            np.testing.assert_array_equal(e["x"][sel], s["x"][sel])
            np.testing.assert_array_equal(r["x"][sel], s["x"][sel])


def run_layout(workdir: str, layout: str, rows: int, repeat: int, njobs: int | None) -> dict:
    src = os.path.join(workdir, f"{layout}.h5")
    t0 = time.perf_counter()
    make_source(src, layout, rows)
    size = os.path.getsize(src)
    print(f"[{layout}] source {size / 2**30:.2f} GiB on disk, written in {time.perf_counter() - t0:.0f} s",
          flush=True)
    copy_dst, store, exported = (os.path.join(workdir, n) for n in ("copy.h5", "store.dl", "exported.h5"))
    zstore = os.path.join(workdir, "store-zlib.dl")
    ref_store = os.path.join(workdir, "store-ref.dl")
    steps = [("h5py copy", lambda: h5py_copy(src, copy_dst), copy_dst),
             ("import", lambda: dosna_like.import_hdf5(src, store, njobs=njobs, progress=False), store),
             ("import ref", lambda: dosna_like.import_hdf5(src, ref_store, reference=True), ref_store),
             ("export", lambda: dosna_like.export_hdf5(store, exported, njobs=njobs, progress=False), exported)]
    zexported = os.path.join(workdir, "exported-zlib.h5")
    if layout == "gzip":
        steps.append(("import zlib", lambda: dosna_like.import_hdf5(src, zstore, njobs=njobs, progress=False,
                                                                    deflate_as="zlib"), zstore))
        steps.append(("export zlib", lambda: dosna_like.export_hdf5(zstore, zexported, njobs=njobs,
                                                                    progress=False), zexported))
    times = {name: [] for name, _, _ in steps}
    for rep in range(repeat + 1):  # the first round warms the page cache and is not counted
        for name, fn, dst in steps:
            remove(dst)
            os.sync()
            t = timed(fn)
            if rep:
                times[name].append(t)
        if rep == 0:
            check_same(src, store, exported, rows, ref_store)
    result = {k: statistics.median(v) for k, v in times.items()}
    result["nbytes"] = rows * COLS * 4
    for path in (src, copy_dst, store, exported, zstore, zexported, ref_store):
        remove(path)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="dataset size in GiB (default 1)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layouts", default="chunked,gzip,contiguous")
    parser.add_argument("--njobs", type=int, default=None, help="dosna_like worker threads (default: CPUs)")
    parser.add_argument("--workdir", help="where to put the files (default: a temporary directory)")
    args = parser.parse_args(argv)
    rows = max(CHUNKS[0], int(args.gib * 2**30 / (COLS * 4)) // CHUNKS[0] * CHUNKS[0])
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-import-")
    results = {}
    try:
        for layout in args.layouts.split(","):
            results[layout] = run_layout(workdir, layout, rows, args.repeat, args.njobs)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{rows * COLS * 4 / 2**30:.2f} GiB float32, medians of {args.repeat}, "
          f"{os.cpu_count()} CPUs; MiB/s of logical data; speedup = t_h5py_copy / t")
    print(f"{'layout':12} {'step':12} {'time':>8} {'MiB/s':>7} {'speedup':>8}")
    for layout, r in results.items():
        mib = r["nbytes"] / 2**20
        for step in ("h5py copy", "import", "import ref", "export", "import zlib", "export zlib"):
            if step in r:
                print(f"{layout:12} {step:12} {r[step]:6.3f} s {mib / r[step]:7.0f} {r['h5py copy'] / r[step]:7.2f}x")
    for layout, r in results.items():
        print(f"{layout}: zero-copy import {r['import'] / r['import ref']:.0f}x faster than the copying import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
