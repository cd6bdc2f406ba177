"""The reference map of an HDF5 file: what an in-place open reads once.

:func:`build_reference_map` walks an open ``h5py.File`` and gives a Zarr v3
document per node and, per dataset, where each chunk's bytes are in the file
(offset, size, filter mask), or why the dataset is read through h5py; the
codecs listed for a dataset are the project's equivalents of its HDF5
filters (deflate as zlib, shuffle, fletcher32, LZF as bare liblzf streams).
:func:`save_reference_map` / :func:`load_reference_map` keep it beside the
file or in a cache folder, checked against the file's size and mtime or ETag.
The store that reads through a map is :class:`~dosna_like.storage.hdf5_refs.Hdf5RefStore`.
"""
from __future__ import annotations

import base64
import json
import math

import numpy as np

from ..codecs import lzf
from ..format.attrvalues import encode_attr, kept_type
from ..format.documents import ArrayMeta, group_document
from ..format.dtypes import to_zarr
from ..format.references import is_h5py_ref_dtype, refs_from_h5py
from ..format.reserved import RESERVED

__all__ = ["HDF5_SIGNATURE", "MAP_FORMAT", "VIRTUAL_CHUNK_BYTES", "build_reference_map", "hdf5_fingerprint",
           "load_reference_map", "save_reference_map", "stored_chunks", "userblock_of"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# /2: lzf decoded here, filter masks, szip options; /3: attributes keep h5py's marks, references kept
# /4: members of nested compounds keep their enum and opaque marks (maps of /3 would lose them)
MAP_FORMAT = "dosna_like.hdf5-refs/4"
VIRTUAL_CHUNK_BYTES = 4 << 20  # contiguous data is read in pieces of about this size
_DEFLATE, _SHUFFLE, _FLETCHER32, _LZF = 1, 2, 3, 32000


# ------------------------------------------------------------ detection
def userblock_of(read_at, size: int | None) -> int | None:
    """Where the HDF5 superblock starts (0, 512, 1024, 2048...), or None when the
    bytes are not HDF5.  ``read_at(offset, n)`` reads ``n`` bytes at ``offset``."""
    offset = 0
    while size is None or offset + 8 <= size:
        head = read_at(offset, 8)
        if head == HDF5_SIGNATURE:
            return offset
        if len(head) < 8 or (size is None and offset > (1 << 30)):
            return None
        offset = 512 if offset == 0 else offset * 2
    return None


def hdf5_fingerprint(info: dict) -> dict:
    """What says a file changed: its size and ETag, else its modification time."""
    found = {"size": int(info.get("size") or 0)}
    for name in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created"):
        value = info.get(name)
        if value is not None:
            found[name.lower()] = str(value)
            break
    return found


# -------------------------------------------------------- the reference map
_SCALE_ATTRS = frozenset({"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS"})


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dimension_records(dset, h5ds) -> dict:
    """Dimension scales as the project keeps them (reserved ``scale``, ``dim_scales``,
    ``dim_labels``); HDF5's own attributes for them are then hidden, as in a store."""
    reserved: dict = {}
    if h5ds.is_scale(dset.id):
        reserved["scale"] = _text(dset.attrs.get("NAME", b""))
    if dset.shape and ("DIMENSION_LIST" in dset.attrs or "DIMENSION_LABELS" in dset.attrs):
        scales, labels = [], []
        for axis in dset.dims:
            scales.append([[s.name.lstrip("/"), _text(s.attrs.get("NAME", b""))] for s in axis.values()])
            labels.append(axis.label or None)
        if any(scales):
            reserved["dim_scales"] = scales
        if any(labels):
            reserved["dim_labels"] = labels
    return reserved


def _attributes(h5obj, where: str, hidden=frozenset()) -> tuple:
    """(attributes, their reserved type records, [``where@name`` of those left out])."""
    attributes, records, skipped = {}, {}, []
    for name in h5obj.attrs:
        if name in hidden:
            continue
        try:
            value = h5obj.attrs[name]
            dtype = h5obj.attrs.get_id(name).dtype
            keep = kept_type(value, dtype)
            if is_h5py_ref_dtype(dtype):  # addresses in the file -> target paths
                value, keep = refs_from_h5py(value, h5obj.file), None
            value, record = encode_attr(value, keep)
        except Exception:  # h5py raises many types for exotic attributes
            skipped.append(f"{where}@{name}")
            continue
        attributes[name] = value
        records[name] = record
    return attributes, {"attrs": records} if records else {}, skipped


def stored_chunks(dset) -> list:
    """HDF5's records (offset, filter mask, address, size) of a dataset's allocated chunks."""
    if hasattr(dset.id, "chunk_iter"):
        infos: list = []
        dset.id.chunk_iter(infos.append)
        return infos
    return [dset.id.get_chunk_info(i) for i in range(dset.id.get_num_chunks())]  # pragma: no cover


def _filter_codecs(dset) -> list | None:
    """The Zarr codecs after the bytes codec for the dataset's HDF5 filters, or None
    when one has no decoder here."""
    plist = dset.id.get_create_plist()
    codecs = []
    for i in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(i)
        if code == _SHUFFLE:
            codecs.append({"name": "numcodecs.shuffle", "configuration": {"elementsize": dset.dtype.itemsize}})
        elif code == _DEFLATE:
            codecs.append({"name": "numcodecs.zlib", "configuration": {"level": int(values[0]) if values else 4}})
        elif code == _FLETCHER32:
            codecs.append({"name": "numcodecs.fletcher32", "configuration": {}})
        elif code == _LZF and lzf.AVAILABLE:  # a bare liblzf stream: no size header, as our lzf chunks have
            codecs.append({"name": "numcodecs.lzf", "configuration": {"header": False}})
        else:
            return None
    return codecs


def _plain_complex(dset, dtype: np.dtype) -> bool:
    """Whether a complex dataset's stored elements are numpy's bytes (HDF5 holds complex
    numbers as an (r, i) compound, or HDF5 2's complex class; h5py gives both as complex)."""
    if dtype.kind != "c":
        return False
    import h5py  # why here: only while a map is built, under real_h5py() (callers hold it)

    return dset.id.get_type() == h5py.h5t.py_create(dtype)


def _virtual_chunks(shape: tuple, itemsize: int) -> tuple:
    if not shape:
        return ()
    row = max(1, math.prod(shape[1:]) * itemsize)
    rows = max(1, min(shape[0], VIRTUAL_CHUNK_BYTES // row))
    return (rows,) + tuple(max(1, n) for n in shape[1:])


def _dataset_entry(dset, path: str, attributes: dict, reserved: dict) -> tuple:
    """(node document, reference record) of one dataset."""
    dtype = dset.dtype
    if dset.shape is None:
        meta = ArrayMeta((), dtype, (), dset.fillvalue, [to_zarr(dtype)[1]], (), attributes, empty=True)
        return _with_reserved(meta.to_document(), reserved), {"kind": "empty"}
    shape = tuple(dset.shape)
    maxshape = tuple(dset.maxshape) if dset.maxshape is not None else shape
    fill = dset.fillvalue
    subshape = ()
    if dtype.subdtype is not None:  # stored as trailing axes, each chunk holding whole elements
        dtype, subshape = dtype.subdtype
        fill = np.asarray(fill, dtype=dtype).reshape(-1)[0]  # HDF5 sets no fill value of an array type
    bytes_codec = to_zarr(dtype)[1]
    plist = dset.id.get_create_plist()
    layout = plist.get_layout()
    # virtual datasets and external raw-data files have no bytes of their own in this file
    plain = (dtype.kind in "biufS" and dtype.fields is None or _plain_complex(dset, dtype)) \
        and layout in (0, 1, 2) and not plist.get_external_count()
    codecs = _filter_codecs(dset) if dset.chunks is not None else []
    chunks = tuple(dset.chunks) if dset.chunks is not None else \
        _virtual_chunks(shape, dset.dtype.itemsize)
    ref: dict
    if not plain or codecs is None:  # types are read through h5py quietly, filters with a warning
        ref, codecs = {"kind": "h5py", "why": "filter" if plain else "type"}, []
    elif dset.chunks is not None:
        records = stored_chunks(dset)
        ref = {"kind": "chunks",
               "coords": [[o // c for o, c in zip(r.chunk_offset, chunks)] + [0] * len(subshape)
                          for r in records],
               "offsets": [int(r.byte_offset) for r in records], "sizes": [int(r.size) for r in records]}
        if any(r.filter_mask for r in records):  # filters skipped for some chunks: decoded by the store
            ref["masks"], ref["codecs"], codecs = [int(r.filter_mask) for r in records], codecs, []
    elif layout == 0:  # compact: the bytes live in the object header, so in the map
        ref = {"kind": "inline", "data": base64.b64encode(np.ascontiguousarray(dset[()]).tobytes()).decode()}
        chunks = shape
    else:
        offset = dset.id.get_offset()
        ref = {"kind": "contiguous", "offset": None if offset is None else int(offset),
               "size": int(dset.id.get_storage_size())}
    chunks = tuple(max(1, c) for c in chunks)
    if dset.chunks is None:  # the project's mark for data h5py holds unchunked
        reserved = {**reserved, "h5py_contiguous": True}
    hdf5 = {"layout": "compact" if layout == 0 else "contiguous"} if dset.chunks is None else {}
    # as h5py reports the filters, whatever the codecs that read them (deflate is "gzip"; a
    # dataset read through h5py has none; fletcher32 is numcodecs' own checksum here)
    hdf5["compression"] = "" if dset.compression is None else str(dset.compression)
    if dset.compression == "gzip":
        hdf5["gzip_level"] = str(dset.compression_opts)
    elif dset.compression == "szip":  # h5py's ('nn' or 'ec', pixels per block)
        hdf5["szip"] = ",".join(map(str, dset.compression_opts))
    hdf5["filters"] = ",".join(name for name, on in (("shuffle", dset.shuffle), ("fletcher32", dset.fletcher32)) if on)
    if dset.scaleoffset is not None:
        hdf5["scaleoffset"] = str(dset.scaleoffset)
    if hasattr(dset, "filter_ids"):  # h5py 3.16: the pipeline's ids and names, whoever decodes it
        hdf5["filter_ids"] = ",".join(map(str, dset.filter_ids))
        hdf5["filter_names"] = json.dumps(list(dset.filter_names))
    reserved = {**reserved, "hdf5": hdf5}
    meta = ArrayMeta(shape + subshape, dtype, chunks + subshape, fill, [bytes_codec] + codecs, maxshape + subshape,
                     attributes, subshape=subshape)
    return _with_reserved(meta.to_document(), reserved), ref


def _with_reserved(doc: dict, reserved: dict) -> dict:
    if reserved:
        doc["attributes"].setdefault(RESERVED, {}).update(reserved)
    return doc


def build_reference_map(h5file, fingerprint: dict | None = None, userblock: int = 0) -> dict:
    """Node documents and chunk references of every object of an open ``h5py.File``.

    Soft and external links become link records, and so does every name of an
    object after the first one it is reached by (a hard link record), so the
    object is one node, as in h5py.  Attributes whose type the
    store cannot hold are left out, named in ``"skipped"``.
    """
    import h5py  # why here: h5py is only needed to build a map, not to read one (callers hold real_h5py())

    nodes, refs, skipped = {}, {}, []
    first_name: dict = {}  # object identity -> the path it was first reached by

    def identity(obj) -> tuple:
        info = h5py.h5o.get_info(obj.id)
        token = getattr(info, "token", None)
        return ("token", token) if token is not None else ("addr", info.addr)

    def visit(group, path: str) -> None:
        attributes, reserved, left_out = _attributes(group, path or "/")
        skipped.extend(left_out)
        links = {}
        for name in group:
            link = group.get(name, getlink=True)
            child = f"{path}/{name}" if path else name
            if isinstance(link, h5py.SoftLink):
                links[name] = {"type": "soft", "path": link.path}
                continue
            if isinstance(link, h5py.ExternalLink):
                links[name] = {"type": "external", "file": link.filename, "path": link.path}
                continue
            obj = group.get(name)
            key = identity(obj)
            if key in first_name:  # another name of an object already mapped: one node, as in h5py
                links[name] = {"type": "hard", "path": "/" + first_name[key]}
                continue
            first_name[key] = child
            if isinstance(obj, h5py.Group):
                visit(obj, child)
            elif isinstance(obj, h5py.Dataset):
                dims = _dimension_records(obj, h5py.h5ds)
                attrs, res, left_out = _attributes(obj, child, _SCALE_ATTRS if dims else frozenset())
                skipped.extend(left_out)
                res.update(dims)
                try:
                    nodes[child], refs[child] = _dataset_entry(obj, child, attrs, res)
                except (TypeError, ValueError) as exc:
                    skipped.append(f"{child} ({exc})")
            else:
                skipped.append(f"{child} (committed datatype)")
        if links:
            reserved["links"] = links
        nodes[path] = _with_reserved(group_document(attributes), reserved)

    first_name[identity(h5file)] = ""
    visit(h5file, "")
    return {"format": MAP_FORMAT, "source": fingerprint or {}, "userblock": userblock,
            "nodes": nodes, "refs": refs, "skipped": skipped}


def save_reference_map(refmap: dict, fs, path: str) -> None:
    """Write a reference map (JSON) at ``path`` on ``fs``."""
    fs.pipe_file(path, json.dumps(refmap, allow_nan=False).encode())


def load_reference_map(raw: bytes | None, fingerprint: dict) -> dict | None:
    """The saved map in ``raw`` when it describes the file as it is now, else None."""
    if raw is None:
        return None
    try:
        refmap = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(refmap, dict) or refmap.get("format") != MAP_FORMAT or refmap.get("source") != fingerprint:
        return None
    return refmap
