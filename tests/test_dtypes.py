"""Data types against real h5py (values, dtypes, metadata marks, Python types) and zarr."""
from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
import zarr

import dosna_like

COMPOUND = np.dtype([("a", "<i2"), ("b", "<f8"), ("c", "<u1")])
ENUM_MAP = {"RED": 0, "GREEN": 1, "BLUE": 7}


def same(got, want):
    """Equal values, shapes, dtypes (with h5py's metadata marks) and Python types."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, np.ndarray):
        assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
        assert (got.dtype.metadata or None) == (want.dtype.metadata or None)
        if want.dtype.kind == "O":
            assert got.tolist() == want.tolist()
        else:
            np.testing.assert_array_equal(got, want)
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype
        assert got.tolist() == want.tolist()
    else:
        assert got == want


def both(file_url, h5_path, op):
    """Run ``op(module, file)`` on h5py and dosna_like; return both results."""
    with h5py.File(h5_path, "w") as hf, dosna_like.File(file_url, "w") as df:
        return op(h5py, hf), op(dosna_like, df)


DATASET_CASES = {
    "vlen-str": lambda m, f: f.create_dataset("x", data=["ab", "héllo", ""], dtype=m.string_dtype()),
    "vlen-ascii": lambda m, f: f.create_dataset("x", data=[b"ab", b"", b"xyz"], dtype=m.string_dtype("ascii")),
    "fixed-bytes": lambda m, f: f.create_dataset("x", data=np.array([b"ab", b"c", b"defgh"])),
    "fixed-utf8": lambda m, f: f.create_dataset("x", data=[b"ab", b"cd"], dtype=m.string_dtype("utf-8", 10)),
    "compound": lambda m, f: f.create_dataset("x", data=np.array([(1, 2.5, 3), (4, 5.5, 6)], dtype=COMPOUND)),
    "enum": lambda m, f: f.create_dataset("x", data=np.array([0, 7, 1], "i1"), dtype=m.enum_dtype(ENUM_MAP, "i1")),
    "vlen-str-2d-chunked": lambda m, f: f.create_dataset(
        "x", data=np.array([["a", "bb", "ccc"], ["d", "", "ff"]], dtype=object), dtype=m.string_dtype(), chunks=(1, 2)),
    "vlen-str-gzip": lambda m, f: f.create_dataset("x", data=["x" * n for n in range(20)], dtype=m.string_dtype(),
                                                   chunks=(6,), compression="gzip"),
}


@pytest.mark.parametrize("case", sorted(DATASET_CASES))
def test_datasets_read_back_as_h5py_returns_them(file_url, h5_path, case):
    def op(m, f):
        ds = DATASET_CASES[case](m, f)
        out = {"all": ds[...], "one": ds[(0,) * ds.ndim], "dtype": ds.dtype, "fill": ds.fillvalue,
               "meta": ds.dtype.metadata and dict(ds.dtype.metadata), "shape": ds.shape}
        if m.check_string_dtype(ds.dtype) is not None:
            out["asstr"] = ds.asstr()[...]
        if ds.dtype.names:
            out["field"] = ds["b"]
            out["fields"] = ds.fields(["a", "c"])[...]
            ds["a"] = [-1, -2]
            out["after-field-write"] = ds[...]
        return out

    ref, got = both(file_url, h5_path, op)
    assert ref.keys() == got.keys()
    for key in ref:
        same(got[key], ref[key]) if key not in ("dtype", "meta") else None
    assert got["dtype"] == ref["dtype"] and got["meta"] == ref["meta"]


def test_string_writes_accept_str_and_bytes(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("x", shape=(4,), dtype=m.string_dtype())
        ds[0] = "é"
        ds[1:3] = [b"b", "c"]
        return ds[...]

    ref, got = both(file_url, h5_path, op)
    same(got, ref)


def test_unicode_arrays_are_refused_as_in_h5py(file_url, h5_path):
    for data in (np.array(["a", "b"]), np.array(["a", None], dtype=object)):
        with pytest.raises(TypeError), h5py.File(h5_path, "w") as hf:
            hf.create_dataset("x", data=data)
        with pytest.raises(TypeError), dosna_like.File(file_url, "w") as df:
            df.create_dataset("x", data=data)


def test_empty_dataset_and_attribute(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("e", data=m.Empty("f4"))
        f.attrs["e"] = m.Empty("i4")
        return ds.shape, ds.size, ds.dtype, repr(ds[()]), repr(f.attrs["e"])

    ref, got = both(file_url, h5_path, op)
    assert got == ref


@pytest.mark.parametrize("value", [
    np.array([b"a", b"bc"]), np.bytes_(b"abc"), np.array([(1, 2.5, 3)], dtype=COMPOUND),
    np.array((1, 2.5, 3), dtype=COMPOUND), "héllo", ["a", "bc"], [b"a", b"bc"],
], ids=["S-array", "np-bytes", "compound-array", "compound-scalar", "str", "str-list", "bytes-list"])
def test_attributes_of_every_type(file_url, h5_path, value):
    def op(m, f):
        f.attrs["v"] = value
        return f.attrs["v"]

    ref, got = both(file_url, h5_path, op)
    same(got, ref)


def test_dtype_helpers_match_h5py():
    for enc, length in [("utf-8", None), ("ascii", None), ("utf-8", 5), ("ascii", 3)]:
        a, b = h5py.string_dtype(enc, length), dosna_like.string_dtype(enc, length)
        assert a == b and a.metadata == b.metadata
        assert h5py.check_string_dtype(a) == dosna_like.check_string_dtype(b)
    e1, e2 = h5py.enum_dtype(ENUM_MAP, "i2"), dosna_like.enum_dtype(ENUM_MAP, "i2")
    assert e1 == e2 and h5py.check_enum_dtype(e1) == dosna_like.check_enum_dtype(e2)
    v1, v2 = h5py.vlen_dtype(np.int32), dosna_like.vlen_dtype(np.int32)
    assert v1 == v2 and v1.metadata == v2.metadata
    assert dosna_like.check_vlen_dtype(v2) is h5py.check_vlen_dtype(v1)
    for dt in (np.dtype("i4"), np.dtype("S3"), COMPOUND):
        assert h5py.check_string_dtype(dt) == dosna_like.check_string_dtype(dt)
        assert h5py.check_enum_dtype(dt) == dosna_like.check_enum_dtype(dt)
        assert h5py.check_vlen_dtype(dt) == dosna_like.check_vlen_dtype(dt)


def test_zarr_reads_our_string_and_compound_arrays(file_url):
    data = np.array([(1, 2.5, 3), (4, 5.5, 6), (7, 8.5, 9)], dtype=COMPOUND)
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("s", data=["ab", "héllo", ""], dtype=dosna_like.string_dtype(), chunks=(2,))
        f.create_dataset("b", data=np.array([b"ab", b"c"]), chunks=(1,))
        f.create_dataset("c", data=data, chunks=(2,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.open_group(file_url, mode="r")
        assert root["s"][...].tolist() == ["ab", "héllo", ""]
        assert root["b"][...].tolist() == [b"ab", b"c"]
        np.testing.assert_array_equal(root["c"][...], data)


def test_we_read_zarr_strings_and_compounds(tmp_path):
    url = str(tmp_path / "z.zarr")
    g = zarr.open_group(url, mode="w")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g.create_array("s", shape=(3,), dtype=str, chunks=(2,))[...] = ["x", "yy", "é"]
        g.create_array("b", shape=(2,), dtype="S4", chunks=(2,))[...] = [b"ab", b"cdef"]
        g.create_array("c", shape=(2,), dtype=COMPOUND, chunks=(2,))[...] = np.array([(1, 2.0, 3), (4, 5.0, 6)], COMPOUND)
    with dosna_like.File(url, "r") as f:
        assert f["s"].asstr()[...].tolist() == ["x", "yy", "é"]
        with h5py.File(str(tmp_path / "ref.h5"), "w") as h:  # what h5py returns for the same strings
            h.create_dataset("s", data=["x", "yy", "é"], dtype=h5py.string_dtype())
            ref = h["s"][0]
        assert type(f["s"][0]) is type(ref) and f["s"][0] == ref
        assert f["b"][...].tolist() == [b"ab", b"cdef"] and f["b"].dtype == np.dtype("S4")
        np.testing.assert_array_equal(f["c"][...], np.array([(1, 2.0, 3), (4, 5.0, 6)], COMPOUND))
