"""Object references at any depth of a type: compounds nested in compounds, subarray
members of references, subarrays of compounds holding references, and datasets and
attributes of a subarray type of references (h5py 3.16 creates, writes, reads and
dereferences all of them).

The same code runs on h5py and dosna_like (our stores on every store kind), on HDF5
files read in place (a path, a ``BytesIO``, S3) and through import and export; every
reference read must name the object h5py's names, null ones stay null, every other
member equal, and the types (names, shapes, the reference mark) the same.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import dosna_like
from dosna_like.format.references import holds_refs_dtype, map_refs, refs_as

try:
    from .test_dtypes import both
    from .test_hdf5_refs_in_place import in_place_source
except ImportError:  # run as a plain script directory
    from test_dtypes import both
    from test_hdf5_refs_in_place import in_place_source


def _kinds(m) -> dict:
    inner = np.dtype([("x", "<i4"), ("r", m.ref_dtype)])
    outer = np.dtype([("a", "<f8"), ("in", inner)])
    return {"nested": outer,
            "deep": np.dtype([("o", outer), ("z", "<u2")]),
            "ref-subarray": np.dtype([("a", "<i4"), ("rs", m.ref_dtype, (3,))]),
            "compound-subarray": np.dtype([("a", "<i4"), ("in", inner, (2,))]),
            "subarray": np.dtype((m.ref_dtype, (2,)))}


def _fill(value: np.ndarray, pool: list, start: int = 0) -> int:
    """Put references of ``pool`` in every reference slot of ``value``, at any depth."""
    if value.dtype.names is None:
        for index in np.ndindex(value.shape):
            value[index] = pool[start % len(pool)]
            start += 1
        return start
    for name in value.dtype.names:
        member = value[name]
        if member.dtype.names is not None or member.dtype.kind == "O":
            start = _fill(member, pool, start)
        else:
            member[...] = np.arange(member.size).reshape(member.shape) + start
    return start


def _values(m, f) -> dict:
    """A value of each kind, references filled from the targets of ``f``."""
    targets = [f.create_dataset(f"t/d{i}", data=np.arange(i + 2)) for i in range(3)]
    pool = [t.ref for t in targets] + [f["t"].ref, m.Reference(), f.ref]
    out = {}
    for i, (name, kind) in enumerate(_kinds(m).items()):
        value = np.zeros(3, kind) if kind.names else np.empty((3,) + kind.shape, object)
        _fill(value, pool, i)
        out[name] = value
    return out


def resolved(f, value):
    """``value`` as plain Python: each reference as its target's name (None when null)."""
    if type(value).__name__ == "Reference":
        return f[value].name if value else None
    if isinstance(value, np.void) and value.dtype.names is not None:
        return tuple(resolved(f, value[name]) for name in value.dtype.names)
    if isinstance(value, np.ndarray):
        return [resolved(f, item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


def _type(dtype: np.dtype):
    """A type's names, shapes and where references are, at any depth."""
    if dtype.subdtype is not None:
        return ("sub", dtype.subdtype[1], _type(dtype.subdtype[0]))
    if dtype.names is not None:
        return [(name, _type(dtype.fields[name][0]), dtype.fields[name][1]) for name in dtype.names] + \
            [dtype.itemsize]
    kind = (dtype.metadata or {}).get("ref")
    return kind.__name__ if kind is not None else dtype.str


def _read_all(f) -> dict:
    """Every dataset and attribute of ``f`` (under ``/c``): type, shape, values resolved."""
    out = {}
    for name, ds in f["c"].items():
        out[name] = (_type(ds.dtype), ds.shape, resolved(f, ds[...]), resolved(f, ds[1:]),
                     resolved(f, ds[0]))
    for name in f["c"].attrs:
        value = f["c"].attrs[name]
        out["@" + name] = (_type(value.dtype), value.shape, resolved(f, value))
    return out


def _write(m, f) -> None:
    group = f.create_group("c")
    for name, value in _values(m, f).items():
        kind = _kinds(m)[name]
        group.create_dataset(name, data=value, dtype=kind if kind.names else m.ref_dtype)
        part = group.create_dataset(name + "-part", (3,), dtype=kind, chunks=(2,))
        part[1:] = value[1:] if kind.names else value[1:]
        group.attrs.create(name, value, dtype=kind if kind.names else None)
        group.attrs.create(name + "-typed", value[:2] if kind.names else value[:2], dtype=kind)


@pytest.fixture(scope="module")
def nested_file(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("nested") / "nested.h5")
    with h5py.File(path, "w") as f:
        _write(h5py, f)
    return path


def _checked(got: dict, want: dict) -> None:
    assert got == want
    names = repr(want)
    for target in ("/t/d0", "/t/d1", "/t/d2", "/t", "None"):  # the comparison sees real references
        assert target in names


def test_nested_references_written_and_read_as_in_h5py(file_url, h5_path):
    def op(m, f):
        _write(m, f)
        out = _read_all(f)
        deep = f["c/deep"][2]
        out["deref"] = (f[deep["o"]["in"]["r"]].name, type(f[deep["o"]["in"]["r"]]).__name__,
                        [f["c"][r].name for r in f["c/ref-subarray"][0]["rs"] if r])
        out["fill"] = resolved(f, f["c/nested-part"][0]), resolved(f, f["c/subarray-part"][0])
        return out

    want, got = both(file_url, h5_path, op)
    _checked(got, want)


def test_nested_references_survive_reopen(file_url, h5_path):
    with h5py.File(h5_path, "w") as h, dosna_like.File(file_url, "w") as f:
        _write(h5py, h)
        _write(dosna_like, f)
    with h5py.File(h5_path, "r") as h, dosna_like.File(file_url, "r") as f:
        _checked(_read_all(f), _read_all(h))


@pytest.mark.parametrize("where", ["local", "bytesio", "s3"])
def test_nested_references_read_in_place_as_h5py_reads_them(nested_file, where, request):
    source = in_place_source(nested_file, where, request)
    with dosna_like.File(source, "r") as f, h5py.File(nested_file, "r") as h:
        _checked(_read_all(f), _read_all(h))


def _attr_types(h) -> dict:
    return {name: (h["c"].attrs.get_id(name).dtype, h["c"].attrs.get_id(name).shape) for name in h["c"].attrs}


def test_nested_references_import_and_export_as_h5py_wrote_them(nested_file, tmp_path):
    store = str(tmp_path / "imported.h5")
    dosna_like.import_hdf5(nested_file, store)
    with dosna_like.File(store, "r") as f, h5py.File(nested_file, "r") as h:
        _checked(_read_all(f), _read_all(h))
    back = str(tmp_path / "back.h5")
    dosna_like.export_hdf5(store, back)
    with h5py.File(back, "r") as b, h5py.File(nested_file, "r") as h:
        _checked(_read_all(b), _read_all(h))
        assert _attr_types(b) == _attr_types(h)  # a subarray type of references stays one
        assert {n: b["c"][n].dtype for n in b["c"]} == {n: h["c"][n].dtype for n in h["c"]}


def test_nested_region_references_are_refused(tmp_path):
    # h5py stores them; region references cannot be stored by dosna_like at any depth
    kind = np.dtype([("a", "<i4"), ("in", [("r", dosna_like.regionref_dtype)])])
    with dosna_like.File(str(tmp_path / "s"), "w") as f:
        for make in (lambda: f.create_dataset("x", (2,), dtype=kind),
                     lambda: f.create_dataset("y", (2,), dtype=[("rs", dosna_like.regionref_dtype, (2,))])):
            with pytest.raises(TypeError):
                make()


def test_map_refs_reaches_every_depth():
    kind = _kinds(dosna_like)["compound-subarray"]
    value = np.zeros(2, kind)
    _fill(value, [dosna_like.Reference("/a"), dosna_like.Reference("/b"), dosna_like.Reference()])
    is_ref = lambda dtype: dosna_like.check_ref_dtype(dtype) is not None  # noqa: E731
    mapped = map_refs(value, lambda ref: ref.path or "", is_ref, np.dtype("O"))
    assert mapped.dtype == refs_as(kind, is_ref, np.dtype("O"))
    assert not holds_refs_dtype(mapped.dtype) and holds_refs_dtype(kind)
    assert mapped["in"]["r"].tolist() == [["/a", "/b"], ["", "/a"]]
    np.testing.assert_array_equal(mapped["in"]["x"], value["in"]["x"])
    np.testing.assert_array_equal(mapped["a"], value["a"])
    one = map_refs(value[1], lambda ref: ref.path or "", is_ref, np.dtype("O"))  # a record
    assert isinstance(one, np.void) and one["in"]["r"].tolist() == ["", "/a"]


def test_other_variable_length_members_at_depth_as_in_h5py(file_url, h5_path):
    # the record form that holds nested references holds nested strings and sequences too
    def op(m, f):
        text, seq = m.string_dtype(), m.vlen_dtype("<i4")
        kinds = {"str": np.dtype([("a", "<i2"), ("in", [("s", text), ("x", "<f4")])]),
                 "str-subarray": np.dtype([("a", "<i2"), ("s", text, (2,))]),
                 "seq": np.dtype([("a", "<i2"), ("in", [("v", seq), ("x", "<f4")])]),
                 "seq-subarray": np.dtype([("a", "<i2"), ("v", seq, (2,))]),
                 "ascii-compounds": np.dtype([("in", [("s", m.string_dtype("ascii")), ("x", "u1")], (2,))])}
        values = {"str": [(1, ("hé", 1.5)), (2, ("", 2.5))], "str-subarray": [(1, ["x", "yy"]), (2, ["", "z"])],
                  "seq": [(1, (np.arange(2, dtype="<i4"), 2.5)), (2, (np.arange(0, dtype="<i4"), 1.0))],
                  "seq-subarray": [(1, [np.arange(1, dtype="<i4"), np.arange(3, dtype="<i4")])] * 2,
                  "ascii-compounds": [([(b"ab", 1), (b"c", 2)],)] * 2}
        out = {}
        for name, kind in kinds.items():
            value = np.zeros(2, kind)
            for i, record in enumerate(values[name]):
                value[i] = record
            ds = f.create_dataset(name, data=value)
            f.attrs[name] = value
            out[name] = (_type(ds.dtype), repr(ds[...].tolist()), repr(f.attrs[name].tolist()),
                         _type(f.attrs[name].dtype))
        return out

    want, got = both(file_url, h5_path, op)
    assert got == want
    assert "\\xc3\\xa9" in want["str"][1] and "array([0, 1, 2]" in want["seq-subarray"][1]  # values seen


@pytest.mark.parametrize("dtype", [
    h5py.ref_dtype,
    np.dtype([("x", "i4"), ("r", h5py.ref_dtype)]),
    np.dtype([("x", "i4"), ("i", np.dtype([("y", "f4"), ("q", h5py.ref_dtype)])), ("s", h5py.ref_dtype, (2,))]),
])
def test_fillvalue_of_reference_types_as_h5py(file_url, h5_path, dtype):
    """h5py reports None for a reference dataset's fill value and for each reference
    member of a compound's (plain object members); unwritten items still read as null references."""
    def op(lib, f):
        ds = f.create_dataset("x", (3,), dtype=dtype)
        fill = ds.fillvalue
        return (None if fill is None else (fill.dtype, repr(fill))), repr(ds[0])
    theirs, ours = both(file_url, h5_path, op)
    assert ours[0] == theirs[0]
    assert ours[1].replace("np.void", "") == theirs[1].replace("np.void", "")
