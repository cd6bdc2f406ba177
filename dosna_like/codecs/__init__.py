"""Chunk codecs: a registry of every codec with its h5py keywords, Zarr v3 JSON,
runtime, h5py view and HDF5 filter (:mod:`.registry`, :mod:`.entries`), the
functions over whole codec lists (:mod:`.chains`) and one array's pipeline
(:mod:`.pipeline`)."""
from __future__ import annotations

from .chains import build_codecs, h5py_view
from .entries import HDF5_FILTERS
from .pipeline import ChunkCodec
from .registry import REGISTRY, CodecEntry, H5pyView, RefusedCodecError, Role

__all__ = ["REGISTRY", "CodecEntry", "ChunkCodec", "H5pyView", "HDF5_FILTERS", "RefusedCodecError", "Role",
           "build_codecs", "h5py_view"]
