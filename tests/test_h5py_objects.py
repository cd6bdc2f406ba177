"""Differential tests against real h5py for what issue 12 item 6 and h5netcdf need:
HDF5 type ids (``ds.id.get_type()``, ``Datatype.id``, ``attrs.get_id``), HDF5's
dimension-scale attributes, anonymous objects, visit order, the mapping views,
``get(elink_mode=)``, attribute conversions and the File options refused.

Each test runs the same code on both libraries and compares values, dtypes,
shapes and exception types.
"""
from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

import dosna_like
from dosna_like.hl import attrs as attrs_module, scale_attrs


@pytest.fixture
def both(tmp_path):
    """(h5py file, dosna_like file), both new and writable."""
    h = h5py.File(tmp_path / "h.h5", "w")
    d = dosna_like.File(str(tmp_path / "d.h5"), "w")
    yield h, d
    h.close()
    d.close()


def outcome(func):
    """What ``func()`` gives: ("ok", value) or ("raised", exception type)."""
    try:
        return "ok", func()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return "raised", type(exc)


def assert_same_outcome(ours, theirs):
    """dosna_like's exception must be an instance of h5py's class; values equal."""
    if theirs[0] == "raised":
        assert ours[0] == "raised", f"h5py raised {theirs[1].__name__}, dosna_like gave {ours[1]!r}"
        assert issubclass(ours[1], theirs[1]), f"{ours[1].__name__} is not a {theirs[1].__name__}"
    else:
        assert ours == theirs


def test_outcome_comparison_catches_a_planted_difference():
    assert_same_outcome(("raised", KeyError), ("raised", LookupError))
    with pytest.raises(AssertionError):
        assert_same_outcome(("raised", LookupError), ("raised", KeyError))
    with pytest.raises(AssertionError):
        assert_same_outcome(("ok", 1), ("raised", ValueError))


# ------------------------------------------------------------------ type ids
DTYPES = [np.dtype("i4"), np.dtype(">f4"), np.dtype("f8"), np.dtype("u1"), np.dtype("?"), np.dtype("c8"),
          np.dtype("S5"), h5py.string_dtype(), h5py.string_dtype("ascii"), h5py.string_dtype("utf-8", 4),
          h5py.vlen_dtype(np.int32),
          h5py.ref_dtype, np.dtype([("a", "i4"), ("b", "f8")]),
          h5py.enum_dtype({"a": 1, "b": 2}, basetype="i1")]


@pytest.mark.parametrize("dtype", DTYPES, ids=repr)
def test_dataset_type_id_matches_h5py(both, dtype):
    got = []
    for f in both:
        a = f.create_dataset("a", (2,), dtype=dtype)
        b = f.create_dataset("b", (3,), dtype=dtype)
        other = f.create_dataset("other", (2,), dtype="i8")
        t = a.id.get_type()
        text = (t.get_cset(), t.is_variable_str()) if t.get_class() == h5py.h5t.STRING else None
        got.append((type(t).__name__, t.get_class(), t.get_size(), t == b.id.get_type(), t == other.id.get_type(),
                    t.dtype, text, t.committed()))
    assert got[1] == got[0]


def test_type_classes_are_h5pys_constants():
    for name in ("CSET_ASCII", "CSET_UTF8", "NO_CLASS", "INTEGER", "FLOAT", "TIME", "STRING", "BITFIELD", "OPAQUE", "COMPOUND", "REFERENCE",
                 "ENUM", "VLEN", "ARRAY"):
        assert getattr(dosna_like.h5t, name) == getattr(h5py.h5t, name), name


def test_committed_datatype_id_matches_h5py(both):
    got = []
    for f in both:
        f["T"] = np.dtype([("x", "i4"), ("y", "f8")])
        ds = f.create_dataset("d", (2,), dtype=f["T"])
        plain = f.create_dataset("p", (2,), dtype="i4")
        tid = f["T"].id
        got.append((tid.get_class(), tid == ds.id.get_type(), ds.id.get_type() == tid, tid == plain.id.get_type()))
    assert got[1] == got[0]


def test_group_id_has_no_type(both):
    for f in both:
        with pytest.raises(AttributeError):
            f.create_group("g").id.get_type()


ATTR_VALUES = [4.0, 7, "text", ["a", "bc"], [1, 2, 3], np.bytes_(b"ab"), np.array([b"a", b"bc"]),
               np.arange(6, dtype="u2").reshape(2, 3), h5py.Empty("f4"), np.array(["x", "y"], dtype=h5py.string_dtype("ascii"))]


@pytest.mark.parametrize("value", ATTR_VALUES, ids=repr)
def test_attrs_get_id_matches_h5py(both, value):
    got = []
    for f, mod in zip(both, (h5py, dosna_like)):
        f.attrs["v"] = value if not isinstance(value, h5py.Empty) else mod.Empty("f4")
        aid = f.attrs.get_id("v")
        got.append((aid.name, aid.dtype, mod.check_string_dtype(aid.dtype), aid.shape, aid.get_type().get_class()))
    assert got[1] == got[0]
    with pytest.raises(KeyError):
        both[1].attrs.get_id("missing")


# ----------------------------------------------------- dimension-scale attrs
def _scale_story(f):
    f["data"] = np.ones((3, 2))
    f["x"] = np.arange(2.0)
    f["y"] = np.arange(3.0)
    f["x"].make_scale("")
    f["y"].make_scale(b"yy")
    f["data"].dims[1].attach_scale(f["x"])
    f["data"].dims[0].attach_scale(f["y"])
    f["data"].dims[0].label = "rows"


def _attrs_view(f, name) -> dict:
    """A dataset's attributes with references as the names they point to."""
    out = {}
    for key, value in f[name].attrs.items():
        if key == "DIMENSION_LIST":
            out[key] = (value.dtype, [[f[r].name for r in refs] for refs in value])
        elif key == "REFERENCE_LIST":
            out[key] = (value.dtype.names, [(f[r].name, int(axis)) for r, axis in value.tolist()],
                        value.dtype.itemsize)
        else:
            out[key] = (type(value), getattr(value, "dtype", None), np.asarray(value).tolist())
    return out


def test_dimension_scale_attributes_match_h5py(both):
    views = []
    for f in both:
        _scale_story(f)
        views.append({n: _attrs_view(f, n) for n in ("data", "x", "y")})
        f["data"].dims[0].detach_scale(f["y"])
        views.append({n: _attrs_view(f, n) for n in ("data", "x", "y")})
        f["data"].dims[1].detach_scale(f["x"])
        views.append({n: _attrs_view(f, n) for n in ("data", "x", "y")})
    assert views[3:] == views[:3]


def test_dimension_scale_attributes_are_worked_out_one_at_a_time(both, monkeypatch):
    # only REFERENCE_LIST looks at the file's datasets, and naming the attributes stops at the first user
    walks = []
    real = scale_attrs._scale_users
    monkeypatch.setattr(scale_attrs, "_scale_users", lambda obj, *first: walks.append(any(first)) or real(obj, *first))
    h, d = both
    for f in both:
        _scale_story(f)
        f["unused"] = np.arange(4.0)
        f["unused"].make_scale("u")
        f["data"].attrs["units"] = "m"
    asked = [("x", "CLASS"), ("y", "NAME"), ("data", "DIMENSION_LIST"), ("data", "DIMENSION_LABELS"),
             ("data", "units")]
    for name, key in asked:  # h5py's values
        assert key in d[name].attrs and key in h[name].attrs
        assert _attrs_view(d, name)[key] == _attrs_view(h, name)[key]
    walks.clear()
    values = [d[name].attrs[key] for name, key in asked]
    assert all(key in d[name].attrs for name, key in asked) and len(values) == len(asked)
    assert walks == []
    assert [list(d[n].attrs) for n in ("x", "unused", "data")] == [list(h[n].attrs) for n in ("x", "unused", "data")]
    assert "REFERENCE_LIST" not in d["unused"].attrs and "REFERENCE_LIST" not in h["unused"].attrs
    assert walks and all(walks)  # whether a scale is used: the first user found is enough
    walks.clear()
    assert _attrs_view(d, "x")["REFERENCE_LIST"] == _attrs_view(h, "x")["REFERENCE_LIST"]
    assert False in walks


def test_writing_dimension_list_attaches_as_h5py(both):
    got = []
    for f in both:
        _scale_story(f)
        f["data2"] = np.zeros((3, 2))
        f["data2"].attrs["DIMENSION_LIST"] = f["data"].attrs["DIMENSION_LIST"]
        got.append([[s.name for s in dim.values()] for dim in f["data2"].dims])
    assert got[1] == got[0]


def test_dimension_proxies_match_h5py(both):
    got = []
    for f in both:
        _scale_story(f)
        f["z"] = np.zeros(3)
        dims = f["data"].dims
        got.append(([d for d in dims] == [dims[0], dims[1]], dims[0] != dims[1], dims[0]["yy"].name,
                     dims[0][b"yy"].name, outcome(lambda: f["z"].dims[0][0]), outcome(lambda: f["z"].dims[0]["a"])))
    assert got[1][:4] == got[0][:4]
    assert_same_outcome(got[1][4], got[0][4])
    assert_same_outcome(got[1][5], got[0][5])


# -------------------------------------------------------- anonymous objects
def test_anonymous_objects_match_h5py(both):
    got = []
    for f in both:
        seen = []
        g = f.create_group(None)
        d = f.create_dataset(None, data=np.arange(3))
        g["inner"] = 5
        ref = d.ref
        seen.append((g.name, d.name, g["inner"].name, len(f), list(f), f[ref][...].tolist(), f[ref].name,
                     "(anonymous)" in repr(g), "(anonymous)" in repr(d)))
        seen.append(outcome(lambda: g.parent))
        f["named"] = d
        seen.append((d.name, f["named"].name, f[ref].name, list(f)))
        f.visit(seen.append)
        got.append(seen)
    ours, theirs = got[1], got[0]
    assert_same_outcome(ours.pop(1), theirs.pop(1))
    assert ours == theirs


def test_anonymous_objects_are_gone_after_close(tmp_path):
    path = str(tmp_path / "d.h5")
    with dosna_like.File(path, "w") as f:
        f.create_group(None).attrs["a"] = 1
        kept = f.create_dataset(None, data=np.arange(2))
        f["kept"] = kept
    with dosna_like.File(path, "r") as f:
        assert list(f) == ["kept"] and f["kept"][...].tolist() == [0, 1]
        assert f.search() == [f["kept"]]
    assert sorted(p.name for p in (tmp_path / "d.h5").iterdir() if not p.name.startswith(("zarr", "_dosna"))) == \
        ["kept"]


# ------------------------------------------------------ visit order and views
def _populate(f):
    f.create_dataset("b", (2,), "f4")
    g = f.create_group("B", track_order=True)
    g.create_dataset("b", (2,), "f4")
    g.create_dataset("a", (2,), "f4")
    f.create_dataset("a", (2,), "f4")
    f.create_dataset("z-", (2,), "f4")
    f.create_group("z/y")
    f["s"] = f["a"]  # a second name: visited once


@pytest.mark.parametrize("track_order", [False, True])
def test_visit_order_matches_h5py(tmp_path, track_order):
    got = []
    for mod, name in ((h5py, "h.h5"), (dosna_like, "d.h5")):
        with mod.File(str(tmp_path / name), "w", track_order=track_order) as f:
            _populate(f)
            names, items = [], []
            f.visit(names.append)
            f.visititems(lambda n, obj: items.append((n, type(obj).__name__)))
            links = []
            f.visit_links(links.append)
            got.append((names, items, links, list(f)))
    assert got[1] == got[0]


def test_mapping_views_match_h5py(both):
    got = []
    for f, mod in zip(both, (h5py, dosna_like)):
        f.create_group("g")
        f["d"] = 1
        f["dangling"] = mod.SoftLink("/nowhere")
        f.attrs["b"] = 1
        f.attrs["a"] = 2
        got.append((list(f.keys()), list(reversed(f.keys())), [v is None for v in f.values()],
                    [k for k, _ in reversed(f.items())], ("dangling", None) in f.items(),
                    list(f.attrs.keys()), [int(v) for v in f.attrs.values()],
                    list(f.attrs.items())[0][0], f.attrs._ipython_key_completions_()))
    assert got[1] == got[0]


def test_contains_on_a_closed_file_matches_h5py(tmp_path):
    for mod, name in ((h5py, "h.h5"), (dosna_like, "d.h5")):
        f = mod.File(str(tmp_path / name), "w")
        f.create_group("a")
        f.close()
        assert "a" not in f and b"a" not in f


def test_require_dataset_with_maxshape_matches_h5py(both):
    got = []
    for f in both:
        ds = f.require_dataset("r", shape=(0, 3), maxshape=(None, 3), dtype=int)
        ds.resize(20, axis=0)
        got.append((f.require_dataset("r", shape=(0, 3), maxshape=(None, 3), dtype=int).shape,
                    outcome(lambda: f.require_dataset("r", shape=(0, 0), maxshape=(3, None), dtype=int)),
                    outcome(lambda: f.require_dataset("r", shape=(0, 3), dtype=int))))
    assert got[1][0] == got[0][0]
    assert_same_outcome(got[1][1], got[0][1])
    assert_same_outcome(got[1][2], got[0][2])


def test_group_from_an_id_matches_h5py(both):
    got = []
    for f, mod in zip(both, (h5py, dosna_like)):
        g = f.create_group("g")
        ds = f.create_dataset("d", (1,), "f4")
        got.append((mod.Group(g.id).name, mod.Dataset(ds.id).shape, outcome(lambda: mod.Group(ds.id))))
    assert got[1][:2] == got[0][:2]
    assert_same_outcome(got[1][2], got[0][2])


def test_get_elink_mode_opens_the_external_file_in_that_mode(tmp_path):
    got = []
    for mod, tag in ((h5py, "h"), (dosna_like, "d")):
        ext, main = tmp_path / f"{tag}_ext.h5", tmp_path / f"{tag}_main.h5"
        with mod.File(str(ext), "w") as f:
            f.create_group("group")
        with mod.File(str(main), "w") as f:
            f["external"] = mod.ExternalLink(ext.name, "/group")
        with mod.File(str(main), "a") as f:
            ro = f.get("external", elink_mode="r")
            got.append((ro.file.mode, outcome(lambda: ro.create_group("x"))))
            del ro  # h5py keeps the external file open (read-only) while a handle into it lives
        with mod.File(str(main), "a") as f:
            got.append(f.get("external").file.mode)
    assert got[2][0] == got[0][0] and got[3] == got[1]
    assert_same_outcome(got[2][1], got[0][1])


# ------------------------------------------------------------- attributes
ATTR_CASES = [
    ("unicode array", lambda f: f.attrs.create("x", np.array(["a", "b"], dtype="U1"))),
    ("unicode 0-d", lambda f: f.attrs.__setitem__("x", np.array("abc"))),
    ("embedded NUL str", lambda f: f.attrs.__setitem__("x", "a\x00b")),
    ("embedded NUL bytes", lambda f: f.attrs.__setitem__("x", b"Hello\x00Hello")),
    ("embedded NUL list", lambda f: f.attrs.__setitem__("x", ["a\x00b"])),
    ("fixed bytes with NUL", lambda f: (f.attrs.__setitem__("x", np.bytes_(b"a\x00b")), f.attrs["x"])[1]),
    ("subarray dtype", lambda f: (f.attrs.create("x", np.arange(6, dtype="i").reshape(2, 3), dtype="(3,)i"),
                                  f.attrs["x"])[1]),
    ("subarray dtype mismatch", lambda f: f.attrs.create("x", np.arange(4, dtype="i"), dtype="(3,)i")),
    ("shape conflict", lambda f: f.attrs.create("x", np.arange(4, dtype="i"), shape=(5,), dtype="()i")),
    ("uint64 past int64", lambda f: (f.attrs.__setitem__("x", np.uint64(2**63 + 5)),
                                     (f.attrs["x"], f.attrs["x"].dtype))[1]),
    ("uint64 array past int64", lambda f: (f.attrs.__setitem__("x", np.array([2**64 - 1, 1], "u8")), f.attrs["x"])[1]),
    ("modify uint64", lambda f: (f.attrs.create("x", [2**63 - 1, 2**63], dtype=np.uint64),
                                 f.attrs.modify("x", [2**63 - 1, 2**63]), f.attrs["x"])[2]),
    ("compound with vlen fields", lambda f: (
        f.attrs.__setitem__("x", np.array((np.arange(1, 5, dtype="i4"), np.arange(8, 10, dtype="i4")),
                                          dtype=[("a", h5py.vlen_dtype("i4")), ("b", h5py.vlen_dtype("i4"))])[()]),
        [f.attrs["x"][n].tolist() for n in ("a", "b")])[1]),
]


@pytest.mark.parametrize("case", ATTR_CASES, ids=[c[0] for c in ATTR_CASES])
def test_attribute_conversions_match_h5py(both, case):
    _, op = case
    theirs, ours = (outcome(lambda f=f: op(f)) for f in both)
    if theirs[0] == "ok" and isinstance(theirs[1], np.ndarray):
        assert ours[0] == "ok" and ours[1].dtype == theirs[1].dtype
        np.testing.assert_array_equal(ours[1], theirs[1])
    else:
        assert_same_outcome(ours, theirs)
    assert "x" not in both[1].attrs or theirs[0] == "ok"  # a refused write leaves nothing behind



def test_attribute_create_decodes_the_stored_value_once(both, monkeypatch):
    # whether the type record is needed is told from one decode (of the plain JSON value)
    calls = []
    real = attrs_module.decode_attr
    monkeypatch.setattr(attrs_module, "decode_attr", lambda value, record: calls.append(record) or real(value, record))
    h, d = both
    for value in (np.arange(3, dtype="i4"), 2.5, "text", [1, 2]):
        for f in both:
            f.attrs.create("x", value)
        assert len(calls) == 1
        ours, theirs = d.attrs["x"], h.attrs["x"]
        assert type(ours) is type(theirs) and np.asarray(ours).dtype == np.asarray(theirs).dtype
        np.testing.assert_array_equal(ours, theirs)
        calls.clear()


# ---------------------------------------------------------------- File options
FILE_CASES = [
    ("userblock on read", lambda mod, p: mod.File(p, "r", userblock_size=512)),
    ("userblock not a power of 2", lambda mod, p: mod.File(p, "w", userblock_size=513)),
    ("userblock too small", lambda mod, p: mod.File(p, "w", userblock_size=128)),
    ("userblock not an int", lambda mod, p: mod.File(p, "w", userblock_size="non")),
    ("locking value", lambda mod, p: mod.File(p, "r", locking="unsupported-value")),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_file_option_errors_match_h5py(tmp_path, case):
    _, op = case
    for mod, name in ((h5py, "h.h5"), (dosna_like, "d.h5")):
        with mod.File(str(tmp_path / name), "w"):
            pass
    theirs = outcome(lambda: op(h5py, str(tmp_path / "h.h5")))
    ours = outcome(lambda: op(dosna_like, str(tmp_path / "d.h5")))
    assert_same_outcome(ours, theirs)


def test_a_userblock_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="user block"):
        dosna_like.File(str(tmp_path / "u.h5"), "w", userblock_size=512)
    assert not (tmp_path / "u.h5").exists()


def test_driver_reports_the_driver_asked_for(tmp_path):
    for driver in ("sec2", "core"):
        for mod, name in ((h5py, "h.h5"), (dosna_like, "d.h5")):
            with mod.File(str(tmp_path / f"{driver}{name}"), "w", driver=driver) as f:
                assert f.driver == driver


# ------------------------------------------------------------ install_as_h5py
def test_classes_carry_h5pys_module_names_only_while_installed(tmp_path):
    own = dosna_like.Dataset.__module__
    with dosna_like.as_h5py() as h5:
        with h5.File(str(tmp_path / "p.h5"), "w") as f:
            ds = f.create_dataset("x", data=np.arange(3))
            assert type(ds).__module__ == "h5py._hl.dataset"  # as the real h5py's Dataset
            assert type(f["/"]).__module__ == "h5py._hl.group" and type(f).__module__ == "h5py._hl.files"
            blob = pickle.dumps(ds)
    assert dosna_like.Dataset.__module__ == own and dosna_like.File.__module__ == "dosna_like.hl.files"
    back = pickle.loads(blob)  # a handle pickled while installed is rebuilt without the install
    assert type(back) is dosna_like.Dataset and back[...].tolist() == [0, 1, 2]
    back.file.close()


# ----------------------------------------------------------- copies and refs
def test_copied_references_point_where_h5py_points(tmp_path):
    got = []
    for mod, tag in ((h5py, "h"), (dosna_like, "d")):
        with mod.File(str(tmp_path / f"{tag}1.h5"), "w") as f1, mod.File(str(tmp_path / f"{tag}2.h5"), "w") as f2:
            f1["foo"] = [1, 2, 3]
            f1["bar"] = [4, 5, 6]
            f1["foo"].attrs["bar"] = f1["bar"].ref
            f1.create_dataset("refs", data=np.array([f1["bar"].ref, f1["foo"].ref], dtype=mod.ref_dtype))
            f2["bar"] = [7, 7, 7]  # what a path copied as it is would wrongly name
            seen = []
            f1.copy("foo", "same")  # within a file: attribute references null, dataset ones kept
            f1.copy("refs", "refs_same")
            seen.append((bool(f1["same"].attrs["bar"]), [f1[r].name for r in f1["refs_same"][...]]))
            f1.copy("foo", f2, "nox")  # into another file: a null reference
            seen.append(bool(f2["nox"].attrs["bar"]))
            f1.copy("refs", f2, "refs")
            seen.append([bool(r) for r in f2["refs"][...]])
            f1.copy("foo", f1, "baz", expand_refs=True)  # the target comes along, once
            target = f1[f1["baz"].attrs["bar"]]
            seen.append((target[...].tolist(), target.name != "/bar"))
            f1.copy("/", f2, "q", expand_refs=True)  # inside the copied tree: its copy
            seen.append((f2[f2["q/foo"].attrs["bar"]].name, [f2[r].name for r in f2["q/refs"][...]]))
            got.append(seen)
    assert got[1] == got[0]


def test_handles_follow_moved_objects_as_in_h5py(both):
    got = []
    for f in both:
        grp = f.create_group("x")
        inner = f.create_dataset("x/d", data=np.arange(3))
        f.move("x", "y")
        seen = [f["y"] == grp, grp.name, inner.name, inner[...].tolist()]
        f.create_group("x")  # a new object at the old name is another object
        seen += [f["x"] == grp, grp.name]
        f.move("y", "z/nested")
        seen += [f["z/nested"] == grp, grp.name, inner.name, sorted(f)]
        got.append(seen)
    assert got[1] == got[0]
