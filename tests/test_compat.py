"""``dosna_like.compat``: ``install_as_h5py()`` and h5py's module surface, each
name and behaviour compared with the real h5py (values, types, exception types)."""
from __future__ import annotations

import sys
import warnings

import h5py
import numpy as np
import pytest

import dosna_like


# ------------------------------------------------------------ install / undo
def test_install_makes_import_h5py_give_dosna_like_and_uninstall_restores():
    real = sys.modules["h5py"]
    module = dosna_like.install_as_h5py()
    try:
        import h5py as swapped
        import h5py.version
        from h5py._hl.dataset import AsStrView, AstypeWrapper, FieldsView
        assert swapped is module and swapped.File is dosna_like.File
        assert h5py.version is dosna_like.version
        assert AsStrView is dosna_like.hl.views.AsStrView and AstypeWrapper is dosna_like.hl.views.AsTypeView
        assert FieldsView is dosna_like.hl.views.FieldsView
        assert dosna_like.is_installed_as_h5py()
        with pytest.raises(ModuleNotFoundError):  # HDF5's low-level API is not there
            import h5py.h5s  # noqa: F401
    finally:
        assert dosna_like.uninstall_as_h5py()
    import h5py as back
    assert back is real and sys.modules["h5py.h5t"] is real.h5t
    assert not dosna_like.is_installed_as_h5py()
    assert not dosna_like.uninstall_as_h5py()  # nothing left to undo


def test_as_h5py_context_manager_nests():
    real = sys.modules["h5py"]
    with dosna_like.as_h5py() as outer:
        with dosna_like.as_h5py() as inner:
            assert sys.modules["h5py"] is inner
        assert sys.modules["h5py"] is outer
    assert sys.modules["h5py"] is real


def test_version_gates_pass_while_own_version_stays():
    with dosna_like.as_h5py() as swapped:
        major, minor = (int(x) for x in swapped.__version__.split(".")[:2])
        assert (major, minor) >= (3, 0) and swapped.__version__ == swapped.version.version
        assert swapped.__dosna_like_version__ == dosna_like.__version__
    assert dosna_like.__version__ == "0.1.0"


def test_version_module_has_h5pys_names_and_types():
    for name in ("version", "version_tuple", "hdf5_version", "hdf5_version_tuple", "api_version",
                 "api_version_tuple", "hdf5_built_version_tuple", "info"):
        ours, theirs = getattr(dosna_like.version, name), getattr(h5py.version, name)
        assert type(ours) is type(theirs) or isinstance(ours, tuple) and isinstance(theirs, tuple), name
    assert dosna_like.version.version_tuple._fields == h5py.version.version_tuple._fields
    assert dosna_like.version.version_tuple[:2] == h5py.version.version_tuple[:2]
    assert all(isinstance(x, int) for x in dosna_like.version.hdf5_version_tuple)


# ------------------------------------------------------------ dtype helpers
@pytest.mark.parametrize("kwds", [
    {"vlen": str}, {"vlen": bytes}, {"vlen": np.dtype("int32")},
    {"enum": (np.int8, {"a": 1, "b": 2})},
])
def test_special_dtype_matches_h5py(kwds):
    ours, theirs = dosna_like.special_dtype(**kwds), h5py.special_dtype(**kwds)
    assert ours == theirs
    assert dosna_like.check_string_dtype(ours) == h5py.check_string_dtype(theirs)
    assert dosna_like.check_vlen_dtype(ours) == h5py.check_vlen_dtype(theirs)
    assert dosna_like.check_enum_dtype(ours) == h5py.check_enum_dtype(theirs)
    name = next(iter(kwds))
    assert dosna_like.check_dtype(**{name: ours}) == h5py.check_dtype(**{name: theirs})


@pytest.mark.parametrize("kwds", [{}, {"foo": 1}, {"vlen": str, "enum": (np.int8, {})}, {"enum": np.int8}])
def test_special_dtype_errors_match_h5py(kwds):
    with pytest.raises(Exception) as theirs:
        h5py.special_dtype(**kwds)
    with pytest.raises(theirs.type):
        dosna_like.special_dtype(**kwds)


def test_h5t_names_are_h5pys():
    for name in dosna_like.h5t.__all__:
        assert hasattr(h5py.h5t, name), name
    assert dosna_like.h5t.string_dtype() == h5py.h5t.string_dtype()
    assert dosna_like.h5t.vlen_dtype(np.float32) == h5py.h5t.vlen_dtype(np.float32)


def test_filters_and_h5z():
    assert set(dosna_like.filters.encode) <= set(h5py.filters.encode)
    assert {"gzip", "shuffle", "fletcher32", "scaleoffset"} <= set(dosna_like.filters.encode)
    with dosna_like.as_h5py() as swapped:
        for code in (swapped.h5z.FILTER_DEFLATE, swapped.h5z.FILTER_SHUFFLE, swapped.h5z.FILTER_FLETCHER32,
                     swapped.h5z.FILTER_SCALEOFFSET):
            assert swapped.h5z.filter_avail(code) == h5py.h5z.filter_avail(code)
        assert swapped.h5z.FILTER_LZF == h5py.h5z.FILTER_LZF
        assert not swapped.h5z.filter_avail(swapped.h5z.FILTER_SZIP)  # a clear "no", as a build without it
        assert swapped.h5p.CRT_ORDER_TRACKED == h5py.h5p.CRT_ORDER_TRACKED
        assert swapped.h5p.CRT_ORDER_INDEXED == h5py.h5p.CRT_ORDER_INDEXED


def test_hl_view_names_exist_in_h5py():
    with dosna_like.as_h5py() as swapped:
        names = [n for n in swapped._hl.dataset.__all__ if "Wrapper" not in n]
    import h5py._hl.dataset as real_dataset
    for name in names:
        assert hasattr(real_dataset, name), name


def test_get_config_fields_match_h5py():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = h5py.get_config()
        for name in ("mpi", "ros3", "direct_vfd", "default_file_mode", "track_order",
                     "swmr_min_hdf5_version", "vds_min_hdf5_version"):
            assert getattr(dosna_like.get_config(), name) == getattr(theirs, name), name


# ------------------------------------------------------------ files
def test_in_memory_file():
    for mod in (h5py, dosna_like):
        f = mod.File.in_memory()
        f["a"] = np.arange(4)
        f["g/b"] = 2.5
        assert f["a"][:].tolist() == [0, 1, 2, 3] and f["g/b"][()] == 2.5
        assert f.mode == "r+"
        f.close()
        for key in ("driver", "backing_store", "locking"):
            with pytest.raises(TypeError):
                mod.File.in_memory(**{key: None})


def test_in_memory_files_are_separate_and_gone_on_close():
    a, b = dosna_like.File.in_memory(), dosna_like.File.in_memory()
    a["x"] = 1
    assert "x" not in b
    url = a.filename
    a.close()
    b.close()
    with pytest.raises(FileNotFoundError):
        dosna_like.File(url, "r")


def test_core_driver_without_backing_store(tmp_path):
    for mod, name in ((h5py, "h5.h5"), (dosna_like, "dl.h5")):
        path = tmp_path / name
        with mod.File(path, "w", driver="core", backing_store=False) as f:
            f["a"] = np.arange(3)
            assert f["a"][:].tolist() == [0, 1, 2]
        assert not path.exists()


def test_core_driver_without_backing_store_refuses_to_change_an_existing_file(tmp_path):
    path = tmp_path / "x"
    dosna_like.File(path, "w").close()
    with pytest.raises(ValueError):
        dosna_like.File(path, "a", driver="core", backing_store=False)
    with dosna_like.File(path, "r", driver="core", backing_store=False) as f:  # reading is the same
        assert len(f) == 0


def test_mode_w_replaces_an_existing_hdf5_file(tmp_path):
    for mod, name in ((h5py, "h5.h5"), (dosna_like, "dl.h5")):
        path = tmp_path / name
        with h5py.File(path, "w") as f:
            f["old"] = 1
        with mod.File(path, "w") as f:
            f["new"] = 2
        with mod.File(path, "r") as f:
            assert list(f) == ["new"]


def test_mode_w_still_refuses_a_non_store_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        dosna_like.File(tmp_path / "d", "w")
    assert (tmp_path / "d" / "notes.txt").read_text() == "keep me"


# ------------------------------------------------------------ groups and ids
def _both(tmp_path):
    h = h5py.File(tmp_path / "h.h5", "w")
    d = dosna_like.File(tmp_path / "d", "w")
    return h, d


def test_reversed_and_key_completions_match_h5py(tmp_path):
    h, d = _both(tmp_path)
    with h, d:
        for f in (h, d):
            for name in ("b", "a", "C", "B"):
                f.create_group(name)
        assert list(reversed(d)) == list(reversed(h))
        assert d._ipython_key_completions_() == h._ipython_key_completions_()


def test_get_elink_options_match_h5py(tmp_path):
    for mod, name in ((h5py, "h"), (dosna_like, "d")):
        ext, main = tmp_path / f"{name}_ext.h5", tmp_path / f"{name}_main.h5"
        with mod.File(ext, "w") as f:
            f.create_group("g")
        with mod.File(main, "w") as f:
            f["ext"] = mod.ExternalLink(ext.name, "/g")  # beside the linking file
        with mod.File(main, "r") as f:
            with pytest.raises(ValueError):
                f.get("ext", elink_mode="r+")
            assert isinstance(f.get("ext", elink_mode="r"), mod.Group)
            assert f.get("missing", default=5, elink_locking=False) == 5


def test_id_valid_and_identity_match_h5py(tmp_path):
    h, d = _both(tmp_path)
    for f in (h, d):
        f.create_group("g")
        assert f["g"].id.valid and bool(f["g"].id)
        assert f["g"].id == f["g"].id and hash(f["g"].id) == hash(f["g"].id)
        assert f["g"].id != f.id
        gid = f["g"].id
        f.close()
        assert not gid.valid


def test_id_low_level_methods_raise_attribute_error(tmp_path):
    with dosna_like.File(tmp_path / "d", "w") as f:
        with pytest.raises(AttributeError, match="low-level"):
            f.id.get_access_plist()


@pytest.mark.parametrize("track_order", [False, True])
def test_track_order_of_group_links_and_dataset_attrs_matches_h5py(tmp_path, track_order):
    h, d = _both(tmp_path)
    with h, d:
        for f in (h, d):
            g = f.create_group("g", track_order=track_order)
            for name in ("b", "a", "B"):
                g.create_group(name)
            ds = f.create_dataset("x", data=[1], track_order=track_order)
            for name in ("z", "y", "Z"):
                ds.attrs[name] = 1
        assert list(d["g"]) == list(h["g"])
        assert list(d["x"].attrs) == list(h["x"].attrs)
        assert (d["g"].id.get_create_plist().get_link_creation_order()
                == h["g"].id.get_create_plist().get_link_creation_order())
        assert (d["g"].id.get_create_plist().get_attr_creation_order()
                == h["g"].id.get_create_plist().get_attr_creation_order())


def test_overwritten_attributes_of_a_track_order_object_move_as_in_h5py(tmp_path):
    # h5py's __setitem__ and create delete and create again (the name goes last in creation order);
    # modify writes in place (it stays)
    steps = [("set", "a", 1), ("set", "b", 2), ("set", "c", 3), ("set", "a", 10), ("create", "b", 20),
             ("modify", "c", 30), ("modify", "a", 40), ("set", "a", np.float64(5)), ("modify", "z", 1),
             ("create", "c", np.arange(3)), ("set", "b", "text"), ("modify", "b", "other")]
    h, d = _both(tmp_path)
    with h, d:
        seen = []
        for f in (h, d):
            targets = [f.create_group("g", track_order=True), f.create_dataset("x", data=[1], track_order=True),
                       f.create_group("plain")]
            orders = []
            for attrs in (t.attrs for t in targets):
                for how, name, value in steps:
                    if how == "set":
                        attrs[name] = value
                    else:
                        getattr(attrs, how)(name, value)
                    orders.append((list(attrs), [np.asarray(v).tolist() for v in attrs.values()]))
            seen.append(orders)
        assert seen[1] == seen[0]


@pytest.mark.parametrize("track_times", [True, False, "yes"])
def test_create_dataset_track_times_matches_h5py(tmp_path, track_times):
    h, d = _both(tmp_path)
    with h, d:
        outcomes = []
        for f in (h, d):
            try:
                f.create_dataset("x", data=[1, 2], track_times=track_times)
                outcomes.append(None)
            except Exception as exc:  # noqa: BLE001 - the type is compared
                outcomes.append(type(exc))
        assert outcomes[1] is outcomes[0] or (outcomes[0] and issubclass(outcomes[1], outcomes[0]))
