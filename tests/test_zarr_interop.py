"""Zarr v3 both ways: zarr-python 3.1 reads what we write, we read what it writes."""
from __future__ import annotations

import warnings

import json

import numpy as np
import pytest
import zarr

import dosna_like
from dosna_like.errors import FormatError
from dosna_like.format.reserved import RESERVED

DTYPES = ["bool", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16", ">i4", ">f8"]


def zarr_open(file_url):
    return zarr.open_group(file_url, mode="r")


def user_attrs(attrs) -> dict:
    return {k: v for k, v in dict(attrs).items() if k != RESERVED}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compression", [None, "gzip", "zstd", "blosc"])
def test_zarr_reads_our_datasets(file_url, dtype, compression):
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((13, 9)) * 50).astype(dtype)
    fill = np.asarray(3, dtype=dtype)[()] if dtype != "bool" else True
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("grp/x", shape=data.shape, dtype=dtype, chunks=(5, 4),
                              fillvalue=fill, compression=compression)
        ds[:10] = data[:10]
        ds.attrs["units"] = "K"
        ds.attrs["scale"] = 0.5
        ds.attrs["levels"] = np.arange(3)
        f["grp"].attrs["n"] = 7
    root = zarr_open(file_url)
    arr = root["grp/x"]
    expected = data.copy()
    expected[10:] = fill
    assert arr.shape == data.shape and arr.chunks == (5, 4)
    assert np.dtype(arr.dtype) == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(arr[...], expected)
    assert arr.fill_value == fill
    assert user_attrs(arr.attrs) == {"units": "K", "scale": 0.5, "levels": [0, 1, 2]}
    assert user_attrs(root["grp"].attrs) == {"n": 7}


def test_zarr_reads_scalar_nan_fill_and_numcodecs_chains(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("s", data=np.float64(2.5))
        f.create_dataset("n", shape=(6,), dtype="f4", chunks=(4,), fillvalue=np.nan)[0] = 1.0
        f.create_dataset("sh", data=np.arange(40, dtype="i4"), chunks=(16,), compression="gzip", shuffle=True)
        f.create_dataset("l4", data=np.arange(40, dtype="u2"), chunks=(16,), compression="lz4")
    root = zarr_open(file_url)
    assert root["s"][()] == 2.5 and root["s"].shape == ()
    got = root["n"][...]
    assert got[0] == 1.0 and np.isnan(got[1:]).all() and np.isnan(root["n"].fill_value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr warns that numcodecs.* codecs are outside the spec
        np.testing.assert_array_equal(root["sh"][...], np.arange(40))
        np.testing.assert_array_equal(root["l4"][...], np.arange(40))


def test_we_read_what_zarr_writes(tmp_path):
    url = str(tmp_path / "from-zarr.zarr")
    g = zarr.open_group(url, mode="w")
    g.attrs["title"] = "made by zarr"
    g.attrs["count"] = 3
    sub = g.create_group("sub")
    sub.attrs["tags"] = ["a", "b"]
    a = sub.create_array("a", shape=(20, 7), chunks=(6, 3), dtype="i2", fill_value=-1)
    a[2:15] = np.arange(13 * 7).reshape(13, 7)
    a.attrs["scale"] = 2.0
    b = g.create_array("b", shape=(30,), chunks=(7,), dtype="f8",
                       compressors=zarr.codecs.GzipCodec(level=3))
    b[...] = np.linspace(0, 1, 30)
    c = g.create_array("c", shape=(5,), chunks=(5,), dtype="u1", compressors=None)
    c[...] = [1, 2, 3, 4, 5]
    expected = np.full((20, 7), -1, "i2")
    expected[2:15] = np.arange(13 * 7).reshape(13, 7)
    with dosna_like.File(url, "r") as f:
        assert list(f) == ["b", "c", "sub"] and list(f["sub"]) == ["a"]
        assert f.attrs["title"] == "made by zarr" and f.attrs["count"] == 3
        assert list(f["sub"].attrs["tags"]) == ["a", "b"]
        ds = f["sub/a"]
        assert ds.shape == (20, 7) and ds.chunks == (6, 3) and ds.dtype == np.dtype("i2")
        assert ds.fillvalue == -1 and ds.attrs["scale"] == 2.0
        np.testing.assert_array_equal(ds[...], expected)
        np.testing.assert_array_equal(f["b"][...], np.linspace(0, 1, 30))
        assert f["b"].compression == "gzip"
        np.testing.assert_array_equal(f["c"][...], [1, 2, 3, 4, 5])
    with dosna_like.File(url, "a") as f:  # and write back into zarr's arrays
        f["sub/a"][0] = 9
    np.testing.assert_array_equal(zarr.open_array(url + "/sub/a", mode="r")[0], np.full(7, 9))


def test_reserved_metadata_stays_out_of_attrs(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(3,), dtype="i1", maxshape=(None,))
        ds.attrs["a"] = 1
        assert list(ds.attrs) == ["a"] and RESERVED not in ds.attrs and len(ds.attrs) == 1
        with pytest.raises(ValueError):
            ds.attrs[RESERVED] = 1
    with dosna_like.File(file_url, "r") as f:
        assert f["x"].maxshape == (None,)


# ------------------------------------------- a reserved entry another tool damaged
@pytest.fixture
def damaged_url(file_url):
    """A file whose group 'g' and array 'arr' got ``_dosna_like = "oops"`` from zarr-python."""
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("g/inner", data=np.arange(3))
        f["g"].attrs["x"] = 1
        f.create_dataset("arr", data=np.arange(10), maxshape=(None,))
        f["arr"].attrs["y"] = 2
        f.create_dataset("fine", data=np.arange(4))
    root = zarr.open_group(file_url, mode="r+", use_consolidated=False)
    root["g"].attrs[RESERVED] = "oops"
    with dosna_like.File(file_url, "r+") as f:  # an array keeps its entry in the extension field
        doc = json.loads(f.store.get("arr/zarr.json"))
        doc["dosna_like"] = "oops"
        f.store.set("arr/zarr.json", json.dumps(doc).encode())
    return file_url


@pytest.mark.parametrize("call, node", [
    (lambda f: list(f["g"]), "/g"),
    (lambda f: repr(f["g"]), "/g"),
    (lambda f: list(f.items()), "/g"),  # opening each member (a dataset handle reads its array later)
    (lambda f: f["arr"][...], "/arr"),
    (lambda f: dict(f["arr"].attrs), "/arr"),
    (lambda f: f.search(), "/arr"),
    (lambda f: f.search(y=2), "/arr"),
    (lambda f: f.visit(lambda name: None), "/g"),
    (lambda f: dosna_like.search(f.filename), "/arr"),
])
def test_a_damaged_reserved_entry_raises_format_error_naming_the_node(damaged_url, call, node):
    with dosna_like.File(damaged_url, "r") as f:
        with pytest.raises(FormatError, match=f"node '{node}'.*{RESERVED}.*str") as info:
            call(f)
        assert not isinstance(info.value, AttributeError)


def test_the_rest_of_a_damaged_file_stays_usable(damaged_url):
    with dosna_like.File(damaged_url, "r+") as f:
        assert list(f) == ["arr", "fine", "g"]  # names need no member's reserved entry
        np.testing.assert_array_equal(f["fine"][...], np.arange(4))
        f["fine"].attrs["z"] = 3
        with pytest.raises(OSError, match="node '/g'"):  # h5py: an unreadable object is an OSError
            f["g"]
    # nothing was overwritten: the other tool's value is still there
    assert zarr.open_group(damaged_url, mode="r", use_consolidated=False)["g"].attrs[RESERVED] == "oops"
