"""The codec registry: every registered codec round-trips, taken from the registry
itself so that a new entry is tested without touching this file.

For each entry: its example h5py keywords -> Zarr JSON -> the runtime (encode,
decode, decode into a destination) -> the h5py view and back to keywords ->
zarr-python reading what we wrote -> h5py writing the same data with the
filter an export uses, and the chunks crossing to and from HDF5.  Then the
errors, compared with the exception types h5py raises for the same keywords.
"""
from __future__ import annotations

import json
import warnings

import h5py
import numcodecs
import numpy as np
import pytest
import zarr
from zarr.registry import get_codec_class

import dosna_like
from dosna_like.codecs.lzf import AVAILABLE as LZF_AVAILABLE
from dosna_like.codecs import REGISTRY, ChunkCodec, RefusedCodecError, Role, build_codecs, h5py_view
from dosna_like.codecs.chains import (asked_codecs, hdf5_export_keywords, hdf5_import_keywords, raw_crossing,
                                      rebuild_keywords, verifies)
from dosna_like.codecs.entries import H5PY_COMPRESSION, HDF5_FILTERS
from dosna_like.codecs.registry import DEFLATE, RAW, CodecEntry, Example
from dosna_like.codecs.runtime import NumcodecRuntime
from dosna_like.transfer.common import hdf5_filter_ids

ENTRIES = list(REGISTRY)
SHAPE, CHUNKS = (30, 20), (8, 7)
N_CHUNKS = 4 * 3


def sample(dtype: np.dtype) -> np.ndarray:
    """Data of ``dtype`` with no chunk equal to the fill value (so every chunk is stored)."""
    n = int(np.prod(SHAPE))
    vlen = h5py.check_vlen_dtype(dtype)
    if vlen is str:
        return np.array([f"s{i % 23}é" for i in range(n)], dtype=object).reshape(SHAPE)
    if vlen is bytes:
        return np.array([b"b%d" % (i % 19) for i in range(n)], dtype=object).reshape(SHAPE)
    return (np.arange(n) % 17 + 1).astype(dtype).reshape(SHAPE)


def as_values(arr) -> np.ndarray:
    """Text read back as bytes (h5py), str (zarr) or either: compared as str."""
    arr = np.asarray(arr)
    if arr.dtype == object:
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(arr)
    return arr


def assert_values(got, expected) -> None:
    np.testing.assert_array_equal(as_values(got), as_values(expected))


def entries_in(codecs: list) -> list:
    return [REGISTRY.for_zarr(c["name"]) for c in codecs]


@pytest.fixture(params=ENTRIES, ids=[e.name for e in ENTRIES])
def entry(request) -> CodecEntry:
    return request.param


def test_every_entry_says_how_to_select_it_and_is_selected_by_it(entry):
    example = entry.example()
    codecs = build_codecs(np.dtype(example.dtype), **example.keywords)
    assert entry in entries_in(codecs)
    assert json.loads(json.dumps(codecs)) == codecs  # plain JSON, as zarr.json holds it
    assert entries_in(codecs)[0].role is Role.ARRAY
    assert all(e.role is not Role.ARRAY for e in entries_in(codecs)[1:])


def test_every_codec_runs(entry):
    """Runtime: the array's pipeline, and the entry's own runtime on bytes."""
    example = entry.example()
    dtype = np.dtype(example.dtype)
    codecs = build_codecs(dtype, **example.keywords)
    chunk = sample(dtype)[:CHUNKS[0], :CHUNKS[1]].copy()
    pipeline = ChunkCodec(codecs, dtype, CHUNKS)
    raw = pipeline.encode(chunk)
    assert_values(pipeline.decode(bytes(raw)), chunk)
    if pipeline.vlen is None:
        dest = np.zeros(CHUNKS, dtype)
        assert pipeline.decode_into(bytes(raw), dest) is dest
        assert_values(dest, chunk)
    if entry.role is not Role.ARRAY:
        spec = codecs[entries_in(codecs).index(entry)]
        runtime = entry.runtime(spec["name"], dict(spec.get("configuration") or {}))
        plain = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
        stored = runtime.encode(memoryview(plain))
        assert bytes(np.frombuffer(runtime.decode(stored, plain.nbytes), np.uint8)) == plain.tobytes()
        out = np.zeros(plain.nbytes, np.uint8)
        runtime.decode_into(stored, out)
        assert out.tobytes() == plain.tobytes()


def test_every_codec_has_an_h5py_view_that_rebuilds_it(entry, tmp_path):
    example = entry.example()
    dtype = np.dtype(example.dtype)
    codecs = build_codecs(dtype, **example.keywords)
    view = h5py_view(codecs)
    url = str(tmp_path / "f.h5")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("x", data=sample(dtype), chunks=CHUNKS, dtype=dtype, **example.keywords)
        assert (ds.compression, ds.compression_opts, ds.shuffle, ds.fletcher32) == (
            view.compression, view.compression_opts, view.shuffle, view.fletcher32)
    with dosna_like.File(url, "r") as f:
        assert h5py_view(f["x"]._meta.codecs, f["x"]._meta.attributes) == view
        assert_values(f["x"][...], sample(dtype))
    again = build_codecs(dtype, **rebuild_keywords(view.compression, view.compression_opts),
                         shuffle=view.shuffle, fletcher32=view.fletcher32)
    assert again == codecs


def _zarr_knows(name: str) -> bool:
    try:
        get_codec_class(name)
    except KeyError:
        return False
    return True


def test_zarr_python_reads_every_codec_it_knows(entry, tmp_path):
    example = entry.example()
    dtype = np.dtype(example.dtype)
    codecs = build_codecs(dtype, **example.keywords)
    # every codec we write must be readable by zarr-python: one it does not know is a failure
    assert all(_zarr_knows(c["name"]) for c in codecs), f"zarr-python has no codec {entry.zarr_name!r}"
    url = str(tmp_path / "f.h5")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=sample(dtype), chunks=CHUNKS, dtype=dtype, **example.keywords)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr notes that numcodecs.* codecs are outside the spec
        assert_values(zarr.open_group(url, mode="r")["x"][...], sample(dtype))


def test_every_codec_crosses_to_hdf5_and_back(entry, tmp_path):
    """h5py writes the data with the filters an export uses (the codec's own
    where h5py has it); import and export move it, undecoded where they can."""
    example = entry.example()
    dtype = np.dtype(example.dtype)
    data = sample(dtype)
    codecs = build_codecs(dtype, **example.keywords)
    ours = h5py_view(codecs)
    h5path = str(tmp_path / "ref.h5")
    with h5py.File(h5path, "w") as h5:
        h5ds = h5.create_dataset("x", data=data, dtype=dtype, chunks=CHUNKS, **hdf5_export_keywords(codecs))
        filters = hdf5_filter_ids(h5ds)
        if entry.hdf5_filter is not None and h5py.h5z.filter_avail(entry.hdf5_filter):
            assert entry.hdf5_filter in filters
        assert_values(h5ds[...], data)
        assert (h5ds.shuffle, h5ds.fletcher32) == (ours.shuffle, ours.fletcher32)
        if ours.compression is None or ours.compression in H5PY_COMPRESSION:
            assert (h5ds.compression, h5ds.compression_opts) == (ours.compression, ours.compression_opts)
    assert all(f in HDF5_FILTERS for f in filters)

    deflate_as = entry.name if entry.name in REGISTRY.importers(DEFLATE) else "gzip"
    url = str(tmp_path / "imported.h5")
    report = dosna_like.import_hdf5(h5path, url, deflate_as=deflate_as, progress=False)
    with dosna_like.File(url, "r") as f:
        imported, imported_attrs = f["x"]._meta.codecs, f["x"]._meta.attributes
        assert_values(f["x"][...], data)
    asked = asked_codecs(imported, imported_attrs)
    assert asked == build_codecs(dtype, **hdf5_import_keywords(filters, h5ds_opts(h5path), deflate_as))
    assert verifies(imported)  # checked on read: its own checksum, or the one added by default
    if entry.hdf5_filter in entry.hdf5_imports:  # the codec HDF5 data of its own filter comes back as
        assert entry in entries_in(imported)
    crossing = raw_crossing(filters, imported, dtype.itemsize, imported_attrs) if dtype.kind in "biufc" else None
    assert report.raw_chunks == (N_CHUNKS if crossing is not None else 0)
    if entry.hdf5_chunks is not None and entry.role is not Role.ARRAY and h5py.h5z.filter_avail(entry.hdf5_filter):
        assert crossing is not None  # e.g. gzip, zlib, shuffle: chunks move without decoding

    out = str(tmp_path / "exported.h5")
    report = dosna_like.export_hdf5(url, out, progress=False)
    with h5py.File(out, "r") as h5:
        assert_values(h5["x"][...], data)
        assert report.raw_chunks == (N_CHUNKS if crossing is not None else 0)


def h5ds_opts(path: str):
    with h5py.File(path, "r") as h5:
        return h5["x"].compression_opts


# ------------------------------------------------------------------- errors
def _outcome(module, keywords: dict, path: str):
    """('ok', compression, compression_opts) or ('raises', exception type)."""
    with module.File(path, "w") as f:
        try:
            ds = f.create_dataset("x", data=np.arange(12, dtype="i4"), chunks=(4,), **keywords)
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            return "raises", type(exc)
        return "ok", ds.compression, ds.compression_opts


ERRORS = {
    "gzip-level-10": {"compression": "gzip", "compression_opts": 10},
    "gzip-level-negative": {"compression": "gzip", "compression_opts": -1},
    "gzip-level-fraction": {"compression": "gzip", "compression_opts": 4.5},
    "gzip-level-text": {"compression": "gzip", "compression_opts": "x"},
    "gzip-number-12": {"compression": 12},
    "unknown-name": {"compression": "foo"},
    "uppercase-name": {"compression": "GZIP"},
    "name-as-bytes": {"compression": b"gzip"},
    "float-compression": {"compression": 2.5},
    "pickle-codec": {"compression": numcodecs.Pickle()},
    "options-without-compression": {"compression_opts": 4},
}


@pytest.mark.parametrize("keywords", ERRORS.values(), ids=ERRORS.keys())
def test_bad_keywords_raise_what_h5py_raises(keywords, tmp_path):
    expected = _outcome(h5py, keywords, str(tmp_path / "ref.h5"))
    got = _outcome(dosna_like, keywords, str(tmp_path / "ours.h5"))
    assert expected[0] == got[0] == "raises"
    assert issubclass(got[1], expected[1]), (got, expected)


@pytest.mark.parametrize("keywords", [{"compression": True}, {"compression": np.int64(3)},
                                      {"compression": "gzip", "compression_opts": 4.0}])
def test_gzip_spellings_are_h5py_s(keywords, tmp_path):
    assert _outcome(dosna_like, keywords, str(tmp_path / "ours.h5")) == \
        _outcome(h5py, keywords, str(tmp_path / "ref.h5"))


def test_gzip_level_message_is_h5py_s():
    with pytest.raises(ValueError, match=r"^GZIP setting must be an integer from 0-9, not 10$"):
        build_codecs(np.dtype("f8"), "gzip", 10)
    with pytest.raises(ValueError, match=r'^Compression filter "foo" is unavailable'):
        build_codecs(np.dtype("f8"), "foo")


def test_pickle_is_refused_when_written_and_when_read():
    with pytest.raises(RefusedCodecError):
        build_codecs(np.dtype("f8"), numcodecs.Pickle())
    stored = [{"name": "bytes", "configuration": {"endian": "little"}},
              {"name": "numcodecs.pickle", "configuration": {"protocol": 5}}]
    with pytest.raises(RefusedCodecError):
        ChunkCodec(stored, np.dtype("f8"), (4,))
    assert h5py_view(stored).compression == "pickle"  # shown, never run
    with pytest.raises(RefusedCodecError):
        rebuild_keywords("pickle", {"protocol": 5})


def test_codec_lists_we_cannot_run_are_refused():
    with pytest.raises(ValueError, match="unsupported codec 'nosuch'"):
        ChunkCodec([{"name": "bytes"}, {"name": "nosuch"}], np.dtype("i1"), (4,))
    with pytest.raises(ValueError, match="expected one array codec first"):
        ChunkCodec([{"name": "gzip", "configuration": {"level": 1}}], np.dtype("i1"), (4,))
    with pytest.raises(ValueError, match="expected one array codec first"):
        ChunkCodec([{"name": "bytes"}, {"name": "vlen-utf8"}], np.dtype("i1"), (4,))


# ---------------------------------------------- bugs the name switches had
def test_text_datasets_report_no_compression_as_in_h5py(tmp_path):
    """The array codec (vlen-utf8) showed as the compression, and broke copies and clones."""
    data = np.array(["a", "bé", "ccc"], dtype=object)
    with h5py.File(str(tmp_path / "ref.h5"), "w") as h5:
        expected = h5.create_dataset("s", data=data, dtype=h5py.string_dtype()).compression
    with dosna_like.File(str(tmp_path / "ours.h5"), "w") as f:
        ds = f.create_dataset("s", data=data, dtype=dosna_like.string_dtype())
        assert ds.compression is expected is None
        f.copy("s", "copied")
        assert_values(f["copied"][...], data)
        clone = ds.clone("cloned")
        clone[...] = data
        assert_values(clone[...], data)


def test_copies_keep_numcodecs_codecs_and_store_what_they_lack_plainly(tmp_path):
    data = np.arange(100.0)
    with dosna_like.File(str(tmp_path / "ours.h5"), "w") as f:
        f.create_dataset("bz2", data=data, compression=numcodecs.BZ2(level=3))
        f.create_dataset("zlib", data=data, compression=numcodecs.Zlib(level=2))
        for name in ("bz2", "zlib"):
            f.copy(name, name + "-copy")
            assert f[name + "-copy"]._meta.codecs == f[name]._meta.codecs
            np.testing.assert_array_equal(f[name + "-copy"][...], data)
        with h5py.File(str(tmp_path / "ref.h5"), "w") as h5:
            h5.create_dataset("lzf", data=data, compression="lzf")
            if h5py.h5z.get_filter_info(h5py.h5z.FILTER_SZIP) & h5py.h5z.FILTER_CONFIG_ENCODE_ENABLED:
                h5.create_dataset("szip", data=data, compression="szip")
            for name in h5:
                f.copy(h5[name], f, name)
                # lzf is a real codec here (with python-lzf); szip is stored plainly
                expected = "lzf" if name == "lzf" and LZF_AVAILABLE else None
                assert f[name].compression == expected
                np.testing.assert_array_equal(f[name][...], data)
            f.copy("bz2", h5, "from-bz2")  # h5py has no bz2: stored uncompressed
            assert h5["from-bz2"].compression is None
            np.testing.assert_array_equal(h5["from-bz2"][...], data)


# ------------------------------------------------------------ the registry
def test_facts_are_consistent():
    zarr_names = [e.zarr_name for e in ENTRIES]
    assert len(set(zarr_names)) == len(zarr_names)
    assert REGISTRY.compression_names()[:4] == ("gzip", "blosc", "zstd", "lz4")
    for entry in ENTRIES:
        assert entry.hdf5_filter is None or entry.hdf5_filter in HDF5_FILTERS
        assert all(f in HDF5_FILTERS for f in entry.hdf5_imports)
        assert isinstance(entry.example(), Example)
    assert REGISTRY.importers(DEFLATE) == ("gzip", "zlib")
    assert REGISTRY.for_zarr("numcodecs.anything") is REGISTRY.family
    assert REGISTRY.for_zarr("anything") is None


@pytest.mark.parametrize("filters, expected", [
    ([], {}), ([1], {"compression": "gzip", "compression_opts": 6}), ([2, 1], {"shuffle": True, "compression": "gzip",
                                                                             "compression_opts": 6}),
    ([32000], {"compression": "lzf" if LZF_AVAILABLE else "lz4"}), ([3], {"fletcher32": True}), ([6], {}),
    ([4], {"compression": "gzip", "compression_opts": 4}), ([5, 2], {"compression": "gzip", "compression_opts": 4,
                                                                     "shuffle": True}),
    ([32015], {"compression": "gzip", "compression_opts": 4}), ([6, 1], {"compression": "gzip", "compression_opts": 6}),
])
def test_hdf5_filters_import_as_before(filters, expected):
    """Deflate, shuffle and lzf kept, fletcher32 as crc32c, scaleoffset gone
    (its values arrive decoded), anything else gzip-4."""
    assert hdf5_import_keywords(filters, 6) == expected


def test_raw_crossings():
    f8 = np.dtype("f8")
    assert raw_crossing([], build_codecs(f8), 8) == RAW
    assert raw_crossing([2], build_codecs(f8, shuffle=True), 8) == RAW
    assert raw_crossing([2, 1], build_codecs(f8, "gzip", shuffle=True), 8) == "deflate"
    assert raw_crossing([1], build_codecs(f8, numcodecs.Zlib(level=1)), 8) == "zlib"
    assert raw_crossing([1, 2], build_codecs(f8, "gzip", shuffle=True), 8) is None  # another order
    assert raw_crossing([1], build_codecs(f8, "gzip", fletcher32=True), 8) is None
    assert raw_crossing([1, 3], build_codecs(f8, "gzip", fletcher32=True), 8) is None  # another checksum
    assert raw_crossing([1], build_codecs(f8, "zstd"), 8) is None
    assert raw_crossing([2], build_codecs(f8, numcodecs.Shuffle(elementsize=4)), 8) is None  # other items
    assert raw_crossing([], build_codecs(dosna_like.string_dtype()), 8) is None


class _Bz2(CodecEntry):
    """A throwaway entry: bz2 by name, to show one entry is all a codec needs."""

    def from_h5py(self, opts, dtype):
        return {"name": "numcodecs.bz2", "configuration": {"level": 9 if opts is None else int(opts)}}

    def runtime(self, zarr_name, config):
        return NumcodecRuntime(numcodecs.BZ2(**config))

    def view(self, zarr_name, config):
        return {"compression": "bz2", "compression_opts": config.get("level")}


@pytest.fixture
def bz2_entry():
    entry = REGISTRY.register(_Bz2("bz2", "numcodecs.bz2", Role.COMPRESSOR, h5py_keyword="compression"))
    yield entry
    REGISTRY.unregister("bz2")


def test_one_entry_adds_a_codec(bz2_entry, tmp_path):
    with dosna_like.File(str(tmp_path / "f.h5"), "w") as f:
        ds = f.create_dataset("x", data=np.arange(50.0), chunks=(16,), compression="bz2", compression_opts=5)
        assert (ds.compression, ds.compression_opts) == ("bz2", 5)
        np.testing.assert_array_equal(ds[...], np.arange(50.0))
        assert ds._meta.codecs[1] == {"name": "numcodecs.bz2", "configuration": {"level": 5}}
        clone = ds.clone("y")
        assert clone._meta.codecs == ds._meta.codecs
    REGISTRY.unregister("bz2")
    try:
        with pytest.raises(ValueError, match="unavailable"):
            build_codecs(np.dtype("f8"), "bz2")
    finally:
        REGISTRY.register(bz2_entry)


@pytest.mark.parametrize("dtype", ["u1", "<f4", ">i4", [("a", "<i4"), ("b", ">f8")]])
@pytest.mark.parametrize("n", [0, 1, 100, 70000, 300000])
def test_crc32c_matches_google_crc32c_on_every_kind_of_buffer(dtype, n):
    """The GIL-releasing CRC-32C (ctypes into the library google-crc32c wraps) gives the same
    sums as google_crc32c.value on bytes, for arrays, read-only arrays, memoryviews and pieces."""
    from dosna_like.codecs.crc32c import crc32c, crc32c_pieces, releases_gil
    import google_crc32c

    assert releases_gil()  # the C library was found: large sums run outside the GIL
    data = np.zeros(n, dtype=dtype)
    data.view("u1")[:] = np.random.default_rng(n).integers(0, 256, data.nbytes, dtype="u1")
    expected = google_crc32c.value(data.tobytes())
    frozen = data.copy()
    frozen.flags.writeable = False
    for buf in (data, frozen, data.tobytes(), memoryview(data), bytearray(data.tobytes())):
        assert crc32c(buf) == expected, type(buf)
    raw = memoryview(data.tobytes())
    third = len(raw) // 3
    assert crc32c_pieces([raw[:third], raw[third:2 * third], raw[2 * third:]]) == expected
