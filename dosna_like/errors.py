"""Exceptions, each a subclass of the builtin that h5py raises for the same mistake.

Users catch what they already catch with h5py (``KeyError``, ``ValueError``,
``OSError``...); the subclasses only add a name that says what went wrong.
"""
from __future__ import annotations

__all__ = [
    "ClosedObjectError", "CorruptChunkError", "DosnaError", "FormatError", "InvalidNameError",
    "NodeExistsError", "NodeNotFoundError", "read_only_error", "ReadOnlyError", "ResizeError",
    "StoreUnreachableError", "UnsupportedFileOptionError", "InvalidLibverError", "IncompleteFileWarning",
    "H5pyDeprecationWarning",
]


class DosnaError(Exception):
    """Base of every exception defined here."""


class NodeNotFoundError(DosnaError, KeyError):
    """A group member, path or attribute does not exist (h5py: KeyError)."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class NodeExistsError(DosnaError, ValueError):
    """Creating a node whose name is taken (h5py: ValueError)."""


class InvalidNameError(DosnaError, ValueError):
    """A node or attribute name with ``..``, empty parts or control characters."""


class ReadOnlyError(DosnaError, OSError):
    """A write to a file opened read-only (h5py: 'no write intent on file')."""


class ClosedObjectError(DosnaError, ValueError):
    """An operation on an object whose file has been closed."""


class CorruptChunkError(DosnaError, OSError):
    """A stored chunk object could not be decoded; the message names its key."""


class StoreUnreachableError(DosnaError, OSError):
    """The store's endpoint did not answer (after the client's own retries)."""


class FormatError(DosnaError, OSError):
    """A store document that is not valid Zarr v3 metadata we can read."""


class _ReadOnlyValueError(DosnaError, ValueError):
    pass


class _ReadOnlyKeyError(NodeNotFoundError):
    pass


class _ReadOnlyRuntimeError(DosnaError, RuntimeError):
    pass


_READ_ONLY_BY_TYPE = {
    OSError: ReadOnlyError,
    ValueError: _ReadOnlyValueError,
    KeyError: _ReadOnlyKeyError,
    RuntimeError: _ReadOnlyRuntimeError,
}


def read_only_error(exc_type: type, action: str) -> Exception:
    """The error h5py raises for ``action`` on a read-only file (its type varies by call)."""
    return _READ_ONLY_BY_TYPE[exc_type](f"{action} (no write intent on file)")


class ResizeError(DosnaError, RuntimeError):
    """A resize beyond maxshape (h5py: RuntimeError)."""


class UnsupportedFileOptionError(DosnaError, ValueError):
    """A ``File()`` option h5py honours that a store cannot (``swmr=True``, the
    ``family``/``mpio``/``ros3`` drivers...); h5py raises ValueError for an
    option its build cannot honour (a driver or SWMR it was built without)."""


class InvalidLibverError(DosnaError, ValueError, KeyError):
    """A ``libver=`` that is no HDF5 library version bound.  h5py raises KeyError
    for an unknown name and ValueError for a bad (low, high) pair: both catch it."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class H5pyDeprecationWarning(UserWarning):
    """``h5py.h5py_warnings.H5pyDeprecationWarning``: what h5py 3 warns of before
    h5py 4 removes it (code filters it by name)."""


class IncompleteFileWarning(UserWarning):
    """An opened file is one an import or store copy has not finished (it is
    running, or failed): some objects may be missing, and the datasets named
    may lack chunks, which then read as the fill value."""

