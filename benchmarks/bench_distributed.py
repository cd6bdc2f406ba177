"""DosNa's ``map`` and HDF5 import on a dask.distributed cluster, 1 and 2 workers.

    .venv/bin/python benchmarks/bench_distributed.py [--quick] [--json out.json]

What is timed, in one run, on a local directory store:

- ``map``: a per-chunk filter (a few FFT round trips per chunk, CPU-bound) over
  every chunk of a float32 dataset, in local threads (``njobs`` 1 and 2, the
  default path, no joblib) and under ``joblib.parallel_config(backend="dask")``
  on a ``LocalCluster`` of 1 and of 2 worker processes (one thread each).
- ``import``: ``import_hdf5`` of a gzip HDF5 file with the same data (raw
  chunks, no decoding), threads versus the cluster.
- ``export``: ``export_hdf5`` of the store to an HDF5 file (the chunk reads
  on the workers, the HDF5 writes in the caller), threads versus the cluster.
- overhead: ``map`` of a function that returns its chunk, over 256 small
  chunks, on W workers minus the same in W local threads, divided by the
  joblib tasks (4 batches of chunks per worker) and by the chunks.

Expected growth: with W workers, a CPU-bound map approaches W times one
worker's speed while a chunk costs much more than the per-task overhead (a few
ms: scheduler round trip plus pickling the handles); each worker opens the
store once, so the fixed cost grows by one open per worker.  Import is bound by
the disk (or the network for S3) more than by the CPU, so it grows less.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dosna_like  # noqa: E402

__all__ = ["main"]


def fft_filter(chunk: np.ndarray) -> np.ndarray:
    """A CPU-bound per-chunk filter: low-pass by FFT, a few times."""
    out, axes = chunk, tuple(range(chunk.ndim))
    for _ in range(4):
        spectrum = np.fft.rfftn(out, axes=axes)
        spectrum[..., spectrum.shape[-1] // 2:] = 0
        out = np.fft.irfftn(spectrum, s=chunk.shape, axes=axes).astype(chunk.dtype)
    return out


def identity(chunk: np.ndarray) -> np.ndarray:
    return chunk


def timed(func, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def run_map(ds, func, name: str) -> None:
    out_name = f"{name}-{time.perf_counter_ns()}"
    ds.map(func, out_name)
    del ds.parent[out_name]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one repetition")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)

    # dask is in the test extra; this script is its only benchmark user
    import h5py
    import joblib
    from dask.distributed import Client, LocalCluster

    shape, chunks = ((256, 256, 64), (64, 64, 64)) if args.quick else ((512, 512, 64), (64, 64, 64))
    small_shape, small_chunks = (256, 256), (16, 16)  # 256 tiny chunks: the per-task cost
    repeat = 1 if args.quick else 3
    work = Path(tempfile.mkdtemp(prefix="dosna-dist-bench-"))
    results: dict = {"shape": shape, "chunks": chunks, "repeat": repeat}
    try:
        data = np.random.default_rng(0).random(shape, dtype="f4")
        source = work / "source.h5"
        with h5py.File(source, "w") as f:
            f.create_dataset("data", data=data, chunks=chunks, compression="gzip", compression_opts=4)
        url = str(work / "store.h5")
        with dosna_like.File(url, "w") as f:
            f.create_dataset("data", data=data, chunks=chunks)
            f.create_dataset("small", data=np.ones(small_shape, dtype="f4"), chunks=small_chunks)
        counter = iter(range(10**6))

        def do_import() -> None:
            dosna_like.import_hdf5(str(source), str(work / f"imported-{next(counter)}.h5"), progress=False)

        def do_export() -> None:
            dosna_like.export_hdf5(url, str(work / f"exported-{next(counter)}.h5"), progress=False)

        with dosna_like.File(url, "r+") as f:
            ds, small = f["data"], f["small"]
            for njobs in (1, 2):
                ds.njobs = small.njobs = njobs
                results[f"map threads njobs={njobs}"] = timed(lambda: run_map(ds, fft_filter, "m"), repeat)
            for njobs in (1, 2):
                small.njobs = njobs
                results[f"identity map threads njobs={njobs}"] = timed(lambda: run_map(small, identity, "i"), repeat)
            results["import threads"] = timed(do_import, repeat)
            results["export threads"] = timed(do_export, repeat)
            for workers in (1, 2):
                with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, Client(cluster), \
                        joblib.parallel_config(backend="dask"):
                    run_map(small, identity, "warm")  # each worker opens the store once, untimed
                    results[f"map dask workers={workers}"] = timed(lambda: run_map(ds, fft_filter, "m"), repeat)
                    results[f"import dask workers={workers}"] = timed(do_import, repeat)
                    results[f"export dask workers={workers}"] = timed(do_export, repeat)
                    results[f"identity map dask workers={workers}"] = timed(
                        lambda: run_map(small, identity, "i"), repeat)
        nchunks = int(np.prod([s // c for s, c in zip(small_shape, small_chunks)]))
        for workers in (1, 2):  # joblib sends 4 batches per worker: the cost is per task, not per chunk
            extra = results[f"identity map dask workers={workers}"] - results[f"identity map threads njobs={workers}"]
            results[f"overhead per task ms, workers={workers}"] = 1000 * extra / min(nchunks, 4 * workers)
            results[f"overhead per chunk ms, workers={workers}"] = 1000 * extra / nchunks
        results["map speed-up 2 vs 1 worker"] = results["map dask workers=1"] / results["map dask workers=2"]
        results["import speed-up 2 vs 1 worker"] = results["import dask workers=1"] / results["import dask workers=2"]
        results["export speed-up 2 vs 1 worker"] = results["export dask workers=1"] / results["export dask workers=2"]
        results["map dask 2 workers / threads njobs=2"] = results["map dask workers=2"] / results["map threads njobs=2"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end: other work on the machine skews the ratios)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
