"""h5py's ``scaleoffset=``: HDF5's scale-offset filter as a quantization on write.

Why this form: HDF5's filter packs each chunk into fewer bits relative to the
chunk's minimum, a byte layout no Zarr tool decodes.  Here each chunk is
quantized when it is encoded, to exactly the values an HDF5 reader of the
same chunk gets back, and stored as plain values with the array's ordinary
codecs; the setting lives in the reserved entry (``"scaleoffset"``).  So
zarr-python, dask and xarray read the same numbers h5py would, and reading
costs nothing extra.

The rule, as HDF5 2.0 applies it per chunk (its fill value always counts as
defined under h5py, 0 unless ``fillvalue=`` is given; edge chunks are padded
with it):

- integers, ``minbits`` 0 (``scaleoffset=True``): as many bits as the chunk's
  range needs, so nothing changes.  ``minbits`` b: ``min + ((x - min) mod 2**b)``
  with ``min`` the smallest value that is not the fill value; elements equal to
  the fill value, and those whose low b bits are all ones, read as the fill
  value.  b at least the type's width changes nothing.
- floats, ``D`` decimal digits: ``k = round_half_away(x*10**D - min*10**D)``,
  read as ``k / 10**D + min``, in the type's own precision; elements within
  ``10**-D`` of the fill value are left out of the minimum and read as the
  fill value.  A chunk whose range does not fit the type's integer width, or
  with an infinity, or a NaN first, is stored as it is (HDF5 keeps it at full
  precision).  Any other NaN is a ValueError: HDF5 would store the chunk's
  minimum in its place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

__all__ = ["ScaleOffset", "check_scaleoffset", "scaleoffset_runtime"]


def check_scaleoffset(scaleoffset, dtype: np.dtype, fletcher32) -> int | None:
    """The stored setting for ``create_dataset(scaleoffset=...)``, with h5py's checks
    (``h5py._hl.filters.fill_dcpl``): negative ValueError, True on floats
    ValueError, anything but integers and floats TypeError, with fletcher32
    ValueError; True on integers is 0 (bits chosen per chunk)."""
    if scaleoffset is None:
        return None
    if scaleoffset < 0:
        raise ValueError("scale factor must be >= 0")
    if dtype.kind == "f":
        if scaleoffset is True:
            raise ValueError("integer scaleoffset must be provided for floating point types")
    elif dtype.kind in "iu":
        if scaleoffset is True:
            scaleoffset = 0
    else:
        raise TypeError("scale/offset filter only supported for integer and floating-point types")
    if fletcher32:
        raise ValueError("fletcher32 cannot be used with potentially lossy scale/offset filter")
    # h5py lets these through; HDF5 then refuses to create the dataset
    if (dtype.metadata or {}).get("enum") is not None:
        raise ValueError("Unable to synchronously create dataset (datatype class not supported by scaleoffset)")
    if dtype.kind == "f" and dtype.itemsize not in (4, 8):
        raise ValueError("Unable to synchronously create dataset (cannot find matched memory datatype)")
    return int(scaleoffset)  # HDF5 keeps an unsigned int: 2.5 is 2


@dataclass(frozen=True)
class ScaleOffset:
    """One array's quantization: ``factor`` (integers: minbits, 0 for automatic;
    floats: decimal digits) and the fill value HDF5 reserves a code for."""

    factor: int
    fill: object

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """The values an HDF5 reader gets back for ``chunk`` (``chunk`` itself when
        the filter changes nothing)."""
        if chunk.dtype.kind == "f":
            return _quantize_float(chunk, self.factor, self.fill)
        return _quantize_int(chunk, self.factor, self.fill)


def scaleoffset_runtime(reserved: Mapping, dtype: np.dtype, fill_value) -> ScaleOffset | None:
    """The :class:`ScaleOffset` of an array whose reserved entry asks for one (or that
    references an HDF5 dataset with the filter: its copy-on-write chunks), else None."""
    factor = reserved.get("scaleoffset", (reserved.get("hdf5") or {}).get("scaleoffset"))
    if factor is None or dtype.kind not in "iuf":
        return None
    return ScaleOffset(int(factor), fill_value)


def _quantize_int(chunk: np.ndarray, minbits: int, fill) -> np.ndarray:
    width = chunk.dtype.itemsize * 8
    if minbits == 0 or minbits >= width:
        return chunk  # the bits the chunk's range needs, or all of them: lossless
    native = chunk.dtype.newbyteorder("=")
    flat = np.ascontiguousarray(chunk, dtype=native).reshape(-1)
    is_fill = flat == fill
    if is_fill.all():
        return chunk
    lowest = flat[~is_fill].min()
    unsigned = np.dtype(f"u{chunk.dtype.itemsize}")
    offset = np.array(lowest, dtype=native).view(unsigned)
    mask = unsigned.type((1 << minbits) - 1)
    code = (flat.view(unsigned) - offset) & mask  # wraps as HDF5's unsigned arithmetic does
    out = (code + offset).view(native)
    out[is_fill | (code == mask)] = fill
    return out.reshape(chunk.shape)


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """C's ``lround`` on integral-range values, in their own float type."""
    size = np.abs(values)
    whole = np.floor(size)
    whole += (size - whole) >= 0.5
    return np.copysign(whole, values)


def _ceil_log2(n: int) -> int:
    return (n - 1).bit_length() if n > 0 else 0


def _quantize_float(chunk: np.ndarray, digits: int, fill) -> np.ndarray:
    native = chunk.dtype.newbyteorder("=")
    kind = native.type
    width = native.itemsize * 8
    flat = np.ascontiguousarray(chunk, dtype=native).reshape(-1)
    scale = kind(10.0 ** digits)
    fill = kind(fill)
    with np.errstate(all="ignore"):
        # HDF5 finds the range comparing in double, and marks fill elements in the type
        near_for_range = np.abs((flat - fill).astype(np.float64)) < 10.0 ** -digits
        near = np.abs(flat - fill) < kind(10.0 ** -digits)
        candidates = flat[~near_for_range]
        if candidates.size == 0:
            lowest = highest = kind(0)
        elif np.isnan(candidates[0]):  # C's comparisons never replace a NaN first value
            lowest = highest = candidates[0]
        else:
            lowest, highest = np.nanmin(candidates), np.nanmax(candidates)
        spread = highest * scale - lowest * scale
        if _round_half_away(np.array(spread)) > 2.0 ** (width - 1):
            return chunk  # the range exceeds the integer width: stored at full precision
        if np.isfinite(spread):
            span = int(_round_half_away(np.array(spread))) + 1
        else:
            span = 2 ** 63 + 1  # llround of NaN or infinity gives LLONG_MIN
        minbits = _ceil_log2(span + 1)  # one code more: the fill value's
        if minbits == width:
            return chunk  # full precision: stored as it is
        if minbits > width:
            raise ValueError(f"scaleoffset cannot store this chunk of {chunk.dtype} (a NaN or infinity "
                             "first and no finite range; HDF5's result is undefined)")
        shifted = flat * scale - lowest * scale
        bad = ~near & ~np.isfinite(shifted)
        if bad.any():
            raise ValueError(f"scaleoffset={digits} cannot store {flat[bad][0]!r} (HDF5 would store the "
                             f"chunk's minimum {lowest!r} in its place)")
        out = _round_half_away(shifted).astype(native) / scale + lowest
    out[near] = fill
    return out.reshape(chunk.shape)
