"""Dimension scales across HDF5 import and export, as real HDF5 dimension scales.

HDF5 keeps them in the ``CLASS``, ``NAME``, ``REFERENCE_LIST``, ``DIMENSION_LIST`` and ``DIMENSION_LABELS``
attributes; the store keeps them in the reserved namespace (``hl/dims.py``).
Import leaves those attributes out and remakes the scales with the API; export
does the reverse with h5py's, after every dataset exists.
"""
from __future__ import annotations

from ..hl.dims import scale_name
from .common import require_h5py

__all__ = ["export_scales", "import_scales", "is_scale_attribute"]


def is_scale_attribute(h5obj, name: str) -> bool:
    """Whether an HDF5 attribute is dimension-scale bookkeeping (kept as scales, not attributes)."""
    if name in ("REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS"):
        return True
    if name in ("CLASS", "NAME"):
        return bool(getattr(h5obj, "is_scale", False))
    return False


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def import_scales(h5, dest, paths: list) -> None:
    """Make the datasets at ``paths`` (absolute names, in both files) the scales,
    labels and attachments they are in the HDF5 file ``h5``."""
    h5py = require_h5py()
    for path in paths:
        if h5[path].is_scale:
            dest[path].make_scale(_text(h5py.h5ds.get_scale_name(h5[path].id) or b""))
    for path in paths:
        src = h5[path]
        for i, dim in enumerate(src.dims):
            if dim.label:
                dest[path].dims[i].label = dim.label
            for scale in dim.values():
                if scale.name in paths:
                    dest[path].dims[i].attach_scale(dest[scale.name])


def export_scales(src, h5, paths: list) -> None:
    """The reverse of :func:`import_scales`: ``src`` a dosna_like file, ``h5`` an h5py file."""
    for path in paths:
        if src[path].is_scale:
            h5[path].make_scale(scale_name(src[path]))
    for path in paths:
        ds = src[path]
        for i, dim in enumerate(ds.dims):
            if dim.label:
                h5[path].dims[i].label = dim.label
            for scale in dim.values():
                h5[path].dims[i].attach_scale(h5[scale.name])
