"""xarray's ``engine="h5netcdf"`` through ``dosna_like.install_as_h5py()``:
``to_netcdf`` then ``open_dataset`` of a dataset with coordinates, dimensions
shared between variables, attributes, an unlimited dimension, strings and
compression, compared with the same round trip on the real h5py.

Each round trip runs in its own interpreter: the swap must happen before
h5netcdf is imported, and the real h5py run must not see it.
"""
from __future__ import annotations

from tests.conftest import run_json_script

import h5netcdf  # noqa: E402,F401  (test extra: fail, never skip)
import xarray  # noqa: E402,F401

ROUND_TRIP = r'''
import json, sys
if sys.argv[1] == "dosna_like":
    import dosna_like
    dosna_like.install_as_h5py()
import numpy as np
import xarray as xr

ds = xr.Dataset(
    {"temp": (("time", "x"), np.arange(12.0).reshape(4, 3), {"units": "K", "long_name": "temperature"}),
     "count": (("x",), np.array([1, 2, 3], dtype="i4")),
     "name": (("x",), np.array(["a", "bb", "ccc"], dtype=object))},
    coords={"time": ("time", np.arange(4)), "x": ("x", [10.0, 20.0, 30.0])},
    attrs={"title": "round trip", "version": 3})
ds.to_netcdf(sys.argv[2], engine="h5netcdf", unlimited_dims=["time"],
             encoding={"temp": {"zlib": True, "complevel": 4}})
with xr.open_dataset(sys.argv[2], engine="h5netcdf") as back:
    back = back.load()
    xr.testing.assert_identical(back, ds)
    out = {"data": back.to_dict(data="list"), "unlimited": sorted(back.encoding.get("unlimited_dims", ())),
           "temp_compression": [back["temp"].encoding.get(k) for k in ("zlib", "complevel")],
           # the layout xarray reads from Dataset.chunks: contiguous (chunks None) unless chunked (the
           # chunk shapes h5py guesses for growing axes differ: dosna_like's are sized for object storage)
           "layout": {k: back[k].encoding.get("contiguous") for k in sorted(back.variables)}}
print(json.dumps(out, default=str))
'''


LEGACY = r'''
import json, sys
if sys.argv[1] == "dosna_like":
    import dosna_like
    dosna_like.install_as_h5py()
import numpy as np
import h5netcdf.legacyapi as netCDF4
import h5netcdf

def summary(path):
    out = {}
    with netCDF4.Dataset(path, "r") as ds:
        def walk(g, prefix):
            out[prefix + "dims"] = {k: [len(v), v.isunlimited()] for k, v in g.dimensions.items()}
            out[prefix + "attrs"] = {k: np.asarray(g.getncattr(k)).tolist() for k in g.ncattrs()}
            for name, v in g.variables.items():
                out[prefix + name] = {"dims": list(v.dimensions), "dtype": str(v.dtype), "shape": list(v.shape),
                                      "data": np.asarray(v[...]).tolist(),
                                      "attrs": {k: np.asarray(v.getncattr(k)).tolist() for k in v.ncattrs()},
                                      "filters": v.filters()}
            for name, sub in g.groups.items():
                walk(sub, prefix + name + "/")
        walk(ds, "/")
    return out

path = sys.argv[2]
if sys.argv[3] == "read":  # files another run wrote, with the real h5py: read them in place
    print(json.dumps({"a": summary(path + "a.nc"), "b": summary(path + "b.nc")}, default=str))
    sys.exit(0)
with netCDF4.Dataset(path + "a.nc", "w") as ds:
    ds.createDimension("time", None)
    ds.createDimension("x", 3)
    t = ds.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    v = ds.createVariable("temp", "f4", ("time", "x"), zlib=True, complevel=3, fill_value=-999.0)
    v.long_name = "temperature"
    v[0:2, :] = np.arange(6, dtype="f4").reshape(2, 3)
    t[0:2] = [0.0, 1.0]
    ds.title = "legacy"
    ds.setncattr("numbers", np.array([1, 2, 3], dtype="i4"))
    g = ds.createGroup("sub")
    g.createDimension("y", 2)
    s = g.createVariable("names", str, ("y",))
    s[:] = np.array(["ab", "c"], dtype=object)
    w = g.createVariable("w", "i2", ("y", "x"))
    w[...] = np.arange(6, dtype="i2").reshape(2, 3)
    v[2, :] = [9.0, 8.0, 7.0]
with h5netcdf.File(path + "b.nc", "w") as f:
    f.dimensions = {"n": 4, "u": None}
    var = f.create_variable("n", ("n",), data=np.arange(4.0))
    other = f.create_variable("sq", ("n",), data=np.arange(4) ** 2, compression="gzip")
    other.attrs["note"] = "squares"
    grow = f.create_variable("grow", ("u", "n"), dtype="i4")
    f.resize_dimension("u", 2)
    grow[...] = np.ones((2, 4), dtype="i4")
print(json.dumps({"a": summary(path + "a.nc"), "b": summary(path + "b.nc")}, default=str))
'''


def _round_trip(kind: str, path) -> dict:
    return run_json_script(ROUND_TRIP, kind, path, timeout=120)


def test_round_trip_with_real_h5py(tmp_path):
    out = _round_trip("h5py", tmp_path / "real.nc")
    assert out["unlimited"] == ["time"] and out["temp_compression"] == [True, 4]
    assert out["layout"]["count"] is True and out["layout"]["temp"] is False


def test_round_trip_through_install_as_h5py_equals_real_h5py(tmp_path):
    assert _round_trip("dosna_like", tmp_path / "ours.nc") == _round_trip("h5py", tmp_path / "real.nc")


def _legacy(kind: str, prefix, action: str = "write") -> dict:
    return run_json_script(LEGACY, kind, prefix, action, timeout=120)


def test_h5netcdf_legacy_and_new_api_files_equal_real_h5py(tmp_path):
    """h5netcdf's legacy (netCDF4-python style) and new APIs: unlimited and fixed
    dimensions, groups, string and integer variables, attributes, fill values,
    compression, dimension resizing; written and read back through each library."""
    real = _legacy("h5py", tmp_path / "real_")
    assert real["a"]["/temp"]["filters"]["zlib"] and real["a"]["/dims"]["time"] == [2, True]
    assert _legacy("dosna_like", tmp_path / "ours_") == real


def test_h5netcdf_reads_real_netcdf_files_in_place_through_install_as_h5py(tmp_path):
    """.nc files written with the real h5py, read in place by dosna_like (the real
    h5py reads their metadata, also while the install stands in for it)."""
    real = _legacy("h5py", tmp_path / "real_")
    ours = _legacy("dosna_like", tmp_path / "real_", "read")
    for summary in (real, ours):  # a deflate filter read in place is numcodecs zlib, named "zlib" (README)
        for variables in summary.values():
            for entry in variables.values():
                if isinstance(entry, dict) and "filters" in entry:
                    entry.pop("filters")
    assert ours == real
