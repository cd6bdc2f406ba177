"""Object and region references against real h5py, and their stored form.

Values are compared through what code does with a reference (its truth,
what it dereferences to, the dtype marks), since the reference classes are
each library's own.  The stored form is a path, checked through zarr-python,
a reopen, a store copy and an HDF5 round trip.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import zarr

import dosna_like

try:
    from .test_dtypes import both
except ImportError:  # run as a plain script directory
    from test_dtypes import both


def _build(m, f):
    g = f.create_group("g")
    d = f.create_dataset("g/d", data=np.arange(6))
    return g, d


def _names(f, refs) -> list:
    return [f[r].name if r else None for r in np.asarray(refs, dtype=object).reshape(-1).tolist()]


def test_module_names_match_h5py():
    for name in ("Reference", "RegionReference", "ref_dtype", "regionref_dtype", "check_ref_dtype"):
        assert hasattr(dosna_like, name), name
    assert dosna_like.check_ref_dtype(dosna_like.ref_dtype) is dosna_like.Reference
    assert dosna_like.check_ref_dtype(dosna_like.regionref_dtype) is dosna_like.RegionReference
    assert dosna_like.check_ref_dtype(np.dtype("f4")) is None
    assert dosna_like.check_dtype(ref=dosna_like.ref_dtype) is dosna_like.Reference
    assert dosna_like.ref_dtype.kind == h5py.ref_dtype.kind == "O"
    assert bool(dosna_like.Reference()) is bool(h5py.Reference()) is False
    assert repr(dosna_like.Reference("/x")) == "<HDF5 object reference>"


def test_obj_ref_dereferences_as_in_h5py(file_url, h5_path):
    def op(m, f):
        g, d = _build(m, f)
        out = {"bool": bool(d.ref), "type": type(d.ref).__name__, "via-root": f[d.ref].name,
               "via-group": g[d.ref].name, "group": f[g.ref].name, "root": f[f.ref].name,
               "kind": type(f[d.ref]).__name__, "data": f[d.ref][...]}
        for key, bad in (("null", m.Reference()),):
            try:
                f[bad]
            except Exception as exc:  # noqa: BLE001 - the type is what is compared
                out[key] = type(exc).__name__
        return out

    want, got = both(file_url, h5_path, op)
    want["data"], got["data"] = want["data"].tolist(), got["data"].tolist()
    assert got == want
    assert got["null"] == "ValueError"


def test_reference_datasets_as_in_h5py(file_url, h5_path):
    def op(m, f):
        g, d = _build(m, f)
        rd = f.create_dataset("refs", (3,), dtype=m.ref_dtype)
        rd[0] = g.ref
        rd[1] = d.ref
        whole = rd[...]
        one = rd[1]
        scalar = f.create_dataset("one", data=d.ref)
        listed = f.create_dataset("listed", data=[d.ref, g.ref], dtype=m.ref_dtype)
        return {"dtype": whole.dtype.kind, "check": m.check_ref_dtype(rd.dtype).__name__,
                "meta": m.check_ref_dtype(whole.dtype).__name__, "shape": rd.shape, "names": _names(f, whole),
                "bools": [bool(r) for r in whole], "one": type(one).__name__, "one-name": f[one].name,
                "scalar": (scalar.shape, f[scalar[()]].name), "listed": _names(f, listed[...]),
                "fill": bool(rd[2])}

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_reference_attributes_as_in_h5py(file_url, h5_path):
    def op(m, f):
        g, d = _build(m, f)
        f.attrs["one"] = d.ref
        f.attrs["many"] = np.array([d.ref, g.ref, m.Reference()], dtype=m.ref_dtype)
        one, many = f.attrs["one"], f.attrs["many"]
        return {"one": (type(one).__name__, f[one].name), "many": (type(many).__name__, many.shape,
                                                                  m.check_ref_dtype(many.dtype).__name__),
                "names": _names(f, many)}

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_references_inside_compounds_and_vlen_fields(file_url, h5_path):
    def op(m, f):
        g, d = _build(m, f)
        dt = np.dtype([("r", m.ref_dtype), ("x", "<i4")])
        rec = np.zeros(2, dt)
        rec[0] = (d.ref, 5)
        rec[1] = (g.ref, 6)
        ds = f.create_dataset("rec", data=rec)
        back = ds[...]
        return {"names": [f[r].name for r in back["r"]], "x": back["x"].tolist(),
                "field-ref": m.check_ref_dtype(back.dtype.fields["r"][0]).__name__}

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_region_references_read_as_in_h5py(file_url, h5_path):
    def op(m, f):
        _, d = _build(m, f)
        rr = d.regionref[1:4]
        out = {"type": type(rr).__name__, "bool": bool(rr), "deref": f[rr].name, "data": d[rr].tolist()}
        try:
            d.regionref["nope"]
        except Exception as exc:  # noqa: BLE001
            out["bad-key"] = type(exc).__name__
        return out

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_region_references_cannot_be_stored(tmp_path):
    with dosna_like.File(str(tmp_path / "s"), "w") as f:
        d = f.create_dataset("d", data=np.arange(4))
        with pytest.raises(TypeError, match="Region references"):
            f.create_dataset("rr", (2,), dtype=dosna_like.regionref_dtype)
        with pytest.raises(TypeError, match="Region references"):
            f.attrs["rr"] = d.regionref[1:2]


def test_stored_form_is_the_target_path_for_zarr(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        _, d = _build(dosna_like, f)
        rd = f.create_dataset("refs", (3,), dtype=dosna_like.ref_dtype)
        rd[:2] = [d.ref, f["g"].ref]
        f.attrs["ptr"] = d.ref
    z = zarr.open_group(url, mode="r")
    assert z["refs"][...].tolist() == ["/g/d", "/g", ""]
    assert z.attrs["ptr"] == "/g/d"


def test_references_survive_reopen_copy_and_hdf5_round_trip(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        _, d = _build(dosna_like, f)
        f.create_dataset("refs", data=[d.ref, dosna_like.Reference()], dtype=dosna_like.ref_dtype)
        d.attrs["self"] = d.ref
    dosna_like.copy_store(url, str(tmp_path / "copy"))
    dosna_like.export_hdf5(str(tmp_path / "copy"), str(tmp_path / "out.h5"))
    with h5py.File(str(tmp_path / "out.h5"), "r") as h5:
        assert [h5[r].name if r else None for r in h5["refs"][...]] == ["/g/d", None]
        assert h5[h5["g/d"].attrs["self"]].name == "/g/d"
    dosna_like.import_hdf5(str(tmp_path / "out.h5"), str(tmp_path / "back"))
    for where in (url, str(tmp_path / "copy"), str(tmp_path / "back")):
        with dosna_like.File(where, "r") as f:
            assert _names(f, f["refs"][...]) == ["/g/d", None]
            assert f[f["g/d"].attrs["self"]].name == "/g/d"


def test_a_moved_target_leaves_a_dangling_path(tmp_path):
    """Documented: references are paths, so they do not follow a move (HDF5's addresses do)."""
    with dosna_like.File(str(tmp_path / "s"), "w") as f:
        _, d = _build(dosna_like, f)
        ref = d.ref
        f.move("g/d", "g/e")
        with pytest.raises(KeyError):
            f[ref]
        f.create_dataset("g/d", data=[1])
        assert f[ref][...].tolist() == [1]  # whatever now lives at the path
