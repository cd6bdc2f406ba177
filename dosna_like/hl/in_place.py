"""HDF5 files opened in place by ``File``: the hand-over to the reference store.

``File(name, "r")`` reads an HDF5 file (a path, any fsspec URL, or a file
object such as ``io.BytesIO``) through
:class:`~dosna_like.storage.hdf5_refs.Hdf5RefStore`, with the same handles as
a store.  A file object is always taken as HDF5; a path or URL only when the
store at that place has no root document.  Write modes raise OSError (the
file is never changed), naming ``dosna-like import`` as the way to a
writable copy.  ``hdf5_refs=`` (a File keyword) says where the reference map
is kept: None (rebuilt at each open), ``"beside"`` the file, or a cache folder.
"""
from __future__ import annotations

import errno

from ..storage.hdf5_open import HDF5ReadOnlyError, is_file_object, open_hdf5_store

__all__ = ["is_file_object", "open_in_place"]


def open_in_place(name, storage_options, mode: str, hdf5_refs=None, *, path_ok: bool = False):
    """The reference store of an HDF5 file, or None.

    File objects are tried first (``path_ok`` False); paths and URLs only
    after the store there turned out to have no root document (``path_ok``).
    ``w-``/``x`` on an existing HDF5 file raise FileExistsError, as h5py;
    ``r+``/``a`` (and ``w`` on a file object) OSError naming the ways forward.
    (``File(path, "w")`` replaces a local file before this is asked, as h5py.)
    """
    if is_file_object(name) == path_ok:
        return None
    try:
        return open_hdf5_store(name, storage_options, writable=mode != "r", refs=hdf5_refs)
    except HDF5ReadOnlyError as exc:
        if mode in ("w-", "x"):
            raise FileExistsError(errno.EEXIST, "Unable to create file (file exists)", str(exc.url)) from None
        raise
