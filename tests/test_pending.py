"""Held partial chunks (chunks/pending.py): appends against h5py, what is stored
when, and every way a held chunk must be seen, stored or dropped."""
from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

import dosna_like
from tests.conftest import run_threads
from dosna_like.chunks.pending import edge_may_grow

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _append(ds, block) -> None:
    n = ds.shape[0]
    ds.resize(n + len(block), axis=0)
    ds[n:n + len(block)] = block


@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_append_sequences_read_back_as_h5py_before_and_after_reopen(file_url, h5_path, data):
    """Appends of varied row counts (chunk-crossing or not), with reads, whole-chunk and
    partial overwrites, shrinks, flushes and a small or large write-back bound in between."""
    cols = data.draw(st.integers(1, 5), label="columns")
    chunks = (data.draw(st.integers(1, 8), label="chunk rows"), data.draw(st.integers(1, cols), label="chunk cols"))
    bound = data.draw(st.sampled_from([0, 64, 10**9]), label="write-back bound (bytes)")
    fill = data.draw(st.sampled_from([0, -3]), label="fillvalue")
    kw = dict(shape=(0, cols), maxshape=(None, cols), chunks=chunks, dtype="i4", fillvalue=fill)
    rows = 0
    with h5py.File(h5_path, "w") as hf, dosna_like.File(file_url, "w") as df:
        hds, dds = hf.create_dataset("x", **kw), df.create_dataset("x", **kw)
        dds._io.write_back_nbytes = bound
        for k in range(data.draw(st.integers(1, 8), label="steps")):
            action = data.draw(st.sampled_from(["append", "append", "append", "overwrite", "shrink", "flush"]))
            if action == "append":
                block = np.arange(rows, rows + data.draw(st.integers(1, 20)))[:, None] * 10 + np.arange(cols)
                note(f"append {len(block)} rows")
                _append(hds, block)
                _append(dds, block)
                rows += len(block)
            elif action == "overwrite" and rows:
                start = data.draw(st.integers(0, rows - 1))
                stop = data.draw(st.integers(start + 1, rows))
                note(f"x[{start}:{stop}] = -{k}")
                hds[start:stop] = -k
                dds[start:stop] = -k
            elif action == "shrink" and rows:
                rows = data.draw(st.integers(0, rows - 1))
                note(f"resize({rows})")
                hds.resize(rows, axis=0)
                dds.resize(rows, axis=0)
            elif action == "flush":
                dds.flush()
            if rows:
                start = data.draw(st.integers(0, rows - 1))
                np.testing.assert_array_equal(dds[start:], hds[start:])
                np.testing.assert_array_equal(dds[start], hds[start])
            np.testing.assert_array_equal(dds[...], hds[...])
        expected = hds[...]
    with dosna_like.File(file_url, "r") as df:
        np.testing.assert_array_equal(df["x"][...], expected)


def test_an_append_in_steps_that_cut_chunks_stores_each_chunk_once_and_reads_none(file_url):
    """100-row steps into 128-row chunks (benchmarks/cases.py case_append, smaller): each
    chunk is stored once and none is read back; before, every step that started inside
    a chunk row read and rewrote it."""
    data = np.arange(1000 * 16, dtype="f4").reshape(1000, 16)
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(0, 16), maxshape=(None, 16), chunks=(128, 8), dtype="f4", shards=False)
        f.flush()
        before = f.store.requests.snapshot()
        for start in range(0, 1000, 100):
            _append(ds, data[start:start + 100])
        f.flush()
        after = f.store.requests.snapshot()
        np.testing.assert_array_equal(ds[...], data)
    chunk_gets = after.get("get", 0) - before.get("get", 0) - 1  # the document, read by the flush's merge
    assert chunk_gets == 0
    stored = after.get("put", 0) - before.get("put", 0)
    # 8 chunk rows of 2 chunks; + the dataset's document, the root's (consolidated) and the search index
    assert stored - 3 == 8 * 2


def test_other_handles_of_this_process_see_held_chunks_other_processes_after_flush(tmp_path):
    url = str(tmp_path / "s")
    read = "import sys, dosna_like; print(dosna_like.File(sys.argv[1], 'r')['x'][...].tolist())"
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("x", shape=(0, 4), maxshape=(None, 4), chunks=(8, 4), dtype="i4")
        _append(ds, np.full((3, 4), 5))
        assert ds._io.pending.coords() == [(0, 0)]
        with dosna_like.File(url, "r") as other:  # shares this process's documents and held chunks
            np.testing.assert_array_equal(other["x"][...], np.full((3, 4), 5))
            f.flush()  # through the writable File's array, never the read-only one's
            assert not ds._io.pending
        out = subprocess.run([sys.executable, "-c", read, url], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == str([[5] * 4] * 3)


def test_a_deleted_dataset_s_held_chunks_are_never_stored(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(0, 4), maxshape=(None, 4), chunks=(8, 4), dtype="i4")
        _append(ds, np.ones((3, 4)))
        io = ds._io
        del f["x"]
        assert not io.pending
        again = f.create_dataset("x", shape=(3, 4), maxshape=(None, 4), chunks=(8, 4), dtype="i4")
        np.testing.assert_array_equal(again[...], 0)
    with dosna_like.File(file_url, "r") as f:
        np.testing.assert_array_equal(f["x"][...], 0)
        assert not f["x"].has_chunk((0, 0))


def test_the_chunk_level_api_sees_and_stores_held_chunks(file_url, h5_path):
    with dosna_like.File(file_url, "w") as f, h5py.File(h5_path, "w") as hf:
        kw = dict(shape=(0, 4), maxshape=(None, 4), chunks=(8, 4), dtype="i4")
        ds, hds = f.create_dataset("x", **kw), hf.create_dataset("x", **kw)
        for d in (ds, hds):
            _append(d, np.arange(12).reshape(3, 4))
        np.testing.assert_array_equal(ds.get_chunk_data((0, 0)), hds[0:3])
        assert ds.has_chunk((0, 0)) and not ds._io.pending  # asking the store stores it first
        for d in (ds, hds):
            _append(d, np.arange(8).reshape(2, 4))
        ds.set_chunk_data((0, 0), 9, slices=(slice(0, 1),))
        hds[0:1] = 9
        np.testing.assert_array_equal(ds[...], hds[...])
        for d in (ds, hds):
            _append(d, np.ones((1, 4)))
            d.resize(2, axis=0)  # a shrink cuts a held chunk
            d.resize(6, axis=0)
        np.testing.assert_array_equal(ds[...], hds[...])
        expected = hds[...]
    with dosna_like.File(file_url, "r") as f:
        np.testing.assert_array_equal(f["x"][...], expected)


def test_the_bound_stores_the_least_recently_written_chunks():
    """Past its bound (here one chunk), the oldest held chunk is stored (memory store)."""
    with dosna_like.File("memory://pending-bound", "w") as f:
        ds = f.create_dataset("x", shape=(0, 4), maxshape=(None, 4), chunks=(2, 4), dtype="i8")
        ds._io.write_back_nbytes = 2 * 4 * 8
        _append(ds, np.ones((1, 4)))
        _append(ds, np.ones((2, 4)))  # rows 1-2: chunk 0 completed, chunk 1 held
        assert ds._io.pending.coords() == [(1, 0)]
        assert f.store.exists("x/c/0/0")
        np.testing.assert_array_equal(ds[...], 1)


@pytest.mark.parametrize("coords, shape, maxshape, expected", [
    ((0, 0), (3, 4), (None, 4), True),     # cut along the growable axis
    ((0, 0), (8, 4), (None, 4), False),    # not cut
    ((0, 0), (3, 4), (3, 4), False),       # cut, but the array cannot grow
    ((0, 0), (8, 3), (8, 10), True),       # cut along the second axis, which can grow
])
def test_edge_may_grow(coords, shape, maxshape, expected):
    assert edge_may_grow(coords, (8, 4), shape, maxshape) is expected


def test_a_file_never_closed_stores_its_held_chunks_at_exit_as_its_documents(tmp_path):
    url = str(tmp_path / "s")
    script = """if True:
        import sys, numpy as np, dosna_like
        f = dosna_like.File(sys.argv[1], "w")
        ds = f.create_dataset("x", shape=(0, 4), maxshape=(None, 4), chunks=(8, 4), dtype="i4")
        ds.resize(11, axis=0)
        ds[...] = np.arange(44).reshape(11, 4)
        assert ds._io.pending.coords() == [(1, 0)]
        """
    subprocess.run([sys.executable, "-c", script, url], check=True)
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["x"][...], np.arange(44).reshape(11, 4))


def test_held_chunks_too_big_for_the_cache_are_written_from_the_array_with_their_checksum(tmp_path):
    """2 MiB raw chunks on a local disk (the pwritev path): read back, and by zarr-python,
    which checks the crc32c after them."""
    zarr = pytest.importorskip("zarr")
    url = str(tmp_path / "s")
    data = np.random.default_rng(0).standard_normal((1000, 1024)).astype("f4")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("d", shape=(0, 1024), dtype="f4", chunks=(512, 1024), maxshape=(None, 1024),
                              shards=False)
        assert ds._io.reads_direct
        for start in range(0, 1000, 100):
            _append(ds, data[start:start + 100])
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["d"][...], data)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "s" / "d"), mode="r")[...], data)


def test_a_read_racing_a_write_of_a_held_chunk_sees_the_write_whole_or_not_at_all():
    """Threads: one writes k over all rows of a held edge chunk, k = 1, 2, ...; another
    reads them meanwhile and must never see two values (a torn write)."""
    with dosna_like.File("memory://pending-race", "w") as f:
        ds = f.create_dataset("x", shape=(15, 32768), maxshape=(None, 32768), chunks=(16, 32768), dtype="i8",
                              shards=False)
        ds[...] = 0
        assert ds._io.pending.coords() == [(0, 0)]
        seen, done = [], []

        def write():
            for k in range(1, 150):
                ds[...] = k
            done.append(True)

        def read():
            while not done:
                seen.append(np.unique(ds[...]).size)

        run_threads(lambda job: job(), [write, read])
    assert seen and set(seen) == {1}


def test_resizes_store_nothing_until_the_flush_then_the_document_once(file_url):
    """Growing asks nothing of the store and rewrites no chunk; the document is stored
    once at the flush. A shrink deletes the chunks outside and rewrites only the chunks
    it cuts (their cut part must read as fill if the dataset grows again)."""
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", data=np.ones((16, 8), "i4"), maxshape=(None, 8), chunks=(4, 8), shards=False)
        f.flush()
        before = f.store.requests.snapshot()
        for n in range(17, 60):
            ds.resize(n, axis=0)
        assert f.store.requests.snapshot() == before
        f._state.flush_documents()
        grown = f.store.requests.snapshot()
        assert grown.get("put", 0) - before.get("put", 0) == 1  # the document
        ds.resize(10, axis=0)  # chunk rows 3.. deleted, chunk row 2 (rows 8-11) cut: rewritten
        shrunk = f.store.requests.snapshot()
        assert shrunk.get("put", 0) - grown.get("put", 0) == 1
        ds.resize(16, axis=0)
        np.testing.assert_array_equal(ds[...], np.r_[np.ones((10, 8)), np.zeros((6, 8))])


def test_a_large_write_into_a_grown_array_holds_no_more_than_the_bound(tmp_path):
    """One column written into 64 new chunks: held in batches, the oldest stored past
    the bound, so memory never holds the whole grown array."""
    with dosna_like.File(str(tmp_path / "s"), "w", njobs=2) as f:
        ds = f.create_dataset("x", shape=(0, 64), maxshape=(None, 64), chunks=(8, 8), dtype="i8", shards=False)
        io = ds._io
        io.write_back_nbytes = 4 * 8 * 8 * 8  # four chunks
        ds.resize(512, axis=0)
        most = []
        original = io._store_excess

        def watched(njobs):
            most.append(io.pending.nbytes)
            original(njobs)
        io._store_excess = watched
        ds[:, 3] = np.arange(512)
        assert max(most) <= 2 * io.write_back_nbytes and io.pending.nbytes <= io.write_back_nbytes
        expected = np.zeros((512, 64), "i8")
        expected[:, 3] = np.arange(512)
        np.testing.assert_array_equal(ds[...], expected)
