"""``h5py.h5z``'s filter ids and ``filter_avail``: which HDF5 filters dosna_like can
write or read, by HDF5's numbers, from the codec registry.

Libraries ask ``h5z.filter_avail(h5z.FILTER_LZF)`` before offering a
compression; registering filters (``register_filter``) is HDF5's plugin API.
"""
from __future__ import annotations

from ..codecs import REGISTRY

__all__ = [
    "FILTER_DEFLATE", "FILTER_FLETCHER32", "FILTER_LZF", "FILTER_NBIT", "FILTER_SCALEOFFSET", "FILTER_SHUFFLE",
    "FILTER_SZIP", "filter_avail",
]

FILTER_DEFLATE = 1
FILTER_SHUFFLE = 2
FILTER_FLETCHER32 = 3
FILTER_SZIP = 4
FILTER_NBIT = 5
FILTER_SCALEOFFSET = 6
FILTER_LZF = 32000
# shuffle and fletcher32 are h5py flags (shuffle=, fletcher32=) with their own codecs
_FLAG_FILTERS = {FILTER_SHUFFLE: "shuffle", FILTER_FLETCHER32: "fletcher32"}


def filter_avail(filter_code: int) -> bool:
    """True when datasets using HDF5 filter ``filter_code`` can be written and read."""
    if filter_code == FILTER_SCALEOFFSET:  # create_dataset(scaleoffset=): a quantization on write
        return True
    if filter_code in _FLAG_FILTERS:
        return any(entry.h5py_keyword == _FLAG_FILTERS[filter_code] for entry in REGISTRY)
    return any(entry.hdf5_filter == filter_code and entry.h5py_keyword == "compression" for entry in REGISTRY)
