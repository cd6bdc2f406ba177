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


_NUMBER_TYPES = ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16",
                 "g", "G"]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("code", _NUMBER_TYPES)
def test_every_number_type_maps_to_zarr_by_its_numpy_name_in_either_byte_order(code, order):
    """The names are worked out once per type (format/dtypes.py: _native_name): asked
    in any order, for either byte order, each type gets numpy's own name."""
    from dosna_like.format import dtypes
    dtype = np.dtype(code).newbyteorder(order) if np.dtype(code).itemsize > 1 else np.dtype(code)
    native = dtype.newbyteorder("=").name
    data_type, codec, extra = dtypes.to_zarr(dtype)
    if native in ("float128", "complex256"):  # x86 extended precision: raw little-endian bytes
        assert data_type["name"] == "raw_bytes" and extra == {"numpy": dtype.newbyteorder("<").str}
    else:
        assert data_type == native
        endian = (codec.get("configuration") or {}).get("endian")
        assert endian == (None if dtype.itemsize == 1 else "big" if dtype.byteorder == ">" else "little")
    assert dtypes.from_zarr(data_type, codec, extra) == dtypes.stored_dtype(dtype)


def test_a_number_type_with_a_mark_keeps_it(file_url, h5_path):
    """An enum is an integer type with h5py's mark: its Zarr name is the integer's,
    and it reads back as h5py's enum."""
    values = np.array([0, 2, 1], dtype="i2")
    for module, where in ((dosna_like, file_url), (h5py, h5_path)):
        with module.File(where, "w") as f:
            f.create_dataset("e", data=values, dtype=module.enum_dtype(ENUM_MAP, "i2"))
            f.create_dataset("plain", data=values)
    with dosna_like.File(file_url, "r") as ours, h5py.File(h5_path, "r") as ref:
        assert h5py.check_enum_dtype(ours["e"].dtype) == h5py.check_enum_dtype(ref["e"].dtype) == ENUM_MAP
        assert h5py.check_enum_dtype(ours["plain"].dtype) is h5py.check_enum_dtype(ref["plain"].dtype) is None
        np.testing.assert_array_equal(ours["e"][...], ref["e"][...])


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


# ------------------------------------------- issue 12: more of h5py's types
RECORD = np.dtype([("s", h5py.string_dtype()), ("b", h5py.string_dtype("ascii")), ("x", "<f8"), ("fb", "S3"),
                   ("sub", "<i2", (2,)), ("n", [("p", "u1"), ("q", "<f4")])])
OUT_OF_ORDER = np.dtype({"names": ["a", "b"], "formats": ["u1", "<f8"], "offsets": [8, 0], "itemsize": 16})
ALIGNED = np.dtype([("a", "u1"), ("b", "<f8")], align=True)


def _records(m):
    rec = np.zeros(3, np.dtype([(n, m.string_dtype("ascii") if n == "b" else m.string_dtype() if n == "s"
                                 else RECORD.fields[n][0]) for n in RECORD.names]))
    rec["s"], rec["b"], rec["x"] = ["α", "bb", ""], [b"x", b"yy", b""], [1.5, 2.0, -1]
    rec["fb"], rec["sub"], rec["n"]["p"] = [b"ab", b"c", b""], [[1, 2], [3, 4], [5, 6]], [7, 8, 9]
    return rec


def as_plain(value):
    """Structured values as nested lists (object fields compared by value and type)."""
    if isinstance(value, np.ndarray) and value.dtype.names:
        return [as_plain(v) for v in value.reshape(-1)]
    if isinstance(value, (np.void, tuple)):
        return tuple(as_plain(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return ("O", [as_plain(v) for v in value.reshape(-1)], value.shape)
    if isinstance(value, np.ndarray):
        return (str(value.dtype), value.tolist())
    return (type(value).__name__, value.tolist() if isinstance(value, np.generic) else value)


MORE_CASES = {
    "vlen-int": lambda m, f: f.create_dataset("x", data=np.array([np.arange(3), np.arange(1), np.arange(0)],
                                                                  dtype=object), dtype=m.vlen_dtype(int)),
    "vlen-float32": lambda m, f: f.create_dataset("x", data=np.array([np.arange(2, dtype="f4"), np.ones(4, "f4")],
                                                                      dtype=object), dtype=m.vlen_dtype(np.float32)),
    "compound-vlen-fields": lambda m, f: f.create_dataset("x", data=_records(m)),
    "compound-out-of-order": lambda m, f: f.create_dataset("x", data=np.ones(2, OUT_OF_ORDER)),
    "compound-aligned": lambda m, f: f.create_dataset("x", data=np.ones(2, ALIGNED)),
    "compound-vlen-seq-field": lambda m, f: f.create_dataset(
        "x", data=np.array([(np.arange(3, dtype="i4"), 1)], dtype=[("v", m.vlen_dtype("i4")), ("k", "u1")])),
    "str-list": lambda m, f: f.create_dataset("x", data=["a", "bc", "déf"]),
    "str-list-2d": lambda m, f: f.create_dataset("x", data=[["a", "b"], ["c", "d"]]),
}


@pytest.mark.parametrize("case", sorted(MORE_CASES))
def test_more_types_read_back_as_h5py_returns_them(file_url, h5_path, case):
    def op(m, f):
        ds = MORE_CASES[case](m, f)
        whole = ds[...]
        return {"all": as_plain(whole), "one": as_plain(ds[0]), "shape": ds.shape, "dtype": ds.dtype,
                "descr": [(n, ds.dtype.fields[n][1]) for n in ds.dtype.names] if ds.dtype.names else None,
                "itemsize": ds.dtype.itemsize if ds.dtype.names and "s" not in ds.dtype.names else None,
                "vlen": m.check_vlen_dtype(ds.dtype), "read-dtype": whole.dtype,
                "string": m.check_string_dtype(ds.dtype)}

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_vlen_writes_one_sequence_or_many(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("x", (4,), dtype=m.vlen_dtype(np.int64))
        ds[0] = [1, 2, 3]
        ds[1] = np.arange(2)
        ds[2:4] = [np.arange(1), np.arange(5)]
        return as_plain(ds[...]), ds.fillvalue

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_vlen_attributes(file_url, h5_path):
    def op(m, f):
        f.attrs.create("i", [np.arange(3), np.arange(1)], dtype=m.vlen_dtype("i4"))
        f.attrs.create("f", [np.arange(2.0), np.arange(0.0)], dtype=m.vlen_dtype("f8"))
        return {k: (as_plain(f.attrs[k]), f.attrs[k].dtype.kind) for k in ("i", "f")}

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_compound_field_reads_and_writes(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("x", data=_records(m))
        ds[1] = ("new", b"q", 9.0, b"zz", [5, 6], (1, 2.5))
        ds["x"] = [0.5, 0.25, 0.125]
        return as_plain(ds[...]), ds["sub"].tolist(), as_plain(ds[1:]["n"])

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_compound_fill_values(tmp_path):
    with dosna_like.File(str(tmp_path / "s"), "w") as f:
        rec = _records(dosna_like)
        ds = f.create_dataset("x", (3,), dtype=rec.dtype, fillvalue=rec[1])
        ds[0] = rec[0]
        assert as_plain(ds[1]) == as_plain(ds[2]) == as_plain(ds.fillvalue)
        assert ds[2]["s"] == b"bb" and ds[2]["x"] == 2.0 and ds[0]["s"] == "α".encode()


def test_dtype_alone_makes_an_empty_dataset(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("x", dtype="i2")
        return ds.shape, ds.size, ds.dtype, ds[()].dtype, type(ds[()]).__name__

    want, got = both(file_url, h5_path, op)
    assert got == want


def test_lists_of_numpy_str_are_refused_as_in_h5py(tmp_path, h5_path):
    for data in ([np.str_("a"), np.str_("bc")], [b"a", "b"], ["a", 1]):
        with pytest.raises(TypeError), h5py.File(h5_path, "w") as hf:
            hf.create_dataset("x", data=data)
        with pytest.raises(TypeError), dosna_like.File(str(tmp_path / "s"), "w") as df:
            df.create_dataset("x", data=data)


def test_lzf_is_a_real_codec(file_url, h5_path):
    def op(m, f):
        ds = f.create_dataset("x", data=np.arange(5000.0).reshape(50, 100), chunks=(10, 50), compression="lzf")
        return ds.compression, ds.compression_opts, ds[...]

    want, got = both(file_url, h5_path, op)
    assert got[:2] == want[:2]
    np.testing.assert_array_equal(got[2], want[2])


def test_lzf_chunks_are_compressed_and_zarr_reads_them(tmp_path):
    url = str(tmp_path / "s")
    data = np.full((100, 100), 3.0)
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=(100, 100), compression="lzf")
        with pytest.raises(ValueError):
            f.create_dataset("y", (4,), compression="lzf", compression_opts=3)
        with pytest.raises(ValueError, match="szip"):
            f.create_dataset("z", (4,), compression="szip")
    stored = (tmp_path / "s" / "x" / "c" / "0" / "0").read_bytes()
    assert len(stored) < data.nbytes // 20
    assert zarr.open_group(url, mode="r")["x"].info.__class__ and np.array_equal(zarr.open_group(url, mode="r")["x"][...], data)


def test_what_zarr_sees_of_each_new_type(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        vi = f.create_dataset("vi", (1,), dtype=dosna_like.vlen_dtype("i4"))
        vi[0] = np.arange(2, dtype="<i4")
        f.create_dataset("rec", data=np.ones(2, ALIGNED))
        f.create_dataset("s", data=["a", "b"])
    z = zarr.open_group(url, mode="r")
    assert z["vi"][...].tolist() == [np.arange(2, dtype="<i4").tobytes()]  # little-endian values as bytes
    assert all(isinstance(v, bytes) for v in z["rec"][...].tolist())  # one record per item
    assert z["s"][...].tolist() == ["a", "b"]


def test_new_types_round_trip_through_hdf5(tmp_path):
    src = str(tmp_path / "in.h5")
    with h5py.File(src, "w") as h5:
        h5.create_dataset("rec", data=_records(h5py))
        h5.create_dataset("ooo", data=np.ones(2, OUT_OF_ORDER))
        h5.create_dataset("vi", data=np.array([np.arange(3), np.arange(1)], dtype=object),
                          dtype=h5py.vlen_dtype("i8"))
        h5.create_dataset("lzf", data=np.arange(1000.0), chunks=(100,), compression="lzf")
        h5.attrs.create("va", [np.arange(2), np.arange(3)], dtype=h5py.vlen_dtype("i4"))
        h5.create_dataset("empty", dtype="f4")
    store, out = str(tmp_path / "s"), str(tmp_path / "out.h5")
    dosna_like.import_hdf5(src, store)
    dosna_like.export_hdf5(store, out)
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b, dosna_like.File(store, "r") as d:
        for name in ("rec", "ooo", "vi", "lzf"):
            assert as_plain(b[name][...]) == as_plain(a[name][...]) == as_plain(d[name][...]), name
            assert b[name].dtype == a[name].dtype == d[name].dtype
        assert b["lzf"].compression == d["lzf"].compression == "lzf"
        assert as_plain(b.attrs["va"]) == as_plain(a.attrs["va"]) == as_plain(d.attrs["va"])
        assert b["empty"].shape is None and d["empty"].shape is None


@pytest.mark.parametrize("dtype", [np.longdouble, np.clongdouble])
def test_extended_precision_as_h5py_keeps_it(file_url, h5_path, dtype):
    if np.dtype(dtype).itemsize not in (16, 32):
        pytest.skip("no 80-bit extended precision on this platform")

    def op(m, f):
        data = (np.arange(6) / 3).astype(dtype) * (1 + 1j if np.dtype(dtype).kind == "c" else 1)
        ds = f.create_dataset("x", data=data, chunks=(4,))
        return ds.dtype, ds[...].dtype, ds[...].tobytes(), ds[1].tobytes()

    want, got = both(file_url, h5_path, op)
    assert got[:2] == want[:2]
    np.testing.assert_array_equal(np.frombuffer(got[2], dtype), np.frombuffer(want[2], dtype))


def test_extended_precision_round_trips_through_hdf5_and_zarr_sees_raw_bytes(tmp_path):
    data = np.arange(4, dtype=np.longdouble) / 3
    src, store, out = str(tmp_path / "in.h5"), str(tmp_path / "s"), str(tmp_path / "out.h5")
    with h5py.File(src, "w") as h5:
        h5["x"] = data
    dosna_like.import_hdf5(src, store)
    dosna_like.export_hdf5(store, out)
    with h5py.File(out, "r") as h5, dosna_like.File(store, "r") as f:
        assert h5["x"].dtype == f["x"].dtype == np.longdouble
        assert (h5["x"][...] == data).all() and (f["x"][...] == data).all()
    assert zarr.open_group(store, mode="r")["x"].dtype.kind == "V"


def test_subarray_elements_are_trailing_axes_zarr_sees(tmp_path):
    url = str(tmp_path / "s")
    data = np.arange(5 * 3 * 2, dtype="<f4").reshape(5, 3, 2)
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("x", (5,), dtype=("<f4", (3, 2)), chunks=(2,), maxshape=(None,))
        ds[...] = data
    z = zarr.open_group(url, mode="r")["x"]
    assert (z.shape, z.chunks, z.dtype) == ((5, 3, 2), (2, 3, 2), np.dtype("<f4"))
    assert np.array_equal(z[...], data)
    assert list(z.attrs) == []  # the subarray record is reserved metadata, not a user attribute
    with dosna_like.File(url, "r") as f:
        assert (f["x"].shape, f["x"].dtype, f["x"].maxshape) == ((5,), np.dtype(("<f4", (3, 2))), (None,))


def test_subarray_datasets_round_trip_through_hdf5_and_open_in_place(tmp_path):
    src, store, out = str(tmp_path / "in.h5"), str(tmp_path / "s"), str(tmp_path / "out.h5")
    data = np.arange(40 * 6, dtype="f4").reshape(40, 3, 2)
    with h5py.File(src, "w") as h5:
        h5.create_dataset("chunked", (40,), dtype="(3,2)f4", chunks=(7,))[...] = data
        h5.create_dataset("contiguous", (40,), dtype="(3,2)f4")[...] = data
        h5.create_dataset("shuffled", (40,), dtype="(3,2)f4", chunks=(9,), compression="gzip", shuffle=True)[...] = data
        h5.create_dataset("scalar", (), dtype="(2,)i2")[()] = [1, 2]
        h5.create_dataset("text", (2,), dtype=("S2", (2,)))[...] = [[b"a", b"bc"], [b"d", b""]]
    dosna_like.import_hdf5(src, store)
    dosna_like.export_hdf5(store, out)
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b, dosna_like.File(store, "r") as d, \
            dosna_like.File(src, "r") as in_place:
        for name in a:
            for other in (b, d, in_place):
                assert other[name].dtype == a[name].dtype and other[name].shape == a[name].shape, name
                assert np.array_equal(other[name][...], a[name][...]), name
                assert np.array_equal(other[name][1:3] if a[name].shape else other[name][()],
                                      a[name][1:3] if a[name].shape else a[name][()]), name


def test_a_damaged_subarray_record_is_a_format_error(tmp_path):
    import json

    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", (4,), dtype=("i2", (3,)))
    doc_path = tmp_path / "s" / "x" / "zarr.json"
    doc = json.loads(doc_path.read_text())
    doc["dosna_like"]["subarray"] = [5]  # not the trailing axis
    doc_path.write_text(json.dumps(doc))
    with dosna_like.File(url, "r") as f, pytest.raises(dosna_like.errors.FormatError, match="subarray"):
        f["x"].dtype


def test_fill_time_never_reads_unwritten_space_as_zeros(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", (10,), "f4", chunks=(4,), fillvalue=4.0, fill_time="never", maxshape=(None,))
        ds[5] = 1.0
        ds.resize((12,))
        assert ds.fillvalue == 4.0
        np.testing.assert_array_equal(ds[...], np.where(np.arange(12) == 5, 1.0, 0.0).astype("f4"))
    with dosna_like.File(file_url, "r") as f:
        assert f["x"].fillvalue == 4.0 and f["x"][0] == 0.0


def test_opaque_types_round_trip_through_hdf5_and_zarr_sees_raw_bytes(tmp_path):
    src, store, out = str(tmp_path / "in.h5"), str(tmp_path / "s"), str(tmp_path / "out.h5")
    stamp = h5py.opaque_dtype(np.dtype(">M8[ms]"))
    with h5py.File(src, "w") as h5:
        h5.create_dataset("void", data=np.frombuffer(bytes(range(12)), "V4"))
        h5.create_dataset("stamp", data=np.arange(5, dtype="i8").view(">M8[ms]").astype(stamp), dtype=stamp)
    dosna_like.import_hdf5(src, store)
    dosna_like.export_hdf5(store, out)
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b, dosna_like.File(store, "r") as d, \
            dosna_like.File(src, "r") as in_place:
        for name in ("void", "stamp"):
            for other in (b, d, in_place):
                assert other[name].dtype == a[name].dtype, name
                assert dosna_like.check_opaque_dtype(other[name].dtype) == h5py.check_opaque_dtype(a[name].dtype)
                assert other[name][...].tobytes() == a[name][...].tobytes(), name
    z = zarr.open_group(store, mode="r")
    assert z["void"].dtype.kind == "V" and z["void"][...].tobytes() == bytes(range(12))


# datetime64 / timedelta64 without h5py's opaque mark (bare "M8", or with a unit): h5py has no HDF5
# type for them, as datasets, their members, or attributes
DATETIME_CASES = {
    "dataset-dtype-M8": lambda m, f: f.create_dataset("x", shape=(3,), dtype="M8"),
    "dataset-dtype-m8": lambda m, f: f.create_dataset("x", shape=(3,), dtype="m8"),
    "dataset-dtype-M8[s]": lambda m, f: f.create_dataset("x", shape=(3,), dtype="M8[s]"),
    "dataset-data-M8": lambda m, f: f.create_dataset("x", data=np.array(["NaT"], dtype="M8")),
    "dataset-data-m8-scalar": lambda m, f: f.create_dataset("x", data=np.timedelta64(5)),
    "dataset-compound-member-M8": lambda m, f: f.create_dataset("x", shape=(2,), dtype=[("t", "M8"), ("i", "i4")]),
    "dataset-subarray-M8": lambda m, f: f.create_dataset("x", shape=(2,), dtype=np.dtype(("M8", (2,)))),
    "dataset-vlen-M8": lambda m, f: f.create_dataset("x", shape=(2,), dtype=m.vlen_dtype(np.dtype("M8"))),
    "dataset-vlen-m8[ms]": lambda m, f: f.create_dataset("x", shape=(2,), dtype=m.vlen_dtype(np.dtype("m8[ms]"))),
    "attr-M8-array": lambda m, f: f.attrs.__setitem__("x", np.array(["NaT"], dtype="M8")),
    "attr-NaT-scalar": lambda m, f: f.attrs.__setitem__("x", np.datetime64("NaT")),
    "attr-m8-array": lambda m, f: f.attrs.__setitem__("x", np.array([1], dtype="m8")),
    "attr-M8[s]-array": lambda m, f: f.attrs.__setitem__("x", np.array([1], dtype="M8[s]")),
    "attr-m8[D]-scalar": lambda m, f: f.attrs.__setitem__("x", np.timedelta64(3, "D")),
    "attr-create-int-as-m8": lambda m, f: f.attrs.create("x", 3, dtype="m8"),
    "attr-create-ints-as-M8": lambda m, f: f.attrs.create("x", [0], dtype="M8"),  # numpy's own refusal
    "attr-modify-new-M8": lambda m, f: f.attrs.modify("x", np.datetime64("NaT")),  # (an existing int takes NaT as one)
}


@pytest.mark.parametrize("case", sorted(DATETIME_CASES))
def test_datetimes_without_the_opaque_mark_are_refused_as_h5py_refuses_them(file_url, h5_path, case):
    def op(m, f):
        try:
            DATETIME_CASES[case](m, f)
        except Exception as exc:  # noqa: BLE001 - the type and message are compared
            return type(exc), str(exc), "x" in f, sorted(f.attrs), list(f.attrs.values())
        return "no error", None, "x" in f, sorted(f.attrs), list(f.attrs.values())

    theirs, ours = both(file_url, h5_path, op)
    assert theirs[0] != "no error" and ours == theirs
