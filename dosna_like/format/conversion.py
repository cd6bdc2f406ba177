"""Value conversion on write, as h5py and HDF5 do it (not as numpy casts)."""
from __future__ import annotations

import numpy as np

from .dtypes import check_vlen_dtype




def _text_array(value, kind: type, dtype: np.dtype) -> np.ndarray:
    """An object array of ``str`` (or ``bytes``) for a variable-length string dataset."""
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value.astype(object)
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=dtype)
    for i, item in enumerate(flat.tolist()):
        if isinstance(item, (bytes, np.bytes_)):
            item = bytes(item).decode("utf-8") if kind is str else bytes(item)
        elif isinstance(item, str):
            item = str(item) if kind is str else item.encode("utf-8")
        else:
            raise TypeError(f"Can't implicitly convert {type(item).__name__} to a string")
        out[i] = item
    return out.reshape(arr.shape)


def convert_for_write(value, dtype: np.dtype) -> np.ndarray:
    """``value`` as an array of ``dtype``, converting as HDF5 does.

    Like h5py, values that are not numpy arrays go through
    ``np.asarray(value, dtype)`` (so a Python 300 into int8 is an
    OverflowError), while arrays are converted as HDF5 does: out-of-range
    integers saturate and floats truncate toward zero, where numpy would wrap.
    """
    vlen = check_vlen_dtype(dtype)
    if vlen in (str, bytes):
        return _text_array(value, vlen, dtype)
    if not isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value, dtype=dtype)
    arr = np.asarray(value)
    if arr.dtype == dtype:
        return arr
    if dtype.kind in "iu" and arr.dtype.kind in "iuf":
        info = np.iinfo(dtype)
        if arr.dtype.kind == "f":
            arr = np.trunc(arr)
            arr = np.where(np.isnan(arr), 0, arr)
            # clip in float, then map values that rounded up past the limit
            clipped = np.clip(arr, float(info.min), float(info.max))
            with np.errstate(invalid="ignore"):  # float(max) may round past the limit
                out = np.asarray(clipped.astype(dtype))
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
