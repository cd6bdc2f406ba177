"""What the default chunk checksum (Zarr v3 crc32c) costs: full writes and full
reads with and without it, side by side with h5py, in one run.

    .venv/bin/python benchmarks/bench_checksum.py            # 256 MiB, 5 repetitions
    .venv/bin/python benchmarks/bench_checksum.py --quick    # 64 MiB, 3 repetitions

Peers: ``h5py`` (one local HDF5 file), ``dosna_like`` (the default: crc32c
after codecs that check nothing; gzip carries its own CRC-32, so it gets
none), ``dosna_like[checksum=False]`` (zarr-python's plain layout, the
previous default), ``dosna_like[crc32c holding the GIL]`` (the default
summed as before :mod:`dosna_like.codecs.crc32c`, for its gain).  Codecs: no compression, gzip-4, blosc (h5py: lzf +
shuffle, its fast codec).  Reported: the median time per peer and its ratio
to h5py's, and the checksum's cost (with / without).  Write the machine's
load next to the figures: both sides run in the same process, one after
the other, so load shifts ratios less than times.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import h5py
import numpy as np

import dosna_like
from dosna_like.codecs import crc32c as crc32c_module

__all__ = ["main"]

COMPRESSION = {
    "none": ({}, {}),
    "gzip": ({"compression": "gzip", "compression_opts": 4}, {"compression": "gzip", "compression_opts": 4}),
    "fast": ({"compression": "lzf", "shuffle": True}, {"compression": "blosc"}),
}
PEERS = ("h5py", "dosna_like", "dosna_like[checksum=False]", "dosna_like[crc32c holding the GIL]")
_HOLDING_GIL = PEERS[3]  # the default checksum summed through google_crc32c.extend (the path before
#                          dosna_like.codecs.crc32c): it holds the GIL for numpy arrays and memoryviews


@contextlib.contextmanager
def _crc_path(peer: str):
    """The GIL-holding sum for that peer, the GIL-releasing one otherwise."""
    saved = crc32c_module._EXTEND
    if peer == _HOLDING_GIL:
        crc32c_module._EXTEND = None
    try:
        yield
    finally:
        crc32c_module._EXTEND = saved


def _data(shape) -> np.ndarray:
    rng = np.random.default_rng(0)
    smooth = np.add.outer(np.arange(shape[0]), np.arange(shape[1]))[:, :, None] % 97
    return (smooth + rng.integers(0, 8, shape)).astype("f4")


def _write(peer: str, path: str, data: np.ndarray, chunks, comp: str) -> None:
    h5_kw, ours_kw = COMPRESSION[comp]
    if peer == "h5py":
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=data, chunks=chunks, **h5_kw)
        return
    extra = {"checksum": False} if peer.endswith("[checksum=False]") else {}  # the GIL peer: the default
    with dosna_like.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=chunks, **ours_kw, **extra)


def _read(peer: str, path: str) -> np.ndarray:
    module = h5py if peer == "h5py" else dosna_like
    with module.File(path, "r") as f:
        ds = f["x"]
        start = time.perf_counter()
        out = ds[...]
        return time.perf_counter() - start, out


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def run(shape, chunks, repeat: int, comps) -> dict:
    """Median write and read time per (codec, peer); the peers take turns in every
    repetition, so a change of load falls on all of them alike."""
    data = _data(shape)
    times: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for comp in comps:
            for rep in range(repeat):
                for peer in PEERS:
                    path = os.path.join(tmp, f"{comp}-{PEERS.index(peer)}")
                    _remove(path)
                    with _crc_path(peer):
                        start = time.perf_counter()
                        _write(peer, path, data, chunks, comp)
                        written = time.perf_counter() - start
                        seconds, out = _read(peer, path)
                    if not np.array_equal(out, data):
                        raise AssertionError(f"{peer} {comp}: read back differs")
                    times.setdefault((comp, peer), []).append((written, seconds))
                    _remove(path)
    return {key: {"write": statistics.median(w for w, _ in runs), "read": statistics.median(r for _, r in runs)}
            for key, runs in times.items()}


def report(results: dict, comps) -> dict:
    rows = {}
    print(f"{'codec':6} {'peer':28} {'write s':>8} {'x h5py':>7} {'read s':>8} {'x h5py':>7}")
    for comp in comps:
        base = results[(comp, "h5py")]
        for peer in PEERS:
            r = results[(comp, peer)]
            rows[f"{comp}/{peer}"] = {**r, "write_vs_h5py": r["write"] / base["write"],
                                      "read_vs_h5py": r["read"] / base["read"]}
            print(f"{comp:6} {peer:28} {r['write']:8.3f} {r['write'] / base['write']:7.2f} "
                  f"{r['read']:8.3f} {r['read'] / base['read']:7.2f}")
        off = results[(comp, "dosna_like[checksum=False]")]
        for name, peer in (("checksum_cost", "dosna_like"), ("checksum_cost_holding_gil", _HOLDING_GIL)):
            on = results[(comp, peer)]
            rows[f"{comp}/{name}"] = {"write": on["write"] / off["write"], "read": on["read"] / off["read"]}
            label = "checksum cost (on / off)" if peer == "dosna_like" else "  the same, GIL held"
            print(f"{comp:6} {label:28} {on['write'] / off['write']:16.2f} {on['read'] / off['read']:16.2f}")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64 MiB, 3 repetitions")
    parser.add_argument("--repeat", type=int, default=0)
    parser.add_argument("--codecs", default="none,gzip,fast")
    parser.add_argument("--json", default="", help="write the figures to this file")
    args = parser.parse_args(argv)
    shape = (512, 512, 64) if args.quick else (1024, 1024, 64)
    repeat = args.repeat or (3 if args.quick else 5)
    comps = [c for c in args.codecs.split(",") if c]
    results = run(shape, (128, 128, 64), repeat, comps)
    rows = report(results, comps)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"shape": shape, "chunks": [128, 128, 64], "repeat": repeat, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
