"""dosna_like: h5py's API over chunked Zarr v3 arrays on local, memory and S3 stores.

``import dosna_like as h5py`` and keep your code: ``File``, ``Group``,
``Dataset`` and ``.attrs`` behave as in h5py; every dataset is a chunked
array whose chunks are read and written in parallel through fsspec.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .catalog.search import latest, search
from .compat import filters, h5t, version
from .compat.h5t import special_dtype
from .compat.install import as_h5py, install_as_h5py, is_installed_as_h5py, uninstall_as_h5py
from .format.dtypes import (Empty, check_complex_dtype, check_dtype, check_enum_dtype, check_opaque_dtype,
                            check_string_dtype, check_vlen_dtype, complex_compat_dtype, enum_dtype, opaque_dtype,
                            string_dtype, string_info, vlen_dtype)
from .format.references import Reference, RegionReference, check_ref_dtype, ref_dtype, regionref_dtype
from .config import get_config
from .chunks.selection import MultiBlockSlice
from .format.links import ExternalLink, HardLink, SoftLink
from .hl.attrs import AttributeManager
from .hl.cluster import Cluster, Pool, auto_init
from .hl.dataset import Dataset
from .hl.datatype import Datatype
from .hl.files import File, is_hdf5
from .hl.group import Group
from .hl import h5ds
from .transfer.hdf5_export import export_hdf5
from .transfer.hdf5_import import import_hdf5
from .transfer.hdf5_reference import materialize_references
from .transfer.store_copy import copy_store

__all__ = [
    # h5py's API
    "AttributeManager", "Dataset", "Datatype", "Empty", "ExternalLink", "File", "Group", "HardLink", "is_hdf5",
    "MultiBlockSlice", "SoftLink", "__version__", "check_dtype", "check_enum_dtype", "check_string_dtype",
    "check_vlen_dtype", "enum_dtype", "filters", "get_config", "h5ds", "h5t", "special_dtype", "string_dtype", "string_info",
    "version", "vlen_dtype", "check_complex_dtype", "check_opaque_dtype", "complex_compat_dtype", "opaque_dtype",
    "Reference", "RegionReference", "check_ref_dtype", "ref_dtype", "regionref_dtype",
    # third-party libraries' `import h5py` (README, "Using libraries built on h5py")
    "as_h5py", "install_as_h5py", "is_installed_as_h5py", "uninstall_as_h5py",
    # DosNa's
    "Cluster", "Pool", "auto_init",
    # search, HDF5 import/export and store-to-store copy
    "copy_store", "export_hdf5", "import_hdf5", "latest", "materialize_references", "search",
]
