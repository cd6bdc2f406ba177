"""Links, copy, move, track_order and the rest of the Group surface, against real h5py."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

import dosna_like


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the type is what we compare
        return ("raised", type(exc))


def same_outcome(got, ref):
    if ref[0] == "raised":
        assert got[0] == "raised" and issubclass(got[1], ref[1]), (got, ref)
        return
    assert got[0] == "ok", got
    same_value(got[1], ref[1])


def same_value(a, b):
    if isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    elif isinstance(b, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            same_value(x, y)
    else:
        assert a == b, (a, b)


def link_desc(link):
    """A comparable description of an h5py or dosna_like link object."""
    kind = type(link).__name__
    if kind == "SoftLink":
        return kind, link.path
    if kind == "ExternalLink":
        return kind, os.path.basename(link.filename).split(".")[0], link.path
    return (kind,)


def build(m, f, other_name):
    f.create_group("g/sub")
    f["g/d"] = np.arange(6).reshape(2, 3)
    f["g"].attrs["units"] = "m"
    f["soft"] = m.SoftLink("/g/d")
    f["rel"] = m.SoftLink("g")
    f["dangling"] = m.SoftLink("/nowhere")
    f["hard"] = f["g/d"]
    f["ext"] = m.ExternalLink(other_name, "/x")


OPS = {
    "read-soft": lambda m, f: f["soft"][...],
    "read-soft-name": lambda m, f: f["soft"].name,
    "read-hard": lambda m, f: f["hard"][...],
    "read-hard-name": lambda m, f: f["hard"].name,
    "read-through-relative-link": lambda m, f: f["rel/d"][...],
    "read-through-link-name": lambda m, f: f["rel/d"].name,
    "read-external": lambda m, f: f["ext"][...],
    "read-dangling": lambda m, f: f["dangling"],
    "contains-dangling": lambda m, f: "dangling" in f,
    "contains-missing": lambda m, f: "missing" in f,
    "keys": lambda m, f: list(f),
    "len": lambda m, f: len(f),
    "get-dangling-default": lambda m, f: f.get("dangling", 5),
    "getlink-soft": lambda m, f: link_desc(f.get("soft", getlink=True)),
    "getlink-hard": lambda m, f: link_desc(f.get("hard", getlink=True)),
    "getlink-plain": lambda m, f: link_desc(f.get("g", getlink=True)),
    "getlink-external": lambda m, f: link_desc(f.get("ext", getlink=True)),
    "getlink-missing": lambda m, f: f.get("missing", 7, getlink=True),
    "getclass": lambda m, f: f.get("g", getclass=True).__name__,
    "getclass-dataset": lambda m, f: f.get("soft", getclass=True).__name__,
    "getclass-getlink": lambda m, f: f.get("soft", getclass=True, getlink=True).__name__,
    "eq-through-links": lambda m, f: (f["soft"] == f["g/d"], f["hard"] == f["g/d"], f["g"] == f["g/d"]),
    "hash-through-links": lambda m, f: hash(f["hard"]) == hash(f["g/d"]),
    "visit": lambda m, f: (lambda seen: (f.visit(seen.append), seen)[1])([]),
    "visit-links": lambda m, f: (lambda seen: (f.visit_links(seen.append), seen)[1])([]),
    "visititems-links": lambda m, f: (lambda seen: (f.visititems_links(
        lambda n, link: seen.append((n, link_desc(link)))), seen)[1])([]),
    "create-under-link": lambda m, f: (f["rel"].create_dataset("new", data=[1.5]), sorted(f["g"]))[1],
    "create-through-link-path": lambda m, f: (f.create_group("rel/made"), sorted(f["g"]))[1],
    "set-taken-name": lambda m, f: f.__setitem__("soft", m.SoftLink("/g")),
    "delete-soft": lambda m, f: (f.__delitem__("soft"), list(f), f["g/d"].shape)[1:],
    "delete-dangling": lambda m, f: (f.__delitem__("dangling"), list(f))[1],
    "move-node": lambda m, f: (f.move("g/d", "moved"), list(f), list(f["g"]), f["moved"][...])[1:],
    "move-group": lambda m, f: (f.move("g", "h"), list(f), f["h/d"][...], f["h"].attrs["units"])[1:],
    "move-link": lambda m, f: (f.move("soft", "g/soft2"), list(f["g"]), f["g/soft2"][...])[1:],
    "move-onto-existing": lambda m, f: f.move("g", "soft"),
    "move-missing": lambda m, f: f.move("nothing", "x"),
    "copy-group": lambda m, f: (f.copy("g", "g2"), sorted(f["g2"]), f["g2/d"][...], f["g2"].attrs["units"])[1:],
    "copy-object-into-group": lambda m, f: (f.copy(f["g/d"], f["g/sub"]), f["g/sub/d"][...])[1],
    "copy-with-name": lambda m, f: (f.copy(f["g/d"], f, name="dcopy"), f["dcopy"][...])[1],
    "copy-shallow": lambda m, f: (f.copy("g", "gs", shallow=True), sorted(f["gs"]), list(f["gs/sub"]))[1:],
    "copy-without-attrs": lambda m, f: (f.copy("g", "gw", without_attrs=True), dict(f["gw"].attrs))[1],
    "copy-soft-kept": lambda m, f: (f.create_group("w"), f["w"].__setitem__("l", m.SoftLink("/g/d")),
                                    f.copy("w", "w2"), link_desc(f.get("w2/l", getlink=True)))[-1],
    "copy-soft-expanded": lambda m, f: ((f.create_group("w"), f["w"].__setitem__("l", m.SoftLink("/g/d")),
                                         f.copy("w", "w2", expand_soft=True),
                                         link_desc(f.get("w2/l", getlink=True)), f["w2/l"][...])[-2:]),
    "copy-existing": lambda m, f: f.copy("g", "g"),
    "create-dataset-like": lambda m, f: (lambda d: (d.shape, d.dtype, d.maxshape, d.fillvalue))(
        f.create_dataset_like("like", f.create_dataset("src", shape=(4, 5), dtype="i2", maxshape=(None, 5),
                                                       chunks=(2, 5), fillvalue=3))),
    "track-order": lambda m, f: (lambda g: (g.create_group("z"), g.create_group("a"),
                                            g.__setitem__("m", m.SoftLink("/g")), g.create_dataset("b", data=[1]),
                                            list(g), list(g.keys()))[-2:])(f.create_group("ordered", track_order=True)),
    "track-order-from-config": lambda m, f: (lambda cfg: (setattr(cfg, "track_order", True),
        (lambda g: (g.create_group("z"), g.create_group("a"), list(g))[-1])(f.create_group("cfg")),
        setattr(cfg, "track_order", False))[1])(m.get_config()),
    "track-order-off": lambda m, f: (lambda g: (g.create_group("z"), g.create_group("a"), list(g))[-1])(
        f.create_group("plain")),
    "multiblockslice": lambda m, f: f.create_dataset("mb", data=np.arange(40).reshape(20, 2))[
        m.MultiBlockSlice(start=1, count=3, stride=5, block=2), 1],
    "multiblockslice-default-count": lambda m, f: f.create_dataset("mb", data=np.arange(20))[
        m.MultiBlockSlice(stride=6, block=3)],
    "named-datatype": lambda m, f: (f.__setitem__("t", np.dtype([("a", "<i2"), ("b", "<f4")])),
                                    type(f["t"]).__name__, f["t"].dtype, f["t"].name,
                                    f.create_dataset("typed", shape=(2,), dtype=f["t"]).dtype,
                                    f.get("t", getclass=True).__name__, sorted(f))[1:],
    "named-datatype-require-group": lambda m, f: (f.__setitem__("t", np.dtype("f4")), f.require_group("t")),
    "dims": lambda m, f: (lambda d: (len(d.dims), d.dims[0].label, list(d.dims[1].keys())))(f["g/d"]),
    "dims-label-set": lambda m, f: (lambda d: (d.dims[1].__setattr__("label", "x"), [a.label for a in d.dims])[1])(
        f["g/d"]),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_same_as_h5py(file_url, tmp_path, op):
    ref_path, ref_other = str(tmp_path / "ref.h5"), str(tmp_path / "other.h5")
    dl_other = str(tmp_path / "other.dl") if "://" not in file_url else file_url.rsplit("/", 1)[0] + "/other.dl"
    with h5py.File(ref_other, "w") as o:
        o["x"] = np.arange(4)
    with dosna_like.File(dl_other, "w") as o:
        o["x"] = np.arange(4)
    with h5py.File(ref_path, "w") as hf:
        build(h5py, hf, "other.h5")
        ref = outcome(lambda: OPS[op](h5py, hf))
    with dosna_like.File(file_url, "w") as df:
        build(dosna_like, df, "other.dl")
        got = outcome(lambda: OPS[op](dosna_like, df))
    same_outcome(got, ref)


def test_links_and_order_survive_reopening(file_url, tmp_path):
    h5_path = str(tmp_path / "ref.h5")
    for m, url in ((h5py, h5_path), (dosna_like, file_url)):
        with m.File(url, "w") as f:
            build(m, f, "other.dl")
            g = f.create_group("ordered", track_order=True)
            for name in ("z", "b", "m"):
                g.create_group(name)
    with h5py.File(h5_path, "r") as h, dosna_like.File(file_url, "r") as f:
        assert f.get("soft", getlink=True).path == h.get("soft", getlink=True).path == "/g/d"
        np.testing.assert_array_equal(f["rel/d"][...], h["rel/d"][...])
        assert list(f["ordered"]) == list(h["ordered"]) == ["z", "b", "m"]
        same_outcome(outcome(lambda: f["dangling"]), outcome(lambda: h["dangling"]))


@pytest.mark.parametrize("filters", [{"shuffle": True}, {"fletcher32": True},
                                     {"compression": "gzip", "shuffle": True, "fletcher32": True}])
def test_copy_keeps_the_filters_h5py_keeps(file_url, tmp_path, filters):
    got = []
    for m, url in ((h5py, str(tmp_path / "ref.h5")), (dosna_like, file_url)):
        with m.File(url, "w") as f:
            f.create_dataset("a", data=np.arange(40, dtype="i4").reshape(8, 5), chunks=(4, 5), **filters)
            f.copy("a", "b")
            b = f["b"]
            got.append((b.compression, b.shuffle, b.fletcher32, b.chunks, b[...].tolist()))
    assert got[1] == got[0]


@pytest.mark.parametrize("direction", ["h5py-to-dosna", "dosna-to-h5py"])
def test_copy_between_libraries(file_url, tmp_path, direction):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((50, 7)).astype("f4")
    with h5py.File(str(tmp_path / "x.h5"), "w") as hf, dosna_like.File(file_url, "w") as df:
        src_file, dest_file = (hf, df) if direction == "h5py-to-dosna" else (df, hf)
        m = h5py if src_file is hf else dosna_like
        g = src_file.create_group("grp")
        g.create_dataset("data", data=data, chunks=(8, 7), compression="gzip", maxshape=(None, 7))
        g.create_dataset("text", data=["a", "bé"], dtype=m.string_dtype())
        g.create_dataset("empty", data=m.Empty("i4"))
        g["link"] = m.SoftLink("/grp/data")
        g.attrs["n"] = 3
        g["data"].attrs["unit"] = "K"
        df.copy(src_file["grp"], dest_file)  # dosna_like's copy takes either library's objects
        out = dest_file["grp"]
        assert sorted(out) == ["data", "empty", "link", "text"]
        np.testing.assert_array_equal(out["data"][...], data)
        assert out["data"].maxshape == (None, 7) and out["data"].compression == "gzip"
        assert out["text"].asstr()[...].tolist() == ["a", "bé"]
        assert out["empty"].shape is None
        assert out.get("link", getlink=True).path == "/grp/data"
        assert out.attrs["n"] == 3 and out["data"].attrs["unit"] == "K"
