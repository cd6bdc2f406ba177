"""DosNa's tutorial on dosna_like: a cluster of pools, datasets, chunk-level access.

DosNa code runs with ``import dosna_like as dn``: a cluster is a store root (a
local directory, ``memory://...`` or ``s3://bucket/prefix``), a pool is a file
inside it.

Run: python examples/dosna_tutorial.py [cluster-url]   (default: a temporary directory)
"""
from __future__ import annotations

import sys
import tempfile

import numpy as np

import dosna_like as dn

tmp = None if len(sys.argv) > 1 else tempfile.TemporaryDirectory(prefix="dosna-tutorial-")
url = sys.argv[1] if tmp is None else tmp.name

data = np.random.default_rng(0).random((100, 100, 100), dtype="f4")

# --- connect, create a pool and a dataset (an int chunk size means a cube)
C = dn.Cluster(url, njobs=2).connect()
pool = C.create_pool("tutorial")
ds = pool.create_dataset("data", data=data, chunks=32)
print(ds, "chunk_size", ds.chunk_size, "chunk_grid", ds.chunk_grid, "->", ds.total_chunks, "chunks")
print("ds[0, 0, :10] =", ds[0, 0, :10])
pool.close()
C.disconnect()

# --- context managers; cluster[name] opens an existing pool
with dn.Cluster(url) as C:
    print("pools in", C.url, ":", C.list_pools(), "| 'tutorial' in C:", "tutorial" in C)
    with C["tutorial"] as pool:
        ds = pool["data"]
        data[36:80, 89:, :56] = 0.5
        ds[36:80, 89:, :56] = data[36:80, 89:, :56]
        np.testing.assert_array_equal(ds[...], data)
        print("updated a block; whole dataset equals numpy: True")

# --- auto_init: every Pool(name) uses one cluster; njobs flows down to datasets
dn.auto_init(njobs=4, url=url)
with dn.Pool("tutorial") as p:
    ds = p["data"]
    print("njobs: pool", p.njobs, "dataset", ds.njobs)

    # chunk-level access: edge chunks hold only their in-bounds part
    corner = ds.get_chunk_data((3, 3, 3))
    print("chunk (3, 3, 3):", corner.shape, "== data[96:, 96:, 96:]:",
          np.array_equal(corner, data[96:, 96:, 96:]))
    print("chunk (1, 2, 0)[0, 0, :3] =", ds.get_chunk_data((1, 2, 0), slices=(0, 0, slice(0, 3))))
    ds.set_chunk_data((0, 0, 0), np.ones((32, 32, 32), dtype="f4"))
    data[:32, :32, :32] = 1
    ds.del_chunk((3, 3, 3))
    data[96:, 96:, 96:] = 0  # a deleted chunk reads as the fill value
    print("has_chunk (3, 3, 3):", ds.has_chunk((3, 3, 3)), "| (0, 0, 0):", ds.has_chunk((0, 0, 0)))
    np.testing.assert_array_equal(ds[...], data)

    # map / apply run chunk by chunk, njobs chunks at a time
    squared = ds.map(np.square, "squared")
    np.testing.assert_allclose(squared[...], data ** 2)
    ds.apply(lambda x: x * 2)
    np.testing.assert_allclose(ds[...], data * 2)
    empty = ds.clone("empty")
    print("map -> ", squared, "| apply x2 ok | clone:", empty.shape, empty.chunks, "max", empty[...].max())
    squared.clear()
    print("after clear, squared holds only its fill value:", float(np.abs(squared[...]).max()))

dn.auto_init(url=url).del_pool("tutorial")
print("deleted the pool; pools left:", dn.Cluster(url).connect().list_pools())

if tmp is not None:
    tmp.cleanup()
