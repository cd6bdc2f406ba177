"""The quick start on S3-compatible storage: local endpoint, CORTX, MinIO, Ceph RGW or AWS.

Configure the endpoint and credentials with the standard AWS environment
variables (see backends/README.md), then:

    python examples/s3_quickstart.py s3://bucket/some/prefix/run.h5

With no argument it starts the local endpoint from backends/ for the run.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import dosna_like as h5py

server = None
if len(sys.argv) > 1:
    url = sys.argv[1]
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from backends.s3_local import LocalS3

    server = LocalS3().start()
    os.environ.update(server.env)
    server.create_bucket("dosna-example")
    url = "s3://dosna-example/demo/run.h5"

try:
    with h5py.File(url, "w") as f:
        ds = f.create_dataset("images", shape=(64, 512, 512), dtype="u2", chunks=(8, 256, 256),
                              compression="zstd")
        ds[...] = np.random.default_rng(0).integers(0, 4096, ds.shape, dtype="u2")
        ds.attrs["instrument"] = "demo"
        print("wrote", ds, "with", f.store.requests.snapshot())
    with h5py.File(url, "r") as f:
        ds = f["images"]
        f.store.requests.reset()
        stack_mean = ds[10:20].mean()
        print(f"mean of frames 10-19: {stack_mean:.1f};", "requests:", f.store.requests.snapshot())
finally:
    if server is not None:
        server.stop()
