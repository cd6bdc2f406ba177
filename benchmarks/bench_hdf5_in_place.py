"""HDF5 files read in place (issue 13): dosna_like vs h5py on the same files, in one run.

    .venv/bin/python benchmarks/bench_hdf5_in_place.py            # 256 MiB per file
    .venv/bin/python benchmarks/bench_hdf5_in_place.py --quick    # 64 MiB, 3 repetitions
    .venv/bin/python benchmarks/bench_hdf5_in_place.py --no-s3    # local files only
    .venv/bin/python benchmarks/bench_hdf5_in_place.py --profile  # + where one read's time goes, per case

Chunked float32 files written by h5py: gzip-4 + shuffle, no filter, and (local
only) lzf + shuffle.  Timed: open + full read (``f["x"][...]``) + close, for
h5py and for ``dosna_like.File(path, "r")`` (the file opened in place: its
metadata read with h5py into a reference map, then chunks read as byte ranges
in parallel and decoded by dosna_like's codecs).  The peers are interleaved:
within every repetition each runs once, the order alternating, so load from
other processes hits both alike; the ratio is the median of the per-repetition
ratios (h5py time / dosna_like time: above 1 is faster), with their range.

On the local S3 endpoint (moto, requests counted at the server,
``s3_counting.py``) h5py reads through an s3fs file object, the usual way
(s3fs's defaults: 50 MiB blocks, read ahead, so h5py's sequential chunk reads
of a 256 MiB file cost about 5 GETs of 50 MiB, one after the other), and
dosna_like opens the ``s3://`` URL, first building the reference map and
saving it beside the file, then reopening with it: once with the default
request plan (runs of up to 8 MiB, many in flight, right for real object
stores) and once per ``--caps`` value of ``get_config().hdf5_requests_per_read``
(rows labelled ``<= N GETs per read``).  Two floors show what the server
allows: ``GET whole`` (one GET of the whole object, no decoding) and
``GET 1 byte`` (the cost of one request for a single byte of that
object, against the same for a 1 KiB object): moto reads its whole stored
object for every ranged GET, under a lock per object (those reads do not
overlap), so each request costs time that grows with the object's size.
The same files are then read from the 25 ms store (``backends/latency.py``:
a fixed latency per request, nothing that grows with the object's size, as
S3 behaves), h5py through an fsspec file object with s3fs's block size;
requests there are the store's calls.  "At best" is the ratio dosna_like
could reach if nothing but its floor cost time: on S3 ``first byte +
decode``: the wait for the first bytes of the one GET of the chunks' span (no
chunk decodes before its bytes are in) plus the decoding of every chunk of
the local copy, read beforehand, into its place in a fresh output, one thread
per core (the work no read avoids).  ``GET whole`` is no floor (concurrent
ranged GETs deliver the bytes sooner than one GET of everything on moto);
``local read`` (dosna_like reading the local copy) is shown beside them.  On
the 25 ms store the bound is that decoding plus 2 round trips (the HEAD with
the saved map, then the ranges).  A second bound counts CPU, because the
server shares this machine's cores: the decoding's CPU seconds plus those of
one streaming GET of the chunks' span, client and server (moving the bytes
once), over the number of cores.  Each S3 row also gives the CPU seconds one
read costs the client and the server (``/proc``), for both peers.
``--profile`` adds, per case, one dosna_like read with its time split into
phases summed over all threads (byte-range reads or requests, chunk decoding,
preadv into the output) beside its wall time, and a cProfile of the calling
thread.  Writes ``hdf5_in_place.json`` into ``--out``.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import h5py  # noqa: E402

import dosna_like  # noqa: E402
from dosna_like.codecs.pipeline import ChunkCodec  # noqa: E402
from dosna_like.storage import hdf5_ranges, hdf5_refs  # noqa: E402

FILTERS = {"gzip4+shuffle": {"compression": "gzip", "compression_opts": 4, "shuffle": True}, "none": {},
           "lzf+shuffle": {"compression": "lzf", "shuffle": True}}
S3_FILTERS = ("gzip4+shuffle", "none")


def make_data(mib: int) -> np.ndarray:
    side = int(round((mib * 2**20 / 4 / 64) ** 0.5))
    rng = np.random.default_rng(0)
    field = np.add.outer(np.arange(side), np.arange(side)).astype("f4")[:, :, None] % 97
    return (field + rng.integers(0, 8, (side, side, 64))).astype("f4")


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) process ``pid`` has used; None without /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def cpu_of(func, server_pid: int, times: int = 3) -> tuple:
    """(this process's, the server's) CPU seconds per call of ``func``, over ``times`` calls
    (the server's counter ticks at 10 ms: averaged over several calls)."""
    began, server = time.process_time(), process_cpu(server_pid)
    for _ in range(times):
        func()
    after = process_cpu(server_pid)
    return ((time.process_time() - began) / times,
            None if server is None or after is None else (after - server) / times)


def interleaved(h5py_fn, dosna_fn, repeat: int) -> dict:
    """Both peers once per repetition, the order alternating: medians and per-repetition ratios."""
    t_h5, t_us = [], []
    for rep in range(repeat):
        pair = ((h5py_fn, t_h5), (dosna_fn, t_us))
        for func, times in (pair if rep % 2 == 0 else pair[::-1]):
            times.append(timed(func))
    ratios = [a / b for a, b in zip(t_h5, t_us)]
    return {"h5py_s": statistics.median(t_h5), "dosna_like_s": statistics.median(t_us),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "h5py_times": t_h5, "dosna_like_times": t_us}


@contextlib.contextmanager
def phases():
    """Seconds spent in each phase of dosna_like's read path, summed over all threads."""
    totals: dict = {}
    lock = threading.Lock()

    def add(name, seconds):
        with lock:
            totals[name] = totals.get(name, 0.0) + seconds
            totals[name + " calls"] = totals.get(name + " calls", 0) + 1

    def timed(name, func):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                add(name, time.perf_counter() - start)
        return wrapper

    def timed_async(name, func):
        async def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                add(name, time.perf_counter() - start)
        return wrapper

    patches = [(hdf5_refs, "read_range", timed("range read", hdf5_refs.read_range)),
               (hdf5_ranges, "read_range_async",
                timed_async("range request (in flight)", hdf5_ranges.read_range_async)),
               (hdf5_refs.Hdf5RefStore, "_read_into", timed("preadv into output", hdf5_refs.Hdf5RefStore._read_into)),
               (ChunkCodec, "decode_into", timed("decode into buffer", ChunkCodec.decode_into)),
               (ChunkCodec, "decode", timed("decode", ChunkCodec.decode))]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, new in patches:
        setattr(obj, name, new)
    try:
        yield totals
    finally:
        for obj, name, old in saved:
            setattr(obj, name, old)


def profile_of(func, top: int = 8) -> str:
    """Phases of one call of ``func`` (thread-seconds) against its wall time, and the
    ``top`` functions by own time in the calling thread."""
    prof = cProfile.Profile()
    with phases() as totals:
        start = time.perf_counter()
        prof.enable()
        func()
        prof.disable()
        wall = time.perf_counter() - start
    out = io.StringIO()
    out.write(f"wall {wall:.3f} s; thread-seconds by phase: "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in totals.items()) + "\n")
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def read_h5py(source):
    with h5py.File(source, "r") as f:
        return f["x"][...]


def read_dosna(source, **kwargs):
    with dosna_like.File(source, "r", **kwargs) as f:
        return f["x"][...]


def write_files(folder: str, data: np.ndarray) -> None:
    for name, filters in FILTERS.items():
        with h5py.File(os.path.join(folder, f"{name}.h5"), "w") as f:
            f.create_dataset("x", data=data, chunks=(128, 128, 64), **filters)


def local_cases(folder: str, data: np.ndarray, repeat: int, profile: bool) -> list:
    rows = []
    for name in FILTERS:
        path = os.path.join(folder, f"{name}.h5")
        assert np.array_equal(read_dosna(path), data)
        row = {"case": f"local {name}", "file_bytes": os.path.getsize(path),
               **interleaved(lambda: read_h5py(path), lambda: read_dosna(path), repeat)}
        if profile:
            row["profile"] = profile_of(lambda: read_dosna(path))
        rows.append(row)
    return rows


@contextlib.contextmanager
def requests_per_read(cap):
    """``get_config().hdf5_requests_per_read`` set to ``cap`` for the block."""
    config = dosna_like.get_config()
    saved = config.hdf5_requests_per_read
    config.hdf5_requests_per_read = cap
    try:
        yield
    finally:
        config.hdf5_requests_per_read = saved


def remote_row(case: str, h5py_read, dosna_read, counts, data, repeat: int, profile: bool,
               server_pid: int | None = None) -> dict:
    """One remote case: requests of each peer (``counts()`` returns and resets them), then
    the interleaved times (the reference map saved beside the file by the first read), and
    with ``server_pid`` the CPU seconds one read of each costs the client and the server."""
    counts()
    h5py_read()
    h5_requests = counts()
    start = time.perf_counter()
    assert np.array_equal(dosna_read(), data)
    t_first = time.perf_counter() - start
    first_requests = counts()
    dosna_read()
    reopen_requests = counts()
    row = {"case": case, **interleaved(h5py_read, dosna_read, repeat), "dosna_like_first_open_s": t_first,
           "h5py_requests": h5_requests, "dosna_like_first_requests": first_requests,
           "dosna_like_reopen_requests": reopen_requests}
    if server_pid is not None:
        for name, read in (("h5py", h5py_read), ("dosna_like", dosna_read)):
            row[f"{name}_cpu_s"], row[f"{name}_server_cpu_s"] = cpu_of(read, server_pid)
    if profile:
        row["profile"] = profile_of(dosna_read)
    return row


def local_floor(path: str) -> float:
    """The fastest of 3 dosna_like reads of the local copy: its decoding without the fetching."""
    return min(timed(lambda: read_dosna(path)) for _ in range(3))


def decode_floor(path: str) -> tuple:
    """The fastest of 3 decodings of every stored chunk of the local copy (read beforehand)
    into its place in a fresh output, with dosna_like's codecs in one thread per core:
    the work a read cannot avoid, nothing fetched, opened or scheduled.  Returns (seconds,
    CPU seconds) of the fastest."""
    from concurrent.futures import ThreadPoolExecutor

    with dosna_like.File(path, "r") as f:  # the codecs the file's reference map gives its chunks
        meta = f["x"]._io.meta
    with h5py.File(path, "r") as f:
        dset = f["x"]
        shape, dtype, chunks = dset.shape, dset.dtype, dset.chunks
        raws = [(dset.id.get_chunk_info(i).chunk_offset,) for i in range(dset.id.get_num_chunks())]
        raws = [(offset, dset.id.read_direct_chunk(offset)[1]) for (offset,) in raws]
    codec = ChunkCodec(meta.codecs, dtype, chunks)

    def once() -> tuple:
        out = np.empty(shape, dtype)

        def one(item):
            offset, raw = item
            place = out[tuple(slice(o, o + c) for o, c in zip(offset, chunks))]
            if place.flags.c_contiguous or codec.decodes_into_strided:
                codec.decode_into(raw, place)
            else:
                place[...] = codec.decode(raw)

        start, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(one, raws))
        return time.perf_counter() - start, time.process_time() - cpu
    return min(once() for _ in range(3))


def span_get(url: str, start: int, size: int):
    """A function: one streaming GET (as dosna_like's reads ask) of ``size`` bytes at
    ``start`` of ``url`` into a buffer; it returns the seconds until the first bytes came."""
    from dosna_like.storage.pipeline import call_on_loop
    from dosna_like.storage.registry import filesystem_for

    fs, path = filesystem_for(url, {})
    buffer = memoryview(np.empty(size, np.uint8))

    def get() -> float:
        began, first = time.perf_counter(), []

        def arrived(n):
            if not first:
                first.append(time.perf_counter() - began)
        call_on_loop(fs.inner_fs.loop, fs._cat_file_into, path, start, buffer, arrived)
        return first[0]
    return get


def chunk_span(path: str) -> tuple:
    """(first byte, bytes) of the span the stored chunks of ``x`` cover in the file."""
    with h5py.File(path, "r") as f:
        infos = [f["x"].id.get_chunk_info(i) for i in range(f["x"].id.get_num_chunks())]
    start = min(i.byte_offset for i in infos)
    return start, max(i.byte_offset + i.size for i in infos) - start


def s3_cases(folder: str, data: np.ndarray, repeat: int, profile: bool, caps: tuple) -> list:
    import fsspec

    from benchmarks.s3_counting import CountingS3

    server = CountingS3().start()
    os.environ.update(server.env)
    rows = []

    def counts() -> dict:
        found = server.counts()
        server.reset_counts()
        return found

    try:
        server.create_bucket("bench")
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.pipe_file("s3://bench/small.bin", bytes(1024))
        for name in S3_FILTERS:
            url = f"s3://bench/{name}.h5"
            fs.put_file(os.path.join(folder, f"{name}.h5"), url)

            def h5py_read():
                s3 = fsspec.filesystem("s3", skip_instance_cache=True)
                with s3.open(url, "rb") as fobj:  # s3fs's defaults: 50 MiB blocks, read ahead
                    return read_h5py(fobj)

            for cap in (None,) + caps:
                label = f"s3 {name}" + ("" if cap is None else f", <= {cap} GETs per read")
                with requests_per_read(cap):
                    row = remote_row(label, h5py_read, lambda: read_dosna(url, hdf5_refs="beside"), counts, data,
                                     repeat, profile, server.process.pid)
                rows.append(row)
            # what the server allows: one GET of everything, and the cost of one ranged GET
            floors = rows[-1 - len(caps)]
            floors["floor_get_whole_s"] = min(timed(lambda: fs.cat_file(url)) for _ in range(2))
            size = fs.info(url)["size"]
            floors["floor_get_1_byte_s"] = min(timed(lambda: fs.cat_file(url, start=size - 1, end=size))
                                               for _ in range(3))
            floors["floor_get_1_byte_of_1kib_s"] = min(timed(lambda: fs.cat_file("s3://bench/small.bin",
                                                                                   start=0, end=1))
                                                       for _ in range(3))
            # dosna_like cannot beat one GET of the whole object, nor its own read of the local copy
            # (the same decoding, no fetching)
            local = os.path.join(folder, f"{name}.h5")
            floors["floor_local_read_s"] = local_floor(local)
            # nothing decodes before the first bytes arrive, and decoding takes what it takes:
            # a read costs at least the first byte's wait plus the decoding of every chunk
            get = span_get(url, *chunk_span(local))
            floors["floor_first_byte_s"] = min(get() for _ in range(3))
            floors["floor_decode_s"], floors["floor_decode_cpu_s"] = decode_floor(local)
            floors["ratio_bound"] = floors["h5py_s"] / (floors["floor_first_byte_s"] + floors["floor_decode_s"])
            # the CPU no read avoids, client and server sharing this machine's cores: the
            # decoding, and moving the chunks' bytes once (one streaming GET of their span)
            floors["floor_get_span_cpu_s"], floors["floor_get_span_server_cpu_s"] = cpu_of(get, server.process.pid)
            if floors["floor_get_span_server_cpu_s"] is not None:
                work = floors["floor_decode_cpu_s"] + floors["floor_get_span_cpu_s"] \
                    + floors["floor_get_span_server_cpu_s"]
                floors["ratio_bound_cpu"] = floors["h5py_s"] / (work / os.cpu_count())
    finally:
        server.stop()
    return rows


def latency_cases(folder: str, data: np.ndarray, repeat: int, profile: bool, latency: float = 0.025) -> list:
    """The same files on an S3-like store with a fixed latency per request and no cost that
    grows with the object's size (``backends/latency.py``); h5py reads through an fsspec
    file object with s3fs's block size (50 MiB, read ahead), as on S3."""
    from backends.latency import SlowMemoryFileSystem

    fs = SlowMemoryFileSystem(latency=latency)  # fsspec caches it: File(...) below gets this one
    options = {"latency": latency}
    rows = []

    def counts() -> dict:
        found = {"calls": fs.calls}
        fs.reset_stats()
        return found

    for name in S3_FILTERS:
        url = f"slowmem://bench/{name}.h5"
        with open(os.path.join(folder, f"{name}.h5"), "rb") as fh:
            fs.pipe_file(url, fh.read())

        def h5py_read():
            with fs.open(url, "rb", block_size=50 * 2**20) as fobj:
                return read_h5py(fobj)

        rows.append(remote_row(f"{latency * 1000:g} ms store {name}", h5py_read,
                               lambda: read_dosna(url, hdf5_refs="beside", storage_options=options), counts, data,
                               repeat, profile))
        # at best: decoding every chunk plus 2 round trips (the HEAD with the map, the ranges)
        local = os.path.join(folder, f"{name}.h5")
        rows[-1]["floor_local_read_s"] = local_floor(local)
        rows[-1]["floor_decode_s"] = decode_floor(local)[0]
        rows[-1]["ratio_bound"] = rows[-1]["h5py_s"] / (rows[-1]["floor_decode_s"] + 2 * latency)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB files, 3 repetitions")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--no-local", action="store_true", help="S3 cases only (the files are still written)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one dosna_like read per case")
    parser.add_argument("--merge-mib", type=float, help="merge touching byte ranges into requests of up to "
                        "this many MiB (default: dosna_like.storage.hdf5_ranges.MERGE_LIMIT)")
    parser.add_argument("--caps", default="2", help="comma-separated hdf5_requests_per_read values for extra "
                        "S3 rows (besides the default plan); empty for none")
    parser.add_argument("--no-latency", action="store_true", help="skip the 25 ms store rows")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)
    mib = 64 if args.quick else 256
    repeat = args.repeat or (3 if args.quick else 5)
    if args.merge_mib:
        hdf5_ranges.MERGE_LIMIT = int(args.merge_mib * 2**20)
    print(f"merge limit {hdf5_ranges.MERGE_LIMIT / 2**20:g} MiB, {repeat} repetitions, peers interleaved; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    data = make_data(mib)
    with tempfile.TemporaryDirectory() as folder:
        write_files(folder, data)
        rows = [] if args.no_local else local_cases(folder, data, repeat, args.profile)
        if not args.no_s3:
            caps = tuple(int(c) for c in args.caps.split(",") if c.strip())
            rows += s3_cases(folder, data, repeat, args.profile, caps)
        if not args.no_latency:
            rows += latency_cases(folder, data, repeat, args.profile)
    print(f"{'case':<36}{'h5py s':>9}{'dosna_like s':>14}{'ratio':>7}  {'(range)':<13} requests / floors")
    for row in rows:
        extra = ""
        if "h5py_requests" in row:
            extra = f"h5py {row['h5py_requests']}, dosna_like reopen {row['dosna_like_reopen_requests']}"
        if "ratio_bound" in row:
            extra += f"; local read {row['floor_local_read_s']:.2f} s, decode {row['floor_decode_s']:.3f} s"
        if "floor_get_whole_s" in row:
            extra += (f", GET whole {row['floor_get_whole_s']:.2f} s, GET 1 byte {row['floor_get_1_byte_s']:.3f} s "
                      f"(of 1 KiB: {row['floor_get_1_byte_of_1kib_s']:.3f} s), first byte "
                      f"{row['floor_first_byte_s']:.3f} s")
        if "ratio_bound" in row:
            extra += f": at best {row['ratio_bound']:.2f}x"
        if "ratio_bound_cpu" in row:
            extra += (f"; CPU no read avoids: decode {row['floor_decode_cpu_s']:.3f} s + GET of the span "
                      f"{row['floor_get_span_cpu_s']:.3f} s (server {row['floor_get_span_server_cpu_s']:.3f} s) "
                      f"on {os.cpu_count()} cores: at best {row['ratio_bound_cpu']:.2f}x")
        if row.get("dosna_like_server_cpu_s") is not None:
            extra += (f"; CPU per read: h5py {row['h5py_cpu_s']:.2f} s (server {row['h5py_server_cpu_s']:.2f} s), "
                      f"dosna_like {row['dosna_like_cpu_s']:.2f} s (server {row['dosna_like_server_cpu_s']:.2f} s)")
        span = f"{row['ratio_min']:.2f}-{row['ratio_max']:.2f}"
        print(f"{row['case']:<36}{row['h5py_s']:>9.3f}{row['dosna_like_s']:>14.3f}{row['ratio']:>7.2f}  "
              f"{span:<13} {extra}")
    for row in rows:
        if "profile" in row:
            print(f"\n--- profile, dosna_like, {row['case']} ---\n{row['profile']}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "hdf5_in_place.json"), "w") as fh:
        json.dump({"mib": mib, "repeat": repeat, "load_average": os.getloadavg(), "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
