"""Copying groups and datasets, within a file, across files, and to or from h5py.

``Group.copy`` (h5py's signature and options) is built on the public API of
both libraries, so the source and the destination may each be a dosna_like
or an h5py object.  Data moves in blocks aligned to the destination's chunks,
so memory stays bounded by one block whatever the dataset's size.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..codecs.chains import h5py_keywords, rebuild_keywords
from ..format.attrvalues import kept_type
from ..format.compound import record_to_bytes
from ..format.dtypes import Empty
from ..format.links import ExternalLink, SoftLink
from ..format.references import Reference, check_ref_dtype, holds_refs_dtype
from .attrs import AttributeManager
from .base import HLObject
from .scale_attrs import is_derived

__all__ = [
    "BLOCK_BYTES", "blocks", "copy_attrs", "copy_dataset", "copy_group", "copy_object", "fill_option",
    "is_dataset", "is_h5py", "library_of", "map_references",
]


BLOCK_BYTES = 64 * 1024 * 1024  # upper bound on one block held in memory


def is_h5py(obj) -> bool:
    """An object of the real h5py (ours carry h5py's module names while ``install_as_h5py()`` is on)."""
    return type(obj).__module__.startswith("h5py") and not isinstance(obj, (HLObject, AttributeManager))


def is_dataset(obj) -> bool:
    return hasattr(obj, "dtype") and hasattr(obj, "shape") and not hasattr(obj, "keys")


# The classes a copy creates on the destination side, for this library
_OWN_CLASSES = SimpleNamespace(Empty=Empty, SoftLink=SoftLink, ExternalLink=ExternalLink)


def library_of(obj):
    """The h5py module for h5py objects, else this library's own classes (``Empty``, links)."""
    if is_h5py(obj):
        import h5py  # only reached with an h5py object in hand, so h5py is installed

        return h5py
    return _OWN_CLASSES


def _creation_options(src, dest_group) -> dict:
    """create_dataset keywords that reproduce ``src``'s layout where the destination can."""
    opts = {"dtype": src.dtype}
    if src.chunks is not None:
        opts["chunks"] = src.chunks
    if not is_h5py(dest_group):  # HDF5 has no shards: an h5py copy keeps the inner chunks
        opts["shards"] = getattr(src, "shards", None) or False  # src's layout, not the object-storage default
    if src.maxshape is not None and tuple(src.maxshape) != tuple(src.shape):
        opts["maxshape"] = src.maxshape
    # a compressor the destination lacks (lzf here, zstd in h5py...) leaves the copy uncompressed
    keywords = h5py_keywords if is_h5py(dest_group) else rebuild_keywords
    opts.update(keywords(src.compression, src.compression_opts))
    for flag in ("shuffle", "fletcher32"):  # h5py's copy keeps these filters, compressed or not
        if getattr(src, flag, False):
            opts[flag] = True
    if getattr(src, "scaleoffset", None) is not None and not opts.get("fletcher32"):
        opts["scaleoffset"] = src.scaleoffset  # so does the scale-offset filter
    opts.update(fill_option(src))
    return opts


def fill_option(src) -> dict:
    """``{"fillvalue": ...}`` to carry a dataset's fill value over ({} for none
    and for the empty string or bytes, which is what a string dataset has)."""
    fill = src.fillvalue
    if fill is None or (isinstance(fill, (bytes, str)) and not fill) or src.dtype.subdtype is not None \
            or (src.dtype.metadata or {}).get("h5py_opaque") or holds_refs_dtype(src.dtype):
        # (h5py sets no fill value of a subarray type, nor of a marked opaque type; a reference
        # member's fill is the null reference, an address in the file, which is no path)
        return {}
    dtype = getattr(fill, "dtype", None)
    if dtype is not None and dtype.names and dtype.hasobject and \
            record_to_bytes(fill, dtype) == record_to_bytes(np.zeros((), dtype)[()], dtype):
        return {}  # the default; HDF5 cannot read back a stored fill value with variable-length members
    return {"fillvalue": fill}


def blocks(shape: tuple, chunks: tuple | None, itemsize: int):
    """Slices covering ``shape`` in blocks of whole chunk rows, at most BLOCK_BYTES each."""
    if not shape or shape[0] == 0:
        yield ()
        return
    row_bytes = max(1, math.prod(shape[1:]) * itemsize)
    step = max(1, BLOCK_BYTES // row_bytes)
    if chunks:
        step = max(chunks[0], step // chunks[0] * chunks[0])
    for start in range(0, shape[0], step):
        yield (slice(start, min(start + step, shape[0])),)


def copy_dataset(src, dest_group, name: str, without_attrs: bool = False):
    lib = library_of(dest_group)
    if src.shape is None:  # h5py.Empty
        dest = dest_group.create_dataset(name, data=lib.Empty(src.dtype))
    elif src.shape == ():
        dest = dest_group.create_dataset(name, data=src[()], dtype=src.dtype)
    else:
        dest = dest_group.create_dataset(name, shape=src.shape, **_creation_options(src, dest_group))
        # blocks of whole stored chunks: ours are stored in chunks even where h5py reports none
        for block in blocks(src.shape, dest.chunks if is_h5py(dest) else dest.chunk_size, src.dtype.itemsize):
            if src.size:
                dest[block] = src[block]
    if not without_attrs:
        copy_attrs(src, dest)
    return dest


def copy_attrs(src, dest) -> None:
    """Copy attributes; dimension-scale ones (``hl/scale_attrs.py``) are not, a copy has no scales."""
    for key in src.attrs:
        if not (is_derived(src, key) or is_derived(dest, key)):
            value = src.attrs[key]
            dtype = kept_type(value, src.attrs.get_id(key).dtype)  # a scalar's enum, opaque... type
            if dtype is None:
                dest.attrs[key] = value
            else:
                dest.attrs.create(key, value, dtype=dtype)


def copy_group(src, dest_group, name: str, shallow: bool = False, expand_soft: bool = False,
               expand_external: bool = False, without_attrs: bool = False, _depth: int = 0):
    dest = dest_group.create_group(name)
    if not without_attrs:
        copy_attrs(src, dest)
    if shallow and _depth > 0:
        return dest
    lib = library_of(dest_group)
    for member in src:
        link = src.get(member, getlink=True)
        kind = type(link).__name__
        if kind == "SoftLink" and not expand_soft:
            dest[member] = lib.SoftLink(link.path)
            continue
        if kind == "ExternalLink" and not expand_external:
            dest[member] = lib.ExternalLink(link.filename, link.path)
            continue
        obj = src.get(member)
        if obj is None:  # a dangling link being expanded: nothing to copy
            continue
        copy_object(obj, dest, member, shallow=shallow, expand_soft=expand_soft,
                    expand_external=expand_external, without_attrs=without_attrs, _depth=_depth + 1)
    return dest


def copy_object(src, dest_group, name: str, shallow: bool = False, expand_soft: bool = False,
                expand_external: bool = False, without_attrs: bool = False, _depth: int = 0):
    """Copy a dataset or group (of either library) into ``dest_group`` under ``name``."""
    if is_dataset(src):
        return copy_dataset(src, dest_group, name, without_attrs)
    return copy_group(src, dest_group, name, shallow, expand_soft, expand_external, without_attrs, _depth)


# ------------------------------------------------------------------ references
_POINTED_PREFIX = "~obj_pointed_by_"  # HDF5's name for an object a copy brought along (expand_refs)


class _ReferenceMap:
    """Where the references of a copy (``source`` copied to ``copy``) point, as HDF5's
    object copy decides.  Without ``expand_refs``: references in attributes become
    null; those in reference datasets keep their target within one file and become
    null across files.  With it, a target inside the copied tree is its copy, one
    outside is copied once to the destination's root as ``~obj_pointed_by_<n>``."""

    def __init__(self, source, copy, expand_refs: bool):
        self.same_file = source._state is copy._state
        self.expand = expand_refs
        self.src_file, self.dest_file = source.file, copy.file
        self.moved = {source._path: copy._path}  # source path -> its copy's path
        self.pending = []  # copies brought along whose references are still to map

    def target(self, path: str) -> str | None:
        for src, dest in self.moved.items():
            if path == src or path.startswith(src + "/") or src == "":
                rest = path[len(src):].lstrip("/")
                return "/".join(p for p in (dest, rest) if p)
        if not self.expand:
            return path if self.same_file else None
        found = self.src_file.get("/" + path)
        if found is None:
            return None
        taken = set(self.dest_file)
        name = next(f"{_POINTED_PREFIX}{n}" for n in range(1, len(taken) + 2) if f"{_POINTED_PREFIX}{n}" not in taken)
        self.moved[path] = name
        copy_object(found, self.dest_file, name)
        self.pending.append(self.dest_file[name])
        return name

    def ref(self, ref, in_attribute: bool):
        if not isinstance(ref, Reference) or not ref:
            return ref
        if not self.expand:
            return ref if self.same_file and not in_attribute else Reference()
        path = self.target(ref.path.lstrip("/"))
        return Reference("/" + path if path is not None else None)

    def value(self, value, in_attribute: bool = True):
        if isinstance(value, Reference):
            return self.ref(value, in_attribute)
        if isinstance(value, np.ndarray) and check_ref_dtype(value.dtype) is not None:
            out = np.empty(value.shape, dtype=value.dtype)
            out.reshape(-1)[:] = [self.ref(r, in_attribute) for r in value.reshape(-1).tolist()]
            return out
        return value


def _objects_below(obj) -> list:
    out = [obj]
    if not is_dataset(obj):
        obj.visititems(lambda name, member: out.append(member))
    return out


def map_references(source, copy, expand_refs: bool = False) -> None:
    """After ``copy_object``: point the copy's object references (attributes and
    reference datasets) where HDF5's object copy would (see ``_ReferenceMap``).
    Only between dosna_like objects; references are paths, so without this a
    reference copied into another file would name whatever sits there."""
    if not isinstance(source, HLObject) or not isinstance(copy, HLObject):
        return
    refs = _ReferenceMap(source, copy, expand_refs)
    work = [copy]
    while work:
        for obj in _objects_below(work.pop()):
            for key in list(obj.attrs):
                value = obj.attrs[key]
                mapped = refs.value(value)
                if mapped is not value:
                    obj.attrs[key] = mapped
            if is_dataset(obj) and check_ref_dtype(obj.dtype) is not None and obj.shape:
                obj[...] = refs.value(obj[...], in_attribute=False)
        work.extend(refs.pending)
        refs.pending = []
