"""Chunk decoding paths: libdeflate against zlib, and decoding into the output.

gzip chunks are inflated by libdeflate (the ``deflate`` package, installed
with the test extra) straight into a buffer, or by zlib when it is missing; a
chunk the cache will not keep is decoded into its place in the output or into
a reused per-thread buffer.  Every path must give numpy's values and the same
errors.
"""
from __future__ import annotations

import gzip
import zlib

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dosna_like
from dosna_like.codecs import deflate_wrappers, libdeflate
from dosna_like.codecs.pipeline import ChunkCodec
from dosna_like.codecs.runtime import GzipRuntime
from dosna_like.errors import CorruptChunkError
from dosna_like.format.keys import chunk_key

GZIP = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "gzip", "configuration": {"level": 4}}]


def test_the_test_extra_installs_libdeflate():
    assert libdeflate.AVAILABLE


def _codec(fast: bool, shape=(16, 8), dtype="f8") -> ChunkCodec:
    codec = ChunkCodec(GZIP, np.dtype(dtype), shape)
    codec.pipeline[0].fast = fast
    return codec


@pytest.mark.parametrize("level", range(10))
@pytest.mark.parametrize("writer_fast,reader_fast", [(True, False), (False, True), (True, True)])
def test_libdeflate_and_zlib_read_each_others_chunks(level, writer_fast, reader_fast):
    chunk = np.random.default_rng(level).integers(0, 50, (16, 8)).astype("f8")
    raw = GzipRuntime(level, fast=writer_fast).encode(memoryview(chunk.reshape(-1).view(np.uint8)))
    assert zlib.decompress(bytes(raw), 31) == chunk.tobytes()  # a standard gzip stream
    reader = _codec(reader_fast)
    np.testing.assert_array_equal(reader.decode(raw), chunk)
    dest = np.full((16, 8), -1.0)
    assert reader.decode_into(raw, dest) is dest
    np.testing.assert_array_equal(dest, chunk)


def _mangled(raw: bytes) -> dict:
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    other = np.arange(100, dtype="f8").tobytes()
    return {
        "flipped byte": bytes(flipped),
        "truncated": raw[:-9],
        "bad crc": raw[:-8] + bytes(8),
        "other size": gzip.compress(other),
        "longer": gzip.compress(other * 3),
        "two members": raw + raw,
        "trailing junk": raw + b"junk",
        "not gzip": b"plain bytes",
        "empty": b"",
    }


@pytest.mark.parametrize("case", list(_mangled(b"x" * 20)))
def test_mangled_streams_fail_or_pass_alike_on_both_paths(case):
    chunk = np.arange(128, dtype="f8").reshape(16, 8)
    raw = gzip.compress(chunk.tobytes())
    stream = _mangled(raw)[case]
    outcomes = []
    for fast in (True, False):
        dest = np.zeros((16, 8))
        try:
            _codec(fast).decode_into(stream, dest)
            outcomes.append(("ok", dest.tobytes()))
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            outcomes.append((type(exc).__name__, None))
    assert outcomes[0] == outcomes[1]
    if case in ("two members", "trailing junk"):  # zlib reads the first member
        assert outcomes[0] == ("ok", chunk.tobytes())
    else:
        assert outcomes[0][0] != "ok"


def test_a_corrupt_gzip_chunk_is_a_corrupt_chunk_error_on_every_read_path(tmp_path):
    url = str(tmp_path / "f.h5")
    data = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    with dosna_like.File(url, "w") as f:
        f.create_dataset("g", data=data, chunks=(16, 64), compression="gzip")
        raw = bytearray(f.store.get(chunk_key("g", (1, 0))))
        raw[len(raw) // 2] ^= 0xFF
        f.store.set(chunk_key("g", (1, 0)), bytes(raw))
    for rdcc in (0, 1 << 20):
        with dosna_like.File(url, "r", rdcc_nbytes=rdcc) as f:
            ds = f["g"]
            for key in (np.s_[...], np.s_[16:32], np.s_[20, 3:9], np.s_[::3, ::5]):
                with pytest.raises(CorruptChunkError, match="g/c/1/0"):
                    ds[key]
            np.testing.assert_array_equal(ds[:16], data[:16])
            np.testing.assert_array_equal(ds[32:], data[32:])


COMPRESSIONS = [
    {},
    {"compression": "gzip"},
    {"compression": "gzip", "shuffle": True},
    {"compression": "blosc"},
    {"compression": "lz4"},
    {"fletcher32": True},
]


@st.composite
def layouts(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    # often make the chunks span the trailing axes, so chunks land as contiguous blocks
    full_from = draw(st.integers(0, ndim))
    chunks = chunks[:full_from] + shape[full_from:]
    return shape, chunks


@st.composite
def basic_selections(draw, shape):
    key = []
    for n in shape:
        kind = draw(st.sampled_from(["all", "slice", "int", "step"]))
        if kind == "all":
            key.append(slice(None))
        elif kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.integers(0, n - 1))
            stop = draw(st.integers(start + 1, n))
            step = draw(st.integers(2, 4)) if kind == "step" else 1
            key.append(slice(start, stop, step))
    return tuple(key)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), layout=layouts(), codec=st.sampled_from(COMPRESSIONS),
       rdcc=st.sampled_from([0, 1 << 20]), njobs=st.sampled_from([1, 2]),
       dtype=st.sampled_from(["i2", "f4", "f8", "u1"]))
def test_reads_through_every_decode_path_match_numpy(tmp_path_factory, data, layout, codec, rdcc, njobs, dtype):
    shape, chunks = layout
    values = np.random.default_rng(0).integers(-100, 100, shape).astype(dtype)
    url = str(tmp_path_factory.mktemp("d") / "f.h5")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("a", data=values, chunks=chunks, **codec)
    keys = [..., *(data.draw(basic_selections(shape)) for _ in range(3))]
    with dosna_like.File(url, "r", rdcc_nbytes=rdcc, njobs=njobs) as f:
        ds = f["a"]
        for key in keys:
            got = ds[key]
            np.testing.assert_array_equal(got, values[key])
            assert np.asarray(got).dtype == values.dtype


def test_reads_on_every_store_kind_decode_gzip_chunks_into_the_output(file_url):
    values = np.random.default_rng(1).standard_normal((40, 30, 20)).astype("f4")
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("a", data=values, chunks=(8, 30, 20), compression="gzip")  # contiguous blocks
        f.create_dataset("b", data=values, chunks=(8, 7, 20), compression="gzip")  # scattered blocks
    with dosna_like.File(file_url, "r", rdcc_nbytes=0) as f:
        for name in ("a", "b"):
            for key in (np.s_[...], np.s_[3:37], np.s_[:, 5:25], np.s_[::2], np.s_[5]):
                np.testing.assert_array_equal(f[name][key], values[key])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), layout=layouts(), codec=st.sampled_from(COMPRESSIONS[:3] + COMPRESSIONS[5:]),
       rdcc=st.sampled_from([0, 1 << 20]))
def test_read_direct_writes_what_h5py_writes(tmp_path_factory, data, layout, codec, rdcc):
    """read_direct reads straight into ``dest`` when it can; h5py's result, same dest left alone."""
    shape, chunks = layout
    values = np.random.default_rng(2).integers(-100, 100, shape).astype("i4")
    source = data.draw(basic_selections(shape))
    picked = values[source]
    # a destination with room around the target block, or exactly its shape
    pad = data.draw(st.sampled_from([0, 2]))
    dest_shape = tuple(n + pad for n in picked.shape)
    dest_sel = tuple(slice(pad // 2, pad // 2 + n) for n in picked.shape) if pad else None
    root = tmp_path_factory.mktemp("rd")
    with h5py.File(root / "ref.h5", "w") as h:
        h.create_dataset("a", data=values, chunks=chunks, **codec)
        expected = np.full(dest_shape, -7, "i4")
        h["a"].read_direct(expected, source, dest_sel)
    url = str(root / "f.h5")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("a", data=values, chunks=chunks, **codec)
    with dosna_like.File(url, "r", rdcc_nbytes=rdcc) as f:
        got = np.full(dest_shape, -7, "i4")
        f["a"].read_direct(got, source, dest_sel)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_hdf5_stream_rewrapping_is_the_same_with_and_without_libdeflate(level, monkeypatch):
    """Import/export turn HDF5's zlib streams into gzip members and back without
    recompressing; libdeflate only checks and checksums faster."""
    chunk = np.random.default_rng(level).integers(0, 20, 5000).astype("<i4").tobytes()
    streams = {"zlib": zlib.compress(chunk, level), "gzip": gzip.compress(chunk, level)}
    mangled = {f"{kind}/{name}": bad for kind, good in streams.items()
               for name, bad in _mangled(good).items()}

    def convert_all():
        out = {}
        for name, raw in {**streams, **mangled}.items():
            convert = deflate_wrappers.zlib_to_gzip if name.startswith("zlib") else deflate_wrappers.gzip_to_zlib
            out[name] = convert(raw, len(chunk))
        return out

    fast = convert_all()
    monkeypatch.setattr(libdeflate, "AVAILABLE", False)
    assert convert_all() == fast
    assert zlib.decompress(fast["zlib"], 31) == chunk and zlib.decompress(fast["gzip"]) == chunk
    assert fast["zlib"][10:-8] == streams["zlib"][2:-4]  # the deflate data kept as it is
    assert fast["zlib/flipped byte"] is None and fast["gzip/truncated"] is None


@pytest.mark.parametrize("dest_sel", [np.s_[[0, 2, 4]], np.array([1, 0, 1, 0, 1, 0], bool), np.s_[::2], np.s_[1:4]])
def test_read_direct_into_fancy_or_strided_dest_selections_writes_through(tmp_path, dest_sel):
    values = np.arange(10.0)
    with h5py.File(tmp_path / "ref.h5", "w") as h:
        expected = np.zeros(6)
        h.create_dataset("x", data=values, chunks=(5,)).read_direct(expected, np.s_[0:3], dest_sel)
    with dosna_like.File(str(tmp_path / "f.h5"), "w") as f:
        got = np.zeros(6)
        f.create_dataset("x", data=values, chunks=(5,)).read_direct(got, np.s_[0:3], dest_sel)
    np.testing.assert_array_equal(got, expected)


def test_read_direct_reports_a_bad_source_before_a_bad_destination(tmp_path):
    outcomes = []
    with h5py.File(tmp_path / "ref.h5", "w") as h, dosna_like.File(str(tmp_path / "f.h5"), "w") as f:
        for ds in (h.create_dataset("x", data=np.arange(10.0)), f.create_dataset("x", data=np.arange(10.0))):
            try:
                ds.read_direct(np.zeros(5), np.s_[99], np.s_[50])
            except Exception as exc:  # noqa: BLE001 - the type and message are what is compared
                outcomes.append((type(exc), str(exc)))
    assert outcomes[0][0] is outcomes[1][0]
    assert all("(0-9)" in message for _, message in outcomes)  # the source's range, not dest's (0-4)
