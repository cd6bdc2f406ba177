"""``create_dataset`` arguments -> array metadata, with h5py's checks and defaults.

Mirrors ``h5py._hl.dataset.make_new_dset`` and ``h5py._hl.filters``: float32
when neither dtype nor data is given, data reshaped to a compatible shape,
chunk shapes checked against the shape and maxshape, gzip levels 0-9.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..codecs.chains import CHECKSUM_MARK, build_codecs, with_checksum
from ..codecs.scaleoffset import check_scaleoffset
from ..config import get_config
from ..errors import H5pyDeprecationWarning
from ..format import dtypes
from ..format.conversion import convert_as_hdf5, different_encodings, opaque_conversion_error, write_path_error
from ..format.documents import ArrayMeta
from ..format.dtypes import is_empty
from ..format.grid import ceildiv
from ..format.reserved import RESERVED
from ..format.sharding import ShardSpec, check_shards

__all__ = ["CHUNK_TARGET_BYTES", "FILL_TIMES", "SHARD_CHUNKS_BELOW", "SHARD_TARGET_BYTES", "default_shards",
           "guess_chunks", "guess_dtype", "new_array", "UNLIMITED_GUESS"]


CHUNK_TARGET_BYTES = 2 * 1024 * 1024  # object stores favour MB-sized objects
UNLIMITED_GUESS = 1024  # stand-in length of an unlimited or empty axis
# object storage: chunks below this are gathered into shards of about SHARD_TARGET_BYTES by default
SHARD_CHUNKS_BELOW = 1024 * 1024
SHARD_TARGET_BYTES = 8 * 1024 * 1024


def _shape_tuple(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def guess_chunks(shape: tuple, maxshape: tuple, itemsize: int,
                 target: int = CHUNK_TARGET_BYTES) -> tuple:
    """A chunk shape of at most ``target`` bytes, halving the longest axis first.

    Axes that may grow (unlimited or below their maxshape) start from at least
    ``UNLIMITED_GUESS`` so appends do not make tiny objects.
    """
    dims = []
    for s, m in zip(shape, maxshape):
        grows = m is None or m > s
        d = max(s, min(UNLIMITED_GUESS, m if m is not None else UNLIMITED_GUESS)) if grows else s
        dims.append(max(1, d))
    while math.prod(dims) * itemsize > target and max(dims) > 1:
        i = dims.index(max(dims))
        dims[i] = ceildiv(dims[i], 2)
    return tuple(dims)


def default_shards(shape: tuple, chunks: tuple, itemsize: int) -> tuple | None:
    """The shard shape a new array on object storage gets when ``shards=`` is not
    given, or None (no sharding).

    The rule: chunks of fewer than ``SHARD_CHUNKS_BELOW`` bytes (1 MiB) are
    gathered into shards of at most ``SHARD_TARGET_BYTES`` (8 MiB), grown from
    one chunk by doubling, per step, the axis holding the fewest chunks (the
    last on a tie), never past the array's extent; None when a shard would
    hold one chunk.  The caller applies it to fixed-shape arrays of plain types
    only (a resizable array is appended to in small steps, each a
    read-modify-write of a whole shard).
    """
    chunk_bytes = itemsize * math.prod(chunks)
    if not chunks or chunk_bytes >= SHARD_CHUNKS_BELOW:
        return None
    limits = [max(1, ceildiv(s, c)) for s, c in zip(shape, chunks)]
    factors = [1] * len(chunks)
    while True:
        growable = [i for i in range(len(chunks)) if factors[i] < limits[i]]
        if not growable:
            break
        i = min(reversed(growable), key=lambda k: factors[k])
        grown = min(limits[i], factors[i] * 2)
        if chunk_bytes * math.prod(factors) // factors[i] * grown > SHARD_TARGET_BYTES:
            break
        factors[i] = grown
    if math.prod(factors) == 1:
        return None
    return tuple(c * f for c, f in zip(chunks, factors))


def _check_chunks(chunks, shape: tuple, maxshape: tuple) -> tuple:
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * len(shape)  # DosNa style: one length for every axis
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != len(shape):
        raise ValueError("'chunks' must have same rank as dataset shape")
    if any(c <= 0 for c in chunks):
        raise ValueError("All chunk dimensions must be positive")
    for c, s, m in zip(chunks, shape, maxshape):
        if m is not None and c > m and c > s:
            raise ValueError(
                "Chunk shape must not be greater than data shape in any dimension. "
                f"{chunks} is not compatible with {shape}"
            )
    return chunks


def _check_maxshape(maxshape, shape: tuple) -> tuple:
    if maxshape is None:
        return shape
    maxshape = (maxshape,) if isinstance(maxshape, (int, np.integer)) or maxshape is None else tuple(maxshape)
    maxshape = tuple(None if m is None else int(m) for m in maxshape)
    if len(maxshape) != len(shape):
        raise ValueError(f"maxshape {maxshape} must have the same rank as shape {shape}")
    if any(m is not None and m < s for m, s in zip(maxshape, shape)):
        raise ValueError("Maxdims is smaller than dims")
    return maxshape


def _empty_array(dtype, shape, chunks, maxshape, compression, shuffle) -> ArrayMeta:
    """A dataset with no dataspace (h5py.Empty), stored as a 0-d array with no chunks."""
    if shape is not None or chunks not in (None, False) or maxshape is not None or compression or shuffle:
        raise TypeError("Empty datasets take no shape, chunk or filter options")
    dtype = dtypes.stored_dtype(dtype)
    return ArrayMeta(shape=(), dtype=dtype, chunks=(), fill_value=dtypes.zero_fill(dtype),
                     codecs=build_codecs(dtype), maxshape=(), empty=True)


def _shard_spec(shards, chunks: tuple) -> ShardSpec | None:
    """The sharding of a new array from ``create_dataset(shards=...)``."""
    if shards is None or shards is False:
        return None
    location = "end"
    if isinstance(shards, dict):
        unknown = set(shards) - {"shape", "index_location"}
        if unknown or "shape" not in shards:
            raise TypeError(f"shards as a dict takes 'shape' and 'index_location', not {sorted(unknown)}")
        location = shards.get("index_location", "end")
        if location not in ("start", "end"):
            raise ValueError(f"index_location must be 'start' or 'end', not {location!r}")
        shards = shards["shape"]
    return ShardSpec(check_shards(shards, chunks), index_location=location)


def _item_type(data):
    """The one type of the items of ``data`` (a scalar, nested lists and tuples,
    or an object array), else None; h5py's ``find_item_type``."""
    if isinstance(data, np.ndarray):
        if data.dtype.kind != "O" or data.dtype.metadata:
            return None
        types = {type(x) for x in data.reshape(-1).tolist()}
    elif isinstance(data, (list, tuple)):
        types = {_item_type(x) for x in data}
    else:
        return type(data)
    return types.pop() if len(types) == 1 else None


def guess_dtype(data):
    """The dtype h5py gives data of Python text or references: variable-length
    UTF-8 for ``str``, variable-length ASCII for ``bytes`` (``numpy.str_`` and
    ``numpy.bytes_`` are left to numpy, as h5py does)."""
    kind = _item_type(data)
    if kind is str:
        return dtypes.string_dtype()
    if kind is bytes:
        return dtypes.string_dtype("ascii")
    if kind is dtypes.Reference:
        return dtypes.ref_dtype
    return None


def new_array(shape=None, dtype=None, data=None, chunks=None, maxshape=None, fillvalue=None,
              compression=None, compression_opts=None, shuffle=None, scaleoffset=None,
              fletcher32=None, shards=None, checksum=None, fill_time=None, external=None, efile_prefix=None,
              virtual_prefix=None, allow_unknown_filter=False, object_storage=False, stored_chunks=None,
              **unused) -> tuple:
    """(ArrayMeta, data or None) for ``Group.create_dataset`` arguments; instead of the data,
    the error its write raises where h5py makes the dataset and then fails to write
    (an array of another type into an opaque datetime type).

    ``shards`` (beyond h5py, named as in ``zarr.create_array``): the shape of
    a shard, a whole multiple of ``chunks`` on every axis, or a dict
    ``{"shape": ..., "index_location": "end" or "start"}``; the array is then
    stored with Zarr v3's ``sharding_indexed`` codec, one object per shard,
    and ``chunks`` (with the filters) apply to the inner chunks.  Not given,
    on object storage (``object_storage``: the store's flag; S3 and other
    non-local fsspec protocols), a fixed-shape array of plain numbers with
    chunks under 1 MiB is sharded by :func:`default_shards` (shards of up to
    8 MiB); ``shards=False`` opts out.  Local directories and memory get no
    default sharding.

    ``stored_chunks`` (beyond h5py): the chunk shape a dataset h5py makes
    contiguous is stored in, instead of a guess (DosNa's ``clone`` keeps its
    source's chunk grid so ``map`` can write chunk by chunk); ignored for a
    chunked dataset.

    ``checksum`` (beyond h5py): False stores chunks without the crc32c added by
    default to codecs that check nothing (``get_config().chunk_checksum``).

    ``virtual_prefix`` and ``efile_prefix`` only say where HDF5 looks for the
    files of virtual and external datasets, which a store has none of: they are
    accepted and change nothing.  ``external=`` (raw data in files of the
    user's naming, outside the file) is HDF5 storage a store has no form for:
    ValueError.
    """
    if unused:
        raise TypeError(f"create_dataset() got unexpected keyword arguments {sorted(unused)}")
    if external:
        raise ValueError("external= (raw data in separate files) is HDF5 storage a store has no counterpart for; "
                         "the data is stored in the dataset's chunks instead when external is not given")
    reserved = _fill_time_reserved(fill_time)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind == "T":  # numpy's variable-width strings: stored as h5py stores them
            dtype = dtypes.string_dtype()
    if dtype is not None and dtype.names is not None and dtypes.check_complex_dtype(dtype) is not None:
        dtype = dtypes.check_complex_dtype(dtype)  # h5py reads a compound of members r, i as complex
    if isinstance(data, np.ndarray) and data.dtype.names is not None and dtypes.check_complex_dtype(data.dtype):
        complex_type = dtypes.check_complex_dtype(data.dtype)
        real, imag = data.dtype.names
        data = (data[real] + 1j * data[imag]).astype(complex_type)
    if isinstance(data, np.ndarray) and data.dtype.kind == "T":
        data = data.astype(object)
        dtype = dtypes.string_dtype() if dtype is None else dtype
    dtype, subshape = _split_subarray(dtype, data, fillvalue)
    if subshape and shape is None:
        raise TypeError("A subarray dtype needs a shape (an Empty dataset of one cannot be stored)")
    if is_empty(data):
        return _empty_array(dtype or data.dtype, shape, chunks, maxshape, compression, shuffle), None
    if data is None and shape is None and dtype is not None:
        # h5py 3: a dtype alone makes a dataset with no dataspace (h5py.Empty)
        return _empty_array(dtype, shape, chunks, maxshape, compression, shuffle), None
    if dtype is None and data is not None:
        dtype = guess_dtype(data)
    refused = None
    if isinstance(data, np.ndarray) and dtype == np.float16:
        data = np.asarray(data, dtype=dtype)  # h5py converts data for a float16 dataset with numpy first
    if isinstance(data, np.ndarray) and dtype is not None and dtype.kind not in "Mm" and \
            (data.dtype != dtype or different_encodings(data.dtype, dtype)):
        # h5py makes the dataset, then fails to write data HDF5 has no conversion path for
        refused = write_path_error(data.dtype, dtype, create=True)
        if refused is not None:
            data = np.zeros(data.shape, dtype)
    if data is not None and dtype is not None and refused is None:
        try:
            data = convert_as_hdf5(data, dtype)
        except (TypeError, OSError) as exc:
            # HDF5 converts as h5py writes into the dataset made, which is left: an array into
            # an opaque time type or with no conversion path (a bool array into an enum without
            # FALSE and TRUE), and items into variable-length text (numpy only makes them
            # objects), one of which is no text
            if not (isinstance(data, np.ndarray) and (dtype.kind in "Mm" or isinstance(exc, OSError))
                    or isinstance(exc, TypeError) and dtypes.is_vlen_text(dtype)):
                raise
            refused, data = exc, np.empty(np.shape(data), dtype)
    elif data is not None and not isinstance(data, np.ndarray):
        data = np.asarray(data, order="C")
    if data is None and shape is None:
        raise TypeError("One of data, shape or dtype must be specified")
    if data is not None:
        if shape is None:
            shape = data.shape
        else:
            shape = _shape_tuple(shape)
            if math.prod(shape) != data.size:
                raise ValueError("Shape tuple is incompatible with data")
            data = data.reshape(shape)
        dtype = data.dtype if dtype is None else dtype
    shape = _shape_tuple(shape)
    if dtype is None and data is None:
        warnings.warn("Creating a dataset without passing data or dtype is deprecated. Pass an explicit dtype. "
                      "Using dtype='f4' will keep the current default behaviour.", H5pyDeprecationWarning,
                      stacklevel=3)
    dtype = dtypes.stored_dtype("f4" if dtype is None else dtype)
    dtypes.to_zarr(dtype)  # refuses what the format cannot store, with h5py's TypeError
    if chunks is False and any((compression, shuffle, fletcher32, maxshape, scaleoffset)):  # h5py's test, truthiness and all
        raise ValueError("Chunked format required for given storage options")
    if chunks is False and shape != ():
        raise TypeError("'chunks' argument must be None or a sequence object")
    # h5py's layout rule (filters.fill_dcpl): chunked when chunks=True, a maxshape (even equal
    # to the shape) or a filter is given, else contiguous; a scalar is always contiguous
    contiguous_like = shape == () or (chunks is None and maxshape is None and compression is None
                                      and not shuffle and not fletcher32 and scaleoffset is None
                                      and shards in (None, False))
    maxshape = _check_maxshape(maxshape, shape)
    if shape == () and shards not in (None, False):
        raise TypeError("Scalar datasets don't support chunk/filter options")
    if shape == ():
        if chunks not in (None, False) or maxshape != () or compression is not None or shuffle or fletcher32 \
                or scaleoffset is not None:
            raise TypeError("Scalar datasets don't support chunk/filter options")
        chunks = ()
    elif contiguous_like and stored_chunks is not None:
        chunks = _check_chunks(stored_chunks, shape, maxshape)
    elif chunks in (None, True, False):
        chunks = guess_chunks(shape, maxshape, dtype.itemsize * math.prod(subshape))
    else:
        chunks = _check_chunks(chunks, shape, maxshape)
    if fillvalue is None or dtypes.stored_form(dtype) in ("ref", "vlen"):
        fill = dtypes.zero_fill(dtype)
    elif dtypes.user_dtype(dtype).names is not None and not _is_record(fillvalue):
        raise ValueError(f"Fill value {fillvalue!r} cannot be converted to the compound type")
    elif dtypes.stored_form(dtype) == "compound":
        record = np.asarray(fillvalue, dtype=dtypes.user_dtype(dtype)).reshape(1)
        fill = dtypes.to_stored(record, dtype)[0]
    elif dtypes.is_vlen_text(dtype):
        fill = convert_as_hdf5(fillvalue, dtype)[()]
    else:
        fill = np.asarray(fillvalue, dtype=dtype)[()]
        if dtype.kind in "Mm":  # HDF5 sets an opaque type's fill value only from that very type
            error = opaque_conversion_error(np.asarray(fillvalue).dtype, dtype, ValueError(
                "Unable to create dataset (no appropriate function for conversion path)"))
            if error is not None:
                raise error
    if data is not None and dtypes.stored_form(dtype) is not None:
        data = dtypes.to_stored(data, dtype, stored_ok=True)  # references, vlen sequences, records: as stored
    # a subarray dtype is no integer or float to h5py (its kind is 'V'): TypeError
    scaleoffset = check_scaleoffset(scaleoffset, np.dtype((dtype, subshape)) if subshape else dtype, fletcher32)
    if scaleoffset is not None:
        reserved["scaleoffset"] = scaleoffset
    codecs = build_codecs(dtype, compression, compression_opts, shuffle, fletcher32)
    if contiguous_like:
        reserved["h5py_contiguous"] = True
    if reserved.get("fill_time") == "never":
        # HDF5 leaves space it allocates unfilled; unwritten chunks read as zeros here
        reserved["h5py_fill_value"] = dtypes.encode_scalar(fill, dtype)
        fill = dtypes.zero_fill(dtype)
    if get_config().chunk_checksum if checksum is None else checksum:
        codecs, added = with_checksum(codecs)
        if added:
            reserved[CHECKSUM_MARK[0]] = CHECKSUM_MARK[1]
    if shards is None and object_storage and not contiguous_like and not subshape and maxshape == shape \
            and chunks and dtype.kind in "biufc" and dtypes.stored_form(dtype) is None:  # plain numbers only
        shards = default_shards(shape, chunks, dtype.itemsize)
    if subshape and shards not in (None, False):  # a shard holds whole elements: the subarray axes are whole
        if not isinstance(shards, (tuple, list, dict)) or (isinstance(shards, dict) and "shape" not in shards):
            raise TypeError(f"shards must be a shape or a dict with 'shape', not {shards!r}")
        shards = ({**shards, "shape": tuple(shards["shape"]) + subshape} if isinstance(shards, dict)
                  else tuple(shards) + subshape)
    attributes = {RESERVED: reserved} if reserved else {}
    meta = ArrayMeta(shape=shape + subshape, dtype=dtype, chunks=chunks + subshape, fill_value=fill, codecs=codecs,
                     maxshape=maxshape + subshape, attributes=attributes, subshape=subshape,
                     sharding=_shard_spec(shards, chunks + subshape))
    return meta, data if refused is None else refused


def _is_record(value) -> bool:
    """A compound value h5py takes as a fill value: a numpy record or an array of
    records (``np.array`` of a tuple is a plain array, which HDF5 cannot convert)."""
    return isinstance(value, np.void) or (isinstance(value, np.ndarray) and value.dtype.names is not None)


FILL_TIMES = ("alloc", "never", "ifset")


def _fill_time_reserved(fill_time) -> dict:
    """The reserved record of h5py's ``fill_time=`` (ValueError for anything but
    'alloc', 'never' or 'ifset', as h5py); 'ifset', the default, is not written."""
    if fill_time is None or (isinstance(fill_time, str) and fill_time == "ifset"):
        return {}
    if not isinstance(fill_time, str) or fill_time not in FILL_TIMES:
        raise ValueError("fill_time must be one of the following choices: 'alloc', "
                         f"'never' or 'ifset', but it is {fill_time}.")
    return {"fill_time": fill_time}


def _split_subarray(dtype, data, fillvalue) -> tuple:
    """(base dtype, subarray shape) of a subarray dtype (``("f4", (3, 2))``), else (dtype, ()).

    Its elements are stored as trailing axes.  As in h5py, such a dataset is
    created empty: ``data=`` has no conversion path (OSError) nor has a fill
    value (ValueError).
    """
    if dtype is None or dtype.subdtype is None:
        return dtype, ()
    if data is not None and not is_empty(data):
        raise OSError("Can't write data (no appropriate function for conversion path)")
    if fillvalue is not None:
        raise ValueError("Unable to create dataset (no appropriate function for conversion path)")
    subshape = ()
    while dtype.subdtype is not None:  # numpy keeps a subarray of subarrays nested
        dtype, inner = dtype.subdtype
        subshape += tuple(int(n) for n in inner)
    if not all(subshape):
        raise ValueError(f"Subarray dtypes need lengths of at least 1 (got {subshape})")
    return dtype, subshape
