"""Reliability and security (issue 18): concurrent writers lose nothing,
damaged chunks and documents give a clear error or the right data with
bounded memory, and nothing read from a store reaches outside it unless asked.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import os
import subprocess
import sys
import tracemalloc
import uuid
import zlib

import h5py
import numpy as np
import pytest

import dosna_like
from dosna_like.errors import CorruptChunkError, FormatError

from .conftest import S3_BUCKET, run_threads


# ------------------------------------------------------ concurrent writers
def _threads_write_rows(ds, nthreads=4, rounds=6, nrows=32):
    def work(t):
        for k in range(rounds):
            for r in range(t, nrows, nthreads):
                ds[r] = np.full(ds.shape[1], k * 1000 + r)

    run_threads(work, range(nthreads))


@pytest.mark.parametrize("shared", [True, False], ids=["one-handle", "handle-per-thread"])
def test_threads_writing_rows_of_one_chunk_lose_nothing_like_h5py(file_url, h5_path, shared):
    expected = np.array([[5 * 1000 + r] * 16 for r in range(32)])
    with h5py.File(h5_path, "w") as f:
        ds = f.create_dataset("x", shape=(32, 16), chunks=(32, 16), dtype="i4")
        _threads_write_rows(ds)
        np.testing.assert_array_equal(ds[:], expected)
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("x", shape=(32, 16), chunks=(32, 16), dtype="i4")
    handles = [dosna_like.File(file_url, "r+") for _ in range(1 if shared else 4)]
    try:
        if shared:
            _threads_write_rows(handles[0]["x"])
        else:
            def work(t):
                ds = handles[t]["x"]
                for k in range(6):
                    for r in range(t, 32, 4):
                        ds[r] = np.full(16, k * 1000 + r)
            run_threads(work, range(4))
    finally:
        for h in handles:
            h.close()
    with dosna_like.File(file_url, "r") as f:
        np.testing.assert_array_equal(f["x"][:], expected)


_SET_ATTRS = """
import sys, dosna_like
with dosna_like.File(sys.argv[1], "r+") as f:
    g = f["g"]
    for i in range(int(sys.argv[3])):
        g.attrs[sys.argv[2] + str(i)] = i
"""


def test_a_handles_chunk_cache_never_undoes_another_processes_write(tmp_path):
    """A writes row 0, another process writes row 1 and exits, A writes row 2: every
    row keeps its last write (the script's trial, run here twice)."""
    assert _reliability_script("writers_and_inputs").cache_undo(str(tmp_path), 2) == {"trials": 2, "reverted": 0}


def test_two_processes_updating_attributes_lose_none(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_group("g")
    procs = [subprocess.Popen([sys.executable, "-c", _SET_ATTRS, url, name, "30"]) for name in "ab"]
    for p in procs:
        assert p.wait() == 0
    with dosna_like.File(url, "r") as f:
        assert sorted(f["g"].attrs) == sorted(f"{n}{i}" for n in "ab" for i in range(30))


def test_an_open_handle_does_not_drop_attributes_set_by_another(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_group("g").attrs["old"] = 0
    a = dosna_like.File(file_url, "r+")
    assert list(a["g"].attrs) == ["old"]  # its document is cached now
    with dosna_like.File(file_url, "r+") as b:
        b["g"].attrs["b"] = 1
    a["g"].attrs["a"] = 2
    a.close()
    with dosna_like.File(file_url, "r") as f:
        assert dict(f["g"].attrs) == {"old": 0, "b": 1, "a": 2}


def test_threads_updating_attributes_lose_none(file_url):
    with dosna_like.File(file_url, "w") as f:
        g = f.create_group("g")

        def work(t):
            for i in range(10):
                g.attrs[f"t{t}_{i}"] = i

        run_threads(work, range(4))
        assert len(g.attrs) == 40


# ------------------------------------------------------------- corruption
def _array_dir(url, name="x"):
    return os.path.join(url, name)


def _make(url, **kwargs):
    data = np.arange(64, dtype="i4").reshape(8, 8)
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=(8, 8), **kwargs)
    return data


def _edit_doc(url, edit, name="x"):
    path = os.path.join(url, name, "zarr.json")
    with open(path) as fh:
        doc = json.load(fh)
    edit(doc)
    with open(path, "w") as fh:
        json.dump(doc, fh)


@pytest.mark.parametrize("chunks", [[-8, 8], [0, 8], [8], ["a", 8], [2**40, 2**40]])
def test_a_bad_chunk_shape_is_refused_naming_the_node(tmp_path, chunks):
    url = str(tmp_path / "s")
    _make(url)
    _edit_doc(url, lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", chunks))
    with dosna_like.File(url, "r") as f:
        with pytest.raises(FormatError, match="'/x'"):
            f["x"][:]


@pytest.mark.parametrize("shape", [[-1, 8], [8.5, 8]])
def test_a_bad_shape_is_refused_naming_the_node(tmp_path, shape):
    url = str(tmp_path / "s")
    _make(url)
    _edit_doc(url, lambda d: d.__setitem__("shape", shape))
    with dosna_like.File(url, "r") as f:
        with pytest.raises(FormatError, match="'/x'"):
            f["x"][:]


def test_a_wrong_dtype_names_the_node(tmp_path):
    url = str(tmp_path / "s")
    _make(url)
    _edit_doc(url, lambda d: d.__setitem__("data_type", "no-such-type"))
    with dosna_like.File(url, "r") as f:
        with pytest.raises(FormatError, match="'/x'"):
            f["x"][:]


def _chunk_file(url):
    return os.path.join(url, "x", "c", "0", "0")


def _peak_bytes(call):
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("compression", ["gzip", "zlib-fallback"])
def test_a_gzip_bomb_is_refused_with_bounded_memory(tmp_path, compression, monkeypatch):
    if compression == "zlib-fallback":
        from dosna_like.codecs import runtime
        monkeypatch.setattr(runtime.GzipRuntime, "decode_into", runtime.ByteCodec.decode_into)
    url = str(tmp_path / "s")
    _make(url, compression="gzip")
    with open(_chunk_file(url), "wb") as fh:
        fh.write(gzip.compress(bytes(256 * 2**20), 9))  # ~250 KiB inflating to 256 MiB
    _assert_refused_with_bounded_memory(url)


def _assert_refused_with_bounded_memory(url) -> None:
    """Reading the damaged chunk of ``x`` raises the corruption error naming it,
    with peak memory far below what the chunk claims."""
    with dosna_like.File(url, "r") as f:
        ds = f["x"]

        def read():
            with pytest.raises(CorruptChunkError, match="x/c/0/0"):
                ds[:]

        assert _peak_bytes(read) < 32 * 2**20


def test_a_zlib_bomb_is_refused_with_bounded_memory(tmp_path):
    url = str(tmp_path / "s")
    _make(url, compression=__import__("numcodecs").Zlib(1))
    with open(_chunk_file(url), "wb") as fh:
        fh.write(zlib.compress(bytes(256 * 2**20), 9))
    _assert_refused_with_bounded_memory(url)


def test_a_blosc_header_declaring_a_huge_size_is_refused_before_allocating(tmp_path):
    import numcodecs
    url = str(tmp_path / "s")
    _make(url, compression=numcodecs.Blosc())
    path = _chunk_file(url)
    raw = bytearray(open(path, "rb").read())
    raw[4:8] = (2**31 - 1).to_bytes(4, "little")
    open(path, "wb").write(bytes(raw))
    _assert_refused_with_bounded_memory(url)


def test_a_string_chunk_declaring_billions_of_items_is_refused(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=np.array(["a", "bb"] * 4, dtype=object).reshape(1, 8),
                         dtype=h5py.string_dtype(), chunks=(1, 8))
    path = _chunk_file(url)
    raw = bytearray(open(path, "rb").read())
    raw[0:4] = (2**31).to_bytes(4, "little")
    open(path, "wb").write(bytes(raw))
    _assert_refused_with_bounded_memory(url)


# ------------------------------------------------------------ confinement
_UNTRUSTED_TARGETS = ["memory://elsewhere", "http://127.0.0.1:9/x.h5", "reference::file:///etc/passwd",
                      "/etc/passwd", "../../outside", "file:///etc/passwd"]


@pytest.mark.parametrize("target", _UNTRUSTED_TARGETS)
def test_external_links_out_of_the_store_are_refused_by_default(tmp_path, target):
    url = str(tmp_path / "d" / "s")
    with dosna_like.File(url, "w") as f:
        f["link"] = dosna_like.ExternalLink(target, "/x")
    with dosna_like.File(url, "r") as f:
        with pytest.raises(PermissionError, match="trust_links"):
            f["link"]


def test_external_links_beside_the_file_still_work(tmp_path):
    with dosna_like.File(str(tmp_path / "other"), "w") as g:
        g["x"] = np.arange(3)
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f["link"] = dosna_like.ExternalLink("other", "/x")
        f["sub"] = dosna_like.ExternalLink("./dir/../other", "/x")
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["link"][:], np.arange(3))
        np.testing.assert_array_equal(f["sub"][:], np.arange(3))


def test_trust_links_opts_in_per_file_and_globally(tmp_path):
    target = str(tmp_path / "far" / "away")
    with dosna_like.File(target, "w") as g:
        g["x"] = np.arange(3)
    url = str(tmp_path / "d" / "s")
    with dosna_like.File(url, "w") as f:
        f["link"] = dosna_like.ExternalLink(target, "/x")
    with dosna_like.File(url, "r", trust_links=True) as f:
        np.testing.assert_array_equal(f["link"][:], np.arange(3))
    config = dosna_like.get_config()
    config.trust_links = True
    try:
        with dosna_like.File(url, "r") as f:
            np.testing.assert_array_equal(f["link"][:], np.arange(3))
    finally:
        config.trust_links = False


def test_a_local_store_never_follows_a_symlink_out_of_its_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "0").write_bytes(np.full(8, 7, dtype="i4").tobytes())
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", shape=(1, 8), chunks=(1, 8), dtype="i4")
    os.makedirs(os.path.join(url, "x", "c"), exist_ok=True)
    os.symlink(outside, os.path.join(url, "x", "c", "0"))
    with dosna_like.File(url, "r+") as f:
        with pytest.raises(PermissionError):
            f["x"][:]
        with pytest.raises(PermissionError):
            f["x"][0] = np.arange(8)
    assert sorted(os.listdir(outside)) == ["0"]


def test_a_symlinked_chunk_file_is_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(np.full(8, 7, dtype="i4").tobytes())
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", shape=(1, 8), chunks=(1, 8), dtype="i4")
    os.makedirs(os.path.join(url, "x", "c", "0"), exist_ok=True)
    os.symlink(secret, os.path.join(url, "x", "c", "0", "0"))
    with dosna_like.File(url, "r") as f:
        with pytest.raises(PermissionError):
            f["x"][:]


# -------------------------------------------------------------------- CLI
@pytest.mark.parametrize("query", [
    "[" * 100000 + "]" * 100000,
    json.dumps(json.loads("{" + '"$and": [{' * 200 + '"a": 1' + "}]" * 200 + "}")),
    '{"$or": 5}', '{"$and": [1, 2]}', '{"a": {"$bogus": 1}}', "{\"a\": {\"$in\": 3}}", "nonsense",
])
def test_the_cli_prints_one_line_for_any_bad_query(tmp_path, capsys, query):
    from dosna_like.cli import main
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.attrs["a"] = 1
    assert main(["search", url, "--query", query]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("dosna-like: error:")


@pytest.mark.parametrize("argv", [["ls", "/no/such/store"], ["info", "memory://nothing-here"],
                                  ["ls", "{URL}", "--storage-options", "[1"], ["ls", "{URL}/../../x"]])
def test_the_cli_prints_one_line_for_bad_paths_and_options(tmp_path, capsys, argv):
    from dosna_like.cli import main
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w"):
        pass
    assert main([a.replace("{URL}", url) for a in argv]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("dosna-like: error:")


def test_query_limits():
    from dosna_like.index.query import compile_query
    with pytest.raises(ValueError, match="deeper"):
        compile_query(json.loads('{"$and": [' * 40 + "{}" + "]}" * 40))
    with pytest.raises(ValueError, match="more than"):
        compile_query({"$or": [{"a": i} for i in range(200_000)]})


@pytest.mark.parametrize("kwargs", [{"fletcher32": True}, {"compression": "gzip"}])
def test_a_flipped_byte_in_a_checked_chunk_raises_naming_the_key(tmp_path, kwargs):
    url = str(tmp_path / "s")
    _make(url, **kwargs)
    path = _chunk_file(url)
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(path, "wb").write(bytes(raw))
    with dosna_like.File(url, "r") as f:
        with pytest.raises(CorruptChunkError, match="x/c/0/0"):
            f["x"][:]
        with pytest.raises(CorruptChunkError, match="x/c/0/0"):
            f["x"][1, 2]


def test_one_damaged_child_document_does_not_hide_its_siblings(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        for name in "abc":
            f.create_group(name)
    with open(os.path.join(url, "b", "zarr.json"), "w") as fh:
        fh.write("{not json")
    with dosna_like.File(url, "r") as f:
        assert list(f) == ["a", "b", "c"]
        assert isinstance(f["a"], dosna_like.Group)
        with pytest.raises(FormatError, match="b/zarr.json"):
            f["b"]


# ------------------------------------------------- integrity by default
# Every chunk written with codecs that check nothing carries Zarr v3's crc32c:
# one flipped byte raises the corruption error naming the chunk on every read
# path (direct preadv reads, the cache, partial reads, batched S3 reads).
_CHECKED_KINDS = {
    "raw": {},
    "blosc": {"compression": "blosc"},
    "zstd": {"compression": "zstd"},
    "lz4": {"compression": "lz4"},
    "shuffle": {"shuffle": True},
}


def _flip_a_byte(f, key: str, where: float = 0.5) -> None:
    raw = bytearray(f.store.get(key))
    raw[int(len(raw) * where)] ^= 0x10
    f.store.set(key, bytes(raw))


@pytest.mark.parametrize("kind", sorted(_CHECKED_KINDS))
@pytest.mark.parametrize("rdcc_nbytes", [0, 2**20], ids=["direct", "cached"])
def test_a_flipped_byte_in_any_default_chunk_raises_naming_the_key(file_url, kind, rdcc_nbytes):
    data = np.arange(4096, dtype="f8").reshape(64, 64)
    with dosna_like.File(file_url, "w") as f:
        # shards=False: the flipped byte is in chunk x/c/1/0's own object
        ds = f.create_dataset("x", data=data, chunks=(32, 32), shards=False, **_CHECKED_KINDS[kind])
        assert ds._meta.codecs[-1] == {"name": "crc32c"} and not ds.fletcher32  # h5py's view: as asked
        _flip_a_byte(f, "x/c/1/0")
    with dosna_like.File(file_url, "r", rdcc_nbytes=rdcc_nbytes) as f:
        ds = f["x"]
        np.testing.assert_array_equal(ds[:32], data[:32])  # the other chunks read right
        for sel in (np.s_[:], np.s_[32:64, 0:32], np.s_[40, 3], np.s_[33:35, 1:30:3], np.s_[[40, 50], :]):
            with pytest.raises(CorruptChunkError, match="x/c/1/0"):
                ds[sel]
        out = np.empty((32, 32))
        with pytest.raises(CorruptChunkError, match="x/c/1/0"):
            ds.read_direct(out, np.s_[32:64, 0:32])


def test_a_flipped_byte_in_a_string_chunk_raises_naming_the_key(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("x", data=np.array(["alpha", "beta", "gamma", "delta"] * 4, dtype=object),
                         dtype=h5py.string_dtype(), chunks=(8,))
        for where in (0.2, 0.5, 0.9):
            raw = bytearray(f.store.get("x/c/1"))
            raw[int(len(raw) * where)] ^= 0x01
            f.store.set("x/c/0", bytes(raw))
            with dosna_like.File(file_url, "r") as g:
                with pytest.raises(CorruptChunkError, match="x/c/0"):
                    g["x"][:]


def test_the_checksum_covers_the_trailer_and_a_truncated_chunk(tmp_path):
    url = str(tmp_path / "s")
    data = _make(url)
    path = _chunk_file(url)
    raw = open(path, "rb").read()
    assert len(raw) == data.nbytes + 4
    for damaged in (raw[:-1], raw[:-4], raw[:-1] + bytes([raw[-1] ^ 1]), raw + b"\0"):
        open(path, "wb").write(damaged)
        for rdcc in (0, 2**20):
            with dosna_like.File(url, "r", rdcc_nbytes=rdcc) as f:
                with pytest.raises(CorruptChunkError, match="x/c/0/0"):
                    f["x"][:]


def test_direct_writes_store_the_checksum_zarr_python_checks(tmp_path):
    import zarr
    url = str(tmp_path / "s")
    data = np.random.default_rng(1).random((256, 300))
    with dosna_like.File(url, "w", rdcc_nbytes=0) as f:
        ds = f.create_dataset("x", shape=data.shape, dtype="f8", chunks=(128, 150))
        assert ds._io.reads_direct  # whole chunks go through pwritev, with their checksum
        ds[...] = data
    np.testing.assert_array_equal(zarr.open_group(url, mode="r")["x"][...], data)
    path = os.path.join(url, "x", "c", "1", "1")
    raw = bytearray(open(path, "rb").read())
    raw[100] ^= 1
    open(path, "wb").write(bytes(raw))
    with pytest.raises(Exception, match="checksum"):
        zarr.open_group(url, mode="r")["x"][...]


@pytest.mark.parametrize("kind", ["raw", "blosc", "zstd", "strings"])
def test_zarr_python_reads_and_checks_the_default_layout(tmp_path, kind):
    import zarr
    url = str(tmp_path / "s")
    if kind == "strings":
        data = np.array(["a", "bb", "ccc", ""] * 8, dtype=object)
        kwargs = {"dtype": h5py.string_dtype()}
    else:
        data = np.arange(32 * 8, dtype="i4").reshape(32, 8)
        kwargs = _CHECKED_KINDS[kind]
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=(16,) + data.shape[1:], **kwargs)
    got = zarr.open_group(url, mode="r")["x"][...]
    np.testing.assert_array_equal(got.astype(object) if kind == "strings" else got, data)
    doc = json.load(open(os.path.join(url, "x", "zarr.json")))
    assert doc["codecs"][-1] == {"name": "crc32c"}


def test_the_checksum_opt_out_writes_zarr_pythons_plain_layout(tmp_path):
    url = str(tmp_path / "s")
    data = np.arange(64, dtype="i4").reshape(8, 8)
    config = dosna_like.get_config()
    with dosna_like.File(url, "w") as f:
        f.create_dataset("off", data=data, chunks=(8, 8), checksum=False)
        f.create_dataset("fletcher", data=data, chunks=(8, 8), fletcher32=True)
        f.create_dataset("gzip", data=data, chunks=(8, 8), compression="gzip")  # gzip checks its own CRC-32
        config.chunk_checksum = False
        try:
            f.create_dataset("global-off", data=data, chunks=(8, 8))
        finally:
            config.chunk_checksum = True
    with dosna_like.File(url, "r") as f:
        assert [c["name"] for c in f["off"]._meta.codecs] == ["bytes"]
        assert [c["name"] for c in f["global-off"]._meta.codecs] == ["bytes"]
        assert [c["name"] for c in f["fletcher"]._meta.codecs] == ["bytes", "crc32c"] and f["fletcher"].fletcher32
        assert [c["name"] for c in f["gzip"]._meta.codecs] == ["bytes", "gzip"]
    assert open(os.path.join(url, "off", "c", "0", "0"), "rb").read() == data.tobytes()


def test_h5py_sees_no_filter_for_the_default_checksum(tmp_path):
    url, out = str(tmp_path / "s"), str(tmp_path / "out.h5")
    data = np.arange(64, dtype="i4").reshape(8, 8)
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=data, chunks=(4, 8))
    with h5py.File(str(tmp_path / "ref.h5"), "w") as f:
        ref = f.create_dataset("x", data=data, chunks=(4, 8))
        assert (ref.fletcher32, ref.compression, ref.shuffle) == (False, None, False)
    with dosna_like.File(url, "r") as f:
        assert (f["x"].fletcher32, f["x"].compression, f["x"].shuffle) == (False, None, False)
    report = dosna_like.export_hdf5(url, out, progress=False)
    assert report.raw_chunks == 2  # checked, then moved without decoding
    with h5py.File(out, "r") as f:
        assert not f["x"].fletcher32 and f["x"].compression is None
        np.testing.assert_array_equal(f["x"][...], data)


def test_a_damaged_chunk_is_not_exported_as_it_is(tmp_path):
    url = str(tmp_path / "s")
    _make(url)
    path = _chunk_file(url)
    raw = bytearray(open(path, "rb").read())
    raw[3] ^= 1
    open(path, "wb").write(bytes(raw))
    with pytest.raises(CorruptChunkError, match="x/c/0/0"):
        dosna_like.export_hdf5(url, str(tmp_path / "out.h5"), progress=False)


# ------------------------------------------------------- bounded decoding
# A small chunk that inflates far past its declared size is refused with memory
# bounded far below what it would inflate to, for every codec (the long
# version, 1 KiB-ish chunks inflating to 1 GiB measured by RSS, is
# scripts/reliability/corruption_catalogue.py).
_BOMB = 128 * 2**20


def _deflate_bomb(wbits: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(2**20)
    return b"".join(comp.compress(block) for _ in range(_BOMB // len(block))) + comp.flush()


def _stream_bomb(comp) -> bytes:
    block = bytes(2**20)
    return b"".join(comp.compress(block) for _ in range(_BOMB // len(block))) + comp.flush()


def zstd_rle_frame(nbytes: int, content_size: bool) -> bytes:
    """A zstd frame of ``nbytes`` zeros (scripts/reliability/corruption_catalogue.py)."""
    return _catalogue().zstd_rle_frame(nbytes, content_size)


def _bombs():
    import bz2
    import lzma
    import numcodecs
    return {
        "gzip": ({"compression": "gzip"}, lambda: _deflate_bomb(31)),
        "zlib": ({"compression": numcodecs.Zlib(1)}, lambda: _deflate_bomb(15)),
        "zstd-sized": ({"compression": "zstd"}, lambda: zstd_rle_frame(_BOMB, True)),
        "zstd-unsized": ({"compression": "zstd"}, lambda: zstd_rle_frame(_BOMB, False)),
        "bz2": ({"compression": numcodecs.BZ2(1)}, lambda: _stream_bomb(bz2.BZ2Compressor(1))),
        "lzma": ({"compression": numcodecs.LZMA(preset=0)}, lambda: _stream_bomb(lzma.LZMACompressor(preset=0))),
        "lz4": ({"compression": "lz4"}, lambda: (2**31 - 1).to_bytes(4, "little") + b"\x1f\0\x01\0" * 8),
    }


@pytest.mark.parametrize("checksum", [True, False], ids=["checked", "plain"])
@pytest.mark.parametrize("codec", ["gzip", "zlib", "zstd-sized", "zstd-unsized", "bz2", "lzma", "lz4"])
def test_every_codec_refuses_a_bomb_with_bounded_memory(tmp_path, codec, checksum):
    from dosna_like.codecs.runtime import Crc32cRuntime
    kwargs, build = _bombs()[codec]
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        ds = f.create_dataset("x", data=np.arange(64, dtype="i4").reshape(8, 8), chunks=(8, 8),
                              checksum=checksum, **kwargs)
        payload = build()
        if ds._io.codec.checksum is not None:  # a valid checksum: the decompressor must hold
            payload = bytes(Crc32cRuntime().encode(payload))
        f.store.set("x/c/0/0", payload)
    _assert_refused_with_bounded_memory(url)


def test_a_zstd_frame_without_a_content_size_still_reads(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", shape=(1024,), dtype="u1", chunks=(1024,), compression="zstd", checksum=False)
        f.store.set("x/c/0", zstd_rle_frame(1024, False))  # what a streaming writer stores
        f.create_dataset("y", data=np.ones(1024, "u1"), chunks=(1024,), compression="zstd", checksum=False)
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["x"][:], np.zeros(1024, "u1"))
        f["y"][:]


# ------------------------------------------------------------ crash safety
def _reliability_script(name: str):
    """The module of ``scripts/reliability/<name>.py``, whose long version these tests run quickly."""
    path = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "reliability", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _crash_trials():
    return _reliability_script("crash_trials")


def test_kill_9_trials(tmp_path):
    """The quick version of scripts/reliability/crash_trials.py: a writer, a
    creator, a deleter, File(path, "w") and an appender killed at random points."""
    report = _crash_trials().run_trials(1, seed=int.from_bytes(os.urandom(2), "little"), workdir=str(tmp_path))
    assert report["summary"]["trials"] == 5
    assert [r["problems"] for r in report["trials"]] == [[]] * 5, report["trials"]


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_replacing_w_killed_or_cut_off_anywhere_leaves_old_new_empty_or_a_clear_error(kind, tmp_path, request):
    """File(url, "w") over an old store, SIGKILLed before each of several removals (and cut off
    by an outage once): the old file whole, the new one, an empty store, or a clear OSError in
    every mode but "w"; never a dataset reading the fill value; "w" always works afterwards."""
    script = _crash_trials()
    opts = request.getfixturevalue("s3_server").storage_options if kind == "s3" else None
    base = f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:10]}" if kind == "s3" else str(tmp_path)
    found = {point: script.replace_interrupted(f"{base}/kill-{point}", point, "kill", opts)
             for point in script.REPLACE_POINTS[kind]}
    found["outage"] = script.replace_interrupted(f"{base}/outage", script.REPLACE_POINTS[kind][3], "outage", opts)
    assert found == {point: [] for point in found}, found


def test_the_replace_checker_finds_old_datasets_reading_fill(tmp_path):
    """The harness's own check fails on what an unordered delete could leave: the old root and
    a dataset's document still there, some of its chunks gone."""
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        for name in ("d0", "d1", "g/d2"):
            f.create_dataset(name, data=np.full((256, 256), 7), chunks=(32, 32))
        f.store.delete_many(["d1/c/0/0", "d1/c/3/5"])
    problems = _crash_trials().check_replaced(url)
    assert any(p.startswith("d1 reads") for p in problems), problems


def test_the_crash_checker_finds_resurfacing_chunks(tmp_path):
    """The harness's own check fails on a store where a dead create's chunks would show."""
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        for name in ("d0", "d1", "g/d2"):
            f.create_dataset(name, data=np.full((256, 256), 7), chunks=(32, 32))
    # what the previous version left: the document gone, the chunks still there
    os.remove(os.path.join(url, "d1", "zarr.json"))
    from dosna_like.hl.state import FileState
    original = FileState._clear_leftovers
    FileState._clear_leftovers = lambda self, path: None
    try:
        problems = _crash_trials().check_store("create", url)
    finally:
        FileState._clear_leftovers = original
    assert any("resurfaced" in p for p in problems)


def test_leftovers_of_a_killed_create_never_show_through(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_group("g")
    # what a file made in this process holds is known (nothing else is stored there):
    # leftovers come from a writer killed in an earlier session
    with dosna_like.File(file_url, "a") as f:
        # chunks of a create killed before its document, and a deleted group's child
        f.store.set("x/c/0/0", np.full((4, 4), 9, "i4").tobytes())
        f.store.set("g/y/c/0", np.full(4, 9, "i4").tobytes())
        f.store.set("h/z/zarr.json", f.store.get("g/zarr.json"))
        x = f.create_dataset("x", shape=(8, 8), dtype="i4", chunks=(4, 4), checksum=False)
        np.testing.assert_array_equal(x[...], np.zeros((8, 8)))
        y = f["g"].create_dataset("y", shape=(8,), dtype="i4", chunks=(4,), checksum=False)
        np.testing.assert_array_equal(y[...], np.zeros(8))
        f.create_group("h")
        assert list(f["h"]) == []  # the dead group's child does not come back


def test_a_deleted_node_goes_document_first(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_dataset("x", data=np.arange(16), chunks=(4,))
        store = f.store
        order = []
        original = store._delete_many
        store._delete_many = lambda keys: (order.append(list(keys)), original(keys))[1]
        del f["x"]
        assert order[0] == ["x/zarr.json"]
        assert "x" not in f


def test_names_that_look_internal_are_ordinary_names(file_url):
    with dosna_like.File(file_url, "w") as f:
        f.create_group("x.partial").create_dataset("d.partial", data=[1, 2])
        f.create_dataset("y.partial", data=np.arange(3))
        with pytest.raises(ValueError, match="reserved"):
            f.create_group("_dosna_like_index.json.gz")
    with dosna_like.File(file_url, "r") as f:
        assert sorted(f) == ["x.partial", "y.partial"]
        assert list(f["x.partial"]) == ["d.partial"]
        visited = []
        f.visit(visited.append)
        assert sorted(visited) == ["x.partial", "x.partial/d.partial", "y.partial"]


def test_temporary_files_of_dead_writers_are_cleaned(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=np.arange(16), chunks=(4,))
    folder = os.path.join(url, "x", "c")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = [os.path.join(folder, f"0.{dead}-0123456789abcdef.partial"), os.path.join(folder, "1.0a1b.partial")]
    live = os.path.join(folder, f"2.{os.getpid()}-0123456789abcdef.partial")
    for path in stale + [live]:
        open(path, "wb").write(b"half a chunk")
    with dosna_like.File(url, "r+") as f:
        f["x"][0] = 5
    assert not any(os.path.exists(p) for p in stale)
    assert os.path.exists(live)  # its writer (this process) may still rename it


def test_w_over_a_store_leaves_nothing_behind(tmp_path):
    url = str(tmp_path / "s")
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", data=np.arange(16), chunks=(4,))
        f.create_group("g").attrs["a"] = 1
    with dosna_like.File(url, "w") as f:
        assert list(f) == []
        f.create_dataset("x", shape=(16,), dtype="i8", chunks=(4,))
        np.testing.assert_array_equal(f["x"][...], np.zeros(16))
    assert os.listdir(tmp_path) == ["s"]


# ------------------------------------------------------ corruption catalogue
def _catalogue():
    return _reliability_script("corruption_catalogue")


def test_the_corruption_catalogue_finds_no_silent_or_unclear_case(tmp_path):
    """The quick version of scripts/reliability/corruption_catalogue.py (its
    bombs are test_every_codec_refuses_a_bomb_with_bounded_memory)."""
    catalogue = _catalogue()
    results = catalogue.chunk_cases(str(tmp_path), ["default", "blosc", "zstd", "strings"])
    results += catalogue.document_cases(str(tmp_path))
    bad = [r for r in results if r["outcome"] not in ("error", "right")]
    assert bad == []
    assert sum(r["outcome"] == "error" for r in results) > len(results) * 0.9


def test_the_catalogue_classifier_catches_a_planted_silent_corruption(tmp_path):
    catalogue = _catalogue()
    results = catalogue.chunk_cases(str(tmp_path), ["plain"])  # no checksum: a flipped byte reads wrong
    outcomes = {r["case"]: r["outcome"] for r in results}
    assert outcomes["chunk plain flip-middle-byte rdcc=0"] == "silent"
    assert outcomes["chunk plain truncate-1 rdcc=0"] == "error"


_ROWS = """
import sys, numpy as np, dosna_like
first = int(sys.argv[2])
with dosna_like.File(sys.argv[1], "r+") as f:
    ds = f["x"]
    for k in range(15):
        for r in range(first, 32, 2):
            ds[r] = np.full(16, k * 1000 + r)
"""


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_processes_writing_disjoint_rows_of_shared_chunks_lose_nothing(tmp_path, kind, request):
    url = str(tmp_path / "s")
    if kind == "s3":  # the endpoint's address is in the environment the writers inherit
        request.getfixturevalue("s3_server")
        url = f"s3://{S3_BUCKET}/rows-{os.urandom(6).hex()}"
    with dosna_like.File(url, "w") as f:
        f.create_dataset("x", shape=(32, 16), chunks=(8, 16), dtype="i8")
    procs = [subprocess.Popen([sys.executable, "-c", _ROWS, url, str(first)]) for first in (0, 1)]
    for p in procs:
        assert p.wait() == 0
    with dosna_like.File(url, "r") as f:
        np.testing.assert_array_equal(f["x"][:], [[14 * 1000 + r] * 16 for r in range(32)])


def test_the_append_checker_finds_lost_or_wrong_rows():
    """The harness's own check of a killed append: it fails when a flushed row was lost
    or an unflushed row holds values never written, and passes what the guarantee allows."""
    check = _crash_trials().check_appended
    rows = np.arange(1, 101)[:, None] * np.ones(4, dtype="i8")
    lost_tail = rows.copy()
    lost_tail[70:] = 0  # unflushed rows read as the fill value: allowed
    assert check(rows, 60) == [] and check(lost_tail, 60) == []
    assert check(lost_tail, 80), "a flushed row reading fill must be found"
    wrong = rows.copy()
    wrong[90, 2] = 5
    assert check(wrong, 60), "a row holding values never written must be found"
    assert check(rows[:50], 60), "fewer rows than were flushed must be found"
