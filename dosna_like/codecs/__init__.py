"""Chunk codecs: h5py's compression keywords, their Zarr v3 form and their runtime."""
