"""h5grove's content model over dosna_like objects.

h5grove is imported with dosna_like standing for h5py (``as_h5py``), so its
own code (content classes, link and attribute handling, slicing, statistics,
encoders) runs on dosna_like's Group, Dataset and link objects.  What it
reads through HDF5's low-level API (type ids, attribute ids, creation
property lists: ``id.get_type()``, ``attrs.get_id()``, ``get_nfilters()``),
which dosna_like does not have, is given here from the dtype and the codec
list, in h5grove's JSON shapes, so h5web reads it unchanged.
"""
from __future__ import annotations

import importlib
import sys

import numpy as np

from ..compat.install import as_h5py
from ..codecs.entries import HDF5_FILTERS
from ..format.links import ExternalLink, SoftLink
from ..hl.dataset import Dataset
from ..hl.datatype import Datatype
from ..hl.group import Group
from ..format.dtypes import check_enum_dtype, check_ref_dtype, check_string_dtype, check_vlen_dtype
from ..format.typeclass import ARRAY, COMPOUND, ENUM, FLOAT, INTEGER, NO_CLASS, OPAQUE, REFERENCE, STRING, VLEN

__all__ = ["content_for", "DatasetContent", "DatatypeContent", "filters_of", "grove_content", "grove_encoders",
           "grove_utils", "GroupContent", "type_metadata"]


def _h5grove_on_dosna_like() -> dict:
    """h5grove's modules imported afresh with dosna_like standing for h5py.

    h5grove binds ``h5py`` when imported, so these module objects keep
    dosna_like's module tree after ``as_h5py`` ends.  They are this package's
    own copies: an h5grove the process imported before (bound to the real
    h5py) is put back untouched, and one imported later is the real one.
    """
    def names():
        return [n for n in sys.modules if n == "h5grove" or n.startswith("h5grove.")]

    saved = {n: sys.modules.pop(n) for n in names()}
    try:
        with as_h5py():
            return {n: importlib.import_module(f"h5grove.{n}") for n in ("content", "encoders", "utils")}
    finally:
        for n in names():
            del sys.modules[n]
        sys.modules.update(saved)


_GROVE = _h5grove_on_dosna_like()
grove_content = _GROVE["content"]
grove_encoders = _GROVE["encoders"]
grove_utils = _GROVE["utils"]

# HDF5's H5T_order_t values (the type classes are format.typeclass's)
_FILTER_IDS = {f.h5py_name: f.filter_id for f in HDF5_FILTERS.values()}
_HDF5_NAMES = {"gzip": "deflate", "zlib": "deflate"}  # h5py's name -> the name HDF5 records in the file
_ORDER = {"<": 0, ">": 1, "|": 0, "=": 0 if np.little_endian else 1}


def type_metadata(dtype: np.dtype) -> dict:
    """h5grove's type metadata (``utils.get_type_metadata``) from a numpy dtype
    as h5py would store it."""
    dtype = np.dtype(dtype)
    base = {"dtype": grove_utils.stringify_dtype(dtype), "size": dtype.itemsize}
    string = check_string_dtype(dtype)
    if string is not None:
        utf8 = string.encoding == "utf-8"
        if string.length is None:
            return {**base, "class": STRING, "size": 8, "cset": int(utf8), "strpad": 0, "vlen": True}
        return {**base, "class": STRING, "cset": int(utf8), "strpad": 1, "vlen": False}
    if check_ref_dtype(dtype) is not None:
        return {**base, "class": REFERENCE, "size": 8}
    vlen = check_vlen_dtype(dtype)
    if vlen is not None:
        return {**base, "class": VLEN, "size": 16, "base": type_metadata(vlen)}
    enum = check_enum_dtype(dtype)
    if enum is not None:
        members = {k: int(v) for k, v in enum.items()}
        # the integer type under the members: the same layout without h5py's enum mark
        return {**base, "class": ENUM, "members": members, "base": type_metadata(np.dtype(dtype.str))}
    if dtype.kind == "b":
        return {**base, "class": ENUM, "members": {"FALSE": 0, "TRUE": 1}, "base": type_metadata(np.dtype("i1"))}
    if dtype.subdtype is not None:
        sub, dims = dtype.subdtype
        return {**base, "class": ARRAY, "dims": dims, "base": type_metadata(sub)}
    if dtype.kind in "iu":
        return {**base, "class": INTEGER, "order": _ORDER[dtype.byteorder], "sign": int(dtype.kind == "i")}
    if dtype.kind == "f":
        return {**base, "class": FLOAT, "order": _ORDER[dtype.byteorder]}
    if dtype.kind == "c":
        part = np.dtype(f"{dtype.byteorder}f{dtype.itemsize // 2}")
        members = [{"name": n, **type_metadata(part)} for n in ("r", "i")]
        return {**base, "class": COMPOUND, "members": members}
    if dtype.fields is not None:
        members = [{"name": name, **type_metadata(dtype.fields[name][0])} for name in dtype.names]
        return {**base, "class": COMPOUND, "members": members}
    if dtype.kind == "V":
        return {**base, "class": OPAQUE, "tag": ""}
    return {**base, "class": NO_CLASS}


def filters_of(ds: Dataset) -> list | None:
    """h5grove's ``filters`` (HDF5 filter ids and names in pipeline order) from
    the dataset's h5py view of its codecs; None when it has none."""
    names = []
    if ds.scaleoffset is not None:
        names.append("scaleoffset")
    if ds.shuffle:
        names.append("shuffle")
    if ds.compression is not None:
        names.append(str(ds.compression))
    if ds.fletcher32:
        names.append("fletcher32")
    if not names:
        return None
    names = [_HDF5_NAMES.get(name, name) for name in names]
    return [{"id": _FILTER_IDS.get("gzip" if name == "deflate" else name, -1), "name": name} for name in names]


def _attribute_metadata(attrs, name: str) -> dict:
    attr = attrs.get_id(name)  # the dtype and shape h5py's attribute id gives
    return {"name": name, "shape": attr.shape, "type": type_metadata(attr.dtype)}


class _Described:
    """``metadata()`` of a resolved entity without HDF5 attribute ids."""

    def metadata(self, depth=None) -> dict:
        attrs = self._h5py_entity.attrs
        return grove_utils.sorted_dict(
            ("attributes", [_attribute_metadata(attrs, name) for name in sorted(attrs.keys())]),
            ("kind", self.kind), ("name", self.name))


class DatasetContent(_Described, grove_content.DatasetContent):
    def metadata(self, depth=None) -> dict:
        ds = self._h5py_entity
        return grove_utils.sorted_dict(
            ("chunks", ds.chunks), ("filters", filters_of(ds)), ("shape", ds.shape),
            ("type", type_metadata(ds.dtype)), *super().metadata().items())


class GroupContent(_Described, grove_content.GroupContent):
    def metadata(self, depth: int = 1) -> dict:
        if depth <= 0:
            return super().metadata()
        children = [content_for(self._h5file, grove_utils.hdf_path_join(self._path, name)).metadata(depth - 1)
                    for name in self._h5py_entity.keys()]
        return grove_utils.sorted_dict(("children", children), *super().metadata().items())


class DatatypeContent(_Described, grove_content.DatatypeContent):
    def metadata(self, depth=None) -> dict:
        return grove_utils.sorted_dict(("type", type_metadata(self._h5py_entity.dtype)),
                                       *super().metadata().items())


def content_for(f, path: str, entity=None):
    """h5grove's content for the object at ``path`` (``content.create_content``)."""
    from .sources import resolve  # noqa: E402  (kept here: sources is the one place that walks paths)

    entity = resolve(f, path) if entity is None else entity
    if isinstance(entity, ExternalLink):
        return grove_content.ExternalLinkContent(path, entity)
    if isinstance(entity, SoftLink):
        return grove_content.SoftLinkContent(path, entity)
    if isinstance(entity, Dataset):
        return DatasetContent(path, entity)
    if isinstance(entity, Group):
        return GroupContent(path, entity, f)
    if isinstance(entity, Datatype):
        return DatatypeContent(path, entity)
    raise TypeError(f"{path}: {type(entity).__name__} objects are not served")
