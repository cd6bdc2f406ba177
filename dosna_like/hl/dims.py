"""``Dataset.dims``: per-axis labels and dimension scales, as netCDF4 writers use them.

HDF5 keeps scales in ``CLASS``/``NAME``/``DIMENSION_LIST``/``REFERENCE_LIST``
attributes; here they live in the reserved namespace (``scale`` on a scale,
``dim_labels`` and ``dim_scales`` on the arrays they label), so other Zarr
tools see only the user's attributes, and every axis's name reaches Zarr's
``dimension_names`` (``format/documents.py: dimension_names``): the label, else
the first attached scale's name, else a ``phony_dim_<length>`` default.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..format.reserved import edit_reserved

if TYPE_CHECKING:  # annotations only: the dataset module imports this one
    from .dataset import Dataset

__all__ = ["DimensionManager", "DimensionProxy", "is_scale", "make_scale", "scale_name"]


def _reserved(dset: "Dataset"):
    return dset._state.reserved(dset._path)


def _edit(dset: "Dataset", what: str, update) -> None:
    dset._check_writable(OSError, what)
    path = dset._path

    def apply(attributes: dict) -> None:
        reserved = edit_reserved(attributes, path)
        labels = reserved.get("dim_labels")
        if labels is None:
            names = dset._document().get("dimension_names") or []
            reserved["dim_labels"] = list(names) + [None] * (dset.ndim - len(names))
        update(reserved)

    dset._state.update_attributes(path, apply)


def is_scale(dset: "Dataset") -> bool:
    """h5py's ``Dataset.is_scale``."""
    return "scale" in _reserved(dset)


def scale_name(dset: "Dataset") -> str:
    """The scale's NAME (h5py ``h5ds.get_scale_name``); '' when it has none."""
    return _reserved(dset).get("scale", "")


def _dimension_name(dset: "Dataset") -> str:
    return scale_name(dset) or dset.name.rsplit("/", 1)[-1]


def make_scale(dset: "Dataset", name: str = "") -> None:
    """h5py's ``Dataset.make_scale(name)``; HDF5 refuses it on a dataset that has
    scales attached."""
    if any(_reserved(dset).get("dim_scales") or []):
        raise RuntimeError("Unable to set scale (dataset has attached dimension scales)")
    name = name.decode("utf-8") if isinstance(name, bytes) else str(name)  # h5py takes bytes too
    _edit(dset, "Unable to set scale", lambda r: r.__setitem__("scale", name))


class DimensionProxy:
    """One axis of ``Dataset.dims``: its label and its attached scales."""

    def __init__(self, dset: "Dataset", index: int):
        self._dset, self._index = dset, index

    def __eq__(self, other) -> bool:
        """The same axis of the same dataset (h5py compares the dataset id and the axis)."""
        if not isinstance(other, DimensionProxy):
            return NotImplemented
        return self._dset == other._dset and self._index == other._index

    def __hash__(self) -> int:
        return hash((DimensionProxy, self._dset, self._index))

    def _entries(self) -> list:
        scales = _reserved(self._dset).get("dim_scales") or []
        return list(scales[self._index]) if self._index < len(scales) else []

    @property
    def label(self) -> str:
        labels = _reserved(self._dset).get("dim_labels")
        if labels is None:  # another tool's array: its dimension names are the labels
            labels = self._dset._document().get("dimension_names") or []
        return (labels[self._index] or "") if self._index < len(labels) else ""

    @label.setter
    def label(self, value: str) -> None:
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)

        def update(reserved: dict) -> None:
            reserved["dim_labels"][self._index] = text or None
        _edit(self._dset, "Unable to set dimension label", update)

    def attach_scale(self, scale: "Dataset") -> None:
        """h5py: attach ``scale`` to this axis (made a scale if it is not one); attaching twice
        is a no-op."""
        dset = self._dset
        if scale == dset:
            raise RuntimeError("Unable to attach dimension scale (cannot attach a dataset to itself)")
        if is_scale(dset):
            raise RuntimeError("Unable to attach dimension scale (cannot attach to a dimension scale)")
        if scale.file != dset.file:
            raise RuntimeError("Unable to attach dimension scale (scale is in another file)")
        if not is_scale(scale):  # HDF5's H5DSattach_scale makes it one, without a name
            make_scale(scale, "")
        entry = [scale._path, _dimension_name(scale)]

        def update(reserved: dict) -> None:
            scales = [list(s) for s in reserved.get("dim_scales") or [[] for _ in range(dset.ndim)]]
            if all(e[0] != entry[0] for e in scales[self._index]):
                scales[self._index].append(entry)
            reserved["dim_scales"] = scales
        _edit(dset, "Unable to attach dimension scale", update)

    def detach_scale(self, scale: "Dataset") -> None:
        """h5py: detach ``scale``; RuntimeError when it is not attached to this axis."""
        if all(e[0] != scale._path for e in self._entries()):
            raise RuntimeError("Unable to detach dimension scale (dimension scale is not attached)")

        def update(reserved: dict) -> None:
            scales = [list(s) for s in reserved["dim_scales"]]
            scales[self._index] = [e for e in scales[self._index] if e[0] != scale._path]
            reserved["dim_scales"] = scales
        _edit(self._dset, "Unable to detach dimension scale", update)

    def _scales(self) -> list:
        f = self._dset.file
        return [f["/" + path] for path, _ in self._entries()]

    def keys(self) -> list:
        return [scale_name(s) for s in self._scales()]

    def values(self) -> list:
        return self._scales()

    def items(self) -> list:
        return [(scale_name(s), s) for s in self._scales()]

    def __getitem__(self, item):
        """h5py: by position, or the first scale whose NAME is ``item``; RuntimeError
        on an axis with no scale (HDF5's H5DSiterate refuses to iterate over none)."""
        scales = self._scales()
        if not scales:
            raise RuntimeError("Unable to iterate over dimension scales (the dimension has no scale)")
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        if isinstance(item, int):
            return scales[item]
        for s in scales:
            if scale_name(s) == item:
                return s
        raise KeyError(item)

    def __len__(self) -> int:
        return len(self._entries())

    def __iter__(self):
        return iter(self.keys())

    def __repr__(self) -> str:
        return f'<"{self.label}" dimension {self._index} of dosna_like dataset {self._dset.name!r}>'


class DimensionManager:
    """``Dataset.dims``: one DimensionProxy per axis."""

    def __init__(self, dset: "Dataset"):
        self._dset = dset

    def __len__(self) -> int:
        return self._dset.ndim

    def __getitem__(self, index: int) -> DimensionProxy:
        if not -len(self) <= index < len(self):
            raise IndexError("Index out of range")
        return DimensionProxy(self._dset, index % len(self))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def create_scale(self, dset: "Dataset", name: str = "") -> None:
        """h5py's deprecated ``dims.create_scale``: ``dset.make_scale(name)``."""
        make_scale(dset, name)

    def __repr__(self) -> str:
        return f"<Dimensions of dosna_like dataset {self._dset.name!r}>"
