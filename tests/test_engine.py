"""The engine's direct reads: raw local chunks read with preadv into the output."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import dosna_like
from dosna_like.chunks.plans import read_plan
from dosna_like.errors import CorruptChunkError
from dosna_like.format.keys import chunk_key

SELECTIONS = [
    ..., (3,), (3, 4), (3, 4, 5), (-1, -1, -1), (slice(2, 30), slice(5, 28), slice(1, 12)),
    (slice(8, 16),), (slice(8, 16), slice(0, 16)), (slice(8, 16), slice(16, 29)),
    (slice(None), 17), (slice(None), slice(None), 4), (slice(None, None, 2),),
    (slice(1, None, 3), slice(None), slice(2, 9, 2)), ([1, 5, 20],), (slice(None), [0, 15, 16]),
]


@pytest.fixture
def volume():
    return np.random.default_rng(0).standard_normal((37, 29, 13)).astype("f4")


@pytest.mark.parametrize("chunks", [(8, 16, 13), (8, 16, 5), (37, 29, 13), (1, 29, 13)])
@pytest.mark.parametrize("rdcc_nbytes", [0, 1 << 20])
def test_reads_match_numpy_with_and_without_the_direct_path(tmp_path, volume, chunks, rdcc_nbytes):
    url = str(tmp_path / "f.h5")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("a", data=volume, chunks=chunks)
    with dosna_like.File(url, "r", rdcc_nbytes=rdcc_nbytes) as f:
        ds = f["a"]
        assert ds._io.reads_direct == (rdcc_nbytes == 0)
        for key in SELECTIONS + [volume > 0.5]:
            got, expected = ds[key], volume[key]
            assert type(got) is type(expected)
            np.testing.assert_array_equal(got, expected)
        out = np.zeros((5, 29, 13), "f4")
        ds.read_direct(out, np.s_[10:15], np.s_[0:5])
        np.testing.assert_array_equal(out, volume[10:15])


def test_direct_reads_give_fill_for_missing_chunks_and_count_one_get_each(tmp_path):
    url = str(tmp_path / "f.h5")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("e", shape=(300, 300), dtype="i4", chunks=(256, 256), fillvalue=7)
        ds[0:10, 0:10] = 1
    expected = np.full((300, 300), 7, "i4")
    expected[:10, :10] = 1
    with dosna_like.File(url, "r", rdcc_nbytes=0) as f:
        ds = f["e"]
        for key in (..., (280,), (5,), (slice(100, 290), slice(0, 50)), (3, 3)):
            np.testing.assert_array_equal(ds[key], expected[key])
        f.store.requests.reset()
        ds[5, 5:20]
        assert f.store.requests.snapshot() == {"get": 1}


def test_a_chunk_file_of_the_wrong_size_is_a_corrupt_chunk(tmp_path):
    url = str(tmp_path / "f.h5")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=np.arange(100, dtype="f4"), chunks=(10,))
        f.store.set(chunk_key("x", (3,)), b"short")
    with dosna_like.File(url, "r", rdcc_nbytes=0) as f:
        ds = f["x"]
        with pytest.raises(CorruptChunkError, match="x/c/3"):
            ds[...]
        with pytest.raises(OSError):
            ds[35]
        np.testing.assert_array_equal(ds[:30], np.arange(30))


@pytest.mark.parametrize("chunk_shape,out_shape", [((4, 6, 5), (9, 12, 5)), ((3, 4), (3, 8)), ((7,), (20,))])
def test_read_plan_covers_every_byte_of_the_box_once(chunk_shape, out_shape):
    itemsize = 2
    chunk = np.arange(np.prod(chunk_shape), dtype="u2").reshape(chunk_shape)
    raw = chunk.tobytes()
    planned = 0
    for starts in itertools.product(*(range(0, n, 2) for n in chunk_shape)):
        counts = [n - s for n, s in zip(chunk_shape, starts)]
        out_starts = [o - c for o, c in zip(out_shape, counts)]
        plan = read_plan(chunk_shape, itemsize, starts, counts, out_shape, out_starts)
        if plan is None:
            continue
        planned += 1
        out = np.zeros(out_shape, "u2")
        flat = out.reshape(-1).view(np.uint8)
        file_offsets, dest_offsets, run = plan
        for f, row in zip(file_offsets, dest_offsets):
            for k, d in enumerate(row):
                flat[d:d + run] = np.frombuffer(raw[f + k * run:f + (k + 1) * run], np.uint8)
        box = tuple(slice(o, o + c) for o, c in zip(out_starts, counts))
        np.testing.assert_array_equal(out[box], chunk[tuple(slice(s, s + c) for s, c in zip(starts, counts))])
    assert planned > 0  # some boxes were read through a plan, not all declined


@pytest.mark.parametrize("chunks", [(8, 16, 13), (8, 16, 5), (37, 29, 13), (1, 29, 13)])
def test_direct_writes_match_numpy_and_skip_fill_chunks(tmp_path, volume, chunks):
    url = str(tmp_path / "f.h5")
    expected = volume.copy()
    expected[:8] = 0  # whole chunks equal to the fill value are not stored
    with dosna_like.File(url, "w", rdcc_nbytes=0) as f:
        ds = f.create_dataset("a", shape=volume.shape, dtype="f4", chunks=chunks)
        assert ds._io.reads_direct
        ds[...] = expected
        ds[9:20, 3:7] = 5.0  # partial, broadcast: the chunk-building path
        expected[9:20, 3:7] = 5.0
        ds[20:30] = volume[20:30]
        expected[20:30] = volume[20:30]
        keys = set(f.store.list_keys("a/c"))
    assert (chunk_key("a", (0, 0, 0)) in keys) == (chunks[0] > 8)
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["a"][...], expected)


# ------------------------------------------------------ chunks by coordinates
def test_raw_chunk_puts_replace_the_cached_chunk(file_url):
    with dosna_like.File(file_url, "w") as f:  # zarr-python's plain layout: the raw chunk is the values
        ds = f.create_dataset("x", data=np.arange(20, dtype="i4"), chunks=(10,), checksum=False)
        io = ds._io
        assert ds[3] == 3  # chunk (0,) is now in the cache
        raw = io.get_raw((1,))
        assert raw == np.arange(10, 20, dtype="i4").tobytes()
        io.put_raw((0,), raw)
        np.testing.assert_array_equal(ds[:10], np.arange(10, 20))
        assert io.get_raw((5,)) is None


def test_raw_chunks_equal_to_the_fill_value_are_not_stored(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(20,), dtype="f8", chunks=(10,), fillvalue=1.5, checksum=False)
        io = ds._io
        io.put_raw((0,), np.full(10, 1.5).tobytes())
        io.put_raw((1,), np.full(10, 2.5).tobytes())
        assert io.stored_chunks() == [(1,)] and not io.has_chunk((0,))
        np.testing.assert_array_equal(ds[...], [1.5] * 10 + [2.5] * 10)
        io.put_chunk((1,), np.full(10, 1.5))  # a decoded chunk: the same rule
        assert io.stored_chunks() == [] and io.get_chunk((1,)) is None


def test_compressed_raw_chunks_are_stored_as_they_are(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", data=np.zeros(20, "i2"), chunks=(10,), compression="gzip")
        src = f.create_dataset("y", data=np.arange(20, dtype="i2"), chunks=(10,), compression="gzip")
        ds._io.put_raw((1,), src._io.get_raw((1,)))
        np.testing.assert_array_equal(ds[...], [0] * 10 + list(range(10, 20)))


def test_stored_chunks_skip_keys_that_are_not_chunk_keys(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", data=np.ones((4, 4)), chunks=(2, 2))
        ds[2:, 2:] = 0  # fill: not stored
        for junk in ("x/c/01/0", "x/c/5", "x/c/9/9/9", "x/c/a/b", "x/c/1/1.tmp"):
            f.store.set(junk, b"junk")
        assert ds._io.stored_chunks() == [(0, 0), (0, 1), (1, 0)]
        ds.resize((3, 4))  # a shrink walks the stored chunks too
        np.testing.assert_array_equal(ds[...], np.pad(np.ones((2, 4)), ((0, 1), (0, 0)))
                                      + np.pad(np.ones((1, 2)), ((2, 0), (0, 2))))
        ds.clear()  # DosNa's clear removes everything under the chunk prefix
        assert ds._io.stored_chunks() == [] and f.store.list_keys("x/c") == []


@pytest.mark.parametrize("layout", [{"shards": False}, {"shards": (32, 32)}, {"shards": False, "compression": "gzip"}])
def test_a_read_of_more_chunks_than_the_cache_holds_does_not_fill_it(file_url, layout):
    data = np.random.default_rng(4).standard_normal((64, 64)).astype("f4")
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("a", data=data, chunks=(16, 16), **layout)  # 16 chunks of 1 KiB
    with dosna_like.File(file_url, "r", rdcc_nbytes=4 * 1024) as f:  # room for 4 of them
        ds = f["a"]
        got = ds[...]
        assert got.dtype == data.dtype
        np.testing.assert_array_equal(got, data)
        f.store.requests.reset()
        np.testing.assert_array_equal(ds[60:, 60:], data[60:, 60:])  # the last chunk read: fetched again
        assert f.store.requests.snapshot() == {"get": 1}
        np.testing.assert_array_equal(ds[:20, :16], data[:20, :16])  # 2 chunks: they fit, so they are kept
        f.store.requests.reset()
        np.testing.assert_array_equal(ds[2:18, 3:9], data[2:18, 3:9])
        assert f.store.requests.snapshot() == {}
