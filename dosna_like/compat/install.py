"""``install_as_h5py()``: make ``import h5py`` in this process give dosna_like.

Third-party libraries (xarray's h5netcdf engine, AnnData, pynwb) contain their
own ``import h5py``; the user cannot edit it.  Putting dosna_like's ``h5py``
module tree in ``sys.modules`` before those libraries are imported makes them
use dosna_like.  It is explicit and undoable: ``uninstall_as_h5py()`` puts
back whatever ``h5py`` modules were there (the real h5py, or none), and
``as_h5py()`` does both around a ``with`` block.  A library that imported the
real h5py before the call keeps it (it holds the module object already).

While installed, the handle classes (File, Group, Dataset, Datatype) also carry h5py's module names
(``type(ds).__module__ == "h5py._hl.dataset"``), because libraries tell an
h5py object from an h5py-like one that way (h5netcdf does, before asking the
HDF5 type of a variable).  Each keeps its home module in ``_home_module`` (handles
pickle by it, so a worker without the install can rebuild them); the last
uninstall puts the names back.
"""
from __future__ import annotations

from contextlib import contextmanager
import sys
import types

from ..storage.real_h5py import remember_real_h5py
from .h5py_modules import h5py_modules, h5py_class_modules

__all__ = ["as_h5py", "install_as_h5py", "is_installed_as_h5py", "uninstall_as_h5py"]

# One record per install not yet undone: the h5py modules that were in sys.modules before it.
_SAVED: list = []


def _package() -> types.ModuleType:
    return sys.modules[__name__.split(".")[0]]


def _h5py_names() -> list:
    return [name for name in sys.modules if name == "h5py" or name.startswith("h5py.")]


def install_as_h5py() -> types.ModuleType:
    """Make ``import h5py`` and ``import h5py.<submodule>`` resolve to dosna_like
    in this process, and return the ``h5py`` module they will get.

    Call it before importing the library that should use dosna_like.  Every
    ``h5py`` entry of ``sys.modules`` (the real h5py's included) is set aside
    until :func:`uninstall_as_h5py`.  Calls nest: each uninstall undoes one install.
    """
    saved = {name: sys.modules.pop(name) for name in _h5py_names()}
    _SAVED.append(saved)
    remember_real_h5py(saved)  # reading .h5 files in place still uses the real one
    if len(_SAVED) == 1:
        for cls, module in h5py_class_modules().items():
            cls._home_module = cls.__module__
            cls.__module__ = module
    modules = h5py_modules(_package())
    sys.modules.update(modules)
    return modules["h5py"]


def uninstall_as_h5py() -> bool:
    """Undo the latest :func:`install_as_h5py`: put back the ``h5py`` modules it set
    aside.  Returns False (and does nothing) when nothing is installed."""
    if not _SAVED:
        return False
    saved = _SAVED.pop()
    for name in _h5py_names():
        del sys.modules[name]
    sys.modules.update(saved)
    if not _SAVED:
        for cls in h5py_class_modules():
            cls.__module__ = vars(cls).get("_home_module", cls.__module__)
    return True


def is_installed_as_h5py() -> bool:
    """True while ``import h5py`` gives dosna_like."""
    top = sys.modules.get("h5py")
    return top is not None and getattr(top, "__dosna_like_version__", None) is not None


@contextmanager
def as_h5py():
    """``with dosna_like.as_h5py() as h5py:`` — :func:`install_as_h5py` for the block."""
    module = install_as_h5py()
    try:
        yield module
    finally:
        uninstall_as_h5py()
