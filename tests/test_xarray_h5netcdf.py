"""xarray's ``engine="h5netcdf"`` through ``dosna_like.install_as_h5py()``:
``to_netcdf`` then ``open_dataset`` of a dataset with coordinates, dimensions
shared between variables, attributes, an unlimited dimension, strings and
compression, compared with the same round trip on the real h5py.

Each round trip runs in its own interpreter: the swap must happen before
h5netcdf is imported, and the real h5py run must not see it.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
           "temp_compression": [back["temp"].encoding.get(k) for k in ("zlib", "complevel")]}
print(json.dumps(out, default=str))
'''


def _round_trip(kind: str, path) -> dict:
    done = subprocess.run([sys.executable, "-c", ROUND_TRIP, kind, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_round_trip_with_real_h5py(tmp_path):
    out = _round_trip("h5py", tmp_path / "real.nc")
    assert out["unlimited"] == ["time"] and out["temp_compression"] == [True, 4]


def test_round_trip_through_install_as_h5py_equals_real_h5py(tmp_path):
    assert _round_trip("dosna_like", tmp_path / "ours.nc") == _round_trip("h5py", tmp_path / "real.nc")
