"""The store contract, written once and run on every back end (as zarr-python's StoreTests).

Back ends: fsspec memory, a local directory, S3 over HTTP on the real local
endpoint (moto's server), ``simplecache::s3://`` (reads through a local
cache, listings through s3fs) and the 25 ms latency store (``slowmem://``,
an async fsspec filesystem).  S3 kinds never skip: if the endpoint cannot
start, they fail.

A caching chain answers reads of an object it already fetched from its
local copy (fsspec's simplecache is meant for read-mostly data), so what a
write or delete left in the store is checked through a freshly opened store
(:meth:`Place.fresh`), which has its own cache.
"""
from __future__ import annotations

import collections
import json
import urllib.parse
import uuid

import numpy as np
import pytest

import dosna_like
from backends.latency import SlowMemoryFileSystem  # noqa: F401  (registers slowmem://)
from dosna_like.errors import ReadOnlyError, StoreUnreachableError
from dosna_like.format.keys import META_KEY, chunk_key, node_key
from dosna_like.storage import FsspecStore, LocalStore, MemoryStore, S3Store, Store, open_store

from .conftest import S3_BUCKET

BACKENDS = ["memory", "local", "s3", "simplecache-s3", "slowmem"]
LATENCY = 0.025


class Place:
    """A fresh store root on one back end, and how to open it as a user would."""

    def __init__(self, kind: str, tmp_path):
        self.kind = kind
        self.tmp_path = tmp_path
        name = f"contract-{uuid.uuid4().hex[:10]}"
        self.url = {
            "memory": f"memory://contract/{name}",
            "local": str(tmp_path / name),
            "s3": f"s3://{S3_BUCKET}/{name}",
            "simplecache-s3": f"simplecache::s3://{S3_BUCKET}/{name}",
            "slowmem": f"slowmem://contract/{name}",
        }[kind]

    @property
    def is_s3(self) -> bool:
        return "s3" in self.kind

    def options(self) -> dict | None:
        if self.kind == "slowmem":
            return {"latency": LATENCY}
        if self.kind == "simplecache-s3":  # a cache of its own for every opening
            return {"simplecache": {"cache_storage": str(self.tmp_path / uuid.uuid4().hex[:8])}}
        return None

    def open(self, **kwargs) -> Store:
        return open_store(self.url, self.options(), **kwargs)

    def fresh(self) -> Store:
        """The same root opened anew (for a caching chain: with an empty cache)."""
        return self.open()

    def other_writer(self) -> Store:
        """Another client writing the same root (S3: a separate connection, no cache layer)."""
        if self.is_s3:
            return open_store(self.url.split("::")[-1], {"skip_instance_cache": True})
        return self.open()


@pytest.fixture(params=BACKENDS)
def place(request, tmp_path) -> Place:
    if "s3" in request.param:
        request.getfixturevalue("s3_server")
    return Place(request.param, tmp_path)


@pytest.fixture
def store(place) -> Store:
    opened = place.open()
    yield opened
    opened.close()


def _keys(store: Store) -> list:
    return store.list_keys("")


# ------------------------------------------------------------ choosing
EXPECTED = {  # back end -> (class, batches_async, can_read_into, server_side_copy, fingerprint_kind)
    "memory": (MemoryStore, False, False, True, "md5"),
    "local": (LocalStore, False, True, True, "stat"),
    "s3": (S3Store, True, False, True, "etag"),
    "simplecache-s3": (S3Store, True, False, True, "etag"),
    "slowmem": (FsspecStore, True, False, False, "md5"),
}


def test_the_back_end_is_chosen_from_the_innermost_protocol(place, store):
    cls, batches_async, can_read_into, server_side_copy, kind = EXPECTED[place.kind]
    assert type(store) is cls
    assert (store.batches_async, store.can_read_into, store.server_side_copy, store.fingerprint_kind) == (
        batches_async, can_read_into, server_side_copy, kind)
    assert store.url == place.url
    assert store.identity == place.open().identity
    if place.kind == "simplecache-s3":  # reads through the cache, listings through s3fs underneath
        assert store.fs is not store.inner_fs and type(store.inner_fs).__name__ == "S3FileSystem"


def test_a_cache_over_a_local_directory_is_a_generic_store(tmp_path):
    cached_local = open_store(f"simplecache::file://{tmp_path}/x",
                              {"simplecache": {"cache_storage": str(tmp_path / "cache")}})
    assert type(cached_local) is FsspecStore and cached_local.inner_fs is not cached_local.fs


# ------------------------------------------------------ get, set, batches
def test_get_set_and_missing_keys(place, store):
    assert store.get("a/b") is None
    assert store.get("nothing/at/all/zarr.json") is None
    store.set("a/b", b"one")
    store.set("top", bytearray(b"two"))
    store.set("a/view", memoryview(np.arange(3, dtype="u1")))
    assert store.get("a/b") == b"one"
    assert bytes(store.get("top")) == b"two"
    assert bytes(store.get("a/view")) == b"\x00\x01\x02"
    store.set("a/b", b"replaced")
    assert store.get("a/b") == b"replaced"
    assert place.fresh().get("a/b") == b"replaced"
    assert store.exists("a/b") and store.exists("a") and not store.exists("a/nope")


def test_batches_leave_missing_keys_out(store):
    items = {f"d/{i:02d}": bytes([i]) * (i + 1) for i in range(20)}
    store.set_many(items)
    store.set_many({})
    store.set_many({"single": b"s"})
    got = store.get_many([*items, "d/missing", "other/missing"])
    assert {k: bytes(v) for k, v in got.items()} == items
    assert store.get_many([]) == {}
    assert store.get_many(["d/missing"]) == {}
    assert store.get_many(["single"]) == {"single": b"s"}
    assert store.get_many(iter(["d/03", "d/04"])).keys() == {"d/03", "d/04"}


def test_delete_and_delete_many(place, store):
    store.set_many({"k/1": b"1", "k/2": b"2", "k/3": b"3", "keep": b"k"})
    store.delete("k/1")
    store.delete("k/never-there")
    store.delete_many(["k/2", "k/3", "k/also-never-there"])
    store.delete_many([])
    fresh = place.fresh()
    assert fresh.get_many(["k/1", "k/2", "k/3"]) == {}
    assert _keys(fresh) == ["keep"]


def test_delete_prefix_removes_one_subtree(place, store):
    store.set_many({"a/zarr.json": b"{}", "a/c/0": b"0", "a/b/zarr.json": b"{}", "ab/zarr.json": b"{}", "z": b"z"})
    store.delete_prefix("a")
    store.delete_prefix("not/there")
    assert _keys(place.fresh()) == ["ab/zarr.json", "z"]
    store.delete_prefix("")
    assert place.fresh().is_empty_root()


def test_move_prefix_moves_a_subtree(place, store):
    before = {"src/zarr.json": b"{}", "src/c/0": b"0", "src/c/1": b"1", "src/kid/zarr.json": b"k",
              "srcx/zarr.json": b"x"}
    store.set_many(before)
    store.move_prefix("src", "dst/inner")
    fresh = place.fresh()
    assert _keys(fresh) == ["dst/inner/c/0", "dst/inner/c/1", "dst/inner/kid/zarr.json", "dst/inner/zarr.json",
                            "srcx/zarr.json"]
    assert fresh.get("dst/inner/kid/zarr.json") == b"k" and fresh.get("dst/inner/c/1") == b"1"


# -------------------------------------------------------------- listing
def test_listing(store):
    assert store.is_empty_root()
    assert store.list_dir("") == [] and store.list_dirs("nothing") == [] and store.list_keys("nothing") == []
    store.set_many({"zarr.json": b"{}", "g/zarr.json": b'{"g": 1}', "g/d/zarr.json": b"{}", "g/d/c/0": b"abc",
                    "g/d/c/1": b"de", "h/zarr.json": b'{"h": 1}', "notanode/file": b"", "loose": b"l"})
    assert not store.is_empty_root()
    assert sorted(store.list_dir("")) == ["g", "h", "loose", "notanode", "zarr.json"]
    assert sorted(store.list_dirs("")) == ["g", "h", "notanode"]
    assert sorted(store.list_dir("g")) == ["d", "zarr.json"]
    assert store.list_keys("g") == ["g/d/c/0", "g/d/c/1", "g/d/zarr.json", "g/zarr.json"]
    assert store.list_sizes("g/d/c") == {"g/d/c/0": 3, "g/d/c/1": 2}
    assert store.list_children("") == ["g", "h"]
    assert store.get_children("", META_KEY) == {"g": b'{"g": 1}', "h": b'{"h": 1}'}


# ------------------------------------------------------------ read-only
def test_read_only_stores_refuse_every_write(place, store):
    store.set("kept", b"v")
    ro = place.open(read_only=True)
    writes = [lambda: ro.set("x", b"1"), lambda: ro.set_many({"x": b"1", "y": b"2"}),
              lambda: ro.delete("kept"), lambda: ro.delete_many(["kept"]), lambda: ro.delete_prefix(""),
              lambda: ro.move_prefix("kept", "moved"),
              lambda: ro.write_from("x", [(0, [memoryview(b"1")])])]
    for write in writes:
        with pytest.raises(ReadOnlyError) as info:
            write()
        assert isinstance(info.value, OSError)
    assert ro.get("kept") == b"v" and _keys(place.fresh()) == ["kept"]
    assert ro.requests.snapshot().get("put", 0) == ro.requests.snapshot().get("delete", 0) == 0


# -------------------------------------------------------- request counts
def test_requests_are_counted_by_kind(store):
    store.set("a", b"1")
    store.set_many({"b": b"2", "c": b"3"})
    store.requests.reset()
    store.get("a")
    store.get_many(["a", "b", "missing"])
    store.set("d", b"4")
    store.set_many({"e": b"5", "f": b"6"})
    store.delete_many(["e", "f"])
    store.list_dir("")
    store.exists("a")
    assert store.requests.snapshot() == {"get": 4, "put": 3, "delete": 2, "list": 1, "head": 1}
    store.requests.reset()
    assert store.requests.snapshot() == {}


# ------------------------------------------------------ vectored buffers
def test_reads_into_and_writes_from_caller_buffers_where_it_can(store):
    data = np.arange(64, dtype="u1")
    ranges = [(0, [memoryview(data[:10]), memoryview(data[10:32])]), (32, [memoryview(data[32:])])]
    if not store.can_read_into:
        with pytest.raises(NotImplementedError):
            store.write_from("buf", ranges)
        return
    store.write_from("buf", ranges)
    assert store.get("buf") == data.tobytes()
    out = np.zeros(64, dtype="u1")
    assert store.read_into("buf", 64, [(0, [memoryview(out[:40])]), (40, [memoryview(out[40:])])])
    np.testing.assert_array_equal(out, data)
    assert store.read_into("missing", 64, [(0, [memoryview(out)])]) is False
    with pytest.raises(ValueError):
        store.read_into("buf", 65, [(0, [memoryview(out)])])


# ------------------------------------------------------- places and URLs
def test_parent_and_urls_of_keys(place, store):
    store.set("run.h5/zarr.json", b"{}")
    inner = open_store(store.url_for("run.h5"), place.options())
    assert inner.get(META_KEY) == b"{}"
    parent = inner.parent()
    assert parent.url == place.url and parent.identity == store.identity
    assert parent.get("run.h5/zarr.json") == b"{}"
    assert inner.basename == "run.h5"
    assert inner.sibling_url("other.h5") == store.url_for("other.h5")
    assert inner.sibling_url("s3://elsewhere/x.h5") == "s3://elsewhere/x.h5"


# ------------------------------------------------- the search index's scan
def _doc(kind: str, n: int = 0) -> bytes:
    return json.dumps({"zarr_format": 3, "node_type": kind, "attributes": {"n": n}}).encode()


TREE = {  # node path -> kind; 'g/c' is a group named like a chunk directory
    "": "group", "g": "group", "g/a": "array", "g/c": "group", "g/c/deep": "array", "h": "group", "b": "array",
}


def _write_tree(store: Store, chunks: int) -> None:
    items = {node_key(p): _doc("group" if k == "group" else "array") for p, k in TREE.items()}
    for p, k in TREE.items():
        if k == "array":
            items.update({chunk_key(p, (i, 0)): b"chunk" for i in range(chunks)})
    items["g/loose-file"] = b"not a node"
    items["h/no-doc/c/0"] = b"a directory without a document"
    store.set_many(items)


def _kinds_of(items) -> dict:
    return {p: TREE.get(p) for p in items}


class _S3Requests:
    """Every HTTP request botocore sends for an s3fs filesystem: method, and LIST parameters."""

    def __init__(self, fs):
        self.counts: collections.Counter = collections.Counter()
        self.lists: list = []
        fs.connect()
        fs.s3.meta.events.register("before-send.s3", self._hook)

    def _hook(self, request, **kwargs):
        self.counts[request.method] += 1
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query, keep_blank_values=True)
        if "list-type" in query:
            self.lists.append(query)

    def take(self) -> tuple:
        out = dict(self.counts), self.lists
        self.counts, self.lists = collections.Counter(), []
        return out


class _ListSpy:
    """Every listing a store makes, through the contract or (S3) over HTTP."""

    def __init__(self, store: Store, place: Place, monkeypatch):
        self.prefixes: list = []
        self.http = _S3Requests(store.inner_fs) if place.is_s3 else None
        store.requests.reset()

        def forbidden(*args, **kwargs):
            raise AssertionError("a recursive listing would list chunk keys")

        monkeypatch.setattr(store, "_list_keys", forbidden)
        monkeypatch.setattr(store, "_list_sizes", forbidden)
        if isinstance(store, FsspecStore):
            original = store._list_entries

            def spy(prefix):
                self.prefixes.append(prefix)
                return original(prefix)

            monkeypatch.setattr(store, "_list_entries", spy)


@pytest.mark.parametrize("chunks", [1, 40])
def test_scan_finds_every_node_and_lists_no_chunk_key(place, store, monkeypatch, chunks):
    assert store.scan_documents(_kinds_of) == {}
    _write_tree(store, chunks)
    offered = {}
    spy = _ListSpy(store, place, monkeypatch)
    found = store.scan_documents(_kinds_of, lambda path, raw: offered.setdefault(path, bytes(raw)))
    assert set(found) == set(TREE)
    for path in TREE:  # our own writes predict the fingerprints
        assert found[path] == store.predicted_fingerprint(node_key(path), store.get(node_key(path))), path
    groups = [p for p, k in TREE.items() if k == "group"]
    lists = store.requests.snapshot().get("list", 0)
    if place.is_s3:  # delimiter LISTs: the root's, and one for the group named 'c'
        assert lists == 2 and len(spy.http.lists) == 2
        assert all(q["delimiter"] == ["/c/"] for q in spy.http.lists), spy.http.lists
        assert offered == {}
    else:  # one directory listing per group, none of an array
        assert lists == len(groups)
        if isinstance(store, FsspecStore):
            assert sorted(spy.prefixes) == sorted(groups)
        if store.fingerprint_kind == "md5":
            assert set(offered) == set(TREE)


def test_another_writers_change_changes_the_fingerprint(place, store):
    _write_tree(store, chunks=2)
    before = store.scan_documents(_kinds_of)
    place.other_writer().set(node_key("g/a"), _doc("array", n=1))
    after = place.open().scan_documents(_kinds_of)
    assert after["g/a"] != before["g/a"]
    assert {p: fp for p, fp in after.items() if p != "g/a"} == {p: fp for p, fp in before.items() if p != "g/a"}


def test_listings_see_another_writer_at_once(place, store):
    store.set("d/one", b"1")
    assert store.list_dir("d") == ["one"]
    place.other_writer().set("d/two", b"2")
    assert sorted(store.list_dir("d")) == ["one", "two"]  # S3: no stale listings cache
    assert store.scan_documents(_kinds_of) == {}


# ------------------------------------------------------ client errors
def test_client_errors_become_the_builtins_users_catch(monkeypatch):
    store = open_store(f"memory://contract/{uuid.uuid4().hex[:8]}")
    for name, expected in [("NoCredentialsError", PermissionError), ("SignatureDoesNotMatch", PermissionError),
                           ("EndpointConnectionError", StoreUnreachableError),
                           ("ConnectTimeoutError", StoreUnreachableError)]:
        error = type(name, (Exception,), {})

        def fail(*args, error=error):
            raise error("from the client library")

        monkeypatch.setattr(store, "_get", fail)
        with pytest.raises(expected) as info:
            store.get("x")
        assert isinstance(info.value, OSError) and isinstance(info.value.__cause__, error)
    monkeypatch.setattr(store, "_get", lambda key: (_ for _ in ()).throw(ValueError("ours")))
    with pytest.raises(ValueError, match="ours"):  # anything else passes through unchanged
        store.get("x")


# ------------------------------------------ request cost of a cached search
def _file_with_chunks(chunks: int) -> str:
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}/run.h5"
    with dosna_like.File(url, "w") as f:
        for i in range(3):
            g = f.create_group(f"g{i}")
            g.attrs["i"] = i
            g.create_dataset("d", data=np.arange(2, dtype="i2"), chunks=(1,)).attrs["j"] = i
        f.create_dataset("g0/big", data=np.arange(chunks, dtype="i2"), chunks=(1,))
    return url


def test_a_search_through_simplecache_lists_no_chunk_key(s3_server, tmp_path):
    costs = {}
    for chunks in (2, 1050):  # a listing of every key would take 2 LIST pages
        url = "simplecache::" + _file_with_chunks(chunks)
        options = {"simplecache": {"cache_storage": str(tmp_path / f"cache-{chunks}")}}
        with dosna_like.File(url, "r", storage_options=options) as f:
            http = _S3Requests(f.store.fs)  # a cache layer hands its client through
            http.take()
            assert [h.name for h in f.search(j=1)] == ["/g1/d"]
            in_file = http.take()
            hits = dosna_like.search(url, j=1, storage_options=options)
            assert [(h.url, h.path) for h in hits] == [(url, "/g1/d")]
            module = http.take()
        for counts, lists in (in_file, module):
            # a listing of every key has no delimiter; the index's listing folds chunks under '/c/'
            assert all(q.get("delimiter", [""])[0] for q in lists), lists
        costs[chunks] = (in_file[0], len(in_file[1]), module[0], len(module[1]))
    assert costs[2] == costs[1050]
    assert sum(costs[1050][0].values()) <= 4
