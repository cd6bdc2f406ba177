"""h5py's module surface beyond the object model: ``h5py.version``, ``h5py.h5t``,
``h5py.filters``, the ``h5py._hl`` names code imports, and ``install_as_h5py()``.

Kept apart from ``hl`` because none of it stores or reads anything: it only
answers the questions libraries built on h5py ask at import time.
"""
from __future__ import annotations

__all__: list = []
