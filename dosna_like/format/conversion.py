"""Value conversion as h5py and HDF5 do it (not as numpy casts).

Used on writes (values into a dataset's dtype), for fill values, and on reads
that change the type (``Dataset.astype`` views, ``np.asarray(ds, dtype)``).
"""
from __future__ import annotations

import numpy as np

from .dtypes import (check_enum_dtype, check_opaque_dtype, check_string_dtype, check_vlen_dtype, no_conversion_path,
                     stored_form, to_stored)

__all__ = ["bool_enum_conversion", "conversion_path_error", "convert_as_hdf5", "convert_compound_as_hdf5",
           "different_encodings", "opaque_conversion_error", "write_path_error"]


def _text_array(value, kind: type, dtype: np.dtype) -> np.ndarray:
    """An object array of ``str`` (or ``bytes``) for a variable-length string dataset."""
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value.astype(object)
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=dtype)
    for i, item in enumerate(flat.tolist()):
        if isinstance(item, (bytes, np.bytes_)):
            item = bytes(item).decode("utf-8") if kind is str else bytes(item)
        elif isinstance(item, str):  # variable-length bytes are HDF5's ASCII strings
            item = str(item) if kind is str else item.encode("ascii")
        else:
            raise TypeError(f"Can't implicitly convert {type(item).__name__} to a string")
        out[i] = item
    return out.reshape(arr.shape)


def _npy_strings(value, dtype: np.dtype) -> np.ndarray:
    """Text as numpy's variable-width strings (``StringDType``): bytes decoded as UTF-8."""
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind in "ST" or arr.dtype.kind == "U":
        return arr.astype(dtype) if arr.dtype.kind != "S" else np.char.decode(arr, "utf-8").astype(dtype)
    flat = [bytes(x).decode("utf-8") if isinstance(x, (bytes, np.bytes_)) else x for x in arr.reshape(-1).tolist()]
    return np.array(flat, dtype=dtype).reshape(arr.shape)


def convert_as_hdf5(value, dtype: np.dtype, current=None, reading: bool = False) -> np.ndarray:
    """``value`` as an array of ``dtype``, converting as HDF5 does.

    Like h5py, values that are not numpy arrays (numpy scalars included) go
    through ``np.asarray(value, dtype)`` (so a Python 300 into int8 is an
    OverflowError), while arrays are converted as HDF5 does: out-of-range
    integers saturate and floats truncate toward zero, where numpy would wrap.
    ``current``: a callable giving the values written over, for a compound
    array naming only some of the members (the others keep them, as in h5py).
    ``reading``: ``value`` was read from a dataset, so HDF5's read paths decide
    (:func:`conversion_path_error`), not the write paths.
    """
    vlen = check_vlen_dtype(dtype)
    if vlen in (str, bytes):
        return _text_array(value, vlen, dtype)
    if dtype.kind == "T":
        return _npy_strings(value, dtype)
    if stored_form(dtype) is not None:
        return to_stored(value, dtype, stored_ok=True)  # references and vlen sequences: the engine's stored form
    if dtype.kind == "S" and _is_utf8(dtype) and _text_items(value):
        # str items of fixed-length UTF-8 text: encoded, as h5py does (an object array of
        # anything but str has no path: h5py writes it as variable-length text)
        objects = np.array(value, dtype=object)
        flat = [x.encode("utf-8") if isinstance(x, str) else x for x in objects.reshape(-1).tolist()]
        return np.array(flat, dtype=dtype).reshape(objects.shape)
    if isinstance(value, np.ndarray) and _is_opaque_time(dtype):
        error = opaque_conversion_error(value.dtype, dtype, OSError("Can't write data (no appropriate function "
                                                                    "for conversion path)"))
        if error is not None:
            raise error
    if not isinstance(value, np.ndarray) or _is_opaque_time(dtype):
        # h5py converts what is not an array, numpy scalars included, with numpy (a
        # np.float64 into bool is True, a np.str_ into bytes is encoded)
        return np.asarray(value, dtype=dtype)
    arr = value
    if arr.dtype == dtype and not different_encodings(arr.dtype, dtype):  # (numpy's == ignores the marks)
        return arr
    by_name = bool_enum_conversion(arr, dtype, reading)
    if by_name is not None:
        return by_name
    error = conversion_path_error(arr.dtype, dtype) if reading else write_path_error(arr.dtype, dtype)
    if error is not None:
        raise error
    if arr.dtype.names is not None and (dtype.names is not None or dtype.kind == "c"):
        # members matched by name, as HDF5 (numpy: by position); HDF5 writes only those named
        partial = current is not None and not _members(dtype).keys() <= set(arr.dtype.names)
        return convert_compound_as_hdf5(arr, dtype, np.asarray(current()) if partial else None)
    # HDF5 converts out-of-range values without a word (integers saturate, floats
    # overflow to infinity), and so does h5py; numpy's cast warnings would be
    # noise printed from inside the library
    with np.errstate(over="ignore", invalid="ignore"):
        return _convert_array(arr, dtype)


_BOOL_NAMES = frozenset({"FALSE", "TRUE"})  # h5py's names of HDF5's enum for numpy bool


def bool_enum_conversion(arr: np.ndarray, dtype: np.dtype, reading: bool) -> np.ndarray | None:
    """A bool array as an enum ``dtype``, or an enum array as bool, as HDF5 converts them;
    None for any other pair of types.

    h5py hands a bool array to HDF5 as the enum ``{FALSE: 0, TRUE: 1}``, and HDF5 converts
    one enum into another by member name, which it defines when every source name is one
    of the destination's: a bool array into an enum holding ``FALSE`` and ``TRUE`` takes
    their values; an enum whose members are among ``FALSE`` and ``TRUE`` reads as bool by
    name (``reading``: ``arr`` was read from a dataset; an array written keeps no enum type
    to h5py, only its integers).  Any other pair is OSError (no conversion path): h5py 3.16
    writes or reads values there that depend on the order of the member names, not on their
    meaning.  A value that is no member of the source enum is OSError too (HDF5 gives all ones).
    """
    target = check_enum_dtype(dtype)
    source = check_enum_dtype(arr.dtype)
    no_path = OSError(f"Can't {'read' if reading else 'write'} data (no appropriate function for conversion path)")
    if arr.dtype.kind == "b" and target is not None:
        if not _BOOL_NAMES <= target.keys():
            raise no_path
        return np.where(arr, target["TRUE"], target["FALSE"]).astype(dtype)
    if not reading or dtype.kind != "b" or source is None:
        return None
    if not source.keys() <= _BOOL_NAMES:
        raise no_path
    if not np.isin(arr, list(source.values())).all():
        raise OSError(f"Can't read data (a value that is no member of the enum {source})")
    return arr == source["TRUE"] if "TRUE" in source else np.zeros(arr.shape, bool)


def _convert_array(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The numeric part of :func:`convert_as_hdf5` (numpy warnings silenced by the caller)."""
    if dtype.kind in "iu" and arr.dtype.kind in "iuf":
        info = np.iinfo(dtype)
        if arr.dtype.kind == "f":
            arr = np.trunc(arr)
            arr = np.where(np.isnan(arr), 0, arr)
            # clip in float, then map values that rounded up past the limit
            clipped = np.clip(arr, float(info.min), float(info.max))
            out = np.asarray(clipped.astype(dtype))  # float(max) may round past the limit: fixed below
            out[clipped >= float(info.max)] = info.max
            return out
        if np.can_cast(arr.dtype, dtype):
            return arr.astype(dtype)
        return np.clip(arr, info.min, info.max).astype(dtype)
    if dtype.kind == "b" and arr.dtype.kind not in "biu":
        raise TypeError(f"No conversion path for dtype: {arr.dtype!r} to {dtype!r}")
    if arr.dtype.kind in "USO" and dtype.kind in "biufc":
        return arr.astype(dtype)  # ValueError for text that is not a number, as h5py
    return arr.astype(dtype)


# ------------------------------------------------- reads in another type
# The HDF5 datatype classes h5py stores numpy dtypes as, and which classes a
# read can convert between (HDF5's conversion paths, as h5py 3 reports them).
_PATHS = {
    "integer": {"integer", "float"},  # bool and enums are HDF5 enums over integers
    "float": {"integer", "float"},
    "string": {"string"},
    "vlen-string": {"string", "vlen-string", "object"},
    "compound": {"compound"},
}


def _hdf5_class(dtype: np.dtype) -> str | None:
    """The HDF5 class h5py stores ``dtype`` as; None for classes not checked here
    (opaque, references, variable-length sequences)."""
    if dtype.subdtype is not None:  # an array member converts as its base type
        dtype = dtype.subdtype[0]
    vlen = check_vlen_dtype(dtype)
    if vlen is not None:
        return "vlen-string" if vlen in (str, bytes) else None
    if dtype.names is not None or dtype.kind == "c":
        return "compound"  # h5py stores complex numbers as a compound of members r, i
    kinds = {"b": "integer", "i": "integer", "u": "integer", "f": "float", "S": "string", "O": "object"}
    return kinds.get(dtype.kind)


def _members(dtype: np.dtype) -> dict:
    """Member name -> member dtype of a compound (complex: ``r`` and ``i``, as h5py)."""
    if dtype.kind == "c":
        part = np.dtype(f"{dtype.byteorder}f{dtype.itemsize // 2}")
        return {"r": part, "i": part}
    return {name: dtype.fields[name][0] for name in dtype.names}


def conversion_path_error(source: np.dtype, target: np.dtype, verb: str = "read") -> Exception | None:
    """The error h5py raises reading ``source`` data as ``target`` (``verb="write"``:
    writing an array of ``source`` into a ``target`` dataset); None when HDF5 converts.

    Mirrors h5py 3 on ``ds.astype(target)[...]``: a dtype h5py cannot map
    (``U``, datetimes) is a TypeError, so is variable-length text to a
    non-text type; any other pair of classes without an HDF5 conversion path
    (numbers to text, text to numbers, floats to bool, scalars to compounds)
    is an OSError.  Compounds convert member by member, matched by name.
    """
    if _is_opaque_time(source):
        if target == source:  # a read as the dataset's own type, with the mark or without
            return None
        return opaque_conversion_error(target, source, OSError(f"Can't {verb} data (no appropriate function for "
                                                               "conversion path)"))
    if target.kind in "UMm":
        return TypeError(f"No conversion path for dtype: {target!r}")
    if target.kind == "T":  # numpy's variable-width strings read any HDF5 string
        if _hdf5_class(source) in ("string", "vlen-string"):
            return None
        return TypeError(f"dset.astype({target}) can only be used on datasets with an HDF5 string datatype")
    if source.subdtype is not None or target.subdtype is not None:
        # HDF5 converts an array type only to an array type of the same shape
        if source.shape != target.shape or source.subdtype is None or target.subdtype is None:
            return OSError(f"Can't {verb} data (no appropriate function for conversion path)")
        return conversion_path_error(source.base, target.base, verb)
    source_class, target_class = _hdf5_class(source), _hdf5_class(target)
    if source_class not in _PATHS:
        return None
    no_path = OSError(f"Can't {verb} data (no appropriate function for conversion path)")
    if target_class not in _PATHS[source_class]:
        if source_class == "vlen-string":
            return TypeError("Operation not defined for data type class")
        return no_path
    if source_class == "float" and (target.kind == "b" or check_enum_dtype(target) is not None):
        return no_path  # HDF5 stores bool as an enum, and has no path from floats into one
    if source_class == "compound":
        source_members, target_members = _members(source), _members(target)
        for name in source_members.keys() & target_members.keys():
            if conversion_path_error(source_members[name], target_members[name], verb) is not None:
                return no_path
    return None


def write_path_error(source: np.dtype, target: np.dtype, create: bool = False) -> Exception | None:
    """The error h5py raises writing an array of ``source`` into a dataset of ``target``
    for want of an HDF5 conversion path (none between numbers and text, from a number
    into complex, which h5py stores as a compound, or from floats into bool); None
    when there is one.  The one place of these rules, for ``ds[...] = array`` and
    (``create=True``) ``create_dataset(data=array, dtype=target)``.

    h5py's ``__setitem__`` converts any value but a compound array into a compound
    dataset with numpy first (floats fill every member); ``create_dataset`` hands
    the array to HDF5 as it is (numbers into a compound: no path, OSError).  A
    compound array (complex numbers are a compound of ``r``, ``i`` to h5py) is
    written through the dataset's members it names: none in common is h5py's
    ValueError for an empty type.
    """
    if target.names is not None and source.names is None and not create:
        return None
    if source.kind == "U":
        return TypeError(f"No conversion path for dtype: {source!r}")
    if different_encodings(source, target):  # ASCII and UTF-8 fixed-length text: no path either way
        return OSError("Can't write data (no appropriate function for conversion path)")
    if _hdf5_class(target) == "vlen-string":  # h5py converts into variable-length text itself: text only
        text = _hdf5_class(source) in ("string", "vlen-string", "object")
        return None if text else TypeError("Operation not defined for data type class")
    if source.kind == "O" and _hdf5_class(target) in ("integer", "float", "compound", "string"):
        # h5py writes an object array as variable-length text: no path into numbers or fixed text
        return OSError("Can't write data (no appropriate function for conversion path)")
    compounds = _hdf5_class(source) == _hdf5_class(target) == "compound"
    if source.subdtype is None and target.subdtype is None and compounds \
            and not _members(source).keys() & _members(target).keys():
        return ValueError("Size must be positive (size must be positive)")
    if source.kind in "biufcSV":
        return conversion_path_error(source, target, "write")
    return None


def _member_values(data: np.ndarray, name: str) -> np.ndarray:
    if data.dtype.kind == "c":
        return data.real if name == "r" else data.imag
    return data[name]


def convert_compound_as_hdf5(data: np.ndarray, dtype: np.dtype, base: np.ndarray | None = None) -> np.ndarray:
    """Compound (or complex) ``data`` as compound (or complex) ``dtype``, as HDF5 converts.

    Members are matched by name, not position (numpy's structured casts go by
    position); target members the source lacks are zero, as h5py reads them,
    or ``base``'s (the values a write goes over).
    Check the pair with :func:`conversion_path_error` first.
    """
    data = np.asarray(data)
    out = np.zeros(data.shape, dtype) if base is None else np.array(base, dtype=dtype)
    source_members, target_members = _members(data.dtype), _members(dtype)
    for name, member in target_members.items():
        if name not in source_members:
            continue
        values = _member_values(data, name)
        base = member.subdtype[0] if member.subdtype is not None else member
        if base.names is not None or (base.kind == "c" and values.dtype.names is not None):
            converted = convert_compound_as_hdf5(values, base)
        else:
            converted = convert_as_hdf5(values, base)
        if dtype.kind == "c":
            setattr(out, "real" if name == "r" else "imag", converted)
        else:
            out[name] = converted
    return out


def _is_opaque_time(dtype: np.dtype) -> bool:
    """A datetime64 or timedelta64 marked ``opaque_dtype``: HDF5 stores it as opaque bytes."""
    return dtype.kind in "Mm" and check_opaque_dtype(dtype)


def opaque_conversion_error(source: np.dtype, target: np.dtype, no_path: Exception) -> Exception | None:
    """The error h5py raises converting an array of ``source`` to or from an opaque-marked
    datetime type ``target`` (None when it converts): HDF5 converts an opaque type only to
    itself, so a datetime64 without the mark (no HDF5 type at all) is a TypeError and any
    other type, another unit included, has no path (``no_path``: OSError on reads and
    writes, ValueError for a fill value)."""
    if source == target and (check_opaque_dtype(source) or not _is_opaque_time(target)):
        return None
    if source.kind in "UMm" and not check_opaque_dtype(source):
        return no_conversion_path(source)
    return no_path


def _text_items(value) -> bool:
    """Not an array (items converted one by one), or an object array holding only str."""
    if not isinstance(value, (np.ndarray, np.generic)):
        return True
    value = np.asarray(value)
    return value.dtype.kind == "O" and all(isinstance(x, str) for x in value.reshape(-1).tolist())


def different_encodings(source: np.dtype, target: np.dtype) -> bool:
    """Both fixed-length text, one ASCII and the other UTF-8 (HDF5 converts neither way)."""
    return source.kind == target.kind == "S" and _is_utf8(source) != _is_utf8(target)


def _is_utf8(dtype: np.dtype) -> bool:
    """A fixed-length string dtype marked UTF-8 (``string_dtype("utf-8", n)``)."""
    info = check_string_dtype(dtype)
    return info is not None and info.encoding == "utf-8"
