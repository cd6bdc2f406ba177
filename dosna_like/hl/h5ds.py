"""``h5py.h5ds``: HDF5's dimension-scale functions, as netCDF4-via-h5py code calls them.

h5py's versions take low-level ``DatasetID`` objects (``dset.id``); these take
the dataset handles themselves, or anything with a ``_dset``/``dataset``
back-reference to one, so ``h5ds.set_scale(ds.id, b"x")`` works when ``ds.id``
is a dosna_like handle id.  Names may be bytes, as h5py's are.
"""
from __future__ import annotations

from .dataset import Dataset
from .dims import DimensionProxy, is_scale as _is_scale, make_scale, scale_name

__all__ = ["attach_scale", "detach_scale", "get_label", "get_num_scales", "get_scale_name", "is_attached",
           "is_scale", "iterate", "set_label", "set_scale"]


def _dataset(obj) -> Dataset:
    if isinstance(obj, Dataset):
        return obj
    for attr in ("_dset", "dataset", "_obj"):
        target = getattr(obj, attr, None)
        if isinstance(target, Dataset):
            return target
    raise TypeError(f"expected a dosna_like dataset (or its id), not {type(obj).__name__}")


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def set_scale(dsid, dimname=b"") -> None:
    """Make ``dsid`` a dimension scale named ``dimname``."""
    make_scale(_dataset(dsid), _text(dimname))


def is_scale(dsid) -> bool:
    return _is_scale(_dataset(dsid))


def attach_scale(dsid, dscale_id, idx: int) -> None:
    DimensionProxy(_dataset(dsid), idx).attach_scale(_dataset(dscale_id))


def detach_scale(dsid, dscale_id, idx: int) -> None:
    DimensionProxy(_dataset(dsid), idx).detach_scale(_dataset(dscale_id))


def is_attached(dsid, dscale_id, idx: int) -> bool:
    scale = _dataset(dscale_id)
    return any(path == scale._path for path, _ in DimensionProxy(_dataset(dsid), idx)._entries())


def get_num_scales(dsid, idx: int) -> int:
    return len(DimensionProxy(_dataset(dsid), idx))


def get_scale_name(dscale_id) -> bytes:
    return scale_name(_dataset(dscale_id)).encode("utf-8")


def get_label(dsid, idx: int) -> bytes:
    return DimensionProxy(_dataset(dsid), idx).label.encode("utf-8")


def set_label(dsid, idx: int, label) -> None:
    DimensionProxy(_dataset(dsid), idx).label = _text(label)


def iterate(dsid, idx: int, func, startidx: int = 0):
    """Call ``func(scale)`` for each scale attached to axis ``idx`` from ``startidx``;
    stop at and return the first result that is not None (h5py's contract).  An axis
    with no scale is a RuntimeError, as HDF5's H5DSiterate gives."""
    scales = DimensionProxy(_dataset(dsid), idx).values()
    if not scales:
        raise RuntimeError("Unable to iterate over dimension scales (the dimension has no scale)")
    for scale in scales[startidx:]:
        result = func(scale)
        if result is not None:
            return result
    return None
