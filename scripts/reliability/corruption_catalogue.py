"""The corruption catalogue: damaged chunks and documents, and what reading them does.

    .venv/bin/python scripts/reliability/corruption_catalogue.py            # every case, 1 GiB bombs
    .venv/bin/python scripts/reliability/corruption_catalogue.py --quick    # 64 MiB bombs
    .venv/bin/python scripts/reliability/corruption_catalogue.py --json out.json

Each case writes a small array with one layout (the default with its crc32c,
zarr-python's plain layout, gzip, blosc, zstd, lz4, strings...), damages one
chunk or the array's document, opens the store again and reads everything.
Outcomes:

- ``error``: an exception that subclasses the builtins h5py raises (OSError,
  ValueError, KeyError, TypeError) and names the damaged chunk key or node;
- ``right``: the data read back equals what was written (harmless damage);
- ``silent``: different data and no error (the finding to keep at 0);
- ``unclear``: an error that names neither the key nor the node, or is not
  a builtin subclass;
Chunks of the opt-out layouts (``checksum=False``) are counted apart: they
carry no checksum, so a flipped byte there reads wrong, as in zarr-python.

- ``blowup``: more memory than the limit (tracemalloc peak, and for the
  bombs the subprocess's peak RSS growth) before the error.

A chunk swapped with another valid chunk of the same array is listed apart:
no checksum inside a chunk can see it (Zarr v3 checksums do not cover the key).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc

import numpy as np

__all__ = ["LAYOUTS", "chunk_cases", "document_cases", "classify", "run", "main", "zstd_rle_frame"]

MEMORY_LIMIT = 64 * 2**20  # peak bytes allowed while reading a damaged 2 KiB chunk

LAYOUTS = {
    "default": {},
    "plain": {"checksum": False},
    "gzip": {"compression": "gzip"},
    "blosc": {"compression": "blosc"},
    "zstd": {"compression": "zstd"},
    "lz4": {"compression": "lz4"},
    "shuffle": {"shuffle": True},
    "strings": {"dtype": "str"},
    "strings-plain": {"dtype": "str", "checksum": False},
}


def _data(layout: str) -> np.ndarray:
    if layout.startswith("strings"):
        return np.array([f"value {i}" * (i % 3) for i in range(64)], dtype=object).reshape(8, 8)
    return np.arange(64 * 4, dtype="f8").reshape(16, 16)


def _write(url: str, layout: str) -> np.ndarray:
    import dosna_like
    data = _data(layout)
    kwargs = dict(LAYOUTS[layout])
    if kwargs.pop("dtype", None) == "str":
        kwargs["dtype"] = dosna_like.string_dtype()
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=tuple(n // 2 for n in data.shape), **kwargs)
    return data


def _flip(pos):
    def damage(raw: bytes) -> bytes:
        out = bytearray(raw)
        out[min(int(len(out) * pos), len(out) - 1)] ^= 0x04
        return bytes(out)
    return damage


CHUNK_DAMAGE = {
    "flip-first-byte": _flip(0.0),
    "flip-middle-byte": _flip(0.5),
    "flip-last-byte": _flip(1.0),
    "truncate-1": lambda raw: raw[:-1],
    "truncate-half": lambda raw: raw[:len(raw) // 2],
    "empty": lambda raw: b"",
    "append-garbage": lambda raw: raw + b"\x00garbage",
    "zeros": lambda raw: bytes(len(raw)),
}


def _doc_edit(edit):
    return edit


DOCUMENT_DAMAGE = {
    "negative-chunk-shape": lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [-8, 8]),
    "zero-chunk-shape": lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [0, 8]),
    "huge-chunk-shape": lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [2**40, 2**40]),
    "chunk-shape-rank": lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [8]),
    "negative-shape": lambda d: d.__setitem__("shape", [-1, 8]),
    "float-shape": lambda d: d.__setitem__("shape", [8.5, 8]),
    "unknown-dtype": lambda d: d.__setitem__("data_type", "no-such-type"),
    "wrong-dtype": lambda d: d.__setitem__("data_type", "int16"),
    "unknown-codec": lambda d: d["codecs"].append({"name": "no-such-codec"}),
    "bad-gzip-level": lambda d: d["codecs"].insert(1, {"name": "gzip", "configuration": {"level": "x"}}),
    "pickle-codec": lambda d: d["codecs"].insert(1, {"name": "numcodecs.pickle", "configuration": {}}),
    "no-codecs": lambda d: d.__setitem__("codecs", []),
    "bad-fill": lambda d: d.__setitem__("fill_value", "not a number"),
    "reserved-not-object": lambda d: d.__setitem__("dosna_like", "oops"),
    "bad-maxshape": lambda d: d.setdefault("dosna_like", {}).__setitem__("maxshape", "x"),
}
RAW_DOCUMENT_DAMAGE = {
    "truncated-json": lambda raw: raw[: len(raw) // 2],
    "not-json": lambda raw: b"\x00\x01 not json",
    "json-list": lambda raw: b"[1, 2, 3]",
    "empty-document": lambda raw: b"",
}


def classify(read, expected: np.ndarray, names: tuple) -> tuple:
    """(outcome, detail, peak bytes) of ``read()`` against ``expected``."""
    tracemalloc.start()
    try:
        got = read()
        error = None
    except Exception as exc:  # noqa: BLE001 - the outcome is what is classified
        got, error = None, exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if peak > MEMORY_LIMIT:
        return "blowup", f"{peak / 2**20:.0f} MiB", peak
    if error is not None:
        builtin = isinstance(error, (OSError, ValueError, KeyError, TypeError))
        named = any(n in str(error) for n in names)
        detail = f"{type(error).__name__}: {str(error)[:160]}"
        return ("error" if builtin and named else "unclear"), detail, peak
    same = got.shape == expected.shape and all(a == b for a, b in zip(got.reshape(-1).tolist(),
                                                                         expected.reshape(-1).tolist()))
    return ("right" if same else "silent"), "", peak


def _read_all(url: str, rdcc_nbytes: int):
    import dosna_like

    def read():
        with dosna_like.File(url, "r", rdcc_nbytes=rdcc_nbytes) as f:
            return f["x"][...]
    return read


def chunk_cases(tmp: str, layouts=None) -> list:
    results = []
    for layout in layouts or LAYOUTS:
        for damage_name, damage in CHUNK_DAMAGE.items():
            for rdcc in (0, 2**20):
                url = os.path.join(tmp, f"chunk-{layout}-{damage_name}-{rdcc}")
                expected = _write(url, layout)
                path = os.path.join(url, "x", "c", "1", "0")
                with open(path, "rb") as fh:
                    raw = fh.read()
                with open(path, "wb") as fh:
                    fh.write(damage(raw))
                outcome, detail, peak = classify(_read_all(url, rdcc), expected, ("x/c/1/0",))
                results.append({"case": f"chunk {layout} {damage_name} rdcc={rdcc}", "outcome": outcome,
                                "detail": detail, "peak_bytes": peak, "opt_out": layout.endswith("plain")})
    return results


def swap_cases(tmp: str) -> list:
    results = []
    for layout in ("default", "plain"):
        url = os.path.join(tmp, f"swap-{layout}")
        expected = _write(url, layout)
        a, b = (os.path.join(url, "x", "c", *k) for k in (("0", "0"), ("1", "1")))
        os.rename(a, a + ".t")
        os.rename(b, a)
        os.rename(a + ".t", b)
        outcome, detail, peak = classify(_read_all(url, 0), expected, ("x/c/",))
        results.append({"case": f"swap {layout}", "outcome": outcome, "detail": detail, "peak_bytes": peak})
    return results


def document_cases(tmp: str) -> list:
    results = []
    for name, edit in DOCUMENT_DAMAGE.items():
        url = os.path.join(tmp, f"doc-{name}")
        expected = _write(url, "default")
        path = os.path.join(url, "x", "zarr.json")
        with open(path) as fh:
            doc = json.load(fh)
        edit(doc)
        with open(path, "w") as fh:
            json.dump(doc, fh)
        outcome, detail, peak = classify(_read_all(url, 2**20), expected, ("'/x'", "x/zarr.json", "x/c/"))
        results.append({"case": f"document {name}", "outcome": outcome, "detail": detail, "peak_bytes": peak})
    for name, damage in RAW_DOCUMENT_DAMAGE.items():
        url = os.path.join(tmp, f"rawdoc-{name}")
        expected = _write(url, "default")
        path = os.path.join(url, "x", "zarr.json")
        with open(path, "rb") as fh:
            raw = fh.read()
        with open(path, "wb") as fh:
            fh.write(damage(raw))
        outcome, detail, peak = classify(_read_all(url, 2**20), expected, ("'/x'", "x/zarr.json"))
        results.append({"case": f"document {name}", "outcome": outcome, "detail": detail, "peak_bytes": peak})
    return results


# ------------------------------------------------------------------ bombs
_BOMB_READER = r"""
import resource, sys, dosna_like
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with dosna_like.File(sys.argv[1], "r") as f:
        f["x"][...]
    outcome = "read"
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)[:200]
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown * 1024, outcome, sep="\t")
"""


def zstd_rle_frame(nbytes: int, content_size: bool) -> bytes:
    """A zstd frame of ``nbytes`` zeros made of RLE blocks (4 bytes per 128 KiB),
    with or without a content size in its header (RFC 8878)."""
    block = 128 * 1024
    if content_size:
        head = b"\x28\xb5\x2f\xfd" + bytes([0x80 | 0x20]) + nbytes.to_bytes(4, "little")  # 4-byte FCS, single segment
    else:
        head = b"\x28\xb5\x2f\xfd" + bytes([0x00, (17 - 10) << 3])  # no FCS, window 128 KiB
    blocks = []
    left = nbytes
    while left:
        size = min(block, left)
        left -= size
        header = (size << 3) | (1 << 1) | (0 if left else 1)  # RLE block, last flag
        blocks.append(header.to_bytes(3, "little") + b"\0")
    return head + b"".join(blocks)


def _bomb_payloads(nbytes: int) -> dict:
    import bz2
    import lzma
    import zlib

    import numcodecs

    def stream(comp):
        block = bytes(2**20)
        return b"".join(comp.compress(block) for _ in range(nbytes // len(block))) + comp.flush()

    return {
        "gzip": ({"compression": "gzip"}, lambda: stream(zlib.compressobj(9, zlib.DEFLATED, 31))),
        "zlib": ({"compression": numcodecs.Zlib(1)}, lambda: stream(zlib.compressobj(9, zlib.DEFLATED, 15))),
        "zstd-sized": ({"compression": "zstd"}, lambda: zstd_rle_frame(nbytes, True)),
        "zstd-unsized": ({"compression": "zstd"}, lambda: zstd_rle_frame(nbytes, False)),
        "bz2": ({"compression": numcodecs.BZ2(9)}, lambda: stream(bz2.BZ2Compressor(9))),
        "lzma": ({"compression": numcodecs.LZMA(preset=0)}, lambda: stream(lzma.LZMACompressor(preset=0))),
        "lz4": ({"compression": "lz4"}, lambda: nbytes.to_bytes(4, "little") + b"\x1f\0\x01\0" * 64),
        "blosc": ({"compression": "blosc"}, None),
        "strings": ({"dtype": "str"}, None),
    }


def bomb_cases(tmp: str, nbytes: int) -> list:
    import dosna_like
    from dosna_like.codecs.runtime import Crc32cRuntime
    results = []
    for name, (options, build) in _bomb_payloads(nbytes).items():
        for checksum in (True, False):
            url = os.path.join(tmp, f"bomb-{name}-{checksum}")
            kwargs = dict(options)
            strings = kwargs.pop("dtype", None) == "str"
            with dosna_like.File(url, "w") as f:
                data = np.array(["ab"] * 256, dtype=object) if strings else np.arange(256, dtype="i4")
                ds = f.create_dataset("x", data=data, chunks=(256,), checksum=checksum,
                                      dtype=dosna_like.string_dtype() if strings else None, **kwargs)
                if build is not None:
                    payload = build()
                else:  # a real chunk whose header declares ``nbytes`` (blosc) or 2**31 items (strings)
                    raw = bytes(ds._io.get_raw((0,)))
                    raw = raw[:-4] if ds._io.codec.checksum is not None else raw
                    if strings:
                        payload = (2**31).to_bytes(4, "little") + raw[4:]
                    else:
                        payload = raw[:4] + nbytes.to_bytes(4, "little") + raw[8:]
                if ds._io.codec.checksum is not None:  # a valid checksum: the decoder must hold
                    payload = bytes(Crc32cRuntime().encode(payload))
                f.store.set("x/c/0", payload)
            run_ = subprocess.run([sys.executable, "-c", _BOMB_READER, url], capture_output=True, text=True)
            grown, _, outcome = run_.stdout.strip().partition("\t")
            grown = int(grown) if grown.isdigit() else -1
            bad = grown < 0 or grown > MEMORY_LIMIT or outcome == "read"
            results.append({"case": f"bomb {name} {'checked' if checksum else 'plain'} "
                                    f"({len(payload)} B -> {nbytes / 2**30:.2f} GiB)",
                            "outcome": "blowup" if bad else "error", "detail": outcome[:160],
                            "rss_growth_bytes": grown})
    return results


def run(quick: bool, tmp: str) -> dict:
    results = chunk_cases(tmp) + swap_cases(tmp) + document_cases(tmp)
    results += bomb_cases(tmp, (64 if quick else 1024) * 2**20)
    counts: dict = {}
    opted: dict = {}
    for r in results:
        if not r["case"].startswith("swap"):
            into = opted if r.get("opt_out") else counts
            into[r["outcome"]] = into.get(r["outcome"], 0) + 1
    return {"cases": results, "summary": {"cases": sum(counts.values()), **counts},
            "checksum_opt_out": {"cases": sum(opted.values()), **opted},
            "swaps": {r["case"]: r["outcome"] for r in results if r["case"].startswith("swap")}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64 MiB bombs instead of 1 GiB")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = run(args.quick, tmp)
    for r in report["cases"]:
        if (r["outcome"] not in ("error", "right") and not r.get("opt_out")) or r["case"].startswith("bomb"):
            print(f"{r['outcome']:8} {r['case']}: {r.get('detail', '')} "
                  f"{r.get('rss_growth_bytes', r.get('peak_bytes', 0)) / 2**20:.1f} MiB")
    print(json.dumps({k: report[k] for k in ("summary", "checksum_opt_out", "swaps")}, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    bad = sum(report["summary"].get(k, 0) for k in ("silent", "unclear", "blowup"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
