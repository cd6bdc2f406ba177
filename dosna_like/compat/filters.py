"""``h5py.filters``: which compression filters can be used, by h5py's names.

``encode``/``decode`` list, from the codec registry, what
``create_dataset(compression=...)`` accepts among HDF5's filter names, plus
``shuffle`` and ``fletcher32``; the rest of h5py's module (property lists,
``fill_dcpl``) is HDF5's low-level API.
"""
from __future__ import annotations

from ..codecs import REGISTRY
from ..codecs.entries import H5PY_COMPRESSION

__all__ = ["DEFAULT_GZIP", "DEFAULT_SZIP", "decode", "encode"]

DEFAULT_GZIP = 4
DEFAULT_SZIP = ("nn", 8)
_COMPRESSORS = set(REGISTRY.compression_names())
encode = tuple(name for name in H5PY_COMPRESSION if name in _COMPRESSORS) + ("shuffle", "fletcher32")
decode = encode
