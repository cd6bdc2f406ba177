"""The real h5py, for reading HDF5 files in place, also while ``install_as_h5py()`` is on.

Reading a ``.h5`` file in place uses h5py for the file's metadata (and for
chunks nothing here decodes).  While ``dosna_like.install_as_h5py()`` has put
dosna_like's ``h5py`` module tree in ``sys.modules``, a plain ``import h5py``
would give dosna_like back (and recurse), and h5py's own lazy imports
(``from . import attrs`` inside ``obj.attrs``) would find dosna_like's
modules.  :func:`real_h5py` puts the real h5py's modules in ``sys.modules``
for the duration of a block and dosna_like's back after the last block
open in the process ends (blocks nest and overlap across threads: the lock
is held only while the modules are swapped, so an import or export can hold
a block around its whole run while its worker threads open blocks of their
own); the real modules are kept between blocks, so the real h5py is
imported once.  Outside an install it is a plain ``import h5py``.  Another
thread importing ``h5py`` during a block gets the real one.
"""
from __future__ import annotations

from contextlib import contextmanager
import importlib
import sys
import threading

__all__ = ["real_h5py", "remember_real_h5py"]

_lock = threading.RLock()
_real: dict = {}  # the real h5py's sys.modules entries, set aside while dosna_like stands in
_stand_in: dict = {}  # dosna_like's h5py entries, set aside while blocks are open
_open = 0  # blocks open in the process


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
    ``sys.modules`` until the last block open in the process ends."""
    global _open
    with _lock:
        if _open == 0 and _is_stand_in(sys.modules.get("h5py")):
            _stand_in.update(_h5py_entries())
            for name in _stand_in:
                del sys.modules[name]
            sys.modules.update(_real)
        _open += 1
        try:
            h5py = importlib.import_module("h5py")
        except BaseException:
            _leave()
            raise
    try:
        yield h5py
    finally:
        with _lock:
            _leave()


def _leave() -> None:
    """One block ends (the caller holds the lock); the last puts dosna_like's modules back."""
    global _open
    _open -= 1
    if _open or not _stand_in:
        return
    current = _h5py_entries()
    if not _is_stand_in(current.get("h5py")):  # (an install made meanwhile stays)
        _real.clear()
        _real.update(current)
        for name in current:
            del sys.modules[name]
        sys.modules.update(_stand_in)
    _stand_in.clear()
