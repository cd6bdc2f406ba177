"""dosna_like: h5py's API over chunked Zarr v3 arrays on local, memory and S3 stores.

``import dosna_like as h5py`` and keep your code: ``File``, ``Group``,
``Dataset`` and ``.attrs`` behave as in h5py; every dataset is a chunked
array whose chunks are read and written in parallel through fsspec.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .attrs import AttributeManager
from .config import get_config
from .dtypes import (Empty, check_dtype, check_enum_dtype, check_string_dtype, check_vlen_dtype, enum_dtype,
                     string_dtype, string_info, vlen_dtype)
from .cluster import Cluster, Pool, auto_init
from .dataset import Dataset
from .datatype import Datatype
from .files import File
from .group import Group
from .hdf5io import export_hdf5, import_hdf5
from .index import latest, search
from .links import ExternalLink, HardLink, SoftLink
from .selection import MultiBlockSlice

__all__ = [
    "AttributeManager", "Cluster", "Dataset", "Datatype", "Empty", "ExternalLink", "HardLink", "MultiBlockSlice", "SoftLink", "File", "Group", "Pool", "__version__", "auto_init", "get_config",
    "check_dtype", "check_enum_dtype", "check_string_dtype", "check_vlen_dtype", "enum_dtype", "string_dtype",
    "string_info", "vlen_dtype",
]
