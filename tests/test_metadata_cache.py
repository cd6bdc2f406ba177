"""The write-back metadata cache (hl/metadata_cache.py, issue 16): node documents
and attribute changes wait in memory until flush/close, every read sees them,
a flush merges them into the stored documents, and a writer killed before a
flush loses only what it had not flushed.
"""
from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dosna_like
from tests.conftest import run_threads
from dosna_like.errors import FormatError
from dosna_like.storage import open_store


def raw_doc(url: str, path: str):
    """The node document as stored (None: not stored), read past every cache."""
    raw = open_store(url).get(f"{path}/zarr.json" if path else "zarr.json")
    return None if raw is None else json.loads(raw)


def build(f) -> None:
    """The same small tree, through h5py's API, on either library."""
    g = f.create_group("g")
    g.attrs["sample"] = "mouse-1"
    for i in range(3):
        ds = g.create_dataset(f"d{i}", data=np.arange(4) + i, maxshape=(None,), chunks=(2,))
        ds.attrs["units"] = "m"
        ds.attrs["index"] = i
    g["d1"].attrs["units"] = "km"
    del g["d2"].attrs["index"]
    g["d0"].resize((6,))
    g["d0"][4:] = [7, 8]
    f.create_group("a/b/c").attrs["deep"] = [1.5, 2.5]


def snapshot(f) -> dict:
    out = {}

    def visit(name, obj):
        attrs = {k: np.asarray(v).tolist() for k, v in obj.attrs.items()}
        out[name] = (attrs, obj[()].tolist()) if isinstance(obj, (h5py.Dataset, dosna_like.Dataset)) else attrs

    f.visititems(visit)
    return out


def test_reads_see_changes_before_they_are_stored_and_after(file_url, h5_path):
    with h5py.File(h5_path, "w") as f:
        build(f)
        expected = snapshot(f)
    f = dosna_like.File(file_url, "w")
    build(f)
    assert snapshot(f) == expected  # every read sees the pending state
    assert raw_doc(file_url, "g") is None and raw_doc(file_url, "g/d0") is None  # nothing stored yet
    assert [d.name for d in f.search(units="m")] == ["/g/d0", "/g/d2"]
    assert [d.name for d in f.search(units="km")] == ["/g/d1"]
    f.flush()
    assert raw_doc(file_url, "g/d1")["attributes"]["units"] == "km"
    assert raw_doc(file_url, "g/d0")["shape"] == [6]
    f.close()
    with dosna_like.File(file_url, "r") as f:
        assert snapshot(f) == expected


def test_each_document_is_stored_once_per_flush(file_url):
    with dosna_like.File(file_url, "w") as f:
        store = f.store
        before = store.requests.snapshot().get("put", 0)
        g = f.create_group("g")
        for i in range(5):
            g.attrs[f"a{i}"] = i
        ds = g.create_dataset("x", shape=(4,), dtype="i4")  # no data: no chunk stored
        ds.attrs["one"] = 1
        ds.attrs["two"] = 2
        assert store.requests.snapshot().get("put", 0) == before  # nothing stored
        f._state.flush_documents()
        assert store.requests.snapshot().get("put", 0) == before + 2  # g and g/x, once each
        assert sorted(raw_doc(file_url, "g")["attributes"]) == [f"a{i}" for i in range(5)]


def test_a_second_file_of_the_store_shares_the_pending_state(file_url):
    writer = dosna_like.File(file_url, "w")
    writer.create_group("g").attrs["a"] = 1
    with dosna_like.File(file_url, "r") as reader:  # as HDF5 shares a file opened twice
        assert reader["g"].attrs["a"] == 1
        writer["g"].attrs["b"] = 2
        assert dict(reader["g"].attrs) == {"a": 1, "b": 2}
        assert "g" in reader and len(reader) == 1
    writer["g"].attrs["c"] = 3  # the reader's close did not drop the writer's changes
    writer.close()
    with dosna_like.File(file_url, "r") as f:
        assert dict(f["g"].attrs) == {"a": 1, "b": 2, "c": 3}


def test_a_resize_reaches_the_open_datasets_of_every_file_of_the_store(file_url):
    with dosna_like.File(file_url, "w") as a:
        x = a.create_dataset("x", data=np.arange(4), maxshape=(None,), chunks=(4,))
        with dosna_like.File(file_url, "r+") as b:
            other = b["x"]
            assert other.shape == (4,)
            x.resize((10,))
            x.attrs["n"] = 10
            assert other.shape == (10,) and other.attrs["n"] == 10
            other[8:] = [8, 9]
            np.testing.assert_array_equal(x[:], [0, 1, 2, 3, 0, 0, 0, 0, 8, 9])


def _write_behind(url: str, path: str, edit) -> None:
    """Another writer (another process, zarr-python...) changes a stored document."""
    store = open_store(url)
    key = f"{path}/zarr.json"
    doc = json.loads(store.get(key))
    edit(doc)
    store.set(key, json.dumps(doc).encode())


def test_a_flush_merges_into_what_another_writer_stored(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_group("g")
        f.create_dataset("x", data=np.arange(4), maxshape=(None,), chunks=(2,))
    f = dosna_like.File(file_url, "r+")
    f["g"].attrs["mine"] = 1
    f["x"].resize((8,))
    f["x"].attrs["mine"] = 2
    _write_behind(file_url, "g", lambda doc: doc["attributes"].update(theirs="a"))
    _write_behind(file_url, "x", lambda doc: doc["attributes"].update(theirs="b"))
    f.close()
    with dosna_like.File(file_url, "r") as f:
        assert dict(f["g"].attrs) == {"mine": 1, "theirs": "a"}
        assert dict(f["x"].attrs) == {"mine": 2, "theirs": "b"}
        assert f["x"].shape == (8,)
        np.testing.assert_array_equal(f["x"][:], [0, 1, 2, 3, 0, 0, 0, 0])


def test_a_node_deleted_by_another_writer_raises_at_flush_and_the_file_still_closes(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_group("g")
        f.create_group("h")
    f = dosna_like.File(file_url, "r+")
    f["g"].attrs["a"] = 1
    f["h"].attrs["b"] = 2
    open_store(file_url).delete_prefix("g")
    with pytest.raises(FormatError, match="/g"):
        f.close()
    assert not f  # closed all the same
    with dosna_like.File(file_url, "r") as f:
        assert list(f) == ["h"] and dict(f["h"].attrs) == {"b": 2}  # the rest was stored


def test_more_pending_nodes_than_the_bound_are_stored_early(file_url):
    with dosna_like.File(file_url, "w") as f:
        f._state.documents.limit = 4
        for i in range(10):
            f.create_group(f"g{i}")
        stored = [i for i in range(10) if raw_doc(file_url, f"g{i}") is not None]
        assert len(stored) >= 5 and stored == list(range(len(stored)))  # oldest first, before close
        assert sorted(f) == sorted(f"g{i}" for i in range(10))


def test_deleting_and_moving_nodes_not_yet_stored(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("g/x", data=np.arange(3))
        f.create_dataset("g/y", data=np.arange(3))
        del f["g/x"]
        f.move("g/y", "h/y")
        assert sorted(f) == ["g", "h"] and list(f["g"]) == [] and list(f["h"]) == ["y"]
    with dosna_like.File(file_url, "r") as f:
        assert sorted(f) == ["g", "h"] and list(f["g"]) == []
        np.testing.assert_array_equal(f["h/y"][:], np.arange(3))
    assert not open_store(file_url).exists("g/x")


def test_pickling_a_handle_stores_the_pending_documents(file_url):
    f = dosna_like.File(file_url, "w")
    ds = f.create_dataset("x", data=np.arange(3))
    ds.attrs["a"] = 1
    pickle.dumps(ds)  # another process reads the document from the store
    assert raw_doc(file_url, "x")["attributes"]["a"] == 1
    f.close()


def test_threads_changing_attributes_of_many_nodes_lose_nothing(file_url):
    with dosna_like.File(file_url, "w") as f:
        groups = [f.create_group(f"g{i}") for i in range(4)]
        f._state.documents.limit = 3  # flushes run while other threads change attributes

        def work(t):
            for i in range(20):
                groups[i % 4].attrs[f"t{t}_{i}"] = i

        run_threads(work, range(4))
    with dosna_like.File(file_url, "r") as f:
        assert sum(len(f[f"g{i}"].attrs) for i in range(4)) == 80


_NEVER_CLOSED = """
import sys, numpy as np, dosna_like
f = dosna_like.File(sys.argv[1], "w")
f.create_dataset("g/x", data=np.arange(5)).attrs["a"] = 1
"""


def test_a_file_never_closed_is_stored_at_exit(tmp_path):
    url = str(tmp_path / "s")
    subprocess.run([sys.executable, "-c", _NEVER_CLOSED, url], check=True)
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["g/x"][:], np.arange(5))
        assert f["g/x"].attrs["a"] == 1


_KILLED = """
import sys, numpy as np, dosna_like
f = dosna_like.File(sys.argv[1], "a")
ds = f.create_dataset("kept", data=np.arange(8), chunks=(4,))
ds.attrs["v"] = 1
f.flush()
ds.attrs["v"] = 2                      # changed after the flush: lost
ds[0] = 100                            # chunk data is stored at once: kept
f.create_group("lost_group").attrs["x"] = 1
f.create_dataset("lost", data=np.full(8, 7), chunks=(4,))
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_writer_killed_before_flush_loses_only_unflushed_metadata(tmp_path, kind, request):
    if kind == "local":
        url = str(tmp_path / "killed")
    else:
        request.getfixturevalue("s3_server")
        url = f"s3://dosna-tests/killed-{tmp_path.name}"
    with dosna_like.File(url, "w") as f:
        f.create_group("before").attrs["ok"] = True
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for mode in ("r", "r+", "a"):  # the store opens in every mode that keeps it
        with dosna_like.File(url, mode) as f:
            assert sorted(f) == ["before", "kept"]
            assert f["kept"].attrs["v"] == 1
            np.testing.assert_array_equal(f["kept"][:], [100, 1, 2, 3, 4, 5, 6, 7])
            assert f.search(x=1) == []
    with dosna_like.File(url, "a") as f:
        # the killed writer's chunks never show through a new dataset of that name
        np.testing.assert_array_equal(f.create_dataset("lost", shape=(8,), chunks=(4,), dtype="i8")[:], 0)
        f.create_group("lost_group")
        assert dict(f["lost_group"].attrs) == {}
    with dosna_like.File(url, "w") as f:
        assert list(f) == []


# ------------------------------------------------------- appends (engine)
@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(0, 12), st.integers(1, 12)), min_size=1, max_size=8))
def test_growing_and_writing_rows_matches_h5py(tmp_path_factory, steps):
    """Resize, then write a run of rows anywhere (inside the old shape, across
    its end, past it), as h5py: partial chunks past the old shape are not read."""
    folder = tmp_path_factory.mktemp("grow")
    with h5py.File(folder / "ref.h5", "w") as ref, dosna_like.File(str(folder / "s"), "w") as f:
        a = ref.create_dataset("x", shape=(0, 3), maxshape=(None, 3), chunks=(4, 3), dtype="i4")
        b = f.create_dataset("x", shape=(0, 3), maxshape=(None, 3), chunks=(4, 3), dtype="i4")
        for k, (grow, start, count) in enumerate(steps):
            for ds in (a, b):
                ds.resize(ds.shape[0] + grow, axis=0)
                stop = min(ds.shape[0], start + count)
                if start < stop:
                    ds[start:stop] = k + 1
            np.testing.assert_array_equal(b[:], a[:])


def test_partial_writes_past_the_old_shape_fetch_nothing(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(0,), maxshape=(None,), chunks=(10,), dtype="i4")
        ds.resize((100,))
        store = f.store
        gets = store.requests.snapshot().get("get", 0)
        for start in range(0, 100, 7):  # blocks that cut chunks, each chunk written twice
            ds[start:start + 7] = start
        fetched = store.requests.snapshot().get("get", 0) - gets
        # a chunk this loop wrote in part before is held in memory (chunks/pending.py): not read back
        assert fetched == 0
        expected = np.repeat(np.arange(0, 100, 7), 7)[:100]
        np.testing.assert_array_equal(ds[:], expected)


def test_threads_writing_rows_of_a_new_chunk_past_the_old_shape_lose_nothing(file_url):
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(0, 4), maxshape=(None, 4), chunks=(32, 4), dtype="i4")
        ds.resize((32, 4))

        def work(t):
            for r in range(t, 32, 4):
                ds[r] = r

        run_threads(work, range(4))
        np.testing.assert_array_equal(ds[:, 0], np.arange(32))


def _requests(store, kinds=("get", "head", "list")) -> int:
    return sum(store.requests.snapshot().get(k, 0) for k in kinds)


@pytest.mark.parametrize("where", ["root", "new groups"])
def test_creating_datasets_and_attributes_in_a_new_file_reads_nothing_from_the_store(file_url, h5_path, where):
    """What a new file and the groups made here hold is known: names are checked
    without a request, and the only store traffic before close is the chunks."""
    def name(i):
        return f"d{i}" if where == "root" else f"group{i // 10}/d{i}"

    with dosna_like.File(file_url, "w") as f:
        before = _requests(f.store)
        puts = f.store.requests.snapshot().get("put", 0)
        for i in range(30):
            ds = f.create_dataset(name(i), data=np.arange(4) + i)
            ds.attrs["units"] = "m"
            ds.attrs["index"] = i
        assert _requests(f.store) == before
        assert f.store.requests.snapshot().get("put", 0) - puts == 30  # one chunk each, documents at close
        with pytest.raises(ValueError):  # a taken name is still refused
            f.create_dataset(name(3), data=np.arange(4))
    with h5py.File(h5_path, "w") as f:
        for i in range(30):
            ds = f.create_dataset(name(i), data=np.arange(4) + i)
            ds.attrs["units"] = "m"
            ds.attrs["index"] = i
        expected = snapshot(f)
    with dosna_like.File(file_url, "r") as f:
        assert snapshot(f) == expected


def test_names_known_absent_follow_moves_deletes_and_other_files(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("g/x", data=np.arange(3))
        f.flush()
        f.move("g/x", "h/x")  # the store moves what is stored; the cache forgets both places
        assert "g/x" not in f and "h/x" in f
        np.testing.assert_array_equal(f["h/x"][:], np.arange(3))
        del f["h/x"]
        assert "h/x" not in f
        f.create_dataset("h/x", data=np.arange(5))  # the name is free again
        with dosna_like.File(file_url, "r+") as other:  # a second File of the store shares the knowledge
            assert "h/x" in other and "g" in other
            other.create_dataset("g/y", data=np.arange(2))
        assert "g/y" in f
    with dosna_like.File(file_url, "r") as f:
        assert sorted(f) == ["g", "h"] and list(f["g"]) == ["y"] and list(f["h"]) == ["x"]
        np.testing.assert_array_equal(f["h/x"][:], np.arange(5))


def test_a_reopened_file_still_looks_names_up_in_the_store(file_url):
    """Only what this process made is known whole: a file opened again, which
    another writer may have changed, is asked."""
    with dosna_like.File(file_url, "w") as f:
        f.create_group("g")
    with dosna_like.File(file_url, "r+") as writer:
        writer.create_dataset("g/x", data=np.arange(3))
    with dosna_like.File(file_url, "a") as f:
        with pytest.raises(ValueError):
            f.create_dataset("g/x", data=np.arange(3))
        f.create_dataset("g/y", data=np.arange(2))
        assert sorted(f["g"]) == ["x", "y"]


def test_appending_in_steps_that_cut_chunks_stores_the_document_once_and_each_chunk_once(
        file_url, h5_path):
    """resize + write in 10-row steps over 16-row chunks: the document is stored once
    (at the flush), and so is each chunk (the edge chunks are held in memory until
    then, chunks/pending.py); no chunk is read."""
    data = np.arange(100 * 8, dtype="i4").reshape(100, 8)
    with dosna_like.File(file_url, "w") as f:
        ds = f.create_dataset("x", shape=(0, 8), maxshape=(None, 8), chunks=(16, 4), dtype="i4")
        f.flush()
        store = f.store
        before = store.requests.snapshot()
        for start in range(0, 100, 10):
            ds.resize(start + 10, axis=0)
            ds[start:start + 10] = data[start:start + 10]
        f._state.flush_documents()
        after = store.requests.snapshot()
        assert after.get("get", 0) - before.get("get", 0) == 1  # the stored document, read by the flush's merge
        chunk_writes = 2 * len(range(0, 100, 16))  # 7 chunk rows of 2 chunks
        assert after.get("put", 0) - before.get("put", 0) == chunk_writes + 1  # + the document, once
        assert raw_doc(file_url, "x")["shape"] == [100, 8]
    with h5py.File(h5_path, "w") as f:
        ds = f.create_dataset("x", shape=(0, 8), maxshape=(None, 8), chunks=(16, 4), dtype="i4")
        for start in range(0, 100, 10):
            ds.resize(start + 10, axis=0)
            ds[start:start + 10] = data[start:start + 10]
        expected = ds[...]
    with dosna_like.File(file_url, "r") as f:
        np.testing.assert_array_equal(f["x"][...], expected)
