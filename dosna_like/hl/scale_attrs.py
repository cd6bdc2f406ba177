"""HDF5's dimension-scale attributes, shown from the scales kept in the reserved namespace.

HDF5 keeps dimension scales in attributes: ``CLASS`` (``b"DIMENSION_SCALE"``)
and ``NAME`` on a scale, ``REFERENCE_LIST`` (which datasets use it, on which
axis) on a scale, ``DIMENSION_LIST`` (the scales of each axis) and
``DIMENSION_LABELS`` on a dataset.  Code written for h5py reads them
(h5netcdf finds a file's dimensions by ``attrs.get("CLASS")`` and a
variable's by ``attrs["DIMENSION_LIST"]``).  The store keeps the scales in
the reserved namespace (``hl/dims.py``), so other Zarr tools see only the
user's attributes; ``obj.attrs`` shows these five as h5py does, with h5py's
values and dtypes, derived from that one record.  ``REFERENCE_LIST`` is
found by looking at the file's datasets (the search index, no extra
requests once loaded), so it is never stale.  Writing ``DIMENSION_LIST``,
``DIMENSION_LABELS``, ``CLASS`` or ``NAME`` changes the scales the same way
the ``dims`` API does; ``REFERENCE_LIST`` follows from the attachments and
cannot be written.
"""
from __future__ import annotations

import numpy as np

from ..format.dtypes import string_dtype, vlen_dtype
from ..format.references import Reference, ref_dtype
from ..format.reserved import reserved_of
from .dims import DimensionProxy, is_scale, make_scale, scale_name

__all__ = ["REFERENCE_LIST_DTYPE", "SCALE_ATTRIBUTES", "del_scale_attribute", "derived_names", "get_scale_attribute",
           "has_scale_attribute", "is_derived", "set_scale_attribute"]

SCALE_ATTRIBUTES = ("CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS")  # HDF5's order
# h5py's dtype of REFERENCE_LIST: (object reference, axis) records of 16 bytes
REFERENCE_LIST_DTYPE = np.dtype({"names": ["dataset", "dimension"], "formats": [ref_dtype, "<u4"],
                                 "offsets": [0, 8], "itemsize": 16})


def _has_dims(obj) -> bool:
    return hasattr(obj, "dims") and hasattr(obj, "shape")


def is_derived(obj, name: str) -> bool:
    """Whether ``obj.attrs[name]`` is one of these attributes (of a dataset)."""
    return name in SCALE_ATTRIBUTES and _has_dims(obj)


def _scale_users(obj, first: bool = False) -> list:
    """(dataset path, axis) of every axis of the file that has ``obj`` attached
    (``first``: the first found only, which tells whether there is any)."""
    state = obj._state
    out = []
    for path, node in state.index.nodes().items():
        if node.kind != "dataset":
            continue
        doc = state._docs.get(path, node.doc)
        for axis, entries in enumerate(reserved_of(doc, path).get("dim_scales") or []):
            if any(entry[0] == obj._path for entry in entries):
                out.append((path, axis))
                if first:
                    return out
    return out


def _reference_list(obj):
    users = _scale_users(obj)
    if not users:
        return None
    refs = np.empty(len(users), dtype=REFERENCE_LIST_DTYPE)
    for i, (path, axis) in enumerate(users):
        refs[i] = (Reference("/" + path), axis)
    return refs


def _dimension_list(scales: list):
    if not any(scales):
        return None
    per_axis = np.empty(len(scales), dtype=vlen_dtype(ref_dtype))
    for axis, entries in enumerate(scales):
        refs = np.empty(len(entries), dtype=ref_dtype)
        refs[:] = [Reference("/" + path) for path, _ in entries]
        per_axis[axis] = refs
    return per_axis


def _value(obj, name: str):
    """The one attribute ``name`` of ``obj`` (h5py's value and dtype), None when it has none:
    only what is asked is worked out (REFERENCE_LIST alone looks at the file's datasets)."""
    if not is_derived(obj, name):
        return None
    if name in ("CLASS", "NAME", "REFERENCE_LIST"):
        if not is_scale(obj):
            return None
        if name == "CLASS":
            return np.bytes_(b"DIMENSION_SCALE")
        return np.bytes_(scale_name(obj).encode("utf-8")) if name == "NAME" else _reference_list(obj)
    reserved = obj._state.reserved(obj._path)
    if name == "DIMENSION_LIST":
        return _dimension_list(reserved.get("dim_scales") or [])
    labels = reserved.get("dim_labels") or []
    return np.array([label or "" for label in labels], dtype=string_dtype()) if any(labels) else None


def has_scale_attribute(obj, name: str) -> bool:
    """Whether ``obj`` has the attribute ``name`` (a scale's REFERENCE_LIST: whether one dataset uses it)."""
    if name == "REFERENCE_LIST":
        return is_derived(obj, name) and is_scale(obj) and bool(_scale_users(obj, True))
    return _value(obj, name) is not None


def derived_names(obj) -> list:
    """The names of the attributes ``obj`` has, in the order HDF5 writes them."""
    return [name for name in SCALE_ATTRIBUTES if has_scale_attribute(obj, name)]


def get_scale_attribute(obj, name: str):
    """The attribute's value; KeyError when ``obj`` has no such attribute."""
    value = _value(obj, name)
    if value is None:
        raise KeyError(name)
    return value


def _targets(obj, refs) -> list:
    f = obj.file
    out = []
    for ref in np.asarray(refs, dtype=object).reshape(-1):
        if not isinstance(ref, Reference) or not ref:
            raise TypeError("DIMENSION_LIST holds object references to dimension scales")
        out.append(f[ref])
    return out


def set_scale_attribute(obj, name: str, value) -> None:
    """Write one of the attributes: the scales change as through ``dims`` / ``make_scale``."""
    if name == "DIMENSION_LIST":
        axes = list(value)
        if len(axes) != obj.ndim:
            raise ValueError(f"DIMENSION_LIST needs one entry per axis ({obj.ndim}), not {len(axes)}")
        wanted = [_targets(obj, refs) for refs in axes]
        for axis, scales in enumerate(wanted):
            proxy = DimensionProxy(obj, axis)
            for old in proxy.values():
                proxy.detach_scale(old)
            for scale in scales:
                proxy.attach_scale(scale)
    elif name == "DIMENSION_LABELS":
        labels = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(value).reshape(-1)]
        if len(labels) != obj.ndim:
            raise ValueError(f"DIMENSION_LABELS needs one label per axis ({obj.ndim}), not {len(labels)}")
        for axis, label in enumerate(labels):
            DimensionProxy(obj, axis).label = label
    elif name == "CLASS":
        text = bytes(value) if isinstance(value, (bytes, np.bytes_)) else str(value).encode("utf-8")
        if text != b"DIMENSION_SCALE":
            raise ValueError("CLASS of a dataset can only be b'DIMENSION_SCALE' (its dimension-scale mark)")
        if not is_scale(obj):
            make_scale(obj, "")
    elif name == "NAME":
        make_scale(obj, value.decode("utf-8") if isinstance(value, bytes) else str(value))
    else:
        raise OSError("REFERENCE_LIST follows from the datasets the scale is attached to: "
                      "attach it with ds.dims[i].attach_scale(scale)")


def del_scale_attribute(obj, name: str) -> None:
    """Delete one: DIMENSION_LIST detaches every scale, DIMENSION_LABELS clears the labels."""
    if not has_scale_attribute(obj, name):
        raise KeyError(name)
    if name == "DIMENSION_LIST":
        set_scale_attribute(obj, name, [[] for _ in range(obj.ndim)])
    elif name == "DIMENSION_LABELS":
        set_scale_attribute(obj, name, [""] * obj.ndim)
    else:
        raise OSError(f"{name} marks a dimension scale; a scale stays one in HDF5 as here")
