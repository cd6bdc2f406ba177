"""Reopen + walk from the verified search index and the root's consolidated metadata.

A walk (``visititems``, iterating groups, ``in``, ``.attrs``, ``.shape``)
takes its listings and documents from the sidecar index once one scan of the
store's fingerprints has verified it, and its array documents from the root's
consolidated copy where that copy carries the fingerprint the store shows now.
Every expectation comes from h5py on the same tree, or from zarr-python /
the stored documents, never from the index itself.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import zarr

import dosna_like
from dosna_like.catalog import search as catalog
from dosna_like.format.keys import SIDECAR_KEY
from dosna_like.storage import open_store


def build(f) -> None:
    """The same tree through h5py's API: nested groups, varied dtypes, shapes and attribute types."""
    f.attrs["title"] = "walk"
    for gi in range(3):
        g = f.create_group(f"g{gi}")
        g.attrs["run"] = np.int16(gi)
        sub = g.create_group("sub") if gi != 1 else g
        for di, dtype in enumerate(["f4", "i2", "u8", "c8"]):
            shape = (di + 2,) if di % 2 else (di + 1, 3)
            ds = sub.create_dataset(f"d{di}", data=np.arange(np.prod(shape), dtype=dtype).reshape(shape),
                                    maxshape=(None,) * len(shape))
            ds.attrs["units"] = "m"
            ds.attrs["index"] = np.int64(gi * 10 + di)
            ds.attrs["scale"] = np.float32(0.5 * di)
            ds.attrs["flags"] = np.arange(3, dtype="u1") + di
            ds.attrs["label"] = b"raw"
    f["g0/link"] = h5py.SoftLink("/g1") if isinstance(f, h5py.File) else dosna_like.SoftLink("/g1")
    f.create_group("empty")


def walk(f) -> list:
    """(name, kind, shape, dtype, attrs as (name, value, dtype)) of every object, in visit order."""
    out = []

    def visit(name, obj):
        attrs = tuple((k, np.asarray(v).tolist(), np.asarray(v).dtype.str) for k, v in obj.attrs.items())
        if isinstance(obj, (h5py.Dataset, dosna_like.Dataset)):
            out.append((name, "dataset", obj.shape, obj.dtype.str, attrs))
        else:
            out.append((name, "group", None, None, attrs))

    f.visititems(visit)
    return out


def listings(f) -> tuple:
    return (list(f), len(f), list(f["g0"]), "g2/sub/d3" in f, "g2/nope" in f, "nope" in f["g1"],
            f["g2/sub/d1"].shape, f["g1/d2"].dtype.str, f["g0/sub/d0"].attrs["index"])


@pytest.fixture
def h5_reference(tmp_path):
    path = tmp_path / "reference.h5"
    with h5py.File(path, "w") as f:
        build(f)
    with h5py.File(path, "r") as f:
        return walk(f), listings(f)


def test_reopen_and_walk_matches_h5py(file_url, h5_reference):
    with dosna_like.File(file_url, "w") as f:
        build(f)
    expected_walk, expected_listings = h5_reference
    for mode in ("r", "r+", "a"):
        with dosna_like.File(file_url, mode) as f:
            assert walk(f) == expected_walk
            assert f._state.index.ready  # the walk came from the verified index
            assert listings(f) == expected_listings
            assert walk(f) == expected_walk  # again, from what is cached


def test_walk_reads_array_documents_from_the_consolidated_root(tmp_path, h5_reference):
    path = str(tmp_path / "f.h5")
    with dosna_like.File(path, "w") as f:
        build(f)
    with dosna_like.File(path, "r") as f:
        list(f)
        nodes = f._state.index.nodes()
        arrays = [p for p, n in nodes.items() if n.kind == "dataset"]
        assert len(arrays) == 12 and all(nodes[p]._raw is not None and nodes[p]._doc is not None for p in arrays)
        stored = [json.loads((tmp_path / "f.h5" / p / "zarr.json").read_bytes()) for p in arrays]
        # the consolidated copy is the stored document (the reserved entry aside, moved into the attributes)
        for p, doc in zip(arrays, stored):
            assert nodes[p].doc["attributes"]["index"] == doc["attributes"]["index"]
            assert nodes[p].doc["shape"] == doc["shape"]
        assert walk(f) == h5_reference[0]
        # no node document was read: the root's (with its side object) and the sidecar only
        assert f._state.store.requests.snapshot()["get"] == 3
    with dosna_like.File(path, "r") as f:
        assert walk(f) == h5_reference[0] and f._state.store.requests.snapshot()["get"] == 3


def _zarr_edits(url: str) -> None:
    """zarr-python changes nodes behind the record: none of its writes touches the root document."""
    root = zarr.open_group(url, mode="a", use_consolidated=False)
    root["g0/sub/d0"].attrs["units"] = "km"
    root["g1/d2"].attrs["index"] = 999
    new = root["g1"].create_array("from_zarr", shape=(4,), dtype="i4", chunks=(2,))
    new[:] = 7
    new.attrs["units"] = "s"
    del root["g2"]


def _check_zarr_edits(f) -> None:
    seen = dict((name, attrs) for name, _, _, _, attrs in walk(f))
    assert dict((k, v) for k, v, _ in seen["g0/sub/d0"])["units"] == "km"
    assert dict((k, v) for k, v, _ in seen["g1/d2"])["index"] == 999
    assert "g1/from_zarr" in seen and f["g1/from_zarr"][...].tolist() == [7] * 4
    assert not any(name.startswith("g2") for name in seen) and "g2" not in f
    assert f["g0/sub/d0"].attrs["units"] == "km"


def test_zarr_python_changes_behind_the_record_are_seen(tool_url):
    with dosna_like.File(tool_url, "w") as f:
        build(f)
    _zarr_edits(tool_url)
    # the records are stale: zarr's consolidated view still shows the old values
    assert zarr.open_consolidated(tool_url, mode="r")["g0/sub/d0"].attrs["units"] == "m"
    for mode in ("r", "a"):
        with dosna_like.File(tool_url, mode) as f:
            _check_zarr_edits(f)


def test_a_consolidated_copy_older_than_the_sidecar_is_not_used(tool_url):
    """A sidecar rebuilt from the documents (``dosna-like index --rebuild``) records the
    new fingerprints while the root's consolidated copy keeps the old documents: each
    copy is checked against its own recorded fingerprint, so the stale one is not used."""
    with dosna_like.File(tool_url, "w") as f:
        build(f)
    _zarr_edits(tool_url)
    catalog.rebuild(tool_url)
    assert catalog.sidecar_is_current(tool_url)
    with dosna_like.File(tool_url, "r") as f:
        _check_zarr_edits(f)


def test_a_write_session_consolidates_from_checked_documents(tool_url):
    """A session that writes without listing still stores consolidated metadata of the
    documents as they are (zarr-python's change made before it included)."""
    with dosna_like.File(tool_url, "w") as f:
        build(f)
    _zarr_edits(tool_url)
    with dosna_like.File(tool_url, "a") as f:
        f["g0/sub/d1"].attrs["units"] = "cm"  # no listing, no search
    consolidated = zarr.open_consolidated(tool_url, mode="r")
    assert consolidated["g0/sub/d0"].attrs["units"] == "km"
    assert consolidated["g0/sub/d1"].attrs["units"] == "cm"
    assert consolidated["g1/d2"].attrs["index"] == 999
    assert "from_zarr" in consolidated["g1"] and "g2" not in consolidated
    assert catalog.sidecar_is_current(tool_url)


def test_another_process_writing_behind_the_record_is_seen(tool_url):
    with dosna_like.File(tool_url, "w") as f:
        build(f)
    script = textwrap.dedent(f"""
        import numpy as np, dosna_like
        with dosna_like.File({tool_url!r}, "a") as f:
            f["g0/sub/d0"].attrs["units"] = "other"
            f["g1/d3"].resize((9,))
            f["g1"].create_dataset("added", data=np.arange(3))
            del f["g0/sub/d1"]
        """)
    subprocess.run([sys.executable, "-c", script], check=True)
    # and a write that left no sidecar behind at all (a writer killed before its close)
    store = open_store(tool_url)
    doc = json.loads(store.get("g1/d2/zarr.json"))
    doc["attributes"]["units"] = "behind"
    store.set("g1/d2/zarr.json", json.dumps(doc).encode())
    with dosna_like.File(tool_url, "r") as f:
        seen = dict((name, (shape, dict((k, v) for k, v, _ in attrs))) for name, _, shape, _, attrs in walk(f))
        assert seen["g0/sub/d0"][1]["units"] == "other"
        assert seen["g1/d3"][0] == (9,)
        assert seen["g1/d2"][1]["units"] == "behind"
        assert "g1/added" in seen and "g0/sub/d1" not in seen and "d1" not in f["g0/sub"]


def test_a_second_handle_in_this_process_is_seen_by_a_walked_file(file_url, h5_reference):
    with dosna_like.File(file_url, "w") as f:
        build(f)
    with dosna_like.File(file_url, "r") as reader:
        assert walk(reader) == h5_reference[0] and reader._state.index.ready
        with dosna_like.File(file_url, "a") as writer:
            writer["g0/sub/d0"].attrs["units"] = "other"
            writer["g1"].create_dataset("added", data=np.arange(3))
            del writer["g2"]
            writer.move("g0/sub/d1", "g0/moved")
            pending = dict((name, attrs) for name, _, _, _, attrs in walk(reader))  # before the flush
            assert "g1/added" in pending and "g2" not in reader and "g0/moved" in reader
        seen = dict((name, attrs) for name, _, _, _, attrs in walk(reader))
        assert dict((k, v) for k, v, _ in seen["g0/sub/d0"])["units"] == "other"
        assert "g1/added" in seen and not any(n.startswith("g2") for n in seen)
        assert "g0/moved" in seen and "g0/sub/d1" not in seen
        assert sorted(seen) == sorted(pending)
    with dosna_like.File(file_url, "r") as again:
        assert sorted(n for n, *_ in walk(again)) == sorted(seen)


def test_without_a_sidecar_the_walk_lists_the_store(file_url, h5_reference):
    with dosna_like.File(file_url, "w") as f:
        build(f)
    open_store(file_url).delete(SIDECAR_KEY)
    with dosna_like.File(file_url, "r") as f:
        assert walk(f) == h5_reference[0] and listings(f) == h5_reference[1]
        assert not f._state.index.ready


def test_refresh_after_a_walk_reads_the_store_again(file_url, h5_reference):
    with dosna_like.File(file_url, "w") as f:
        build(f)
    with dosna_like.File(file_url, "r") as f:
        assert walk(f) == h5_reference[0]
        ds = f["g1/d2"]
        assert ds.attrs["units"] == "m"
        store = open_store(file_url)  # another writer, behind this file's back
        doc = json.loads(store.get("g1/d2/zarr.json"))
        doc["attributes"]["units"] = "refreshed"
        store.set("g1/d2/zarr.json", json.dumps(doc).encode())
        ds.refresh()
        assert ds.attrs["units"] == "refreshed" and f["g1/d2"].attrs["units"] == "refreshed"
        assert dict(f["g1"].items())["d2"].attrs["units"] == "refreshed"  # a listing does not undo it


def _edit(f, module) -> None:
    """Writes in a session that has walked: a new dataset, a changed attribute, a resize, a deletion."""
    f["g1"].create_dataset("added", data=np.arange(5, dtype="i4"))
    f["g0/sub/d0"].attrs["units"] = "cm"
    f["g2/sub/d1"].resize((7,))
    del f["g0/sub/d2"]
    f["g2"].create_group("late").attrs["n"] = np.int8(3)


def test_writes_after_a_walk_are_walked_as_h5py_walks_them(file_url, tmp_path):
    path = tmp_path / "reference.h5"
    with h5py.File(path, "w") as f:
        build(f)
    with h5py.File(path, "a") as f:
        walk(f)
        _edit(f, h5py)
        expected_in_session = walk(f), listings(f)
    with h5py.File(path, "r") as f:
        expected_reopened = walk(f), listings(f)
    with dosna_like.File(file_url, "w") as f:
        build(f)
    with dosna_like.File(file_url, "a") as f:
        walk(f)
        assert f._state.index.ready
        _edit(f, dosna_like)
        assert (walk(f), listings(f)) == expected_in_session
    with dosna_like.File(file_url, "r") as f:
        assert (walk(f), listings(f)) == expected_reopened


def test_a_walked_writer_never_replaces_a_node_made_since_by_another_process(tool_url):
    with dosna_like.File(tool_url, "w") as f:
        build(f)
    with dosna_like.File(tool_url, "a") as f:
        walk(f)
        assert f._state.index.ready
        script = textwrap.dedent(f"""
            import numpy as np, dosna_like
            with dosna_like.File({tool_url!r}, "a") as f:
                f["g1"].create_dataset("other", data=np.arange(6))
            """)
        subprocess.run([sys.executable, "-c", script], check=True)
        assert "other" in f["g1"]  # a writer looks in the store for a name its index lacks
        with pytest.raises(ValueError):  # h5py's error for a name that exists
            f["g1"].create_dataset("other", data=np.zeros(2))
    with dosna_like.File(tool_url, "r") as f:
        assert f["g1/other"][...].tolist() == list(range(6))


def test_a_search_and_a_flush_in_two_threads_never_wait_on_each_other(tmp_path):
    """A flush tells the file's index what it stored while holding the document cache;
    a search reads the cache's pending documents while holding the index.  With two
    locks taken in opposite orders the two threads could block each other for good
    (3 runs of 3 did with the index's own lock)."""
    import threading
    import time

    f = dosna_like.File(tmp_path / "t.h5", "w")
    for i in range(20):
        f.create_dataset(f"d{i}", shape=(2,), dtype="i1").attrs["n"] = -1
    f.flush()
    errors, found = [], []

    def flusher():
        try:
            for step in range(300):
                f[f"d{step % 20}"].attrs["n"] = step
                f.flush()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def searcher():
        try:
            for _ in range(300):
                found.append(len(f.search({"n": {"$gte": 0}})))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=t, daemon=True) for t in (flusher, searcher)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 90
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    # not closed when blocked: closing would wait for the blocked lock too
    assert not any(t.is_alive() for t in threads), "a search and a flush blocked each other"
    with f:
        assert not errors, errors
        assert len(found) == 300 and found[-1] <= 20
        assert sorted(int(f[f"d{i}"].attrs["n"]) for i in range(20)) == list(range(280, 300))
        assert len(f.search({"n": {"$gte": 0}})) == 20
