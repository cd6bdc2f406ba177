"""h5py code that runs unchanged with h5py or dosna_like: flip the one import.

Every line this prints after the first is the same with either library
(tests/test_dosna.py runs it both ways and compares).

Run: python examples/h5py_compat.py [directory]   (default: a temporary directory)
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

import dosna_like as h5py  # or: import h5py

tmp = None if len(sys.argv) > 1 else tempfile.TemporaryDirectory(prefix="h5py-compat-")
path = os.path.join(sys.argv[1] if tmp is None else tmp.name, "compat.h5")
print("library:", h5py.__name__, h5py.__version__)

rng = np.random.default_rng(42)
images = rng.integers(0, 4096, (10, 64, 64), dtype="u2")

with h5py.File(path, "w") as f:
    f.attrs["instrument"] = "demo"
    f.attrs["exposure_s"] = 0.25
    scan = f.create_group("scan/001")
    ds = scan.create_dataset("images", data=images, chunks=(1, 32, 32), compression="gzip",
                             compression_opts=4, shuffle=True)
    ds.attrs["units"] = "counts"
    log = f.create_dataset("log", shape=(0,), maxshape=(None,), dtype="f8", chunks=(16,))
    for step in range(3):  # appending, as h5py users do
        log.resize(log.shape[0] + 4, axis=0)
        log[-4:] = np.arange(4) + 10 * step
    f["scan/001/dark"] = np.zeros((64, 64), dtype="u2")

with h5py.File(path, "r") as f:
    ds = f["scan/001/images"]
    print("members:", list(f), list(f["scan/001"]))
    names = []
    f.visit(names.append)
    print("visit:", names)
    print("images:", ds.shape, ds.dtype, ds.chunks, ds.compression, ds.compression_opts, ds.shuffle)
    print("attrs:", f.attrs["instrument"], float(f.attrs["exposure_s"]), ds.attrs["units"])
    print("frame 3 mean:", round(float(ds[3].mean()), 4))
    print("pixel column:", ds[:, 10, 20])
    print("strided corner:\n", ds[0, :6:2, :6:2])
    print("frames [1, 4, 7] sum:", int(ds[[1, 4, 7], 0:8, 0:8].sum()))
    print("bright pixels in frame 0:", int((ds[0] > 4000).sum()), ds[0][ds[0] > 4090])
    print("log:", f["log"][...], "maxshape", f["log"].maxshape)
    out = np.empty((8,), dtype="u2")
    ds.read_direct(out, np.s_[2, 5, :8])
    print("read_direct:", out)
    print("'scan/001/dark' in f:", "scan/001/dark" in f, "| 'nothing' in f:", "nothing" in f)
    try:
        f["nothing"]
    except KeyError:
        print("missing name -> KeyError")
    try:
        ds[0, 0, 0] = 1
    except OSError:
        print("write to a read-only file -> OSError")

with h5py.File(path, "a") as f:
    ds = f["scan/001/images"]
    ds[0, :2, :2] = [[1, 2], [3, 4]]
    ds[1, 0, :3] = np.array([70000, -5, 7])  # int64 values out of uint16 range: HDF5 saturates
    print("after writes:", ds[0, :2, :2].tolist(), ds[1, 0, :3])
    same = f.require_dataset("scan/001/images", shape=(10, 64, 64), dtype="u2")
    print("require_dataset gives the same dataset:", same == ds)
    del f["scan/001/dark"]
    print("after del:", list(f["scan/001"]))

if tmp is not None:
    tmp.cleanup()
