"""``Dataset.dims``: per-axis labels, stored as Zarr v3 ``dimension_names``."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the dataset module imports this one
    from .dataset import Dataset

__all__ = ["DimensionManager", "DimensionProxy"]


class DimensionProxy:
    """One axis of ``Dataset.dims``: its label is Zarr v3's dimension name.

    Dimension scales (HDF5's attached coordinate datasets) have no Zarr
    counterpart; an axis lists none.
    """

    def __init__(self, dset: "Dataset", index: int):
        self._dset, self._index = dset, index

    @property
    def label(self) -> str:
        names = self._dset._meta.dimension_names
        return (names[self._index] or "") if names else ""

    @label.setter
    def label(self, value: str) -> None:
        dset = self._dset
        dset._check_writable(OSError, "Unable to set dimension label")
        doc = dict(dset._document())
        names = list(doc.get("dimension_names") or [None] * dset.ndim)
        names[self._index] = str(value) or None
        doc["dimension_names"] = names
        dset._state.write_doc(dset._path, doc)

    def keys(self) -> list:
        return []

    def values(self) -> list:
        return []

    def items(self) -> list:
        return []

    def __len__(self) -> int:
        return 0

    def __iter__(self):
        return iter(())

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
