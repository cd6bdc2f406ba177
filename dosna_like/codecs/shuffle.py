"""Byte unshuffle (HDF5's shuffle filter, numcodecs' ``Shuffle``) into a destination, the GIL released.

numcodecs' ``Shuffle.decode`` holds the GIL for the whole chunk (about 10 ms
per 4 MiB), so two threads decoding shuffled chunks take turns instead of
working together.  Here each byte lane is one numpy strided copy, which runs
without the GIL and is faster than numcodecs' loop too: the lanes are read
sequentially and written with a stride of the element size.
"""
from __future__ import annotations

import numpy as np

__all__ = ["unshuffle_into"]


def unshuffle_into(src, dest: np.ndarray, elementsize: int) -> None:
    """Un-shuffle the bytes of ``src`` (``elementsize`` lanes, then any
    trailing bytes as they are) into ``dest`` of the same size.

    ``dest`` may be a strided view (a chunk's place in a larger array) when its
    item size is ``elementsize``: each lane is then written with ``dest``'s own
    strides, so a chunk lands in its place without a copy through a buffer."""
    data = np.frombuffer(src, dtype=np.uint8)
    if not dest.flags.c_contiguous:
        if dest.dtype.itemsize != elementsize or data.size != dest.nbytes:
            raise ValueError(f"shuffled data of {data.size} bytes for {dest.size} items of {elementsize} "
                             f"bytes (a strided destination takes whole items)")
        items = dest[..., None].view(np.uint8)  # (..., elementsize): the bytes of each item
        lanes = data.reshape((elementsize,) + dest.shape)
        for lane in range(elementsize):
            items[..., lane] = lanes[lane]
        return
    out = dest.reshape(-1).view(np.uint8)
    if data.size != out.size:
        raise ValueError(f"shuffled data of {data.size} bytes, expected {out.size}")
    count = data.size // elementsize
    whole = count * elementsize
    lanes = data[:whole].reshape(elementsize, count)
    items = out[:whole].reshape(count, elementsize)
    for lane in range(elementsize):
        items[:, lane] = lanes[lane]
    out[whole:] = data[whole:]
