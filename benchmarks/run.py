#!/usr/bin/env python
"""Benchmark dosna_like against h5py, zarr and TensorStore on the same data, same run.

    python benchmarks/run.py --quick          # < 90 s, 64 MiB dataset, main cases
    python benchmarks/run.py                  # full mode, 256 MiB dataset, every case
    python benchmarks/run.py --cases read_full,warm_small --repeat 7
    DOSNA_BENCH_FAKE=1 python benchmarks/run.py --quick   # dosna_like := h5py

Writes results.json, results.md and speedup_<case>.png to --out
(default bench-results/) and prints the markdown table. See README.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:  # dosna_like importable without installing it
    sys.path.insert(1, ROOT)

import numpy as np  # noqa: E402

from cases import CASES, LOCAL_FILES, Bench, Config, ensure_files, file_sizes  # noqa: E402
from harness import log  # noqa: E402
from peers import CODEC_LABEL, fake_dosna, FAKE_ENV, load_dosna, make_peers, PEER_NAMES  # noqa: E402
from report import add_ratios, markdown, plot_ratios, QUICK_NOTE, write_json  # noqa: E402

MiB = 2**20
# quick mode (make demo) leaves out the slow cases; --cases can still ask for them
QUICK_CASES = ("write", "read_full", "hyperslab", "strided_fancy", "warm_small", "cold_small",
               "append", "many_small", "latency", "memory")


def make_config(args) -> Config:
    quick = args.quick
    return Config(
        quick=quick,
        shape=(512, 512, 64) if quick else (1024, 1024, 64),
        chunks=(128, 128, 64),
        dtype="float32",
        repeat=args.repeat or (3 if quick else 7),
        rdcc_nbytes=64 * MiB,
        warm_reads=2000,
        warm_budget_s=0.25 if quick else 2.0,
        cold_reads=10 if quick else 25,
        timeout=args.timeout or (30.0 if quick else 180.0),
        compressions=("none", "gzip") if quick else ("none", "gzip", "fast"),
        remote_shape=(256, 256, 64) if quick else (512, 512, 64),
        remote_chunks=(32, 32, 64),
        many=100 if quick else 1000,
    )


def make_data(shape, dtype, seed) -> np.ndarray:
    """Integer-valued smooth field + noise: compresses ~1.9x with gzip-4."""
    z, y, x = (np.arange(n, dtype=np.float32) for n in shape)
    field = (np.sin(z / 37)[:, None, None] + np.cos(y / 23)[None, :, None]
             + np.sin(x / 11)[None, None, :])
    noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    data = 1000 * field + 20 * noise
    np.floor(data, out=data)
    return data.astype(dtype, copy=False)


def machine_info(dosna_version) -> dict:
    import h5py
    import zarr

    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    def first(path, key):
        try:
            with open(path) as fh:
                return next((line.split(":", 1)[1].strip() for line in fh
                             if line.startswith(key)), None)
        except OSError:
            return None

    mem_kib = first("/proc/meminfo", "MemTotal")
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": first("/proc/cpuinfo", "model name") or platform.processor(),
        "mem_total_gib": int(mem_kib.split()[0]) / 2**20 if mem_kib else float("nan"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"numpy": np.__version__, "h5py": h5py.__version__,
                     "hdf5": h5py.version.hdf5_version, "zarr": zarr.__version__,
                     "tensorstore": version("tensorstore"), "dosna_like": dosna_version,
                     "deflate": version("deflate")},
        "git_commit": commit,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="64 MiB dataset, 3 repetitions (< 90 s)")
    parser.add_argument("--out", default="bench-results",
                        help="output directory (default: bench-results/)")
    parser.add_argument("--cases", default="",
                        help=f"comma-separated subset of: {', '.join(CASES)} (default: "
                             f"all; --quick: {', '.join(QUICK_CASES)})")
    parser.add_argument("--peers", default="",
                        help=f"comma-separated subset of: {', '.join(PEER_NAMES)} "
                             "(default: all installed)")
    parser.add_argument("--repeat", type=int, default=0,
                        help="repetitions per measurement (default 3 quick, 7 full)")
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds before a single dosna_like operation is "
                             "recorded as n/a (default 30 quick, 180 full)")
    args = parser.parse_args(argv)
    args.cases = ([c.strip() for c in args.cases.split(",") if c.strip()]
                  or list(QUICK_CASES if args.quick else CASES))
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {list(CASES)}")
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = make_config(args)
    started = time.perf_counter()
    dosna_module, dosna_version, dosna_error = load_dosna()
    notes = []
    if fake_dosna():
        notes.append(f"{FAKE_ENV} is set: the 'dosna_like' rows are h5py, "
                     "not dosna_like (harness test only).")
    if dosna_error:
        notes.append(f"dosna_like could not be imported: {dosna_error}")
        log(f"warning: dosna_like rows will be n/a: {dosna_error}")
    base, njobs = make_peers(dosna_module, args.peers)

    data = make_data(cfg.shape, cfg.dtype, cfg.seed)
    log(f"{'quick' if cfg.quick else 'full'} mode: {cfg.dtype}{cfg.shape} "
        f"({data.nbytes / MiB:.0f} MiB), chunks {cfg.chunks}, repeat {cfg.repeat}, "
        f"peers {[p.name for p in base + njobs]}")

    workdir = tempfile.mkdtemp(prefix="dosna-bench-")
    try:
        bench = Bench(cfg, data, workdir, base, njobs, dosna_error)
        case_seconds = {}
        for name, case in CASES.items():
            if name not in args.cases:
                continue
            t0 = time.perf_counter()
            if name in LOCAL_FILES:
                ensure_files(bench)
            log(f"[{name}]")
            case(bench)
            case_seconds[name] = round(time.perf_counter() - t0, 2)
            log(f"  ({case_seconds[name]:.1f} s)")
        sizes = file_sizes(bench)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    add_ratios(bench.rows)
    machine = machine_info(dosna_version)
    config = {"mode": "quick" if cfg.quick else "full", **vars(cfg),
              "nbytes": data.nbytes, "cases": args.cases, "codecs": CODEC_LABEL,
              "peers": [p.name for p in base + njobs],
              "fake_dosna": fake_dosna(), "dosna_import_error": dosna_error}
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "results.json"), machine, config,
               bench.rows, bench.memory,
               {"file_bytes": sizes, "notes": notes, "case_seconds": case_seconds,
                "elapsed_s": time.perf_counter() - started})
    table = markdown(machine, config, bench.rows, bench.memory, notes)
    with open(os.path.join(args.out, "results.md"), "w") as fh:
        fh.write(table)
    plots = plot_ratios(bench.rows, args.out) if bench.rows else []
    print(table)
    log(f"wrote {args.out}/results.json, results.md and {len(plots)} plot(s) "
        f"in {time.perf_counter() - started:.0f} s")
    if cfg.quick:
        log(QUICK_NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
