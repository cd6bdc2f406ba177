"""``obj.id``: the identifier object h5py code passes around and asks ``valid``.

h5py's ``obj.id`` is a handle on HDF5's low-level API (``DatasetID``,
``GroupID``...).  Libraries mostly use it as an identity (``a.id == b.id``,
as a dict key) or to ask whether the object is still open (``id.valid``,
``bool(id)``); that is what this one does, plus ``get_create_plist()`` as far
as h5netcdf reads it (whether a group tracks creation order).  Its other
low-level methods (``get_access_plist``, ``read_direct_chunk``...) are HDF5's,
and asking for one raises AttributeError saying so.
"""
from __future__ import annotations

__all__ = ["CRT_ORDER_INDEXED", "CRT_ORDER_TRACKED", "CreatePlist", "FILL_TIME_ALLOC", "FILL_TIME_IFSET",
           "FILL_TIME_NEVER", "ObjectID"]

# HDF5's creation-order flags (h5py.h5p.CRT_ORDER_TRACKED / _INDEXED)
CRT_ORDER_TRACKED = 1
CRT_ORDER_INDEXED = 2
# HDF5's fill times (h5py.h5d.FILL_TIME_*), as create_dataset(fill_time=) names them
FILL_TIME_ALLOC = 0
FILL_TIME_NEVER = 1
FILL_TIME_IFSET = 2
_FILL_TIMES = {"alloc": FILL_TIME_ALLOC, "never": FILL_TIME_NEVER, "ifset": FILL_TIME_IFSET}


class CreatePlist:
    """The creation settings of a group or dataset, as far as code asks for them:
    whether links and attributes are kept in creation order (``track_order``),
    and a dataset's fill time."""

    __slots__ = ("_order", "_fill_time")

    def __init__(self, track_order: bool, fill_time: str = "ifset"):
        self._order = CRT_ORDER_TRACKED | CRT_ORDER_INDEXED if track_order else 0
        self._fill_time = _FILL_TIMES.get(fill_time, FILL_TIME_IFSET)

    def get_fill_time(self) -> int:
        """When HDF5 writes the fill value (``h5py.h5d.FILL_TIME_*``)."""
        return self._fill_time

    def get_link_creation_order(self) -> int:
        return self._order

    def get_attr_creation_order(self) -> int:
        return self._order


class ObjectID:
    """The ``id`` of a File, Group or Dataset: identity and ``valid`` only."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    @property
    def valid(self) -> bool:
        """True while the object's file is open (h5py's ``ObjectID.valid``)."""
        return bool(self._obj)

    def __bool__(self) -> bool:
        return self.valid

    def get_create_plist(self) -> CreatePlist:
        """h5py's ``id.get_create_plist()``, answering ``get_link_creation_order()`` and
        ``get_attr_creation_order()`` from the node's ``track_order``."""
        obj = self._obj
        obj._check_open()
        reserved = obj._state.reserved(obj._path)
        return CreatePlist(bool(reserved.get("track_order")), reserved.get("fill_time", "ifset"))

    def _key(self) -> tuple:
        return (self._obj._state.store_id, self._obj._path)

    def __eq__(self, other) -> bool:
        if not isinstance(other, ObjectID):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"HDF5 low-level API: ObjectID.{name} is not available in dosna_like "
                             f"(objects live in a store, not in an HDF5 file)")

    def __repr__(self) -> str:
        return f"<dosna_like ObjectID of {self._obj.name!r} ({'valid' if self.valid else 'closed'})>"
