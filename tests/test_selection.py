"""selection.py against numpy: projections reassemble exactly what numpy selects.

h5py's rules are orthogonal indexing with at most one index list, which for a
single list is what numpy does, so numpy is the reference here.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dosna_like.chunks.selection import AxisProjection, broadcast_value, select
from dosna_like.format.grid import grid_shape


def gather(arr: np.ndarray, chunks: tuple, key) -> np.ndarray:
    """Read ``arr[key]`` chunk by chunk through the projections."""
    sel = select(key, arr.shape)
    out = np.full(sel.mshape, -1, dtype=arr.dtype)
    for p in sel.projections(chunks):
        lo = [c * n for c, n in zip(p.chunk_coords, chunks)]
        block = np.zeros(chunks, dtype=arr.dtype)
        region = tuple(slice(a, min(a + n, s)) for a, n, s in zip(lo, chunks, arr.shape))
        block[tuple(slice(0, r.stop - r.start) for r in region)] = arr[region]
        out[p.out_sel] = block[p.chunk_sel]
    return out.reshape(sel.shape)


def scatter(arr: np.ndarray, chunks: tuple, key, value) -> np.ndarray:
    """Write ``value`` into a copy of ``arr`` chunk by chunk; check 'complete' honestly."""
    arr = arr.copy()
    sel = select(key, arr.shape)
    value = broadcast_value(np.asarray(value, dtype=arr.dtype), sel)
    for p in sel.projections(chunks):
        lo = [c * n for c, n in zip(p.chunk_coords, chunks)]
        region = tuple(slice(a, min(a + n, s)) for a, n, s in zip(lo, chunks, arr.shape))
        view = arr[region]
        before = view.copy()
        marker = np.zeros(view.shape, bool)
        marker[p.chunk_sel] = True
        view[p.chunk_sel] = value[p.out_sel]
        assert p.complete == bool(marker.all()), (p, marker)
        del before
    return arr


@st.composite
def array_and_key(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, max(1, s + 1))) for s in shape)
    key = []
    list_axis = draw(st.one_of(st.none(), st.integers(0, ndim - 1)))
    for axis, n in enumerate(shape):
        if axis == list_axis:
            if draw(st.booleans()):
                idx = sorted(draw(st.sets(st.integers(0, max(0, n - 1)), max_size=n))) if n else []
                key.append(idx)
            else:
                key.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool))
            continue
        kind = draw(st.sampled_from(["int", "slice", "full"] if n else ["slice", "full"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
            step = draw(st.one_of(st.none(), st.integers(1, 4)))
            key.append(slice(start, stop, step))
        else:
            key.append(slice(None))
    if draw(st.booleans()) and ndim > 1:
        cut = draw(st.integers(0, ndim - 1))
        if all(isinstance(k, slice) and k == slice(None) for k in key[cut:]):
            key = key[:cut] + [Ellipsis]
    return shape, chunks, tuple(key)


def numpy_reference(arr, key):
    """h5py's orthogonal indexing, built from numpy one axis at a time."""
    key = list(key)
    if Ellipsis in [k for k in key if not isinstance(k, np.ndarray)]:
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key[i:i + 1] = [slice(None)] * (arr.ndim - len(key) + 1)
    key += [slice(None)] * (arr.ndim - len(key))
    out, dropped = arr, []
    for axis, k in enumerate(key):
        if isinstance(k, (int, np.integer)):
            k, drop = [k], True
        else:
            drop = False
        idx = np.arange(arr.shape[axis])[k]
        out = np.take(out, idx, axis=axis)
        if drop:
            dropped.append(axis)
    return out.reshape([n for a, n in enumerate(out.shape) if a not in dropped])


@settings(max_examples=400, deadline=None)
@given(array_and_key())
def test_projections_gather_what_numpy_selects(case):
    shape, chunks, key = case
    arr = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    expected = numpy_reference(arr, key)
    got = gather(arr, chunks, key)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    sel = select(key, shape)
    hit = sel.single_chunk(chunks)
    if hit is not None:  # the hot path must agree with the general one
        coords, local = hit
        lo = [c * n for c, n in zip(coords, chunks)]
        block = arr[tuple(slice(a, a + n) for a, n in zip(lo, chunks))]
        np.testing.assert_array_equal(np.asarray(block[local]).reshape(expected.shape), expected)


@settings(max_examples=300, deadline=None)
@given(array_and_key(), st.booleans())
def test_projections_scatter_like_numpy_assignment(case, scalar):
    shape, chunks, key = case
    arr = np.zeros(shape, dtype=np.int64)
    sel_shape = numpy_reference(arr, key).shape
    value = 7 if scalar else np.arange(1, int(np.prod(sel_shape)) + 1).reshape(sel_shape)
    # the reference writes through a flat index map of the selection
    positions = numpy_reference(np.arange(arr.size).reshape(shape), key)
    expected = arr.copy().reshape(-1)
    expected[positions.reshape(-1)] = np.broadcast_to(value, positions.shape).reshape(-1)
    np.testing.assert_array_equal(scatter(arr, chunks, key, value), expected.reshape(shape))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=3).flatmap(
    lambda shape: st.tuples(
        st.just(tuple(shape)),
        st.tuples(*[st.integers(1, s) for s in shape]),
        st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))),
    )))
def test_full_shape_mask_selects_points_in_c_order(case):
    shape, chunks, flags = case
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    mask = np.array(flags, dtype=bool).reshape(shape)
    np.testing.assert_array_equal(gather(arr, chunks, mask), arr[mask])
    np.testing.assert_array_equal(scatter(arr, chunks, mask, -5), np.where(mask, -5, arr))


@pytest.mark.parametrize("key, exc", [
    ((10,), IndexError), ((-11,), IndexError), ((slice(None, None, -1),), ValueError),
    ((slice(None, None, 0),), ValueError), ((1, 2, 3), ValueError), (([2, 1],), TypeError),
    (([1, 1],), TypeError), (([0, 1], [0, 1]), TypeError), (([0, 99],), IndexError),
    ((1.5,), TypeError), ((None,), TypeError), ((Ellipsis, Ellipsis), ValueError),
    (("name",), ValueError), ((np.array([True, False]),), TypeError), (([[0, 1]],), TypeError),
])
def test_illegal_keys_raise_what_h5py_raises(key, exc):
    with pytest.raises(exc):
        select(key, (10, 5))


def test_scalar_space_accepts_only_empty_tuple_and_ellipsis():
    assert select((), ()).shape == ()
    assert select(Ellipsis, ()).shape == ()
    with pytest.raises(ValueError):
        select(0, ())


def test_broadcast_mismatch_is_type_error():
    sel = select((slice(0, 2),), (4, 5))
    with pytest.raises(TypeError):
        broadcast_value(np.arange(3), sel)
    assert broadcast_value(np.arange(5), sel).shape == (2, 5)


def test_chunk_grid_shape_rounds_up():
    assert grid_shape((10, 9, 0), (3, 3, 4)) == (4, 3, 0)


def test_projections_are_named_immutable_records():
    sel = select((slice(2, 9), 3), (10, 10))
    projs = list(sel.projections((4, 4)))
    assert [p.chunk_coords for p in projs] == [(0, 0), (1, 0), (2, 0)]
    first = projs[0]
    assert first.chunk_sel == (slice(2, 4, 1), slice(3, 4)) and first.out_sel == (slice(0, 2), slice(0, 1))
    assert not first.complete
    with pytest.raises(AttributeError):
        first.complete = True
    per_axis = list(sel.axes[0].project(4, 10))
    assert all(isinstance(p, AxisProjection) for p in per_axis)
    assert [(p.chunk, p.out_sel, p.complete) for p in per_axis] == [
        (0, slice(0, 2), False), (1, slice(2, 6), True), (2, slice(6, 7), False)]
