"""The local directory store's write path (``storage/local.py``): directories
made once, top down, objects written with plain ``os`` calls through a
temporary file whose name tells which process owns it."""
from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

import dosna_like
from dosna_like.storage import LocalStore, open_store
from dosna_like.storage import local


@pytest.fixture
def store(tmp_path) -> LocalStore:
    found = open_store(str(tmp_path / "s"))
    assert isinstance(found, LocalStore)
    return found


def _counting_mkdir(monkeypatch) -> list:
    """Every ``os.mkdir`` call from here on, as (path, outcome)."""
    calls, real = [], os.mkdir

    def mkdir(path, *args, **kwargs):
        try:
            real(path, *args, **kwargs)
        except OSError as exc:
            calls.append((path, type(exc).__name__))
            raise
        calls.append((path, "made"))

    monkeypatch.setattr(local.os, "mkdir", mkdir)
    return calls


def test_a_new_objects_directories_below_a_known_one_are_made_top_down(store, monkeypatch):
    store.set("g/zarr.json", b"{}")
    calls = _counting_mkdir(monkeypatch)
    store.set("g/d/c/0", b"chunk")
    assert [(os.path.relpath(p, store.root), outcome) for p, outcome in calls] == [
        (os.path.join("g", "d"), "made"), (os.path.join("g", "d", "c"), "made")]
    assert store.get("g/d/c/0") == b"chunk"
    calls.clear()
    store.set("g/d/c/1", b"again")  # known now: no mkdir at all
    assert calls == []


def test_a_known_directory_removed_by_another_writer_is_made_again(store):
    store.set("g/d/c/0", b"one")
    shutil.rmtree(os.path.join(store.root, "g"))  # another process deletes the group
    store.set("g/d/c/1", b"two")
    assert store.get("g/d/c/1") == b"two"
    assert store.get("g/d/c/0") is None


def test_a_vectored_write_remakes_a_directory_another_writer_removed(store):
    """``write_from`` (raw chunks written from the caller's buffers with pwritev) makes a
    known directory again as ``set`` does, and leaves no temporary when it fails."""
    store.write_from("g/d/c/0", [(0, [b"ab", b"cd"])])
    shutil.rmtree(os.path.join(store.root, "g"))  # another process deletes the group
    store.write_from("g/d/c/1", [(0, [b"xy"]), (2, [memoryview(b"z")])])
    assert store.get("g/d/c/1") == b"xyz"
    assert store.get("g/d/c/0") is None
    with pytest.raises(TypeError):
        store.write_from("g/d/c/2", [(0, [object()])])
    assert sorted(os.listdir(os.path.join(store.root, "g", "d", "c"))) == ["1"]


def test_a_directory_another_writer_made_meanwhile_is_cleared_of_dead_temporaries(store, tmp_path):
    store.set("g/zarr.json", b"{}")
    folder = os.path.join(store.root, "g", "d")
    os.mkdir(folder)  # made by another writer since this store made g
    dead = os.path.join(folder, "zarr.json.999999999-0123456789abcdef.partial")  # no such process
    live = os.path.join(folder, f"zarr.json.{os.getpid()}-0123456789abcdef.partial")
    for path in (dead, live):
        with open(path, "wb") as fh:
            fh.write(b"half")
    store.set("g/d/zarr.json", b"{}")
    assert not os.path.exists(dead)
    assert os.path.exists(live)  # its writer (this process) may still rename it


@pytest.mark.parametrize("value", [b"bytes", bytearray(b"a bytearray"), memoryview(b"a view"),
                                   np.arange(5, dtype="f8"), memoryview(np.arange(3, dtype="i4"))],
                         ids=["bytes", "bytearray", "memoryview", "float64 array", "int32 view"])
def test_any_buffer_is_stored_byte_for_byte(store, value):
    store.set("x", value)
    assert store.get("x") == bytes(memoryview(value).cast("B"))


def test_a_failed_write_leaves_the_old_object_and_no_temporary(store, monkeypatch):
    store.set("d/x", b"old")

    def broken_write(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local.os, "write", broken_write)
    with pytest.raises(OSError, match="No space"):
        store.set("d/x", b"new")
    monkeypatch.undo()
    assert store.get("d/x") == b"old"
    assert os.listdir(os.path.join(store.root, "d")) == ["x"]


def test_a_short_write_is_resumed(store, monkeypatch):
    real = os.write
    monkeypatch.setattr(local.os, "write", lambda fd, data: real(fd, bytes(data)[:3]))
    store.set("x", b"0123456789")
    monkeypatch.undo()
    assert store.get("x") == b"0123456789"


def test_temporary_names_are_unique_and_name_this_process():
    names, lock = [], threading.Lock()

    def draw():
        mine = [local._temp_name("/s/k") for _ in range(500)]
        with lock:
            names.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == len(names) == 2000
    for name in names[:10]:
        assert name.startswith(f"/s/k.{os.getpid()}-") and name.endswith(".partial")
        assert local._writer_alive(os.path.basename(name))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
def test_a_forked_child_draws_other_temporary_names():
    parent = {local._temp_name("k") for _ in range(3)}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its names, then out without pytest's teardown
        os.close(read)
        os.write(write, "\n".join(local._temp_name("k") for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        child = set(fh.read().split("\n"))
    os.waitpid(pid, 0)
    assert len(child) == 3 and not child & parent
    assert all(name.startswith(f"k.{pid}-") for name in child)


def test_a_file_of_small_datasets_reads_back_like_h5py(tmp_path):
    """The write path end to end, against real h5py."""
    import h5py
    paths = {"dosna": str(tmp_path / "s"), "h5py": str(tmp_path / "f.h5")}
    for module, path in ((dosna_like, paths["dosna"]), (h5py, paths["h5py"])):
        with module.File(path, "w") as f:
            for i in range(12):
                ds = f.create_dataset(f"group{i // 5}/d{i}", data=np.arange(16, dtype="f4") + i)
                ds.attrs["units"] = "m"
                ds.attrs["index"] = i
    with dosna_like.File(paths["dosna"], "r") as ours, h5py.File(paths["h5py"], "r") as ref:
        assert sorted(ours) == sorted(ref)
        for i in range(12):
            name = f"group{i // 5}/d{i}"
            np.testing.assert_array_equal(ours[name][...], ref[name][...])
            assert ours[name].dtype == ref[name].dtype
            assert dict(ours[name].attrs) == dict(ref[name].attrs)
            assert type(ours[name].attrs["index"]) is type(ref[name].attrs["index"])


@pytest.mark.parametrize("threads", [1, 3])
def test_a_batch_is_stored_whole_in_runs(store, monkeypatch, threads):
    monkeypatch.setattr(local, "_WRITE_THREADS", threads)
    items = {f"g{i % 4}/d{i}/zarr.json": bytes([i]) * (i + 1) for i in range(37)}
    store.set_many(items)
    assert store.get_many(list(items)) == items
    assert not [name for _, _, names in os.walk(store.root) for name in names if name.endswith(".partial")]


def test_a_failure_in_a_batch_raises_and_leaves_no_temporary(store, monkeypatch):
    monkeypatch.setattr(local, "_WRITE_THREADS", 2)
    items = {f"d{i}/x": b"v" for i in range(10)}
    items["d3/x"] = object()  # not a buffer: its write fails
    with pytest.raises(TypeError):
        store.set_many(items)
    # the other run was not cancelled: it finished before the error was raised
    assert store.get("d9/x") == b"v" and store.get("d3/x") is None
    assert not [name for _, _, names in os.walk(store.root) for name in names if name.endswith(".partial")]
