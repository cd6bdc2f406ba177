"""The key, value and item views of groups and attribute managers, as h5py's.

``collections.abc`` gives ``keys()``/``values()``/``items()`` views; h5py's
are reversible (``reversed(f.keys())``) and fetch each value with ``get``, so
a dangling soft link is a member whose value is None instead of an error.
"""
from __future__ import annotations

from collections.abc import ItemsView, KeysView, ValuesView

__all__ = ["HDF5Views", "ItemsViewHDF5", "KeysViewHDF5", "ValuesViewHDF5"]


class KeysViewHDF5(KeysView):
    def __reversed__(self):
        yield from reversed(self._mapping)

    def __repr__(self) -> str:
        return f"<KeysViewHDF5 {list(self)}>"

    __str__ = __repr__


class ValuesViewHDF5(ValuesView):
    def __iter__(self):
        for key in self._mapping:
            yield self._mapping.get(key)

    def __reversed__(self):
        for key in reversed(self._mapping):
            yield self._mapping.get(key)

    def __contains__(self, value) -> bool:
        return any(value == self._mapping.get(key) for key in self._mapping)


class ItemsViewHDF5(ItemsView):
    def __iter__(self):
        for key in self._mapping:
            yield key, self._mapping.get(key)

    def __reversed__(self):
        for key in reversed(self._mapping):
            yield key, self._mapping.get(key)

    def __contains__(self, item) -> bool:
        key, value = item
        return key in self._mapping and value == self._mapping.get(key)


class HDF5Views:
    """``keys()``, ``values()`` and ``items()`` as h5py's views, for a mapping
    class (a group, an attribute manager) that mixes this in first."""

    def keys(self) -> KeysViewHDF5:
        return KeysViewHDF5(self)

    def values(self) -> ValuesViewHDF5:
        return ValuesViewHDF5(self)

    def items(self) -> ItemsViewHDF5:
        return ItemsViewHDF5(self)
