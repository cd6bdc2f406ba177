"""``Dataset``: h5py's dataset object over a chunked Zarr v3 array.

Thin by design: a key goes to :mod:`selection`, the resulting projections to
:mod:`engine`; no chunk I/O or chunk arithmetic lives here.
"""
from __future__ import annotations

import json

import numpy as np

from ..chunks import selection
from ..codecs.chains import asked_codecs, h5py_view, hdf5_filters
from ..codecs.entries import HDF5_FILTERS
from ..errors import ResizeError
from ..format.conversion import bool_enum_conversion, conversion_path_error, convert_as_hdf5
from ..format.dtypes import (Empty, check_opaque_dtype, check_string_dtype, check_vlen_dtype, decode_scalar, from_stored,
                             no_conversion_path, stored_form, to_stored)
from ..format.references import RegionReference, holds_refs_dtype, map_refs
from ..format.reserved import reserved_in
from .base import HLObject
from .chunk_access import ChunkAccess
from .dims import DimensionManager, is_scale, make_scale
from .views import AsStrView, AsTypeView, FieldsView, select_fields, split_fields, text_as_bytes

__all__ = ["Dataset"]

_SCALEOFFSET_FILTER = next(i for i, f in HDF5_FILTERS.items() if f.h5py_name == "scaleoffset")


class _RegionRefMaker:
    """``ds.regionref``: indexing it makes a :class:`RegionReference` (checked now, as h5py)."""

    def __init__(self, dataset: "Dataset"):
        self._dataset = dataset

    def shape(self, ref: RegionReference) -> tuple:
        """The shape of the dataset ``ref`` points into (h5py's ``regionref.shape``)."""
        return self._target(ref).shape

    def selection(self, ref: RegionReference) -> tuple:
        """The shape of the selection ``ref`` holds (h5py's ``regionref.selection``)."""
        return selection.select(ref.selection, self._target(ref).shape).shape

    def _target(self, ref: RegionReference) -> "Dataset":
        if not isinstance(ref, RegionReference):
            raise TypeError(f"A region reference is needed, not {type(ref).__name__}")
        return self._dataset.file[ref.path]

    def __getitem__(self, key) -> RegionReference:
        shape = self._dataset.shape
        if shape is None:
            raise ValueError("Region references need a dataset with a dataspace")
        if isinstance(key, (str, bytes)) or (isinstance(key, tuple) and any(isinstance(k, (str, bytes)) for k in key)):
            raise TypeError("Region references select elements, not fields")  # h5py's type
        selection.select(key, shape)  # refuses a bad key now, with h5py's error
        return RegionReference("/" + self._dataset._path, key)


class Dataset(ChunkAccess, HLObject):
    """A chunked N-d array with h5py's ``Dataset`` API."""

    @property
    def _io(self):
        self._check_open()
        return self._state.array_io(self._path)

    @property
    def _meta(self):
        return self._io.meta

    # ---------------------------------------------------------- properties
    @property
    def shape(self) -> tuple | None:
        meta = self._meta
        return None if meta.empty else meta.h5_shape

    @property
    def dtype(self) -> np.dtype:
        return self._meta.h5_dtype

    @property
    def ndim(self) -> int:
        return len(self._meta.h5_shape)

    @property
    def size(self) -> int | None:
        meta = self._meta
        return None if meta.empty else int(np.prod(meta.h5_shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return (self.size or 0) * self.dtype.itemsize

    @property
    def chunks(self):
        """The chunk shape, or None where h5py's dataset is not chunked (h5py API).

        None for a dataset h5py makes contiguous (created without ``chunks=``,
        ``maxshape=`` or a filter), for scalar and empty datasets, and for the
        contiguous or compact datasets of an HDF5 file opened in place.  The
        store still holds every dataset in chunks: code of this package uses
        that grid (``_meta.h5_chunks``, ``chunk_size``), never this property.
        """
        if self._h5py_layout() != "chunked":
            return None
        return self._meta.h5_chunks

    def _h5py_layout(self) -> str:
        """'chunked', 'contiguous' or 'compact': the HDF5 layout h5py reports
        (``id.get_create_plist().get_layout()``) of this dataset."""
        meta = self._meta  # (checks the file is open)
        in_place = self._hdf5_view().get("layout")
        if in_place in ("contiguous", "compact"):
            return in_place
        if self._state.reserved(self._path).get("h5py_contiguous") or not meta.h5_chunks:
            return "contiguous"
        return "chunked"

    def _hdf5_view(self) -> dict:
        """What h5py reports of a dataset of an HDF5 file opened in place (reserved ``hdf5``)."""
        return self._state.reserved(self._path).get("hdf5") or {}

    @property
    def maxshape(self) -> tuple | None:
        meta = self._meta
        return None if meta.empty else meta.h5_maxshape

    @property
    def regionref(self) -> "_RegionRefMaker":
        """``ds.regionref[key]``: a region reference to that selection (h5py API)."""
        self._check_open()
        return _RegionRefMaker(self)

    @property
    def fillvalue(self):
        meta = self._meta
        fill = meta.fill_value
        reserved = reserved_in(meta.attributes, self._path)
        if "h5py_fill_value" in reserved:  # fill_time="never": Zarr's fill value is zero, h5py's this
            fill = decode_scalar(reserved["h5py_fill_value"], meta.dtype)
        if meta.subshape:  # every element of the subarray holds the fill value
            return np.full(meta.subshape, fill, dtype=meta.dtype)
        if stored_form(meta.dtype) in ("vlen", "ref"):
            return None  # as h5py reports for variable-length sequences and references
        if stored_form(meta.dtype) == "compound":
            fill = from_stored(fill, meta.dtype)
            if holds_refs_dtype(self.dtype):  # h5py: None for each reference member, plain objects
                fill = map_refs(np.array(fill, self.dtype)[()], lambda _: None, holds_refs_dtype, np.dtype("O"))
            return fill
        return text_as_bytes(fill) if check_vlen_dtype(meta.dtype) is str else fill

    @property
    def shards(self) -> tuple | None:
        """The shard shape of a sharded dataset (``create_dataset(shards=...)``), else None.

        As ``zarr.Array.shards``; ``chunks`` is then the inner chunk shape."""
        meta = self._meta
        if meta.sharding is None:
            return None
        return meta.sharding.shards[:len(meta.sharding.shards) - len(meta.subshape)]  # as h5py's shape shows

    @property
    def compression(self):
        hdf5 = self._hdf5_view()
        if "compression" in hdf5:  # a dataset of an HDF5 file: its filters as h5py names them
            return hdf5["compression"] or None
        return h5py_view(self._meta.codecs, self._meta.attributes).compression

    @property
    def compression_opts(self):
        hdf5 = self._hdf5_view()
        if "compression" in hdf5:
            if "szip" in hdf5:  # h5py's ('nn' or 'ec', pixels per block)
                mask, pixels = hdf5["szip"].split(",")
                return mask, int(pixels)
            return int(hdf5["gzip_level"]) if "gzip_level" in hdf5 else None
        return h5py_view(self._meta.codecs, self._meta.attributes).compression_opts

    @property
    def filter_ids(self) -> tuple:
        """The HDF5 filter ids of the dataset's codecs, in pipeline order (h5py 3.16)."""
        return tuple(i for i, _ in self._hdf5_filters())

    @property
    def filter_names(self) -> tuple:
        """HDF5's names of those filters ('deflate' for gzip), as h5py 3.16 gives them."""
        return tuple(name for _, name in self._hdf5_filters())

    def _hdf5_filters(self) -> tuple:
        """((HDF5 filter id, name), ...) of the codecs asked for (the default checksum left out);
        of an HDF5 file's dataset, its filter pipeline as h5py reports it."""
        hdf5 = self._hdf5_view()
        if "filter_ids" in hdf5:
            ids = [int(i) for i in hdf5["filter_ids"].split(",") if i]
            return tuple(zip(ids, json.loads(hdf5.get("filter_names") or "[]")))
        filters = hdf5_filters(asked_codecs(self._meta.codecs, self._meta.attributes))
        if self.scaleoffset is not None:  # HDF5 runs it before shuffle and compression
            filters = ((_SCALEOFFSET_FILTER, "scaleoffset"), *filters)
        return filters

    @property
    def shuffle(self) -> bool:
        filters = self._hdf5_view().get("filters")
        return "shuffle" in filters.split(",") if filters is not None else h5py_view(self._meta.codecs, self._meta.attributes).shuffle

    @property
    def fletcher32(self) -> bool:
        filters = self._hdf5_view().get("filters")
        return "fletcher32" in filters.split(",") if filters is not None \
            else h5py_view(self._meta.codecs, self._meta.attributes).fletcher32

    @property
    def scaleoffset(self):
        """h5py's scaleoffset: integers, the bits kept (0: chosen per chunk); floats,
        the decimal digits kept; None without the filter."""
        hdf5 = self._hdf5_view()
        if "scaleoffset" in hdf5:  # an HDF5 file's dataset opened in place
            return int(hdf5["scaleoffset"])
        return reserved_in(self._meta.attributes, self._path).get("scaleoffset")

    @property
    def is_virtual(self) -> bool:
        return False

    @property
    def dims(self) -> DimensionManager:
        return DimensionManager(self)

    @property
    def is_scale(self) -> bool:
        """True when this dataset is a dimension scale (h5py)."""
        return is_scale(self)

    def make_scale(self, name: str = "") -> None:
        """Make this dataset a dimension scale named ``name`` (h5py)."""
        make_scale(self, name)

    # -------------------------------------------------------------- reading
    def __getitem__(self, key):
        if isinstance(key, RegionReference):
            if key.path != "/" + self._path:
                raise ValueError("Region reference must point to this dataset")
            key = key.selection
        io = self._io
        meta = io.meta
        if meta.empty:
            return self._empty_access(key)
        names, key = split_fields(key)
        out = self._read(io, key)
        if stored_form(meta.dtype) is not None:
            out = from_stored(out, meta.dtype)  # path strings -> References, bytes -> arrays or records
        if names:
            out = select_fields(out, names, meta.h5_dtype)
        if meta.dtype.metadata and stored_form(meta.dtype) is None:
            if check_vlen_dtype(meta.dtype) is str:
                out = text_as_bytes(out)  # h5py 3 returns variable-length strings as bytes
            if isinstance(out, np.ndarray) and out.dtype.metadata != meta.dtype.metadata and not names:
                out = out.view(meta.dtype)  # keep h5py's marks (string encoding, vlen, enum)
        return out

    def _read(self, io, key):
        meta = io.meta
        if meta.subshape:
            return self._read_subarray(io, key)
        hit = selection.basic_single_chunk(key, meta.shape, meta.chunks)
        if hit is not None:
            return io.read_chunk_part(*hit)
        sel = selection.select(key, meta.shape)
        out = io.read(sel, self.njobs)
        if sel.shape == () and not (key is Ellipsis and meta.shape == ()):
            return out[()]  # h5py returns numpy scalars for all-int keys and ds[()]
        return out

    def _read_subarray(self, io, key) -> np.ndarray:
        """A read of a subarray dataset: each element's subarray fills the
        trailing axes of the result, as h5py gives it."""
        meta = io.meta
        sel = selection.select(key, meta.h5_shape).with_trailing(meta.subshape)
        return io.read(sel, self.njobs)

    def _subarray_value(self, value, sel) -> np.ndarray:
        """A write value for a subarray dataset, with h5py's TypeErrors: its last
        axes must be the subarray's (no scalar broadcasting)."""
        sub = self._meta.subshape
        arr = convert_as_hdf5(value, self._meta.dtype)
        if arr.ndim == 0:
            raise TypeError("Scalar broadcasting is not supported for array dtypes")
        if arr.shape[arr.ndim - len(sub):] != sub:
            raise TypeError("When writing to array types, last N dimensions have to match "
                            f"(got {arr.shape[max(arr.ndim - len(sub), 0):]}, but should be {sub})")
        return selection.broadcast_value(arr, sel.with_trailing(sub))

    def _empty_access(self, key):
        if key == () or key is Ellipsis:
            return Empty(self.dtype)
        raise ValueError("Illegal slicing argument for an empty dataspace")

    def asstr(self, encoding: str | None = None, errors: str = "strict") -> AsStrView:
        """A view reading string data decoded to ``str`` (h5py's ``Dataset.asstr``).

        TypeError for a dataset whose dtype is not a string type, as h5py.
        """
        info = check_string_dtype(self.dtype)
        if info is None:
            raise TypeError("dset.asstr() can only be used on datasets with an HDF5 string datatype")
        return AsStrView(self, encoding or info.encoding, errors)

    def fields(self, names) -> FieldsView:
        """A view reading only some fields of a compound dataset (h5py's ``Dataset.fields``).

        ValueError for a non-compound dataset or a name the type lacks, as h5py.
        """
        return FieldsView(self, names)

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("Dataset.__array__ received copy=False but memory allocation cannot be avoided on read")
        out = np.asarray(self[...])
        return out if dtype is None else convert_as_hdf5(out, np.dtype(dtype), reading=True)

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("Attempt to take len() of scalar dataset")
        return shape[0]

    def len(self) -> int:
        return len(self)

    def __iter__(self):
        shape = self.shape
        if not shape:
            raise TypeError("Can't iterate over a scalar dataset")
        for i in range(shape[0]):
            yield self[i]

    def astype(self, dtype) -> "AsTypeView | Dataset":
        """A view reading the data converted to ``dtype`` as HDF5 does (h5py's ``Dataset.astype``).

        The dataset itself when ``dtype`` is its dtype; TypeError for numpy's
        variable-width strings (``"T"``) from a dataset that holds no text, as h5py 3.
        """
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind == "T" and check_string_dtype(self.dtype) is None:
            raise TypeError(f"dset.astype({dtype}) can only be used on datasets with an HDF5 string datatype")
        return AsTypeView(self, dtype)

    def read_direct(self, dest: np.ndarray, source_sel=None, dest_sel=None) -> None:
        """Read into an existing array, as ``h5py.Dataset.read_direct``."""
        if not isinstance(dest, np.ndarray) or not dest.flags.c_contiguous:
            raise TypeError("dest must be a C-contiguous numpy array")
        if not dest.flags.writeable:
            raise TypeError("dest must be writeable")
        if self.shape is None:
            raise TypeError("An empty dataset (no dataspace) has nothing to read")
        if check_opaque_dtype(self.dtype):  # HDF5 reads an opaque type only into that very type
            error = conversion_path_error(self.dtype, dest.dtype)
            if error is not None or (dest.dtype.kind in "Mm" and not check_opaque_dtype(dest.dtype)):
                raise error or no_conversion_path(dest.dtype)  # a datetime64 without the mark: no HDF5 type
        source = () if source_sel is None else source_sel
        target_key = () if dest_sel is None else dest_sel
        if self._read_into(source, dest, target_key):
            return
        data = self[source]
        target = dest[target_key]
        if np.shape(target) != np.shape(data):
            try:
                np.broadcast_shapes(np.shape(data), np.shape(target))
            except ValueError:
                raise TypeError(f"Can't broadcast {np.shape(data)} -> {np.shape(target)}") from None
        # an enum read into bool: by member name, as HDF5
        by_name = bool_enum_conversion(np.asarray(data), dest.dtype, reading=True)
        dest[target_key] = data if by_name is None else by_name

    def _read_into(self, source, dest: np.ndarray, target_key) -> bool:
        """Read ``self[source]`` straight into ``dest[target_key]`` (no intermediate
        array) when that is a view of ``dest``, C-contiguous, of the dataset's plain
        dtype and the selection's shape.  False (nothing read) otherwise; errors
        come in h5py's order (the source selection's first)."""
        io = self._io
        meta = io.meta
        if (meta.empty or meta.shape == () or meta.subshape or dest.dtype != meta.dtype or meta.dtype.metadata
                or meta.dtype.names or meta.dtype.kind == "O" or split_fields(source)[0]):
            return False
        sel = selection.select(source, meta.shape)
        target = dest[target_key]
        if (not isinstance(target, np.ndarray) or not np.may_share_memory(target, dest)
                or not target.flags.c_contiguous or target.shape != sel.shape or not sel.size):
            return False  # e.g. a list or mask in dest_sel: numpy made a copy
        io.read(sel, self.njobs, out=target.reshape(sel.mshape))
        return True

    def iter_chunks(self, sel=None):
        """An iterator giving, per chunk the selection touches, the slices of that
        part (h5py API); a bad selection raises here, not when iterated."""
        if not self.shape or self.chunks is None:
            raise TypeError("Chunked dataset required")
        if sel is not None and len(sel if isinstance(sel, tuple) else (sel,)) != len(self.shape):
            raise ValueError("Invalid selection - selection region must have same rank as dataset")
        return selection.select(... if sel is None else sel, self.shape).chunk_slices(self._meta.h5_chunks)

    # -------------------------------------------------------------- writing
    def __setitem__(self, key, value) -> None:
        self._check_writable(OSError, "Can't write data")
        io = self._io
        if io.meta.empty:
            raise TypeError("Empty datasets hold no data to write")
        names, key = split_fields(key)
        if names:  # h5py writes single fields of a compound type: read, set, write back
            select_fields(np.zeros((), self.dtype), names, self.dtype)  # validates the names
            current = np.array(self[key], copy=True)
            for name in names:
                given = value.dtype.names if isinstance(value, np.ndarray) else None
                # a compound value gives the named fields its own (h5py writes only those)
                current[name] = np.asarray(value)[name] if given and name in given or len(names) > 1 else value
            value = current
        if io.meta.subshape:
            sel = selection.select(key, io.meta.h5_shape)
            io.write(sel.with_trailing(io.meta.subshape), self._subarray_value(value, sel), self.njobs)
            return
        sel = selection.select(key, io.meta.shape)
        if stored_form(io.meta.dtype) is not None:
            arr = to_stored(value, io.meta.dtype, sel.shape)
        else:
            arr = convert_as_hdf5(value, io.meta.dtype, current=lambda: self[key])
        io.write(sel, selection.broadcast_value(arr, sel), self.njobs)

    def write_direct(self, source, source_sel=None, dest_sel=None) -> None:
        """Write from an array, as ``h5py.Dataset.write_direct``."""
        source = np.asarray(source)
        if not source.flags.c_contiguous:
            raise TypeError("source must be a C-contiguous array")
        self[() if dest_sel is None else dest_sel] = source[() if source_sel is None else source_sel]

    def resize(self, size, axis=None) -> None:
        """Change the shape within ``maxshape``, as ``h5py.Dataset.resize``."""
        if self.chunks is None:  # h5py's first test, before the file's mode
            raise TypeError("Only chunked datasets can be resized (create it with chunks= or maxshape=)")
        self._check_writable(RuntimeError, "Unable to change a dataset's dimensions")
        doc = self._document()
        shape = self.shape
        if axis is not None:
            if not 0 <= axis < len(shape):
                raise ValueError(f"Invalid axis (0 to {len(shape) - 1} allowed)")
            new_shape = list(shape)
            new_shape[axis] = int(size)
            new_shape = tuple(new_shape)
        else:
            new_shape = tuple(int(s) for s in size)
        if len(new_shape) != len(shape):
            raise TypeError(f"New shape length ({len(new_shape)}) must match dataset rank ({len(shape)})")
        for n, m in zip(new_shape, self.maxshape):
            if n < 0 or (m is not None and n > m):
                raise ResizeError(
                    "Unable to change a dataset's dimensions (dimension cannot exceed the "
                    f"existing maximal size (new: {n} max: {m}))"
                )
        if new_shape == shape:
            return
        io = self._io
        new_shape += io.meta.subshape  # a subarray's axes stay whole
        if any(n < s for n, s in zip(new_shape, shape)):
            io.drop_outside(new_shape)
        doc = dict(doc)
        doc["shape"] = list(new_shape)
        self._state.set_layout(self._path, doc)

    def flush(self) -> None:
        """Store the file's metadata kept in memory (chunks are stored as they are written)."""
        self._check_open()
        self._state.flush_documents()

    def refresh(self) -> None:
        self._state.forget(self._path)

    # ---------------------------------------------------------------- misc
    def __repr__(self) -> str:
        if not self:
            return "<Closed HDF5 dataset>"
        shown = "(anonymous)" if self.name is None else '"%s"' % (self.name.rsplit("/", 1)[-1] or "/")
        return f'<HDF5 dataset {shown}: shape {self.shape}, type "{self.dtype.str}">'
