"""The benchmark cases, each written once against the Peer interface."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import math
import time
from dataclasses import dataclass, field

import numpy as np

from harness import check_equal, guarded, log, measure, PeerFailure
from peers import fake_dosna, TreeFloorPeer

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
    compressions: tuple = ("none", "gzip", "fast")
    remote_shape: tuple = (512, 512, 64)   # s3 and slowmem cases
    remote_chunks: tuple = (32, 32, 64)
    many: int = 1000      # datasets in the many_small case
    latency_s: float = 0.025
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

    def unavailable(self, comp: str | None, kind: str = "local", extra=None):
        """reason(peer) -> why this peer sits out (None: it takes part)."""
        def reason(peer):
            if peer.is_dosna and self.dosna_error:
                return f"import failed: {self.dosna_error}"
            why = peer.supports(kind)
            if why:
                return why
            if comp is not None and kind == "local" and (peer.family, comp) in self.broken:
                return self.broken[peer.family, comp]
            return extra(peer) if extra else None
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
    for comp in cfg.compressions:
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
    for comp in bench.cfg.compressions:
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
    """ds[...] on a freshly opened file; includes dosna_like njobs variants and,
    for "none", the machine floor (peers.FloorPeer)."""
    data = bench.data
    for comp in bench.cfg.compressions:
        def warmup(peer):
            with peer.open(bench.path(peer, comp)) as ds:
                out = peer.read(ds, ...)
                if peer.is_floor:  # raw chunk files one after another: the bytes, not the layout
                    n_chunks = math.prod(-(-n // c) for n, c in zip(data.shape, bench.cfg.chunks))
                    # each chunk file may end in its 4-byte crc32c (the default checksum)
                    assert out.nbytes in (data.nbytes, data.nbytes + 4 * n_chunks), "the floor read other files"
                else:
                    check_equal(out, data, f"ds[...] ({comp})")

        def trial(peer, rep):
            with peer.open(bench.path(peer, comp)) as ds:
                t0 = time.perf_counter()
                out = peer.read(ds, ...)
                elapsed = time.perf_counter() - t0
                del out  # freed after the clock stops
                return elapsed

        extra = [p for p in bench.njobs if comp == "none" or not p.is_floor]
        measure(bench, "read_full", comp, bench.base + extra, trial,
                warmup=warmup, nbytes=data.nbytes,
                unavailable=bench.unavailable(comp))


# ---------------------------------------------------------------- hyperslabs
AXIS_LABELS = ("[i,:,:]", "[:,j,:]", "[:,:,k]")


def _selection_case(bench: Bench, case: str, label: str, comp: str, sels: list) -> None:
    """One selection per repetition (sels[rep]) on a freshly opened file."""
    data = bench.data

    def warmup(peer):
        with peer.open(bench.path(peer, comp)) as ds:
            for sel in sels:
                check_equal(peer.read(ds, sel), data[sel], f"ds{label}")

    def trial(peer, rep):
        with peer.open(bench.path(peer, comp)) as ds:
            t0 = time.perf_counter()
            peer.read(ds, sels[rep])
            return time.perf_counter() - t0

    measure(bench, case, f"{comp} {label}", bench.base, trial,
            warmup=warmup, unavailable=bench.unavailable(comp))


def case_hyperslab(bench: Bench) -> None:
    """One full plane along each axis, fresh open per read, new index per rep."""
    data, cfg = bench.data, bench.cfg
    for comp in cfg.compressions:
        for axis, label in enumerate(AXIS_LABELS):
            index = bench.rng(axis).integers(0, data.shape[axis], cfg.repeat)
            sels = [tuple(int(i) if a == axis else slice(None)
                          for a in range(data.ndim)) for i in index]
            _selection_case(bench, "hyperslab", label, comp, sels)


def case_strided_fancy(bench: Bench) -> None:
    """Strided ``ds[::2, ::3, :]`` and fancy ``ds[:, rows, :]`` (64 sorted random rows)."""
    data, cfg = bench.data, bench.cfg
    rng = bench.rng(300)
    strided = [(slice(a, None, 2), slice(b, None, 3), slice(None))
               for a, b in rng.integers(0, 2, (cfg.repeat, 2)).tolist()]
    fancy = [(slice(None), sorted(rng.choice(data.shape[1], 64, replace=False).tolist()),
              slice(None)) for _ in range(cfg.repeat)]
    for comp in cfg.compressions:
        _selection_case(bench, "strided_fancy", "[::2,::3,:]", comp, strided)
        _selection_case(bench, "strided_fancy", "[:,rows,:]", comp, fancy)


# ---------------------------------------------------------- warm small reads
def _one_chunk(shape, chunks) -> tuple:
    """The slice of chunk (1, 1, 0) (or (0, 0, 0) on tiny datasets)."""
    starts = [min(1, (s - 1) // c) * c for s, c in zip(shape, chunks)]
    starts[-1] = 0
    return tuple(slice(a, min(a + c, s)) for a, c, s in zip(starts, chunks, shape))


def case_warm_small(bench: Bench) -> None:
    """ds[i, j, :] inside one chunk already read once, big chunk cache.

    h5py and dosna_like are opened with the same rdcc_nbytes (h5py also with
    many rdcc_nslots), TensorStore with a cache pool of that size; zarr has no
    chunk cache and re-reads the chunk every time. Value: median latency per
    read (us); stops after cfg.warm_reads reads or cfg.warm_budget_s seconds,
    whichever comes first.
    """
    data, cfg = bench.data, bench.cfg
    chunk = _one_chunk(data.shape, cfg.chunks)
    rng = bench.rng(100)
    ii = rng.integers(chunk[0].start, chunk[0].stop, cfg.warm_reads)
    jj = rng.integers(chunk[1].start, chunk[1].stop, cfg.warm_reads)
    for comp in cfg.compressions:
        def warmup(peer):
            with peer.open(bench.path(peer, comp), cfg.rdcc_nbytes) as ds:
                check_equal(peer.read(ds, chunk), data[chunk], "one chunk")
                for i, j in zip(ii[:20], jj[:20]):
                    check_equal(peer.read(ds, (int(i), int(j))), data[i, j], "ds[i,j,:]")

        def trial(peer, rep):
            latencies = []
            with peer.open(bench.path(peer, comp), cfg.rdcc_nbytes) as ds:
                peer.read(ds, chunk)  # fill the chunk cache
                deadline = time.perf_counter_ns() + int(cfg.warm_budget_s * 1e9)
                for i, j in zip(ii.tolist(), jj.tolist()):
                    t0 = time.perf_counter_ns()
                    peer.read(ds, (i, j))
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
    for comp in cfg.compressions:
        def warmup(peer):
            for i, j in points:
                with peer.open(bench.path(peer, comp)) as ds:
                    check_equal(peer.read(ds, (i, j)), data[i, j], "cold ds[i,j,:]")

        def trial(peer, rep):
            path, latencies = bench.path(peer, comp), []
            for i, j in points:
                t0 = time.perf_counter()
                with peer.open(path) as ds:
                    peer.read(ds, (i, j))
                latencies.append(time.perf_counter() - t0)
            return statistics.median(latencies) * 1e6

        measure(bench, "cold_small", comp, bench.base, trial, warmup=warmup,
                unit="us", unavailable=bench.unavailable(comp))


# -------------------------------------------------------- append with resize
def case_append(bench: Bench) -> None:
    """Start empty along axis 0 (maxshape None), then grow by one chunk row at a
    time: resize + write, until the full dataset is there. Time of the whole.
    Full mode also grows by 100 rows at a time (not a multiple of the chunk
    rows, so every step rewrites the chunk row it started in)."""
    data, cfg = bench.data, bench.cfg
    maxshape = (None,) + data.shape[1:]
    start_shape = (0,) + data.shape[1:]
    # gzip writes are slow for every peer and the write case has them already
    comps = [c for c in cfg.compressions if c != "gzip"][:1 if cfg.quick else None]
    variants = [(c, cfg.chunks[0], c) for c in comps]
    if not cfg.quick:
        variants.append(("none", 100, "none, 100-row steps"))
    for comp, step, variant in variants:
        def grow(peer, path):
            peer.remove(path)
            with peer.create(path, start_shape, data.dtype, cfg.chunks, comp, maxshape) as ds:
                for i in range(0, len(data), step):
                    peer.append(ds, data[i:i + step])

        def warmup(peer):
            path = peer.path(bench.workdir, f"append-{comp}")
            grow(peer, path)
            with peer.open(path) as ds:
                check_equal(peer.read(ds, ...), data, "appended dataset")

        def trial(peer, rep):
            path = peer.path(bench.workdir, f"append-{comp}")
            t0 = time.perf_counter()
            grow(peer, path)
            return time.perf_counter() - t0

        measure(bench, "append", variant, bench.base, trial, warmup=warmup,
                nbytes=data.nbytes, unavailable=bench.unavailable(comp))


# ------------------------------------------------------- many small datasets
def case_many_small(bench: Bench) -> None:
    """Create cfg.many small datasets (16 float32, two attributes each) in ten
    groups; then reopen the file, walk it and read one attribute of each."""
    n = bench.cfg.many

    def make(i):
        return np.arange(16, dtype="f4") + i, {"units": "m", "index": i}

    reason = bench.unavailable(None, extra=lambda p: None if p.has_groups
                               else f"{p.family} has no groups or attributes")

    def create_trial(peer, rep):
        path = peer.path(bench.workdir, "many")
        peer.remove(path)
        t0 = time.perf_counter()
        peer.create_many(path, n, make)
        return time.perf_counter() - t0

    def walk_warmup(peer):
        path = peer.path(bench.workdir, "many")
        if not os.path.exists(path):
            peer.create_many(path, n, make)
        found = peer.walk_many(path)
        if found != n:
            raise AssertionError(f"walk found {found} datasets, expected {n}")

    def walk_trial(peer, rep):
        t0 = time.perf_counter()
        peer.walk_many(peer.path(bench.workdir, "many"))
        return time.perf_counter() - t0

    floor = [TreeFloorPeer()] if any(p.is_dosna for p in bench.base) and not bench.dosna_error \
        and not fake_dosna() else []
    measure(bench, "many_small", f"create {n}", bench.base + floor, create_trial, unavailable=reason)
    measure(bench, "many_small", "reopen+walk+attrs", bench.base, walk_trial,
            warmup=walk_warmup, unavailable=reason)


# ------------------------------------------------------------- other stores
def _store_case(bench: Bench, case: str, kind: str, data: np.ndarray, chunks, comps,
                before=None, after=None, shards=None) -> None:
    """write, and open + full read, on a non-local kind of store. ``before()`` runs before
    and ``after(peer)`` after each timed operation (counters) -> extra dict.  With
    ``shards``, every peer stores Zarr v3 shards of that shape (h5py sits out)."""
    base = bench.base

    def timed(peer, fn):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        return (elapsed, after(peer)) if after else elapsed

    label = "" if shards is None else " sharded"
    for comp in comps:
        loc = {p.name: p.location(kind, bench.workdir, comp + label.strip()) for p in base}
        sharded = None if shards is None else (lambda p: "HDF5 has no shards" if p.name == "h5py" else None)
        can_write = bench.unavailable(comp, kind, extra=lambda p: (
            "h5py cannot write to object storage" if kind == "s3" and p.name == "h5py"
            else sharded(p) if sharded else None))

        def write_trial(peer, rep):
            return timed(peer, lambda: peer.write(loc[peer.name], data, chunks, comp, shards=shards))

        measure(bench, case, f"write {comp}{label}", base, write_trial, nbytes=data.nbytes,
                unavailable=can_write)

        def warmup(peer):
            if kind == "s3" and peer.name == "h5py":  # written locally, then uploaded
                local = peer.path(bench.workdir, f"s3-{comp}")
                peer.write(local, data, chunks, comp)
                peer.upload(local, loc[peer.name])
            with peer.open(loc[peer.name]) as ds:
                check_equal(peer.read(ds, ...), data, f"{kind} ds[...]")

        def read_trial(peer, rep):
            # open + read: h5py over an s3fs file object fetches data while opening
            def open_and_read():
                with peer.open(loc[peer.name]) as ds:
                    peer.read(ds, ...)
            return timed(peer, open_and_read)

        measure(bench, case, f"open+read {comp}{label}", base, read_trial, warmup=warmup,
                nbytes=data.nbytes, unavailable=bench.unavailable(comp, kind, extra=sharded))


S3_SHARDS = (128, 128, 64)  # 16 remote chunks of (32, 32, 64) per shard, 4 MiB


def remote_data(bench: Bench) -> np.ndarray:
    from run import make_data
    return make_data(bench.cfg.remote_shape, bench.cfg.dtype, bench.cfg.seed + 1)


def case_memstore(bench: Bench) -> None:
    """write + full read on in-memory stores: dosna_like memory://, zarr
    MemoryStore, TensorStore's memory kvstore, h5py's core driver (file image)."""
    _store_case(bench, "memstore", "memory", bench.data, bench.cfg.chunks, ("none",))


def case_s3(bench: Bench) -> None:
    """write + full read through a local S3 endpoint (moto), with the requests
    each operation made, counted at the server. h5py reads its file (uploaded
    untimed) through an s3fs file object; it cannot write to S3."""
    from peers import StoreEnv
    from s3_counting import CountingS3

    server = CountingS3().start()
    try:
        os.environ.update(server.env)  # TensorStore's S3 client reads credentials from here
        server.create_bucket(StoreEnv.bucket)
        StoreEnv.s3 = server

        def requests(peer):
            return {"requests": server.counts()}

        _store_case(bench, "s3", "s3", remote_data(bench), bench.cfg.remote_chunks,
                    ("none",), before=server.reset_counts, after=requests)
        # the same chunks in shards of 16 (issue 14): a GET per shard and one per index
        _store_case(bench, "s3", "s3", remote_data(bench), bench.cfg.remote_chunks,
                    ("none",), before=server.reset_counts, after=requests, shards=S3_SHARDS)
    finally:
        server.stop()
        StoreEnv.s3 = None


def case_latency(bench: Bench) -> None:
    """write + full read on ``slowmem://`` (in memory, 25 ms added to every call):
    how many fetches a peer keeps in flight to hide the latency.

    ``mean_in_flight`` counts the open's node documents too: read one or two at a
    time before any chunk is known, they bound the mean of an open + full read of
    256 chunks at 32 in flight to (2 + 1 + 8 x 32) / 10 = 25.9 for two document
    round trips (root document with its side object, then the array's).
    ``mean_chunks_in_flight`` is the fetch pipeline's own figure: chunk keys only."""
    from backends.latency import SlowMemoryFileSystem
    from peers import StoreEnv

    fs = StoreEnv.slowmem = SlowMemoryFileSystem(latency=bench.cfg.latency_s)
    data = remote_data(bench)

    def in_flight(peer):
        return {"max_in_flight": fs.max_in_flight, "mean_in_flight": round(fs.mean_in_flight, 1),
                "mean_chunks_in_flight": round(fs.mean_chunks_in_flight, 1), "calls": fs.calls}

    _store_case(bench, "latency", "slowmem", data, bench.cfg.remote_chunks, ("none",),
                before=fs.reset_stats, after=in_flight)


# ------------------------------------------------------------------ peak RSS
def case_memory(bench: Bench) -> None:
    """Peak RSS growth of a full read, in a fresh process, / output nbytes.

    Quick mode probes h5py and dosna_like only, full mode every peer.
    """
    peers = [p for p in bench.base if not (bench.cfg.quick and p.name in ("zarr", "tensorstore"))]
    for comp in bench.cfg.compressions:
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
    "strided_fancy": case_strided_fancy,
    "warm_small": case_warm_small,
    "cold_small": case_cold_small,
    "append": case_append,
    "many_small": case_many_small,
    "memstore": case_memstore,
    "s3": case_s3,
    "latency": case_latency,
    "memory": case_memory,
}
LOCAL_FILES = {"read_full", "hyperslab", "strided_fancy", "warm_small", "cold_small", "memory"}
