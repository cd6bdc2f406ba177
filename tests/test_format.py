"""The format layer's pure rules: the chunk grid, chunk keys and their parser,
the reserved metadata namespace's checked accessor."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosna_like.errors import FormatError
from dosna_like.format.grid import (
    ceildiv,
    chunk_box,
    chunk_extent,
    chunk_local_box,
    chunk_of,
    grid_shape,
    is_cut_by_edge,
    iter_chunk_boxes,
    iter_chunks,
)
from dosna_like.format.documents import editable_copy
from dosna_like.format.keys import chunk_key, chunk_prefix, parse_chunk_key
from dosna_like.format.reserved import (
    RESERVED,
    RESERVED_KEYS,
    edit_reserved,
    reserved_in,
    reserved_of,
)

# ======================================================================= grid
shapes_and_chunks = st.integers(0, 4).flatmap(lambda ndim: st.tuples(
    st.lists(st.integers(0, 40), min_size=ndim, max_size=ndim).map(tuple),
    st.lists(st.integers(1, 12), min_size=ndim, max_size=ndim).map(tuple)))


def test_ceildiv_is_exact_for_huge_ints():
    assert ceildiv(10, 3) == 4 and ceildiv(9, 3) == 3 and ceildiv(0, 5) == 0
    assert ceildiv(2**70 + 1, 2) == 2**69 + 1  # float division would round this


@settings(max_examples=200, deadline=None)
@given(shapes_and_chunks)
def test_the_chunk_boxes_tile_the_array_exactly_once(case):
    shape, chunks = case
    seen = np.zeros(shape, dtype=np.int64)
    coords = list(iter_chunks(shape, chunks))
    assert len(coords) == int(np.prod(grid_shape(shape, chunks)))
    assert coords == sorted(coords)  # C order
    for c, box in iter_chunk_boxes(shape, chunks):
        seen[box] += 1
        assert tuple(s.stop - s.start for s in box) == chunk_extent(c, chunks, shape)
        assert chunk_local_box(c, chunks, shape) == tuple(slice(0, s.stop - s.start) for s in box)
        assert chunk_of(tuple(s.start for s in box), chunks) == c
        assert is_cut_by_edge(c, chunks, shape) == any(s.stop - s.start < n for s, n in zip(box, chunks))
    assert (seen == 1).all()


def test_grid_of_scalars_and_empty_axes():
    assert grid_shape((), ()) == () and list(iter_chunks((), ())) == [()]
    assert chunk_box((), (), ()) == () and not is_cut_by_edge((), (), ())
    assert grid_shape((0, 5), (4, 4)) == (0, 2) and list(iter_chunks((0, 5), (4, 4))) == []


def test_chunk_extent_is_zero_outside_the_array():
    assert chunk_extent((3, 0), (4, 4), (10, 4)) == (0, 4)  # after a shrink to 10 rows
    assert chunk_extent((2, 0), (4, 4), (10, 4)) == (2, 4)


@settings(max_examples=200, deadline=None)
@given(shapes_and_chunks, st.data())
def test_chunks_of_a_region_are_those_it_touches(case, data):
    shape, chunks = case
    region = tuple(slice(*sorted(data.draw(st.tuples(st.integers(0, n), st.integers(0, n))))) for n in shape)
    touched = set()
    for index in itertools.product(*(range(s.start, s.stop) for s in region)):
        touched.add(chunk_of(index, chunks))
    got = list(iter_chunks(shape, chunks, region))
    assert got == sorted(got)
    if all(s.stop > s.start for s in region):
        assert set(got) == touched
    else:
        assert got == []


def test_a_region_of_the_wrong_rank_is_refused():
    with pytest.raises(ValueError):
        list(iter_chunks((4, 4), (2, 2), (slice(0, 2),)))


# ======================================================================= keys
paths = st.sampled_from(["", "a", "grp/x", "deep/er/array", "c", "a/c"])
coords = st.lists(st.integers(0, 10**12), max_size=5).map(tuple)


@settings(max_examples=300, deadline=None)
@given(paths, coords)
def test_parse_chunk_key_inverts_chunk_key(path, c):
    key = chunk_key(path, c)
    assert key.startswith(chunk_prefix(path))
    assert parse_chunk_key(path, key) == c
    assert parse_chunk_key(path, key, ndim=len(c)) == c
    assert parse_chunk_key(path, key, ndim=len(c) + 1) is None


@settings(max_examples=300, deadline=None)
@given(paths, st.text(max_size=20))
def test_parse_chunk_key_gives_none_for_anything_chunk_key_would_not_write(path, tail):
    key = chunk_prefix(path) + tail
    parsed = parse_chunk_key(path, key)
    if parsed is None:
        return
    assert chunk_key(path, parsed) == key  # only canonical keys parse


@pytest.mark.parametrize("path, key", [
    ("a", "a/c/01"), ("a", "a/c/-1"), ("a", "a/c/+1"), ("a", "a/c/ 1"), ("a", "a/c/1.0"),
    ("a", "a/c/"), ("a", "a/c//1"), ("a", "a/c0"), ("a", "ab/c/1"), ("a", "a/zarr.json"),
    ("a", "a/c/1/zarr.json"), ("a", "a/c/\u00b2"), ("a", "a/c/\u0661"), ("", "cx"), ("", "zarr.json"),
    ("a", "b/a/c/1"),
])
def test_garbage_keys_parse_as_none(path, key):
    assert parse_chunk_key(path, key) is None


def test_zero_dimensional_chunk_key():
    assert chunk_key("", ()) == "c" and parse_chunk_key("", "c") == ()
    assert chunk_key("s", ()) == "s/c" and parse_chunk_key("s", "s/c") == ()
    assert parse_chunk_key("s", "s/c", ndim=1) is None


# =================================================================== reserved
def test_every_reserved_key_is_documented():
    for name, spec in RESERVED_KEYS.items():
        assert spec.types and spec.nodes and spec.meaning, name


def test_reserved_reader_returns_the_entry_or_nothing():
    entry = {"maxshape": [None, 4], "attrs": {"a": {"dtype": "<i8", "shape": []}}, "future_key": 1}
    assert reserved_of({"attributes": {RESERVED: entry}}, "x") is entry
    assert reserved_of({"attributes": {"user": 1}}, "x") == {}
    assert reserved_of({}, "x") == {} and reserved_of(None, "x") == {}
    assert reserved_in(None, "x") == {}


@pytest.mark.parametrize("value, words", [
    ("oops", "is a str, not a JSON object"),
    (None, "is a NoneType"),
    ([1, 2], "is a list"),
    ({"links": "x"}, "_dosna_like.links is a str"),
    ({"links": {"a": "b"}}, "_dosna_like.links holds a str"),
    ({"attrs": {"a": 1}}, "_dosna_like.attrs holds a int"),
    ({"maxshape": [3, "x"]}, "_dosna_like.maxshape holds a str"),
    ({"maxshape": [True]}, "_dosna_like.maxshape holds a bool"),
    ({"track_order": "yes"}, "_dosna_like.track_order is a str"),
    ({"order": [1]}, "_dosna_like.order holds a int"),
    ({"datatype": 3}, "_dosna_like.datatype is a int"),
    ({"enum": {"a": "1"}}, "_dosna_like.enum holds a str"),
    ({"empty": 1}, "_dosna_like.empty is a int"),
    ({"enum": {"a": True}}, "_dosna_like.enum holds a bool"),
    ({"maxshape": (3,)}, "_dosna_like.maxshape is a tuple"),
])
def test_a_damaged_entry_raises_format_error_naming_the_node(value, words):
    doc = {"attributes": {RESERVED: value}}
    with pytest.raises(FormatError, match="node '/grp/x'") as info:
        reserved_of(doc, "grp/x")
    assert words in str(info.value)
    assert isinstance(info.value, OSError)  # what h5py raises for an unreadable object
    with pytest.raises(FormatError):
        edit_reserved(doc["attributes"], "grp/x")


def test_an_editable_copy_shares_no_container_of_the_reserved_entry():
    reserved = {"maxshape": [None, 4], "dim_scales": [[["/x", "x"]], []], "attrs": {"a": {"dtype": "<i8",
                "shape": [2]}}, "order": ("b", "a"), "scale": "x", "empty": False, "n": 1.5}
    doc = {"node_type": "array", "shape": [3, 4], "attributes": {"user": [1, 2], RESERVED: reserved}}
    copy = editable_copy(doc)
    assert copy == doc and type(copy["attributes"][RESERVED]["order"]) is tuple
    entry = copy["attributes"][RESERVED]
    entry["maxshape"][0] = 9
    entry["dim_scales"][0][0][1] = "y"
    entry["attrs"]["a"]["shape"].append(5)
    entry["new"] = True
    copy["attributes"]["other"] = 1
    assert reserved == {"maxshape": [None, 4], "dim_scales": [[["/x", "x"]], []], "attrs": {"a": {
        "dtype": "<i8", "shape": [2]}}, "order": ("b", "a"), "scale": "x", "empty": False, "n": 1.5}
    assert doc["attributes"] == {"user": [1, 2], RESERVED: reserved}


def test_values_of_subclasses_of_the_json_types_are_accepted():
    """The check's fast path takes exact JSON types; a subclass (as a JSON decoder
    with object_hook may give) is still judged by isinstance, as before."""
    class Text(str):
        pass

    class Record(dict):
        pass

    entry = Record({"scale": Text("x"), "links": Record({"a": Record()}), "maxshape": [3, None]})
    assert reserved_of({"attributes": {RESERVED: entry}}, "x") is entry


def test_attributes_that_are_not_an_object_raise_format_error():
    with pytest.raises(FormatError, match="node '/'"):
        reserved_of({"attributes": ["a"]}, "")


def test_edit_reserved_creates_the_entry_in_place():
    attributes = {"user": 1}
    edit_reserved(attributes, "x")["track_order"] = True
    assert attributes == {"user": 1, RESERVED: {"track_order": True}}
    edit_reserved(attributes, "x")["order"] = ["a"]
    assert attributes[RESERVED] == {"track_order": True, "order": ["a"]}


# ====================================================================== names
@pytest.mark.parametrize("code", [0, 1, 9, 10, 31, 127])
def test_names_with_a_control_character_anywhere_are_refused(code):
    from dosna_like.errors import InvalidNameError
    from dosna_like.format.names import resolve_path
    for name in (chr(code), f"a{chr(code)}", f"g/x{chr(code)}y", f"{chr(code)}/b"):
        with pytest.raises(InvalidNameError, match="control characters"):
            resolve_path("", name)


@pytest.mark.parametrize("code", [32, 126, 128, 159, 0xE9, 0x2603])
def test_names_with_other_characters_resolve(code):
    from dosna_like.format.names import resolve_path
    assert resolve_path("g", f"a{chr(code)}/b") == f"g/a{chr(code)}/b"
