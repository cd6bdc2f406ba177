#!/usr/bin/env python
"""What this machine allows a full read, measured without any array library.

    python benchmarks/floor.py [--mib 256] [--out bench-results]

A full read of raw chunks ends in the kernel copying page-cache pages into a
freshly allocated output (whose pages the kernel must also zero); a gzip read
ends in inflating every chunk, and a chunk that is not a contiguous block of
the output ends in a strided copy.  This measures those steps alone, with 1
and 2 threads, on the benchmark's chunk size (4 MiB), so a peer's time can be
set against the floor: no library reading that data can beat these figures.
Writes floor.md (and prints it).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numcodecs
import numpy as np

CHUNK = 4 * 2**20


def median_time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=256, help="data size (default 256 MiB)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)
    nbytes = args.mib * 2**20 // CHUNK * CHUNK
    n = nbytes // CHUNK
    rng = np.random.default_rng(0)
    # the benchmark's kind of data (smooth integers + noise, ~1.9x with gzip-4)
    src = (np.floor(1000 * np.sin(np.arange(nbytes // 4, dtype=np.float32) / 4096)
                    + 20 * rng.standard_normal(nbytes // 4, dtype=np.float32))).view(np.uint8)
    tmp = tempfile.mkdtemp(prefix="dosna-floor-")
    # worker threads even for 1 (numcodecs' blosc switches to its own global,
    # internally threaded path when called from the main thread)
    pools = {1: ThreadPoolExecutor(1), 2: ThreadPoolExecutor(2)}
    rows = []

    def run(threads, one):
        list(pools[threads].map(one, range(n)))

    def record(step, threads, seconds, size=nbytes):
        rows.append((step, threads, seconds, size / seconds / 1e9))

    try:
        paths = []
        for i in range(n):
            path = os.path.join(tmp, str(i))
            with open(path, "wb") as fh:
                fh.write(src[i * CHUNK:(i + 1) * CHUNK])
            paths.append(path)
        warm = np.zeros(nbytes, np.uint8)
        side = int(round((nbytes // (64 * 4)) ** 0.5))
        side = side if side % 128 == 0 and side * side * 64 * 4 == nbytes else 0
        comp = zlib.compressobj(4, zlib.DEFLATED, 31)
        stream = comp.compress(src[:CHUNK]) + comp.flush()
        blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        packed = blosc.encode(src[:CHUNK].view(np.float32))
        try:
            from dosna_like.codecs import libdeflate
        except ImportError:
            libdeflate = None
        for threads in (1, 2):
            def fresh_fill():
                out = np.empty(nbytes, np.uint8)
                run(threads, lambda i: out[i * CHUNK:(i + 1) * CHUNK].fill(1))
            record("page faults + zeroing: fill a fresh array", threads, median_time(fresh_fill, args.repeat))

            def memcpy_fresh():
                out = np.empty(nbytes, np.uint8)
                run(threads, lambda i: np.copyto(out[i * CHUNK:(i + 1) * CHUNK], src[i * CHUNK:(i + 1) * CHUNK]))
            record("memcpy into a fresh array", threads, median_time(memcpy_fresh, args.repeat))

            def scatter_fresh():
                # the benchmark's layout: (128, 128, 64) float32 chunks as blocks of a
                # (side, side, 64) array, each block 128 runs of 32 KiB in the output
                out = np.empty((side, side, 64), np.float32)
                block = src[:CHUNK].view(np.float32).reshape(128, 128, 64)
                per_row = side // 128
                run(threads, lambda i: np.copyto(
                    out[(i // per_row) * 128:(i // per_row + 1) * 128,
                        (i % per_row) * 128:(i % per_row + 1) * 128], block))
            if side:
                record("copy chunks into their blocks of a fresh array", threads,
                       median_time(scatter_fresh, args.repeat))

            def pread(out):
                view = memoryview(out)

                def one(i):
                    fd = os.open(paths[i], os.O_RDONLY)
                    try:
                        os.preadv(fd, [view[i * CHUNK:(i + 1) * CHUNK]], 0)
                    finally:
                        os.close(fd)
                run(threads, one)
            record("pread page cache -> reused array", threads, median_time(lambda: pread(warm), args.repeat))
            record("pread page cache -> fresh array (a raw full read)", threads,
                   median_time(lambda: pread(np.empty(nbytes, np.uint8)), args.repeat))
            record("zlib inflate, 4 MiB chunks", threads, median_time(
                lambda: run(threads, lambda i: zlib.decompress(stream, 31, CHUNK)), args.repeat))
            def unblosc_into():
                out = np.empty(nbytes, np.uint8)
                run(threads, lambda i: blosc.decode(packed, out=out[i * CHUNK:(i + 1) * CHUNK]))
            record("blosc-lz4 (shuffle) decode into a fresh array", threads, median_time(unblosc_into, args.repeat))
            if libdeflate is not None and libdeflate.AVAILABLE:
                def inflate_into():
                    out = np.empty(nbytes, np.uint8)
                    run(threads, lambda i: libdeflate.gunzip_into(stream, out[i * CHUNK:(i + 1) * CHUNK]))
                record("libdeflate inflate into a fresh array", threads, median_time(inflate_into, args.repeat))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for pool in pools.values():
            pool.shutdown()

    lines = [f"# Machine floor for a {nbytes / 2**20:.0f} MiB full read ({os.cpu_count()} cores)", "",
             f"4 MiB pieces, median of {args.repeat}; GB/s of output.", "",
             "| step | threads | time | GB/s |", "|---|---:|---:|---:|"]
    lines += [f"| {step} | {threads} | {seconds * 1e3:.1f} ms | {gbs:.2f} |"
              for step, threads, seconds, gbs in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "floor.md"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
