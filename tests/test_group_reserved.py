"""A group's reserved entry lives in its side object (format/documents.py):
zarr-python and xarray see exactly the attributes h5py shows for the same code,
the previous layout (entry in the group's attributes) still opens, upgrades and
migrates on write, and a type record never applies to a value it was not
written with.
"""
from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest
import xarray as xr
import zarr

import dosna_like
from dosna_like.cli import main
from dosna_like.format.keys import SIDE_KEY
from dosna_like.format.reserved import RESERVED
from tests.conftest import HttpCounter, S3_BUCKET


@pytest.fixture
def url(tool_url) -> str:
    return tool_url


def netcdf_story(m, f) -> None:
    """Groups with links of every kind, creation order and typed attributes netCDF can hold."""
    f.attrs["title"] = "story"
    f.attrs["root_f32"] = np.float32(1.5)
    g = f.create_group("g", track_order=True)
    g.create_dataset("d", data=np.arange(4.0))
    g.attrs["f32"] = np.float32(2.5)
    g.attrs["i16"] = np.int16(-3)
    g.attrs["u8"] = np.arange(3, dtype="u1")
    g.attrs["text"] = "hello"
    g["soft"] = m.SoftLink("/g/d")
    g["ext"] = m.ExternalLink("other.h5", "/x")
    g["hard"] = g["d"]
    f["rootsoft"] = m.SoftLink("/g")
    f.create_group("plain").attrs["k"] = 1.5  # no reserved entry at all


def story(m, f) -> None:
    """:func:`netcdf_story` plus attributes netCDF cannot hold: empty, references, complex."""
    netcdf_story(m, f)
    g = f["g"]
    g.attrs["empty"] = m.Empty("f4")
    g.attrs["ref"] = g["d"].ref
    g.attrs["c64"] = np.complex64(1 + 2j)
    f.create_group("e")  # a group whose only member is a link
    f["e"]["back"] = m.SoftLink("/")


def _same_value(zarr_value, h5_value) -> None:
    """zarr-python's JSON value of an attribute against h5py's value."""
    if isinstance(h5_value, (str, bytes)):
        assert zarr_value == h5_value
    elif isinstance(h5_value, np.ndarray) or np.isscalar(h5_value):
        np.testing.assert_allclose(np.asarray(zarr_value, dtype=float), np.asarray(h5_value, dtype=float))


def _h5py_attrs(tmp_path, write) -> dict:
    path = str(tmp_path / "ref.h5")
    with h5py.File(path, "w") as h:
        write(h5py, h)
    with h5py.File(path, "r") as h:
        return {name: dict(h[name].attrs) for name in ("/", "g", "plain", "e") if name in h}


def test_zarr_python_sees_exactly_the_attributes_h5py_shows(url, tmp_path):
    expected = _h5py_attrs(tmp_path, story)
    with dosna_like.File(url, "w") as f:
        story(dosna_like, f)
    for consolidated in (True, False):
        root = zarr.open_group(url, mode="r", use_consolidated=consolidated)
        for name, attrs in expected.items():
            shown = dict(root[name].attrs) if name != "/" else dict(root.attrs)
            assert shown.keys() == attrs.keys(), (name, consolidated)
            for key in ("f32", "i16", "u8", "text", "root_f32", "title", "k"):
                if key in attrs:
                    _same_value(shown[key], attrs[key])
    # and dosna_like itself reads back what h5py does, types and links included
    with dosna_like.File(url, "r") as f:
        g = f["g"]
        for key in ("f32", "i16", "u8", "c64"):
            assert np.asarray(g.attrs[key]).dtype == np.asarray(expected["g"][key]).dtype
        assert g.attrs["empty"].dtype == np.dtype("f4") and f[g.attrs["ref"]] == g["d"]
        assert list(g) == ["d", "soft", "ext", "hard"]  # creation order, as h5py's track_order
        assert g.get("soft", getlink=True).path == "/g/d" and g.get("ext", getlink=True).filename == "other.h5"
        assert f["e"].get("back", getlink=True).path == "/" and sorted(f) == ["e", "g", "plain", "rootsoft"]


def test_xarray_opens_the_groups_and_writes_netcdf(url, tmp_path):
    expected = _h5py_attrs(tmp_path, netcdf_story)
    with dosna_like.File(url, "w") as f:
        netcdf_story(dosna_like, f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(url, group="g")
        root = xr.open_zarr(url)
    assert dict(ds.attrs).keys() == expected["g"].keys() and dict(root.attrs).keys() == expected["/"].keys()
    for key, value in expected["g"].items():
        _same_value(ds.attrs[key], value)
    ds.to_netcdf(tmp_path / "g.nc")  # refused any attribute netCDF cannot hold (as the reserved entry was)
    root.to_netcdf(tmp_path / "root.nc")
    with xr.open_dataset(tmp_path / "g.nc") as back:
        np.testing.assert_array_equal(back["d"].values, np.arange(4.0))
        assert back.attrs["text"] == "hello" and float(back.attrs["f32"]) == 2.5


def _stored(url: str, key: str):
    from dosna_like.storage import open_store
    raw = open_store(url, None, read_only=True).get(key)
    return None if raw is None else json.loads(raw)


def test_group_documents_hold_no_reserved_entry_and_plain_groups_no_side_object(url):
    with dosna_like.File(url, "w") as f:
        story(dosna_like, f)
    for name in ("zarr.json", "g/zarr.json", "e/zarr.json", "plain/zarr.json"):
        doc = _stored(url, name)
        assert RESERVED not in doc["attributes"] and set(doc) <= {"zarr_format", "node_type", "attributes",
                                                                    "consolidated_metadata"}
    side = _stored(url, f"g/{SIDE_KEY}")
    assert set(side["reserved"]["links"]) == {"soft", "ext", "hard"} and side["reserved"]["track_order"]
    assert _stored(url, f"plain/{SIDE_KEY}") is None  # nothing to keep: nothing stored


def _to_previous_layout(url: str) -> None:
    """Every group's side object back into its attributes (the previous layout, whose
    search index fingerprints had no side objects: dropped, it is rebuilt)."""
    from dosna_like.format.keys import SIDECAR_KEY
    from dosna_like.storage import open_store
    store = open_store(url, None)
    store.delete(SIDECAR_KEY)
    for key in [k for k in store.list_keys("") if k.endswith(SIDE_KEY)]:
        doc_key = key[:-len(SIDE_KEY)] + "zarr.json"
        doc = json.loads(store.get(doc_key))
        doc["attributes"][RESERVED] = json.loads(store.get(key))["reserved"]
        store.set(doc_key, json.dumps(doc).encode())
        store.delete(key)


def test_the_previous_group_layout_opens_upgrades_and_migrates_on_write(url, tmp_path, capsys):
    expected = _h5py_attrs(tmp_path, story)
    with dosna_like.File(url, "w") as f:
        story(dosna_like, f)
    _to_previous_layout(url)
    assert RESERVED in zarr.open_group(url, mode="r", use_consolidated=False)["g"].attrs  # what zarr showed
    with dosna_like.File(url, "r") as f:  # reads as it was
        assert f["g"].attrs["f32"].dtype == np.float32 and list(f["g"]) == ["d", "soft", "ext", "hard"]
        assert f["g"].attrs.keys() == expected["g"].keys()
    with dosna_like.File(url, "r+") as f:  # any write of the group migrates it
        f["e"].attrs["new"] = np.int8(1)
    assert RESERVED not in _stored(url, "e/zarr.json")["attributes"] and _stored(url, f"e/{SIDE_KEY}")
    # the root too: its consolidated metadata was rewritten (its entry first moved to its side object)
    assert RESERVED not in _stored(url, "zarr.json")["attributes"] and _stored(url, SIDE_KEY)
    assert RESERVED in _stored(url, "g/zarr.json")["attributes"]  # not written: not migrated yet
    assert main(["upgrade", url]) == 0
    assert "rewrote 1 of 5" in capsys.readouterr().out  # g
    assert main(["upgrade", url]) == 0
    assert "rewrote 0 of" in capsys.readouterr().out  # idempotent
    root = zarr.open_group(url, mode="r", use_consolidated=False)
    assert dict(root["g"].attrs).keys() == expected["g"].keys() and dict(root.attrs).keys() == expected["/"].keys()
    with dosna_like.File(url, "r") as f:
        assert f["g"].attrs["f32"].dtype == np.float32 and f["e"].attrs["new"].dtype == np.int8
        assert f.get("rootsoft", getlink=True).path == "/g" and list(f["g"]) == ["d", "soft", "ext", "hard"]


def test_a_type_record_applies_only_to_the_value_it_was_written_with(url):
    with dosna_like.File(url, "w") as f:
        f.create_group("g").attrs["x"] = np.float32(2.5)
        f["g"].attrs["y"] = np.int16(4)
        f["g"]["s"] = dosna_like.SoftLink("/")
    group = zarr.open_group(url, mode="r+", use_consolidated=False)["g"]
    group.attrs["x"] = 7  # another tool changes the value: its plain JSON value, h5py's int64
    with dosna_like.File(url, "r") as f:
        assert f["g"].attrs["x"] == 7 and f["g"].attrs["x"].dtype == np.int64
        assert f["g"].attrs["y"].dtype == np.int16 and f["g"].get("s", getlink=True).path == "/"


def test_the_side_object_name_is_refused_as_a_member_name(tmp_path):
    with dosna_like.File(tmp_path / "n.h5", "w") as f:
        for make in (f.create_group, lambda name: f.create_dataset(name, data=1)):
            with pytest.raises(ValueError, match="reserved by the format"):
                make(SIDE_KEY)
        with pytest.raises(ValueError, match="reserved by the format"):
            f[SIDE_KEY] = dosna_like.SoftLink("/")
        assert list(f) == []


def test_a_damaged_side_object_names_the_group(tmp_path):
    url = str(tmp_path / "dmg.h5")
    with dosna_like.File(url, "w") as f:
        f.create_group("g")["s"] = dosna_like.SoftLink("/")
        f.create_group("h")
    (tmp_path / "dmg.h5" / "g" / SIDE_KEY).write_text("{not json")
    with dosna_like.File(url, "r") as f:
        assert "h" in f  # its siblings stay usable
        with pytest.raises(OSError, match="g"):
            f["g"]


def _s3_walk_file(groups: int) -> str:
    url = f"s3://{S3_BUCKET}/walk-{groups}-{np.random.default_rng().integers(1 << 30)}.h5"
    with dosna_like.File(url, "w") as f:
        for i in range(groups):
            g = f.create_group(f"g{i:02d}")
            g.attrs["s"] = np.float32(i)
            g["soft"] = dosna_like.SoftLink("/")
            for j in range(3):
                g.create_dataset(f"d{j}", data=np.arange(4))
    return url


def test_s3_open_and_walk_request_counts(s3_server):
    """Open + walk: from the verified index (loaded by the walk's first listing, or by a
    search) a constant few requests whatever the number of groups; without a sidecar,
    by listing: one listing per group, one GET per node and one per group's side
    object (in one concurrent batch per level)."""
    from dosna_like.format.keys import SIDECAR_KEY
    from dosna_like.storage import open_store
    costs = {}

    def walk(url):
        with dosna_like.File(url, "r") as f:
            seen = []
            f.visititems(lambda name, obj: seen.append((name, dict(obj.attrs), obj.get("soft", getlink=True)
                                                         if isinstance(obj, dosna_like.Group) else None)))
            assert len(seen) == 4 * groups
            assert all(s[1]["s"].dtype == np.float32 and s[2].path == "/" for s in seen if s[2] is not None)
            assert sorted(s[1]["s"] for s in seen if s[2] is not None) == list(range(groups))

    for groups in (2, 8):
        url = _s3_walk_file(groups)
        with dosna_like.File(url, "r") as f:
            http = HttpCounter(f.store.fs)
        http.take()
        with dosna_like.File(url, "r") as f:
            f.search()
            seen = []
            f.visititems(lambda name, obj: seen.append((name, dict(obj.attrs))))
            assert len(seen) == 4 * groups
        by_search = http.take()
        walk(url)
        by_walk = http.take()
        open_store(url, None).delete(SIDECAR_KEY)
        http.take()
        walk(url)
        by_listing = http.take()
        costs[groups] = (sum(by_search.values()), sum(by_walk.values()), sum(by_listing.values()))
    # root document + side object, sidecar, one listing page
    assert costs[2][0] == costs[8][0] == costs[2][1] == costs[8][1] == 4
    for groups, (_, _, by_listing) in costs.items():
        nodes, lists = 4 * groups, groups + 1
        # root document + its side object, the sidecar looked for, 2 GETs per s3fs group
        # listing, one per node, and one per group's side object
        assert by_listing == 3 + 2 * lists + nodes + groups
