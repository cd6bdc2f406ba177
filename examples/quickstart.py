"""Quick start: h5py code, unchanged but for the import, on the local store.

Run: python examples/quickstart.py [path]   (default: a temporary directory)
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

import dosna_like as h5py  # the one line that changes

tmp = None if len(sys.argv) > 1 else tempfile.TemporaryDirectory(prefix="dosna-quickstart-")
path = os.path.join(sys.argv[1] if tmp is None else tmp.name, "run.h5")  # a directory: a Zarr v3 store

with h5py.File(path, "w") as f:
    f.attrs["experiment"] = "quickstart"
    raw = f.create_group("raw")
    temps = raw.create_dataset("temperature", shape=(365, 180, 360), dtype="f4",
                               chunks=(30, 90, 90), compression="gzip")
    temps[...] = np.random.default_rng(0).normal(15, 8, temps.shape).astype("f4")
    temps.attrs["units"] = "degC"
    f["raw/station_ids"] = np.arange(100)

with h5py.File(path, "r") as f:
    temps = f["raw/temperature"]
    print(f, "->", list(f), list(f["raw"]))
    print(temps, "chunks", temps.chunks, "compression", temps.compression)
    print("mean of January:", float(temps[:31].mean()))
    print("one pixel's year, first 5 days:", temps[:5, 45, 180])
    print("units:", temps.attrs["units"], "| experiment:", f.attrs["experiment"])

import zarr  # noqa: E402  the same data through zarr-python

print("zarr sees:", zarr.open_group(path, mode="r")["raw/temperature"])

if tmp is not None:
    tmp.cleanup()
