"""The real h5py, for reading HDF5 files in place, also while ``install_as_h5py()`` is on.

Reading a ``.h5`` file in place uses h5py for the file's metadata (and for
chunks nothing here decodes).  While ``dosna_like.install_as_h5py()`` has put
dosna_like's ``h5py`` module tree in ``sys.modules``, a plain ``import h5py``
would give dosna_like back (and recurse), and h5py's own lazy imports
(``from . import attrs`` inside ``obj.attrs``) would find dosna_like's
modules.  :func:`real_h5py` puts the real h5py's modules in ``sys.modules``
for the duration of a block, under one lock, and dosna_like's back after it;
they are kept between blocks, so the real h5py is imported once.  Outside an
install it is a plain ``import h5py``.  Another thread importing ``h5py``
during such a block (a file's metadata being read) would get the real one.
"""
from __future__ import annotations

from contextlib import contextmanager
import importlib
import sys
import threading

__all__ = ["real_h5py", "remember_real_h5py"]

_lock = threading.RLock()
_real: dict = {}  # the real h5py's sys.modules entries, set aside while dosna_like stands in


def _h5py_entries() -> dict:
    return {name: module for name, module in sys.modules.items() if name == "h5py" or name.startswith("h5py.")}


def _is_stand_in(module) -> bool:
    return module is not None and getattr(module, "__dosna_like_version__", None) is not None


def remember_real_h5py(modules: dict) -> None:
    """``install_as_h5py()`` hands over the real h5py modules it set aside."""
    with _lock:
        if not _is_stand_in(modules.get("h5py")) and "h5py" in modules:
            _real.update(modules)


@contextmanager
def real_h5py():
    """``with real_h5py() as h5py:`` — the real h5py module, with its own modules in
    ``sys.modules`` inside the block."""
    with _lock:
        current = _h5py_entries()
        if not _is_stand_in(current.get("h5py")):
            yield importlib.import_module("h5py")
            return
        for name in current:
            del sys.modules[name]
        sys.modules.update(_real)
        try:
            yield importlib.import_module("h5py")
        finally:
            _real.clear()
            _real.update(_h5py_entries())
            for name in _real:
                del sys.modules[name]
            sys.modules.update(current)
