"""The Zarr ecosystem reads our stores cleanly (issue 14): xarray, dask and
zarr-python on stores the API writes; the previous on-store layout still opens;
dimension scales behave as h5py's (the same code runs on both).
"""
from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest
import zarr

import dosna_like
from dosna_like.format.reserved import RESERVED

import dask.array as da  # noqa: E402  (test extra: fail, never skip)
import xarray as xr  # noqa: E402


@pytest.fixture
def eco_url(tool_url) -> str:
    return tool_url


def write_sample(url: str) -> None:
    """What the API tests write: unlabelled arrays, labels, a scale, groups, attributes of every kind."""
    with dosna_like.File(url, "w") as f:
        f.attrs["title"] = "sample"
        f.attrs["n"] = 3  # int64: no type record needed, so the group has no reserved entry
        f.create_dataset("plain", data=np.arange(12.0).reshape(3, 4))
        f.create_dataset("square", data=np.eye(3), maxshape=(None, 3), chunks=(2, 3))
        x = f.create_dataset("x", data=np.arange(4.0))
        x.make_scale("x")
        t = f.create_dataset("t", data=np.arange(3) * 10)
        t.make_scale("time")
        v = f.create_dataset("v", data=np.ones((3, 4), "f4"), compression="gzip")
        v.dims[0].attach_scale(t)
        v.dims[1].attach_scale(x)
        v.attrs["units"] = "m"
        v.attrs["scale"] = np.float32(2.5)
        g = f.create_group("g")
        g.attrs["k"] = 1.5
        g.create_dataset("b", data=np.arange(5), dtype="i2")
        f["g"]["b"].dims[0].label = "k"


def test_xarray_opens_every_store_we_write_without_warnings(eco_url, tmp_path):
    write_sample(eco_url)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(eco_url)
        same = xr.open_dataset(eco_url, engine="zarr")
        sub = xr.open_zarr(eco_url, group="g")
    assert dict(ds.attrs) == {"title": "sample", "n": 3}
    assert ds["v"].dims == ("time", "x") and dict(ds["v"].attrs) == {"units": "m", "scale": 2.5}
    assert "x" in ds.coords and ds["t"].dims == ("time",)  # a scale named unlike its dataset
    assert ds["plain"].dims == ("phony_dim_3", "phony_dim_4")
    assert ds["square"].dims == ("phony_dim_3", "phony_dim_3_1")
    np.testing.assert_array_equal(same["plain"].values, np.arange(12.0).reshape(3, 4))
    assert sub["b"].dims == ("k",) and dict(sub.attrs) == {"k": 1.5}
    ds.to_netcdf(tmp_path / "out.nc")
    back = xr.open_dataset(tmp_path / "out.nc")
    np.testing.assert_array_equal(back["v"].values, np.ones((3, 4), "f4"))


def test_zarr_python_and_dask_see_exactly_the_users_attributes(eco_url):
    write_sample(eco_url)
    root = zarr.open_group(eco_url, mode="r")
    assert root.metadata.consolidated_metadata is not None  # one request for the whole hierarchy
    assert dict(root.attrs) == {"title": "sample", "n": 3}
    assert dict(root["v"].attrs) == {"units": "m", "scale": 2.5}
    assert dict(root["g"].attrs) == {"k": 1.5}
    for name in ("plain", "square", "x", "t", "v", "g/b"):
        assert RESERVED not in root[name].attrs
        assert len(root[name].metadata.dimension_names) == root[name].ndim
    np.testing.assert_array_equal(da.from_zarr(eco_url, component="g/b").compute(), np.arange(5))


def test_consolidated_metadata_follows_flush_and_close(tmp_path):
    url = str(tmp_path / "c.h5")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("a", data=np.arange(3))
    with dosna_like.File(url, "r+") as f:
        f.create_dataset("b", data=np.arange(4))
        f.flush()
        assert sorted(zarr.open_group(url, mode="r").keys()) == ["a", "b"]
        del f["a"]
    assert sorted(zarr.open_group(url, mode="r").keys()) == ["b"]
    doc = json.loads((tmp_path / "c.h5" / "zarr.json").read_text())
    assert list(doc["consolidated_metadata"]["metadata"]) == ["b"]
    with dosna_like.File(url, "r") as f:  # our reads ignore the consolidated copy
        assert list(f) == ["b"] and f["b"].maxshape == (4,)


def test_opening_a_hierarchy_costs_one_request_in_zarr(tmp_path):
    url = str(tmp_path / "r.h5")
    with dosna_like.File(url, "w") as f:
        for i in range(20):
            f.create_dataset(f"g{i % 4}/d{i}", data=np.arange(3))
    store = zarr.storage.LocalStore(url, read_only=True)
    gets = []
    original = store.get

    async def counting_get(key, *args, **kwargs):
        gets.append(key)
        return await original(key, *args, **kwargs)

    store.get = counting_get
    root = zarr.open_group(store, mode="r", zarr_format=3)  # without it zarr also probes v2 keys
    names = sorted(name for name, _ in root.members(max_depth=None))
    assert len(names) == 24 and gets == ["zarr.json"]


def test_the_previous_layout_still_opens_and_migrates_on_write(tmp_path):
    url = str(tmp_path / "old.h5")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("a", data=np.arange(6), maxshape=(None,))
        ds.attrs["u"] = np.int16(2)
    key = tmp_path / "old.h5" / "a" / "zarr.json"
    doc = json.loads(key.read_text())  # back to the previous layout: the entry in the attributes
    reserved = {k: v for k, v in doc.pop("dosna_like").items() if k not in ("must_understand", "dim_labels")}
    doc["attributes"][RESERVED] = reserved
    doc.pop("dimension_names")
    key.write_text(json.dumps(doc))
    with dosna_like.File(url, "r") as f:
        assert f["a"].maxshape == (None,) and f["a"].attrs["u"].dtype == np.int16
        assert f["a"].dims[0].label == ""
    with dosna_like.File(url, "r+") as f:
        f["a"].attrs["v"] = 1
    doc = json.loads(key.read_text())
    assert RESERVED not in doc["attributes"] and doc["dosna_like"]["maxshape"] == [None]
    assert doc["dimension_names"] == ["phony_dim_6"]


def _to_previous_layout(store_dir) -> None:
    """Every array document back to the previous layout (entry in the attributes,
    no dimension_names), and no consolidated metadata at the root."""
    for key in store_dir.rglob("zarr.json"):
        doc = json.loads(key.read_text())
        doc.pop("consolidated_metadata", None)
        if "dosna_like" in doc:
            entry = doc.pop("dosna_like")
            labels = entry.get("dim_labels") or []
            doc["attributes"][RESERVED] = {k: v for k, v in entry.items() if k not in ("must_understand", "dim_labels")}
            doc.pop("dimension_names", None)
            if any(labels):  # the previous layout kept h5py labels as dimension_names
                doc["dimension_names"] = labels
        key.write_text(json.dumps(doc))


def test_upgrade_rewrites_a_previous_layout_store_once(tmp_path, capsys):
    from dosna_like.cli import main

    url = str(tmp_path / "old.h5")
    write_sample(url)
    with dosna_like.File(url, "r") as f:
        before = {name: (f[name][...], f[name].maxshape, dict(f[name].attrs)) for name in ["plain", "square", "v", "g/b"]}
    _to_previous_layout(tmp_path / "old.h5")
    assert RESERVED in zarr.open_group(url, mode="r")["square"].attrs  # what zarr showed before
    assert main(["upgrade", url]) == 0
    assert "rewrote 7 of 8 node documents" in capsys.readouterr().out  # group g was current already
    for name in ["plain", "square", "v", "g/b"]:
        assert RESERVED not in zarr.open_group(url, mode="r", use_consolidated=False)[name].attrs
    root = json.loads((tmp_path / "old.h5" / "zarr.json").read_text())
    assert set(root["consolidated_metadata"]["metadata"]) == {"plain", "square", "x", "t", "v", "g", "g/b"}
    with dosna_like.File(url, "r") as f:
        for name, (values, maxshape, attrs) in before.items():
            np.testing.assert_array_equal(f[name][...], values)
            assert f[name].maxshape == maxshape and dict(f[name].attrs).keys() == attrs.keys()
        assert f["g/b"].dims[0].label == "k" and f.search(units="m") == [f["v"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(xr.open_zarr(url).data_vars) >= {"plain", "square", "v"}
    assert main(["upgrade", url]) == 0  # idempotent: nothing left to rewrite
    assert "rewrote 0 of 8 node documents" in capsys.readouterr().out
    assert main(["upgrade", str(tmp_path / "nothing")]) == 1


# ------------------------------------------------- dimension scales, compared with h5py
def scale_story(m, f):
    """netCDF4-style dimension scale use; returns what it saw."""
    seen = {}
    x = f.create_dataset("x", data=np.arange(4.0))
    y = f.create_dataset("y", data=np.arange(3.0))
    data = f.create_dataset("data", data=np.zeros((3, 4)))
    seen["before"] = (x.is_scale, len(data.dims[0]), data.dims[0].label)
    x.make_scale("xname")
    y.make_scale()
    data.dims.create_scale(f.create_dataset("z", data=np.arange(4.0)), "zname")
    data.dims[1].attach_scale(x)
    data.dims[1].attach_scale(f["z"])
    data.dims[1].attach_scale(x)  # twice: still once
    data.dims[0].attach_scale(y)
    data.dims[0].label = "rows"
    seen["after"] = (x.is_scale, data.is_scale, len(data.dims[1]), data.dims[0].label, data.dims[1].label)
    seen["keys"] = (list(data.dims[1].keys()), list(data.dims[0].keys()))
    seen["values"] = [v.name for v in data.dims[1].values()]
    seen["items"] = [(k, v.name) for k, v in data.dims[1].items()]
    seen["index"] = (data.dims[1][0].name, data.dims[1][1].name, data.dims[1]["zname"].name)
    seen["h5ds"] = (m.h5ds.is_attached(data.id, x.id, 1), m.h5ds.is_attached(data.id, x.id, 0),
                    m.h5ds.get_label(data.id, 0), m.h5ds.get_scale_name(x.id), m.h5ds.is_scale(x.id))
    m.h5ds.set_label(data.id, 1, b"cols")
    seen["labels"] = [d.label for d in data.dims]
    data.dims[1].detach_scale(f["z"])
    seen["detached"] = list(data.dims[1].keys())
    for name, call in [("detach twice", lambda: data.dims[1].detach_scale(f["z"])),
                       ("attach non-scale", lambda: data.dims[0].attach_scale(f.create_dataset("w", data=[1]))),
                       ("bad key", lambda: data.dims[1]["nope"]),
                       ("bad axis", lambda: data.dims[5])]:
        try:
            call()
            seen[name] = None
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            seen[name] = type(exc).__name__
    return seen


@pytest.mark.filterwarnings("ignore:other_ds.dims.create_scale")
def test_dimension_scales_as_h5py(tmp_path):
    with h5py.File(tmp_path / "ref.h5", "w") as f:
        want = scale_story(h5py, f)
    with dosna_like.File(str(tmp_path / "ours.h5"), "w") as f:
        got = scale_story(dosna_like, f)
    with dosna_like.File(str(tmp_path / "ours.h5"), "r") as f:  # survives a reopen
        assert list(f["data"].dims[1].keys()) == ["xname"] and f["x"].is_scale
    assert got == want


@pytest.mark.filterwarnings("ignore:other_ds.dims.create_scale")
def test_the_scale_comparison_catches_a_difference(tmp_path):
    with h5py.File(tmp_path / "ref.h5", "w") as f:
        want = scale_story(h5py, f)
    planted = dict(want, labels=["rows", "other"])
    assert planted != want


def test_h5ds_iterate_stops_at_the_first_result(tmp_path):
    with dosna_like.File(str(tmp_path / "i.h5"), "w") as f:
        data = f.create_dataset("data", data=np.zeros(4))
        for name in ("a", "b"):
            f.create_dataset(name, data=np.arange(4)).make_scale(name)
            data.dims[0].attach_scale(f[name])
        seen = []
        assert dosna_like.h5ds.iterate(data, 0, lambda s: seen.append(s.name)) is None and seen == ["/a", "/b"]
        assert dosna_like.h5ds.iterate(data, 0, lambda s: s.name) == "/a"
        assert dosna_like.h5ds.get_num_scales(data, 0) == 2


def test_dimension_scales_survive_hdf5_import_and_export(tmp_path):
    src = tmp_path / "nc.h5"
    with h5py.File(src, "w") as f:  # what netCDF4 writers leave: scales, labels, attachments
        f.create_dataset("time", data=np.arange(3.0)).make_scale("time")
        f.create_dataset("lon", data=np.arange(4.0)).make_scale("")
        v = f.create_dataset("g/v", data=np.ones((3, 4)))
        v.dims[0].attach_scale(f["time"])
        v.dims[1].attach_scale(f["lon"])
        v.dims[1].label = "longitude"
        v.attrs["units"] = "K"
    url = str(tmp_path / "store.h5")
    dosna_like.import_hdf5(str(src), url)
    with dosna_like.File(url, "r") as f:
        v = f["g/v"]
        assert f["time"].is_scale and v.dims[0].keys() == ["time"] and v.dims[1][0].name == "/lon"
        assert v.dims[1].label == "longitude" and v.attrs["units"] == "K"
        # HDF5's dimension-scale attributes are shown as h5py shows them (hl/scale_attrs.py)
        assert set(v.attrs) == {"units", "DIMENSION_LIST", "DIMENSION_LABELS"}
    assert xr.open_zarr(url, group="g")["v"].dims == ("time", "longitude")
    out = tmp_path / "back.h5"
    dosna_like.export_hdf5(url, str(out))
    with h5py.File(out, "r") as f:
        v = f["g/v"]
        assert f["time"].is_scale and f["lon"].is_scale and not v.is_scale
        assert [s.name for s in v.dims[0].values()] == ["/time"] and v.dims[1].label == "longitude"
        assert h5py.h5ds.get_scale_name(f["time"].id) == b"time"
        assert v.attrs["units"] == "K" and set(v.attrs) == {"units", "DIMENSION_LIST", "DIMENSION_LABELS"}
