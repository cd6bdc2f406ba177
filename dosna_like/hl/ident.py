"""``obj.id``: the identifier object h5py code passes around and asks ``valid``.

h5py's ``obj.id`` is a handle on HDF5's low-level API (``DatasetID``,
``GroupID``...).  Libraries mostly use it as an identity (``a.id == b.id``,
as a dict key) or to ask whether the object is still open (``id.valid``,
``bool(id)``); that is what this one does, plus ``get_create_plist()`` as far
as h5netcdf reads it (whether a group tracks creation order; a dataset's
fill time, layout and chunk shape as h5py reports them), and a
dataset's ``get_type()``: a ``TypeID`` answering HDF5's type class
(``get_class()``, compared with ``h5py.h5t``'s constants), size, dtype and
type equality, all derived from the dtype (``format/typeclass.py``).
``attrs.get_id(name)`` gives an ``AttrID`` (name, dtype, shape, type) and a
committed datatype's ``id`` is a ``TypeID`` too, as in h5py.  Its other
low-level methods (``get_access_plist``, ``read_direct_chunk``...) are HDF5's,
and asking for one raises AttributeError saying so.
"""
from __future__ import annotations

import numpy as np

from ..format.dtypes import check_string_dtype
from ..format.typeclass import (ARRAY, BITFIELD, COMPOUND, ENUM, FLOAT, INTEGER, OPAQUE, REFERENCE, STRING, TIME, VLEN,
                                type_class, type_key, type_size)

__all__ = ["AttrID", "CHUNKED", "COMPACT", "CONTIGUOUS", "CRT_ORDER_INDEXED", "CRT_ORDER_TRACKED", "CSET_ASCII",
           "CSET_UTF8", "CommittedTypeID", "CreatePlist", "DatasetCreatePlist", "FILL_TIME_ALLOC", "FILL_TIME_IFSET",
           "FILL_TIME_NEVER", "ObjectID", "TYPE_ID_CLASSES", "TypeArrayID", "TypeBitfieldID", "TypeCompoundID",
           "TypeEnumID", "TypeFloatID", "TypeID", "TypeIntegerID", "TypeOpaqueID", "TypeReferenceID",
           "TypeStringID", "TypeTimeID", "TypeVlenID", "type_id"]

# HDF5's character sets of strings (h5py.h5t.CSET_ASCII / CSET_UTF8)
CSET_ASCII = 0
CSET_UTF8 = 1
# HDF5's creation-order flags (h5py.h5p.CRT_ORDER_TRACKED / _INDEXED)
CRT_ORDER_TRACKED = 1
CRT_ORDER_INDEXED = 2
# HDF5's fill times (h5py.h5d.FILL_TIME_*), as create_dataset(fill_time=) names them
FILL_TIME_ALLOC = 0
FILL_TIME_NEVER = 1
FILL_TIME_IFSET = 2
_FILL_TIMES = {"alloc": FILL_TIME_ALLOC, "never": FILL_TIME_NEVER, "ifset": FILL_TIME_IFSET}
# HDF5's dataset layouts (h5py.h5d.COMPACT / CONTIGUOUS / CHUNKED), as get_layout() answers
COMPACT = 0
CONTIGUOUS = 1
CHUNKED = 2
_LAYOUTS = {"compact": COMPACT, "contiguous": CONTIGUOUS, "chunked": CHUNKED}


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


class DatasetCreatePlist(CreatePlist):
    """A dataset's creation settings: those of :class:`CreatePlist`, plus its
    layout and chunk shape as h5py reports them (``chunks`` None: not chunked)."""

    __slots__ = ("_layout", "_chunks")

    def __init__(self, track_order: bool, fill_time: str, layout: str, chunks):
        super().__init__(track_order, fill_time)
        self._layout = _LAYOUTS[layout]
        self._chunks = chunks

    def get_layout(self) -> int:
        """``h5py.h5d.CHUNKED``, ``CONTIGUOUS`` or ``COMPACT``."""
        return self._layout

    def get_chunk(self) -> tuple:
        """The chunk shape; ValueError when not chunked, as HDF5."""
        if self._chunks is None:
            raise ValueError("Not a chunked storage layout (not a chunked storage layout)")
        return self._chunks


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
        order, fill_time = bool(reserved.get("track_order")), reserved.get("fill_time", "ifset")
        if hasattr(obj, "chunks"):  # a dataset
            return DatasetCreatePlist(order, fill_time, obj._h5py_layout(), obj.chunks)
        return CreatePlist(order, fill_time)

    def get_type(self) -> "TypeID":
        """A dataset's HDF5 type (h5py's ``DatasetID.get_type()``)."""
        obj = self._obj
        obj._check_open()
        if not hasattr(obj, "shape"):
            raise AttributeError(f"HDF5 low-level API: {type(obj).__name__}.id has no get_type() (datasets have)")
        return type_id(obj.dtype)

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


class _TypeMixin:
    """What h5py's ``TypeID`` answers, from a dtype: class, size, dtype, equality (``H5Tequal``)."""

    __slots__ = ()

    def get_class(self) -> int:
        """HDF5's type class, one of ``h5py.h5t.INTEGER``, ``FLOAT``, ``STRING``, ``COMPOUND``..."""
        return type_class(self.dtype)

    def get_size(self) -> int:
        return type_size(self.dtype)

    def committed(self) -> bool:
        """Whether this is a committed (named) datatype's id."""
        return False

    def _type_key(self) -> tuple:
        return type_key(self.dtype)

    def __eq__(self, other) -> bool:
        if not isinstance(other, _TypeMixin):
            return NotImplemented
        return self._type_key() == other._type_key()

    def __hash__(self) -> int:
        return hash(repr(self._type_key()))


class TypeID(_TypeMixin):
    """The HDF5 type of a dataset or attribute (``ds.id.get_type()``)."""

    __slots__ = ("_dtype",)

    def __init__(self, dtype):
        self._dtype = np.dtype(dtype)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __repr__(self) -> str:
        return f"<dosna_like {type(self).__name__} (dtype {self._dtype})>"


class TypeIntegerID(TypeID):
    __slots__ = ()


class TypeFloatID(TypeID):
    __slots__ = ()


class TypeTimeID(TypeID):
    __slots__ = ()


class TypeStringID(TypeID):
    """A string type: its character set and whether it is variable-length."""

    __slots__ = ()

    def get_cset(self) -> int:
        return CSET_UTF8 if check_string_dtype(self._dtype).encoding == "utf-8" else CSET_ASCII

    def is_variable_str(self) -> bool:
        return check_string_dtype(self._dtype).length is None


class TypeBitfieldID(TypeID):
    __slots__ = ()


class TypeOpaqueID(TypeID):
    __slots__ = ()


class TypeCompoundID(TypeID):
    __slots__ = ()


class TypeReferenceID(TypeID):
    __slots__ = ()


class TypeEnumID(TypeID):
    __slots__ = ()


class TypeVlenID(TypeID):
    __slots__ = ()


class TypeArrayID(TypeID):
    __slots__ = ()


# h5py.h5t's id class of each HDF5 type class
TYPE_ID_CLASSES = {INTEGER: TypeIntegerID, FLOAT: TypeFloatID, TIME: TypeTimeID, STRING: TypeStringID,
                   BITFIELD: TypeBitfieldID, OPAQUE: TypeOpaqueID, COMPOUND: TypeCompoundID,
                   REFERENCE: TypeReferenceID, ENUM: TypeEnumID, VLEN: TypeVlenID, ARRAY: TypeArrayID}


def type_id(dtype) -> TypeID:
    """The type id of ``dtype``, of h5py's class for its HDF5 type class (``TypeStringID``...)."""
    return TYPE_ID_CLASSES.get(type_class(dtype), TypeID)(dtype)


class CommittedTypeID(_TypeMixin, ObjectID):
    """A committed datatype's ``id``: an object id (``valid``) and a type id at once,
    equal to any type with the same HDF5 type (as h5py's)."""

    __slots__ = ()

    @property
    def dtype(self) -> np.dtype:
        return self._obj.dtype

    def committed(self) -> bool:
        return True

    __eq__ = _TypeMixin.__eq__
    __hash__ = _TypeMixin.__hash__


class AttrID:
    """``attrs.get_id(name)``: an attribute's name, dtype, shape and type, as h5py's ``AttrID``."""

    __slots__ = ("_name", "_dtype", "_shape")

    def __init__(self, name: str, dtype, shape):
        self._name, self._dtype, self._shape = name, np.dtype(dtype), shape

    @property
    def name(self) -> bytes:
        return self._name.encode("utf-8")

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def shape(self):
        """The attribute's shape; None for an empty (``h5py.Empty``) attribute."""
        return self._shape

    @property
    def valid(self) -> bool:
        return True

    def get_type(self) -> TypeID:
        return type_id(self._dtype)

    def __repr__(self) -> str:
        return f"<dosna_like AttrID {self._name!r} (dtype {self._dtype}, shape {self._shape})>"
