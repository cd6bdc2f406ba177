"""``h5py.version``: the h5py and HDF5 versions whose behaviour dosna_like follows.

Libraries gate features on ``h5py.__version__`` and
``h5py.version.hdf5_version_tuple`` (h5netcdf, AnnData, pynwb).  dosna_like
answers with the h5py release it is tested against and an HDF5 feature level
it emulates, so gates written for h5py 3.x take their modern branch.
dosna_like's own version is ``dosna_like.__version__``; under
``install_as_h5py()`` the ``h5py`` module's ``__version__`` is the h5py one
and ``h5py.__dosna_like_version__`` the library's own.
"""
from __future__ import annotations

from collections import namedtuple
import sys

import numpy

__all__ = [
    "api_version", "api_version_tuple", "hdf5_built_version_tuple", "hdf5_version",
    "hdf5_version_tuple", "info", "version", "version_tuple",
]

version = "3.16.0"  # the h5py release the differential tests compare against
_H5pyVersion = namedtuple("_H5pyVersion", ["major", "minor", "bugfix", "pre", "post", "dev"])
version_tuple = _H5pyVersion(3, 16, 0, None, None, None)
hdf5_version = "1.14.6"  # HDF5 feature level: everything 1.14 code gates on is there (no SWMR, no MPI)
hdf5_version_tuple = (1, 14, 6)
hdf5_built_version_tuple = hdf5_version_tuple
api_version = "1.8"
api_version_tuple = (1, 8)

info = f"""\
Summary of the h5py configuration (dosna_like)
---------------------------------

h5py    {version} (API followed by dosna_like)
HDF5    {hdf5_version} (feature level emulated; no HDF5 library is used)
Python  {sys.version}
sys.platform    {sys.platform}
numpy   {numpy.__version__}
"""
