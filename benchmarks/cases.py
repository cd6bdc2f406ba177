"""The benchmark cases, each written once against the Peer interface."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from harness import check_equal, guarded, log, measure, PeerFailure

COMPRESSIONS = ("none", "gzip")
HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Config:
    quick: bool
    shape: tuple
    chunks: tuple
    dtype: str
    repeat: int
    rdcc_nbytes: int      # chunk cache for the warm small reads
    warm_reads: int       # max reads per repetition of warm_small ...
    warm_budget_s: float  # ... or stop after this long (slow peers)
    cold_reads: int       # fresh opens per repetition of cold_small
    timeout: float        # per dosna_like operation, seconds
    seed: int = 12345


@dataclass
class Bench:
    cfg: Config
    data: np.ndarray
    workdir: str
    base: list            # peers that write files
    njobs: list           # extra dosna_like peers for the full read
    dosna_error: str | None
    files: dict = field(default_factory=dict)   # (family, comp) -> path
    broken: dict = field(default_factory=dict)  # (family, comp) -> error
    rows: list = field(default_factory=list)
    memory: list = field(default_factory=list)

    def path(self, peer, comp: str) -> str:
        return peer.path(self.workdir, comp)

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, salt])

    def unavailable(self, comp: str):
        def reason(peer):
            if peer.is_dosna and self.dosna_error:
                return f"import failed: {self.dosna_error}"
            if (peer.family, comp) in self.broken:
                return self.broken[peer.family, comp]
            return None
        return reason


def disk_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f))
               for d, _, files in os.walk(path) for f in files)


def read(ds, sel) -> np.ndarray:
    return np.asarray(ds[sel])


# --------------------------------------------------------------------- write
def case_write(bench: Bench) -> None:
    """Create the dataset, then ds[...] = data, then close (page-cache writes)."""
    cfg, data = bench.cfg, bench.data
    for comp in COMPRESSIONS:
        def trial(peer, rep):
            path = bench.path(peer, comp)
            peer.remove(path)
            t0 = time.perf_counter()
            peer.write(path, data, cfg.chunks, comp)
            return time.perf_counter() - t0

        rows = measure(bench, "write", comp, bench.base, trial,
                       nbytes=data.nbytes, unavailable=bench.unavailable(comp))
        for peer in bench.base:
            _record_file(bench, peer, comp, rows[peer.name].error)


def _record_file(bench, peer, comp, error) -> None:
    path = bench.path(peer, comp)
    if error is None and os.path.exists(path):
        bench.files[peer.family, comp] = path
    else:
        bench.broken[peer.family, comp] = f"write failed: {error or 'no file'}"


def ensure_files(bench: Bench) -> None:
    """Untimed writes for the read cases when the write case was skipped."""
    for comp in COMPRESSIONS:
        for peer in bench.base:
            key = (peer.family, comp)
            if key in bench.files or key in bench.broken:
                continue
            if bench.unavailable(comp)(peer):
                continue  # reported by every row of that peer anyway
            path = bench.path(peer, comp)
            peer.remove(path)
            try:
                guarded(peer, lambda: peer.write(path, bench.data,
                                                 bench.cfg.chunks, comp),
                        bench.cfg.timeout)
                _record_file(bench, peer, comp, None)
            except PeerFailure as exc:
                _record_file(bench, peer, comp, str(exc))


def file_sizes(bench: Bench) -> dict:
    return {f"{family}/{comp}": disk_bytes(path)
            for (family, comp), path in sorted(bench.files.items())}


# ----------------------------------------------------------------- full read
def case_read_full(bench: Bench) -> None:
    """ds[...] on a freshly opened file; includes dosna_like njobs variants."""
    data = bench.data
    for comp in COMPRESSIONS:
        def warmup(peer):
            with peer.open(bench.path(peer, comp)) as ds:
                check_equal(read(ds, ...), data, f"ds[...] ({comp})")

        def trial(peer, rep):
            with peer.open(bench.path(peer, comp)) as ds:
                t0 = time.perf_counter()
                read(ds, ...)
                return time.perf_counter() - t0

        measure(bench, "read_full", comp, bench.base + bench.njobs, trial,
                warmup=warmup, nbytes=data.nbytes,
                unavailable=bench.unavailable(comp))


# ---------------------------------------------------------------- hyperslabs
AXIS_LABELS = ("[i,:,:]", "[:,j,:]", "[:,:,k]")


def case_hyperslab(bench: Bench) -> None:
    """One full plane along each axis, fresh open per read, new index per rep."""
    data, cfg = bench.data, bench.cfg
    for comp in COMPRESSIONS:
        for axis, label in enumerate(AXIS_LABELS):
            index = bench.rng(axis).integers(0, data.shape[axis], cfg.repeat)
            sels = [tuple(int(i) if a == axis else slice(None)
                          for a in range(data.ndim)) for i in index]

            def warmup(peer):
                with peer.open(bench.path(peer, comp)) as ds:
                    for sel in sels:
                        check_equal(read(ds, sel), data[sel], f"ds{label}")

            def trial(peer, rep):
                with peer.open(bench.path(peer, comp)) as ds:
                    t0 = time.perf_counter()
                    read(ds, sels[rep])
                    return time.perf_counter() - t0

            measure(bench, "hyperslab", f"{comp} {label}", bench.base, trial,
                    warmup=warmup, unavailable=bench.unavailable(comp))


# ---------------------------------------------------------- warm small reads
def _one_chunk(shape, chunks) -> tuple:
    """The slice of chunk (1, 1, 0) (or (0, 0, 0) on tiny datasets)."""
    starts = [min(1, (s - 1) // c) * c for s, c in zip(shape, chunks)]
    starts[-1] = 0
    return tuple(slice(a, min(a + c, s)) for a, c, s in zip(starts, chunks, shape))


def case_warm_small(bench: Bench) -> None:
    """ds[i, j, :] inside one chunk already read once, big chunk cache.

    h5py and dosna_like are opened with the same rdcc_nbytes (h5py also with
    many rdcc_nslots); zarr has no chunk cache and re-reads the chunk every
    time. Value: median latency per read (us); stops after cfg.warm_reads reads
    or cfg.warm_budget_s seconds, whichever comes first.
    """
    data, cfg = bench.data, bench.cfg
    chunk = _one_chunk(data.shape, cfg.chunks)
    rng = bench.rng(100)
    ii = rng.integers(chunk[0].start, chunk[0].stop, cfg.warm_reads)
    jj = rng.integers(chunk[1].start, chunk[1].stop, cfg.warm_reads)
    for comp in COMPRESSIONS:
        def warmup(peer):
            with peer.open(bench.path(peer, comp), cfg.rdcc_nbytes) as ds:
                check_equal(read(ds, chunk), data[chunk], "one chunk")
                for i, j in zip(ii[:20], jj[:20]):
                    check_equal(read(ds, (int(i), int(j))), data[i, j], "ds[i,j,:]")

        def trial(peer, rep):
            latencies = []
            with peer.open(bench.path(peer, comp), cfg.rdcc_nbytes) as ds:
                read(ds, chunk)  # fill the chunk cache
                deadline = time.perf_counter_ns() + int(cfg.warm_budget_s * 1e9)
                for i, j in zip(ii.tolist(), jj.tolist()):
                    t0 = time.perf_counter_ns()
                    read(ds, (i, j))
                    t1 = time.perf_counter_ns()
                    latencies.append(t1 - t0)
                    if t1 > deadline and len(latencies) >= 20:
                        break
            return statistics.median(latencies) / 1e3, {"reads": len(latencies)}

        measure(bench, "warm_small", comp, bench.base, trial, warmup=warmup,
                unit="us", unavailable=bench.unavailable(comp))


# ---------------------------------------------------------- cold small reads
def case_cold_small(bench: Bench) -> None:
    """open + ds[i, j, :] + close at random places; median latency (us)."""
    data, cfg = bench.data, bench.cfg
    rng = bench.rng(200)
    points = list(zip(rng.integers(0, data.shape[0], cfg.cold_reads).tolist(),
                      rng.integers(0, data.shape[1], cfg.cold_reads).tolist()))
    for comp in COMPRESSIONS:
        def warmup(peer):
            for i, j in points:
                with peer.open(bench.path(peer, comp)) as ds:
                    check_equal(read(ds, (i, j)), data[i, j], "cold ds[i,j,:]")

        def trial(peer, rep):
            path, latencies = bench.path(peer, comp), []
            for i, j in points:
                t0 = time.perf_counter()
                with peer.open(path) as ds:
                    read(ds, (i, j))
                latencies.append(time.perf_counter() - t0)
            return statistics.median(latencies) * 1e6

        measure(bench, "cold_small", comp, bench.base, trial, warmup=warmup,
                unit="us", unavailable=bench.unavailable(comp))


# ------------------------------------------------------------------ peak RSS
def case_memory(bench: Bench) -> None:
    """Peak RSS growth of a full read, in a fresh process, / output nbytes.

    Quick mode probes h5py and dosna_like only, full mode zarr as well.
    """
    peers = [p for p in bench.base if not (bench.cfg.quick and p.name == "zarr")]
    for comp in COMPRESSIONS:
        for peer in peers:
            entry = {"peer": peer.name, "variant": comp,
                     "out_nbytes": bench.data.nbytes}
            reason = bench.unavailable(comp)(peer)
            entry.update({"status": "n/a", "error": reason} if reason
                         else _probe_rss(bench, peer, comp))
            bench.memory.append(entry)
            shown = (f"{entry['ratio']:.2f} x output" if entry["status"] == "ok"
                     else f"n/a ({entry['error']})")
            log(f"  {'memory':<10} {comp:<16} {peer.name:<20} {shown}")


def _probe_rss(bench, peer, comp) -> dict:
    cmd = [sys.executable, os.path.join(HERE, "rss_probe.py"),
           peer.name, bench.path(peer, comp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=bench.cfg.timeout + 30)
    except subprocess.TimeoutExpired:
        return {"status": "n/a", "error": "memory probe timed out"}
    if proc.returncode != 0:
        if not peer.is_dosna:
            raise RuntimeError(f"memory probe failed for {peer.name}:\n{proc.stderr}")
        lines = proc.stderr.strip().splitlines() or ["(no stderr)"]
        return {"status": "n/a", "error": lines[-1][:300]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["status"] = "ok"
    result["ratio"] = result["delta_bytes"] / result["out_nbytes"]
    return result


CASES = {
    "write": case_write,
    "read_full": case_read_full,
    "hyperslab": case_hyperslab,
    "warm_small": case_warm_small,
    "cold_small": case_cold_small,
    "memory": case_memory,
}
