"""``h5py.filters``: which compression filters can be used, by h5py's names.

``encode``/``decode`` list, from the codec registry, what
``create_dataset(compression=...)`` accepts among HDF5's filter names, plus
``shuffle``, ``fletcher32`` and ``scaleoffset`` (codecs/scaleoffset.py); the rest of h5py's module (property lists,
``fill_dcpl``) is HDF5's low-level API.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..codecs import REGISTRY
from ..codecs.entries import H5PY_COMPRESSION

__all__ = ["DEFAULT_GZIP", "DEFAULT_SZIP", "FilterRefBase", "Gzip", "decode", "encode"]

DEFAULT_GZIP = 4
DEFAULT_SZIP = ("nn", 8)
_COMPRESSORS = set(REGISTRY.compression_names())
encode = tuple(name for name in H5PY_COMPRESSION if name in _COMPRESSORS) + ("shuffle", "fletcher32", "scaleoffset")
decode = encode


class FilterRefBase(Mapping):
    """h5py's filter object (``compression=h5py.filters.Gzip(8)``; hdf5plugin's
    filters are its subclasses): an HDF5 filter id and its options, which also
    unpack as ``**kwargs`` into ``compression`` and ``compression_opts``."""

    filter_id = None
    filter_options = ()

    @property
    def _kwargs(self) -> dict:
        return {"compression": self.filter_id, "compression_opts": self.filter_options}

    def __hash__(self) -> int:
        return hash((self.filter_id, self.filter_options))

    def __eq__(self, other) -> bool:
        return (isinstance(other, FilterRefBase) and self.filter_id == other.filter_id
                and self.filter_options == other.filter_options)

    def __len__(self) -> int:
        return len(self._kwargs)

    def __iter__(self):
        return iter(self._kwargs)

    def __getitem__(self, item):
        return self._kwargs[item]


class Gzip(FilterRefBase):
    """HDF5's deflate filter at ``level`` (h5py's ``filters.Gzip``)."""

    filter_id = 1  # h5z.FILTER_DEFLATE

    def __init__(self, level: int = DEFAULT_GZIP):
        self.filter_options = (level,)
