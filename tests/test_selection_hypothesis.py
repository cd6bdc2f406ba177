"""Property tests of selections through the public API, against numpy and h5py.

For random small datasets (1-4 dims, random chunk shapes) and random
selections (ints incl. negative, slices with positive steps incl. clipping,
Ellipsis, one increasing index list or one 1-D boolean array, full boolean
masks):

* reads: dosna_like's result == h5py's result (type, shape, dtype, values) ==
  numpy's *orthogonal* indexing result;
* writes (exact-shape arrays, numpy-broadcastable arrays, scalars): the whole
  dataset afterwards == h5py's == the numpy reference;
* invalid selections: dosna_like raises the same exception type as h5py;
* resize and iter_chunks agree with h5py.

One h5py file and one dosna_like file are shared by all examples of a test
function (datasets get unique names) to keep the runtime modest.
"""
from __future__ import annotations

import itertools
import os

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis import given

try:  # tests/ may or may not be a package
    from .diffcase import (STORE_KINDS, Raised, Returned, assert_same_outcome, assert_same_value,
                           dosna_module, outcome, skip_if_selftest_url)
except ImportError:
    from diffcase import (STORE_KINDS, Raised, Returned, assert_same_outcome, assert_same_value,
                           dosna_module, outcome, skip_if_selftest_url)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    """Overrides conftest's: restrict to diffcase.STORE_KINDS (all three by default)."""
    return request.param

SETTINGS = dict(deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                print_blob=True)

DTYPES = ["i2", "i8", "u1", "f4", "f8"]

# DIFF_HYPOTHESIS_SCALE=10 for a deeper (slower) search
_SCALE = float(os.environ.get("DIFF_HYPOTHESIS_SCALE", "1"))


def examples(n):
    return max(1, int(n * _SCALE))


class Pair:
    """An open h5py file and an open dosna_like file, plus a name counter."""

    def __init__(self, h5_path, file_url):
        self.h = h5py.File(h5_path, "w")
        self.d = dosna_module().File(file_url, "w")
        self._n = itertools.count()

    def create(self, data, **kw):
        name = f"ds{next(self._n)}"
        note(f"create_dataset({name!r}, data=<{data.dtype} {data.shape}>, {kw})")
        return (self.h.create_dataset(name, data=data, **kw),
                self.d.create_dataset(name, data=data, **kw))

    def create_empty(self, shape, dtype, **kw):
        name = f"ds{next(self._n)}"
        note(f"create_dataset({name!r}, shape={shape}, dtype={dtype!r}, {kw})")
        return (self.h.create_dataset(name, shape=shape, dtype=dtype, **kw),
                self.d.create_dataset(name, shape=shape, dtype=dtype, **kw))

    def close(self):
        self.h.close()
        self.d.close()


@pytest.fixture
def pair(file_url, h5_path):
    skip_if_selftest_url(file_url)
    p = Pair(h5_path, file_url)
    yield p
    p.close()


# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------

@st.composite
def specs(draw, max_ndim=4, max_dim=6):
    ndim = draw(st.integers(1, max_ndim))
    shape = tuple(draw(st.integers(1, max_dim)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    dtype = draw(st.sampled_from(DTYPES))
    return shape, chunks, dtype


def base_array(shape, dtype):
    n = int(np.prod(shape))
    return ((np.arange(n) * 7) % 97 + 1).astype(dtype).reshape(shape)


def st_int(n):
    return st.integers(-n, n - 1)


def st_slice(n):
    bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
    return st.builds(slice, bound, bound, st.one_of(st.none(), st.integers(1, n + 1)))


def st_list(n):
    return st.builds(lambda s, as_array: np.array(sorted(s), dtype=np.intp) if (as_array and s) else sorted(s),
                     st.sets(st.integers(0, n - 1), max_size=n), st.booleans())


def st_bool(n):
    return st.lists(st.booleans(), min_size=n, max_size=n).map(np.array)


@st.composite
def selections(draw, shape, fancy=True, allow_int=True):
    """Returns (key, per-axis components).  Components are int, slice, sorted
    list / int array, or 1-D bool array; ``key`` may use an Ellipsis in place
    of a run of full slices and may omit trailing full slices."""
    ndim = len(shape)
    fancy_axis = draw(st.one_of(st.none(), st.integers(0, ndim - 1))) if fancy else None
    comps = []
    for ax, n in enumerate(shape):
        if ax == fancy_axis:
            comps.append(draw(st.one_of(st_list(n), st_bool(n))))
        else:
            kinds = [st.just(slice(None)), st_slice(n)] + ([st_int(n)] if allow_int else [])
            comps.append(draw(st.one_of(*kinds)))
    key = list(comps)
    # replace a run of full slices (possibly empty) by an Ellipsis (h5py
    # refuses an Ellipsis next to a boolean array on a 1-D dataset: skip that)
    bool_1d = ndim == 1 and fancy_axis is not None and np.asarray(comps[0]).dtype == bool
    if not bool_1d and draw(st.booleans()):
        full = [isinstance(c, slice) and c == slice(None) for c in comps]
        start = draw(st.integers(0, ndim))
        stop = start
        while stop < ndim and full[stop] and draw(st.booleans()):
            stop += 1
        key = key[:start] + [Ellipsis] + key[stop:]
    elif draw(st.booleans()):
        while key and isinstance(key[-1], slice) and key[-1] == slice(None):
            key.pop()
    if len(key) == 1 and draw(st.booleans()):
        key = key[0]
    else:
        key = tuple(key)
    return key, comps


def axis_indices(c, n):
    if isinstance(c, (int, np.integer)):
        return np.array([c % n], dtype=np.intp)
    if isinstance(c, slice):
        return np.arange(n, dtype=np.intp)[c]
    c = np.asarray(c)
    if c.dtype == bool:
        return np.nonzero(c)[0].astype(np.intp)
    return c.astype(np.intp)


def ortho_ix(shape, comps):
    """np.ix_ index for the orthogonal selection (int axes kept as length 1)
    and the selection shape (int axes dropped)."""
    idx = [axis_indices(c, n) for c, n in zip(comps, shape)]
    sel_shape = tuple(len(i) for i, c in zip(idx, comps) if not isinstance(c, (int, np.integer)))
    return np.ix_(*idx), sel_shape


def ortho_read(arr, comps):
    ix, sel_shape = ortho_ix(arr.shape, comps)
    res = arr[ix].reshape(sel_shape)
    if all(isinstance(c, (int, np.integer)) for c in comps):
        return res[()]  # numpy scalar, like h5py
    return res


def ortho_write(arr, comps, value):
    ix, sel_shape = ortho_ix(arr.shape, comps)
    block_shape = tuple(len(i) for i in (np.ravel(x) for x in ix))
    val = np.broadcast_to(np.asarray(value).astype(arr.dtype), sel_shape)
    arr[ix] = val.reshape(block_shape)


def value_for(draw, sel_shape, dtype, broadcast):
    """A value to write: exact shape or (if ``broadcast``) a numpy-broadcastable
    shape (leading dims dropped, some dims set to 1) or a scalar."""
    kind = draw(st.sampled_from(["exact", "bcast", "scalar"] if broadcast else ["exact"]))
    lo = 0 if np.dtype(dtype).kind == "u" else -90
    if kind == "scalar":
        v = draw(st.integers(lo, 90))
        return draw(st.sampled_from([v, float(v) + 0.5, np.dtype(dtype).type(v)]))
    shape = list(sel_shape)
    if kind == "bcast":
        drop = draw(st.integers(0, len(shape)))
        shape = shape[drop:]
        shape = [1 if draw(st.booleans()) else s for s in shape]
    n = int(np.prod(shape))
    vdtype = draw(st.sampled_from([dtype, "f8", "i8"]))
    vals = (np.arange(n) * 13) % 91
    if lo < 0:
        vals = vals - 45
    vals = vals.astype("f8") + (0.5 if np.dtype(vdtype).kind == "f" else 0)
    return vals.astype(vdtype).reshape(shape)


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------

@settings(max_examples=examples(70), **SETTINGS)
@given(data=st.data())
def test_read_selection(pair, data):
    shape, chunks, dtype = data.draw(specs(), label="shape, chunks, dtype")
    base = base_array(shape, dtype)
    hds, dds = pair.create(base, chunks=chunks)
    for _ in range(3):
        key, comps = data.draw(selections(shape), label="key")
        h = outcome(lambda: hds[key])
        assert isinstance(h, Returned), f"generator produced a selection h5py refuses: {key!r} -> {h!r}"
        assert_same_value(ortho_read(base, comps), h.value, "numpy vs h5py")
        d = outcome(lambda: dds[key])
        assert_same_outcome(h, d, f"read {key!r}")


@settings(max_examples=examples(30), **SETTINGS)
@given(data=st.data())
def test_read_mask(pair, data):
    shape, chunks, dtype = data.draw(specs(), label="shape, chunks, dtype")
    base = base_array(shape, dtype)
    hds, dds = pair.create(base, chunks=chunks)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=base.size, max_size=base.size)),
                    dtype=bool).reshape(shape)
    h = outcome(lambda: hds[mask])
    assert isinstance(h, Returned), h
    assert_same_value(base[mask], h.value, "numpy vs h5py")
    assert_same_outcome(h, outcome(lambda: dds[mask]), "mask read")
    # and write through the same mask (scalar, then exact-length array)
    value = data.draw(st.sampled_from(["scalar", "array"]))
    value = 3 if value == "scalar" else np.arange(int(mask.sum()), dtype=dtype)
    ref = base.copy()
    ref[mask] = value
    hds[mask] = value
    assert_same_outcome(Returned(hds[...]), outcome(lambda: (dds.__setitem__(mask, value), dds[...])[1]),
                        "mask write")
    assert_same_value(ref, hds[...], "numpy vs h5py")


@settings(max_examples=examples(70), **SETTINGS)
@given(data=st.data())
def test_write_selection(pair, data):
    shape, chunks, dtype = data.draw(specs(), label="shape, chunks, dtype")
    compression = data.draw(st.sampled_from([None, None, "gzip"]), label="compression")
    if data.draw(st.booleans(), label="start empty"):
        # never-written chunks must read as the fill value
        fill = data.draw(st.sampled_from([None, 7]), label="fillvalue")
        hds, dds = pair.create_empty(shape, dtype, chunks=chunks, fillvalue=fill, compression=compression)
        ref = np.full(shape, 0 if fill is None else fill, dtype=dtype)
    else:
        ref = base_array(shape, dtype)
        hds, dds = pair.create(ref, chunks=chunks, compression=compression)
        ref = ref.copy()
    assert_same_value(hds[...], dds[...], "before writes")
    for _ in range(2):
        key, comps = data.draw(selections(shape), label="key")
        fancy = any(not isinstance(c, (int, np.integer, slice)) for c in comps)
        _, sel_shape = ortho_ix(shape, comps)
        # h5py refuses any broadcasting into list / bool-array selections, so
        # only exact-shape values there (the catalogue covers the refusal).
        value = value_for(data.draw, sel_shape, dtype, broadcast=not fancy)
        note(f"ds[{key!r}] = {value!r}")
        h = outcome(lambda: hds.__setitem__(key, value))
        assert isinstance(h, Returned), f"h5py refused the write: {h!r}"
        d = outcome(lambda: dds.__setitem__(key, value))
        assert_same_outcome(h, d, f"write {key!r}")
        ortho_write(ref, comps, value)
        assert_same_value(ref, hds[...], "numpy vs h5py")
        assert_same_value(hds[...], dds[...], f"after write {key!r}")


@st.composite
def invalid_selections(draw, shape):
    """A selection with exactly one problem (expected to raise in h5py)."""
    key, comps = draw(selections(shape, fancy=False))
    # h5py skips some checks when the selection is empty: keep it non-empty
    key = [c if len(axis_indices(c, n)) else slice(None) for c, n in zip(comps, shape)]
    ndim = len(shape)
    ax = draw(st.integers(0, ndim - 1))
    n = shape[ax]
    problem = draw(st.sampled_from(["int-oob", "int-neg-oob", "neg-step", "zero-step", "list-unsorted",
                                    "list-duplicate", "list-oob", "bool-len", "two-lists", "too-many"]))
    if problem == "int-oob":
        key[ax] = draw(st.integers(n, n + 3))
    elif problem == "int-neg-oob":
        key[ax] = draw(st.integers(-n - 3, -n - 1))
    elif problem == "neg-step":
        key[ax] = slice(None, None, draw(st.integers(-3, -1)))
    elif problem == "zero-step":
        key[ax] = slice(draw(st.one_of(st.none(), st.integers(0, n))), None, 0)
    elif problem == "list-unsorted":
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        key[ax] = [max(a, b), min(a, b)] if a != b else [a, a]
    elif problem == "list-duplicate":
        a = draw(st.integers(0, n - 1))
        key[ax] = [a, a]
    elif problem == "list-oob":
        # n itself gives OSError in h5py (off-by-one there): use n + 1 ...
        key[ax] = [0, draw(st.integers(n + 1, n + 3))]
    elif problem == "bool-len":
        m = draw(st.integers(1, n + 3).filter(lambda m: m != n))
        key[ax] = np.ones(m, dtype=bool)
    elif problem == "two-lists":
        if ndim < 2:
            key = [[0], [0]]
        else:
            other = (ax + 1) % ndim
            key[ax] = [0]
            key[other] = np.ones(shape[other], dtype=bool) if draw(st.booleans()) else [0]
    elif problem == "too-many":
        key = key + [0] * draw(st.integers(1, 2))
    return tuple(key)


@settings(max_examples=examples(60), **SETTINGS)
@given(data=st.data())
def test_invalid_selection_error_types(pair, data):
    shape, chunks, dtype = data.draw(specs(max_dim=4), label="shape, chunks, dtype")
    base = base_array(shape, dtype)
    hds, dds = pair.create(base, chunks=chunks)
    key = data.draw(invalid_selections(shape), label="key")
    h = outcome(lambda: hds[key])
    assert isinstance(h, Raised), f"generator produced a valid selection: {key!r}"
    assert_same_outcome(h, outcome(lambda: dds[key]), f"read {key!r}")
    hw = outcome(lambda: hds.__setitem__(key, 1))
    assert isinstance(hw, Raised), f"h5py accepted write to {key!r}"
    assert_same_outcome(hw, outcome(lambda: dds.__setitem__(key, 1)), f"write {key!r}")
    assert_same_value(hds[...], dds[...], "dataset unchanged after failed write")


@settings(max_examples=examples(30), **SETTINGS)
@given(data=st.data())
def test_resize(pair, data):
    shape, chunks, dtype = data.draw(specs(max_ndim=3), label="shape, chunks, dtype")
    base = base_array(shape, dtype)
    fill = data.draw(st.sampled_from([None, 5]), label="fillvalue")
    hds, dds = pair.create(base, chunks=chunks, maxshape=(None,) * len(shape), fillvalue=fill)
    ref = base
    for _ in range(2):
        new = tuple(data.draw(st.integers(0, 8)) for _ in shape)
        if data.draw(st.booleans(), label="use axis="):
            ax = data.draw(st.integers(0, len(shape) - 1))
            new = tuple(new[ax] if i == ax else s for i, s in enumerate(ref.shape))
            hds.resize(new[ax], axis=ax)
            dds.resize(new[ax], axis=ax)
        else:
            hds.resize(new)
            dds.resize(new)
        grown = np.full(new, 0 if fill is None else fill, dtype=dtype)
        common = tuple(slice(0, min(a, b)) for a, b in zip(ref.shape, new))
        grown[common] = ref[common]
        ref = grown
        assert (hds.shape, hds.maxshape) == (dds.shape, dds.maxshape)
        assert_same_value(ref, hds[...], "numpy vs h5py")
        assert_same_value(hds[...], dds[...], f"after resize to {new}")


@st.composite
def full_rank_slices(draw, shape):
    key = []
    for n in shape:
        if draw(st.booleans()):
            key.append(draw(st.integers(0, n - 1)))
        else:
            a = draw(st.integers(0, n - 1))
            key.append(slice(a, draw(st.integers(a + 1, n))))
    return tuple(key)


@settings(max_examples=examples(30), **SETTINGS)
@given(data=st.data())
def test_iter_chunks(pair, data):
    shape, chunks, dtype = data.draw(specs(max_ndim=3), label="shape, chunks, dtype")
    base = base_array(shape, dtype)
    hds, dds = pair.create(base, chunks=chunks)
    sel = data.draw(st.one_of(st.none(), full_rank_slices(shape)), label="sel")
    h = list(hds.iter_chunks(sel) if sel is not None else hds.iter_chunks())
    d = outcome(lambda: list(dds.iter_chunks(sel) if sel is not None else dds.iter_chunks()))
    assert_same_outcome(Returned(h), d, f"iter_chunks({sel!r})")
    for s in h:
        assert_same_value(hds[s], dds[s], f"chunk {s!r}")
