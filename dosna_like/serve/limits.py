"""What one response may hold, and the decimated view of a large dataset.

h5web asks for whole planes (the last two axes of a dataset, or its only
axis).  A plane bigger than ``PLANE_ELEMENTS`` is shown decimated: those axes
are strided on the server, the dataset's shape in the metadata is the strided
one, and every selection the page sends is in that view's coordinates and
mapped back here.  So a 10 GB dataset costs one strided read of at most
``PLANE_ELEMENTS`` elements per plot, and the page stays consistent with what
it is told.  Any other selection larger than ``MAX_ELEMENTS`` is refused.
Everything here is pure: no I/O.
"""
from __future__ import annotations

import math
from typing import NamedTuple

__all__ = [
    "MAX_ELEMENTS", "MAX_RESPONSE_BYTES", "PLANE_ELEMENTS", "SelectionError", "TooLargeError",
    "ViewSelection", "decimation_steps", "map_selection", "view_shape",
]

PLANE_ELEMENTS = 2 ** 22  # about 2048 x 2048: what one plot shows at full resolution
MAX_ELEMENTS = 2 ** 24  # one data request
MAX_RESPONSE_BYTES = 2 ** 27  # 128 MiB, any response


class SelectionError(ValueError):
    """A selection that does not fit the dataset: HTTP 400."""


class TooLargeError(ValueError):
    """A request whose answer would be larger than the limits: HTTP 400."""


def decimation_steps(shape: tuple, limit: int = PLANE_ELEMENTS) -> tuple:
    """Per axis, the stride of the view: 1 everywhere but on the last two axes
    (or the only one) when they hold more than ``limit`` elements together."""
    shape = tuple(int(n) for n in shape)
    if not shape:
        return ()
    plane = shape[-2:]
    if math.prod(plane) <= limit:
        return (1,) * len(shape)
    step = max(1, math.ceil(math.sqrt(math.prod(plane) / limit)))
    while math.prod(-(-n // step) for n in plane) > limit:
        step += 1
    # an axis shorter than the stride keeps its length rather than collapsing to one element
    steps = tuple(step if n > step else 1 for n in plane)
    if math.prod(-(-n // s) for n, s in zip(plane, steps)) > limit:  # one axis alone is too long
        steps = tuple(max(1, math.ceil(math.prod(plane) / limit)) if n == max(plane) else 1 for n in plane)
    return (1,) * (len(shape) - len(plane)) + steps


def view_shape(shape: tuple, steps: tuple) -> tuple:
    """The shape of the decimated view: ceil(n / step) per axis."""
    return tuple(-(-int(n) // s) for n, s in zip(shape, steps))


class ViewSelection(NamedTuple):
    """A selection in view coordinates, mapped onto the dataset."""

    key: tuple  # the h5py key on the full-resolution dataset
    count: int  # elements selected


def _axis(member, length: int, step: int, full: int, axis: int):
    if isinstance(member, int):
        index = member + length if member < 0 else member
        if not 0 <= index < length:
            raise SelectionError(f"index {member} is out of range for axis {axis} of length {length}")
        return index * step, 1
    if member.step is not None and member.step <= 0:
        raise SelectionError(f"slice step must be positive on axis {axis}, not {member.step}")
    start, stop, stride = member.indices(length)
    count = len(range(start, stop, stride))
    if count == 0:
        return slice(0, 0), 0
    return slice(start * step, min(stop * step, full), stride * step), count


def map_selection(members: tuple, shape: tuple, steps: tuple, itemsize: int) -> ViewSelection:
    """The dataset key for ``members`` (ints and slices, h5grove's parsed
    selection) taken in the view of ``shape`` decimated by ``steps``.

    Missing trailing members select whole axes.  SelectionError for too many
    members or an index out of range; TooLargeError past the limits.
    """
    if len(members) > len(shape):
        raise SelectionError(f"the selection has {len(members)} members for a {len(shape)}-d dataset")
    members = tuple(members) + (slice(None),) * (len(shape) - len(members))
    view = view_shape(shape, steps)
    key, counts = [], []
    for axis, (member, length, step, full) in enumerate(zip(members, view, steps, shape)):
        part, count = _axis(member, length, step, int(full), axis)
        key.append(part)
        if not isinstance(member, int):
            counts.append(count)
    count = math.prod(counts)
    if count > MAX_ELEMENTS or count * max(itemsize, 1) > MAX_RESPONSE_BYTES:
        raise TooLargeError(f"the selection holds {count} elements; one request may hold {MAX_ELEMENTS} "
                            f"and {MAX_RESPONSE_BYTES} bytes: select a smaller slice")
    return ViewSelection(tuple(key), count)
