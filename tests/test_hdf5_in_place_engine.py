"""HDF5 files in place through the engine's fast paths (issue 13): values and dtypes as h5py's.

Every layout and filter the engine decodes itself (uncompressed chunks read
straight into the output, deflate and shuffle decoded into it, LZF, fletcher32,
chunks HDF5 stored with a filter skipped), partial edge chunks, fill values,
empty datasets; szip's options; variable-length and fixed-length strings.
Each is compared with h5py reading the same file.
"""
from __future__ import annotations

import io
import uuid
import warnings

import fsspec
import h5py
import numcodecs
import numpy as np
import pytest

import dosna_like
from dosna_like.codecs import lzf
from dosna_like.codecs.shuffle import unshuffle_into
from dosna_like.storage.hdf5_refs import Hdf5FallbackWarning, stored_chunks

S3_BUCKET = "dosna-tests"
SHAPE = (37, 29, 5)  # no chunk shape below divides it: partial chunks at every edge
DTYPES = ["i1", "<u2", ">i4", "<f4", ">f8", "c8"]
FILTERS = {
    "none": {},
    "gzip": {"compression": "gzip", "compression_opts": 6},
    "shuffle": {"shuffle": True},
    "gzip_shuffle": {"compression": "gzip", "shuffle": True},
    "fletcher32": {"fletcher32": True},
    "gzip_shuffle_fletcher32": {"compression": "gzip", "shuffle": True, "fletcher32": True},
    "lzf": {"compression": "lzf"},
    "lzf_shuffle": {"compression": "lzf", "shuffle": True},
}


def _values(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(3)
    base = np.add.outer(np.arange(SHAPE[0]), np.arange(SHAPE[1]))[:, :, None] % 11 + rng.integers(0, 4, SHAPE)
    return (base * (1 + 1j) if np.dtype(dtype).kind == "c" else base).astype(dtype)


def _write_layouts(path: str) -> list:
    """Every dtype with every filter (chunks (8, 6, 5)) and the unfiltered layouts; returns the names."""
    names = []
    with h5py.File(path, "w") as f:
        for dtype in DTYPES:
            data = _values(dtype)
            for name, filters in FILTERS.items():
                f.create_dataset(f"{name}/{dtype}", data=data, chunks=(8, 6, 5), **filters)
                names.append(f"{name}/{dtype}")
            f.create_dataset(f"contiguous/{dtype}", data=data)
            f.create_dataset(f"one_chunk/{dtype}", data=data, chunks=SHAPE)
            names += [f"contiguous/{dtype}", f"one_chunk/{dtype}"]
        # fill values: chunks never written read as the fill value
        for name, filters in (("fill_none", {}), ("fill_gzip", {"compression": "gzip"}),
                              ("fill_lzf", {"compression": "lzf", "shuffle": True})):
            ds = f.create_dataset(name, shape=(50, 40), chunks=(16, 16), dtype="i4", fillvalue=-9, **filters)
            ds[3:20, 30:40] = 5
            names.append(name)
        f.create_dataset("unwritten_contiguous", shape=(20,), dtype="f8", fillvalue=np.nan)
        f.create_dataset("empty", data=h5py.Empty("f4"))
        f.create_dataset("zero_size", shape=(0, 4), maxshape=(None, 4), chunks=(2, 2), dtype="i2", compression="gzip")
        f.create_dataset("scalar", data=np.float64(1.25))
        names += ["unwritten_contiguous", "empty", "zero_size", "scalar"]
        # LZF cannot shrink random bytes: HDF5 stores those chunks unfiltered, with a filter mask
        noise = np.random.default_rng(5).integers(-2**63, 2**63 - 1, (64, 16), dtype="<i8")
        noise[:16] = 0
        f.create_dataset("masked_lzf", data=noise, chunks=(16, 16), compression="lzf")
        f.create_dataset("masked_lzf_shuffle", data=noise, chunks=(16, 16), compression="lzf", shuffle=True,
                         fletcher32=True)
        names += ["masked_lzf", "masked_lzf_shuffle"]
    return names


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> tuple:
    path = str(tmp_path_factory.mktemp("engine") / "layouts.h5")
    return path, _write_layouts(path)


def _same(ours, theirs, where: str) -> None:
    assert ours.shape == theirs.shape, where
    assert ours.dtype == theirs.dtype, where
    if theirs.shape is None:
        return
    a, b = ours[()], theirs[()]
    assert type(a) is type(b), where
    assert np.asarray(a).dtype == np.asarray(b).dtype, where
    assert np.array_equal(a, b, equal_nan=np.asarray(b).dtype.kind in "fc"), where
    if theirs.ndim and theirs.shape[0] > 2:
        for key in (np.s_[1:-1], np.s_[::3], np.s_[-1], np.s_[2:9, ..., :1] if theirs.ndim > 1 else np.s_[4:]):
            x, y = ours[key], theirs[key]
            assert np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(
                x, y, equal_nan=np.asarray(y).dtype.kind in "fc"), (where, key)


def test_every_layout_and_filter_equals_h5py_without_falling_back(layouts):
    path, names = layouts
    with warnings.catch_warnings():
        warnings.simplefilter("error", Hdf5FallbackWarning)  # everything here is decoded by the engine
        with dosna_like.File(path, "r") as ours, h5py.File(path, "r") as theirs:
            kinds = {name: ours.store.refmap["refs"][name]["kind"] for name in names}
            assert "h5py" not in kinds.values(), kinds
            for name in names:
                _same(ours[name], theirs[name], name)
                if theirs[name].shape:
                    assert (ours[name].compression, ours[name].compression_opts, ours[name].shuffle,
                            ours[name].fletcher32) == (theirs[name].compression, theirs[name].compression_opts,
                                                       theirs[name].shuffle, theirs[name].fletcher32), name
                    assert (ours[name].filter_ids, ours[name].filter_names) == \
                        (theirs[name].filter_ids, theirs[name].filter_names), name


def test_the_masked_chunks_are_exercised(layouts):
    """The precondition of the masked cases: HDF5 did skip LZF for some chunks."""
    path, _ = layouts
    with h5py.File(path, "r") as f:
        for name in ("masked_lzf", "masked_lzf_shuffle"):
            masks = [r.filter_mask for r in stored_chunks(f[name])]
            assert any(masks) and not all(masks), (name, masks)
    with dosna_like.File(path, "r") as ours:
        assert ours.store.refmap["refs"]["masked_lzf"].get("masks")


def test_chunks_bigger_than_the_cache_decode_into_the_output(tmp_path):
    """Chunks bigger than the chunk cache, and contiguous data: uncompressed ones are
    read with preadv into the output, compressed ones decoded through a per-thread
    buffer (no chunk cache); edge chunks and partial selections too."""
    path = str(tmp_path / "direct.h5")
    data = np.random.default_rng(7).integers(0, 50, (600, 200, 16)).astype("<f4")
    with h5py.File(path, "w") as f:
        f.create_dataset("chunked", data=data.astype(">f4"), chunks=(256, 100, 16))  # 1.6 MB, edge cut
        f.create_dataset("contiguous", data=data.astype("f8"))
        f.create_dataset("gzip_shuffle", data=data, chunks=(256, 100, 16), compression="gzip", shuffle=True)
        f.create_dataset("lzf_shuffle", data=data.astype("i8"), chunks=(256, 100, 16), compression="lzf",
                         shuffle=True)
    with dosna_like.File(path, "r") as ours, h5py.File(path, "r") as theirs:
        for name in ("chunked", "contiguous", "gzip_shuffle", "lzf_shuffle"):
            io_ = ours[name]._io
            assert io_.reads_direct if "shuffle" not in name else not io_._caches_chunks, name
            _same(ours[name], theirs[name], name)
            for key in (np.s_[100:590, 3:150], np.s_[255:257], np.s_[:, :, 2], np.s_[599], np.s_[:512, :100]):
                x, y = ours[name][key], theirs[name][key]
                assert x.dtype == y.dtype and np.array_equal(x, y), (name, key)
            out = np.empty((600, 200, 16), dtype=theirs[name].dtype)
            ours[name].read_direct(out)
            assert np.array_equal(out, theirs[name][()])


def test_same_through_bytesio_memory_and_s3(layouts, s3_server):
    path, names = layouts
    raw = open(path, "rb").read()
    memory = f"memory://hdf5/{uuid.uuid4().hex}.h5"
    fsspec.filesystem("memory").pipe_file(memory, raw)
    s3 = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
    fsspec.filesystem("s3").pipe_file(s3, raw)
    picked = [n for n in names if n.endswith("<f4") or n.startswith(("fill", "masked", "empty", "zero"))]
    with h5py.File(path, "r") as theirs:
        for source in (io.BytesIO(raw), memory, s3):
            with dosna_like.File(source, "r") as ours:
                for name in picked:
                    _same(ours[name], theirs[name], f"{source}: {name}")


def test_s3_runs_of_touching_chunks_are_one_request_each(tmp_path, s3_server):
    from dosna_like.storage.registry import filesystem_for
    from tests.conftest import HttpCounter

    path = str(tmp_path / "runs.h5")
    data = _values("<f4")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(8, 6, 5), compression="lzf", shuffle=True)
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
    fs = fsspec.filesystem("s3")
    fs.put_file(path, url)
    with dosna_like.File(url, "r") as f:
        counter = HttpCounter(filesystem_for(url)[0].fs)  # the s3fs instance the file is read through
        values = f["x"][()]
        read = counter.take()
    assert np.array_equal(values, data)
    assert read == {"GET": 1}, read  # 30 chunks written back to back: one run


@pytest.mark.parametrize("cap", [None, 1, 3])
def test_s3_requests_per_read_cap_sets_the_runs_and_reads_as_h5py(tmp_path, s3_server, monkeypatch, cap):
    from dosna_like.storage import hdf5_ranges
    from dosna_like.storage.registry import filesystem_for
    from tests.conftest import HttpCounter

    path = str(tmp_path / "cap.h5")
    data = _values("<f4")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(8, 6, 5), compression="gzip", shuffle=True)
        sizes = [r.size for r in stored_chunks(f["x"])]
    url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
    fsspec.filesystem("s3").put_file(path, url)
    limit = 3 * max(sizes)  # runs of about 3 chunks without a cap
    monkeypatch.setattr(hdf5_ranges, "MERGE_LIMIT", limit)
    monkeypatch.setattr(dosna_like.get_config(), "hdf5_requests_per_read", cap)
    with dosna_like.File(url, "r") as f, h5py.File(path, "r") as theirs:
        counter = HttpCounter(filesystem_for(url)[0].fs)
        values = f["x"][()]
        read = counter.take()
        assert np.array_equal(values, theirs["x"][()])
        part = f["x"][3:11]  # the chunks of two rows of the chunk grid only
        assert np.array_equal(part, theirs["x"][3:11])
    runs, size = [], 0  # what the runs must be: touching chunks, each run at most its limit
    for s in sizes:
        if runs and size + s <= (limit if cap is None else max(limit, -(-sum(sizes) // cap))):
            size += s
        else:
            runs.append(s)
            size = s
    assert read == {"GET": len(runs)}, (read, len(runs))
    if cap is None:
        assert len(runs) > 4  # the cap is what cuts the requests
    else:
        assert len(runs) <= cap + (cap > 1)  # "about": whole chunks fill the runs greedily


@pytest.mark.skipif(not h5py.h5z.filter_avail(h5py.h5z.FILTER_SZIP)
                    or not h5py.h5z.get_filter_info(h5py.h5z.FILTER_SZIP) & h5py.h5z.FILTER_CONFIG_ENCODE_ENABLED,
                    reason="this h5py's HDF5 cannot write szip")
@pytest.mark.parametrize("opts", [None, ("ec", 16), ("nn", 32)])
def test_szip_options_and_values_as_h5py(tmp_path, opts):
    path = str(tmp_path / "szip.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(4000, dtype="i4").reshape(100, 40), chunks=(20, 40),
                         compression="szip", compression_opts=opts)
    with dosna_like.File(path, "r") as ours, h5py.File(path, "r") as theirs:
        assert ours["x"].compression == theirs["x"].compression == "szip"
        assert ours["x"].compression_opts == theirs["x"].compression_opts
        assert isinstance(ours["x"].compression_opts, tuple)
        assert (ours["x"].filter_ids, ours["x"].filter_names) == (theirs["x"].filter_ids, theirs["x"].filter_names)
        with pytest.warns(Hdf5FallbackWarning):
            _same(ours["x"], theirs["x"], "szip")


def test_strings_as_h5py(tmp_path):
    path = str(tmp_path / "strings.h5")
    text, raw = h5py.string_dtype(), h5py.string_dtype("ascii")
    with h5py.File(path, "w") as f:
        f["scalar_str"] = "héllo"
        f.create_dataset("scalar_bytes", data=b"bytes", dtype=raw)
        f.create_dataset("str_1d", data=["a", "bé", ""], dtype=text)
        f.create_dataset("bytes_1d", data=[b"a", b"bb"], dtype=raw)
        f.create_dataset("str_2d", data=np.array([["x", "yé"], ["", "zzz"]], dtype=object), dtype=text,
                         chunks=(1, 2))
        f.create_dataset("str_unwritten", shape=(3,), dtype=text)
        f.create_dataset("scalar_unwritten", shape=(), dtype=text)
        f.create_dataset("fixed", data=np.array([b"ab", b"c"], dtype="S3"))
        f.create_dataset("fixed_utf8", data=np.array(["é".encode(), b"ab"], dtype=h5py.string_dtype("utf-8", 4)))
        f["fixed_scalar"] = np.bytes_(b"xyz")
        f.create_dataset("vlen_ints", data=np.array([np.arange(3), np.arange(1)], dtype=object),
                         dtype=h5py.vlen_dtype("i4"))
        f.create_dataset("vlen_scalar", shape=(), dtype=h5py.vlen_dtype("f8"))[()] = np.arange(3.0)
    for source in (path, io.BytesIO(open(path, "rb").read())):
        with warnings.catch_warnings():
            warnings.simplefilter("error", Hdf5FallbackWarning)  # types go through h5py quietly
            with dosna_like.File(source, "r") as ours, h5py.File(path, "r") as theirs:
                for name in theirs:
                    a, b = ours[name], theirs[name]
                    assert a.dtype == b.dtype and a.shape == b.shape, name
                    assert h5py.check_string_dtype(a.dtype) == h5py.check_string_dtype(b.dtype), name
                    for key in ((), Ellipsis):
                        x, y = a[key], b[key]
                        assert type(x) is type(y), (name, key, x, y)
                        if name == "vlen_ints":
                            assert [list(v) for v in x] == [list(v) for v in y]
                        elif name == "vlen_scalar":  # () gives the sequence, ... a 0-d object array holding it
                            assert x.dtype == y.dtype and x.shape == y.shape, (name, key)
                            assert np.array_equal(x if key == () else x[()], y if key == () else y[()]), name
                        else:
                            assert np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(x, y), (name, key)
                    if h5py.check_string_dtype(b.dtype) is not None:
                        x, y = a.asstr()[()], b.asstr()[()]
                        assert type(x) is type(y) and np.array_equal(x, y), name
                    else:
                        with pytest.raises(TypeError):
                            b.asstr()
                        with pytest.raises(TypeError):
                            a.asstr()


# ------------------------------------------------------------- the codecs
def test_lzf_bare_streams_decode_into_a_destination_and_refuse_damage():
    data = np.arange(5000, dtype="<i4") % 17
    stream = lzf.compress(data, header=False)
    out = np.empty(data.nbytes, np.uint8)
    lzf.decompress_into(stream, out)
    assert np.array_equal(out.view("<i4"), data)
    runtime = lzf.LzfRuntime(header=False)
    assert np.array_equal(np.frombuffer(runtime.decode(stream, data.nbytes), "<i4"), data)
    with pytest.raises(ValueError):
        lzf.decompress_into(stream[:-3], out)  # truncated
    with pytest.raises(ValueError):
        lzf.decompress_into(stream, np.empty(data.nbytes - 1, np.uint8))  # more than the room
    with pytest.raises(ValueError):
        lzf.decompress_into(stream, np.empty(data.nbytes + 1, np.uint8))  # less than the chunk
    with pytest.raises(ValueError):
        lzf.decompress_into(b"\xff" * 40, out)  # not a stream
    framed = lzf.compress(data)  # the project's own chunks: size header, then the stream
    assert framed[4:] == stream and np.array_equal(np.frombuffer(lzf.decompress(framed, data.nbytes), "<i4"), data)
    with pytest.raises(ValueError):
        lzf.LzfRuntime().decode_into(framed, np.empty(data.nbytes * 2, np.uint8))


@pytest.mark.parametrize("elementsize", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("nbytes", [0, 16, 4096, 4099])
def test_unshuffle_into_equals_numcodecs_and_hdf5(elementsize, nbytes):
    data = np.random.default_rng(elementsize).integers(0, 256, nbytes, dtype=np.uint8)
    whole = nbytes // elementsize * elementsize
    shuffled = np.concatenate([np.frombuffer(numcodecs.Shuffle(elementsize).encode(data[:whole]), np.uint8),
                               data[whole:]])  # HDF5 leaves the bytes of a partial element as they are
    out = np.empty(nbytes, np.uint8)
    unshuffle_into(shuffled, out, elementsize)
    assert np.array_equal(out, data)
    with pytest.raises(ValueError):
        unshuffle_into(shuffled, np.empty(nbytes + 1, np.uint8), elementsize)



@pytest.mark.parametrize("dtype", ["<i2", ">f4", "<f8", "c16"])
@pytest.mark.parametrize("where, shape", [(np.s_[2:7, 3:9], (12, 16)), (np.s_[9:4:-1, 1:13:2], (12, 16)),
                                          (np.s_[::-1, ::3], (12, 16)),
                                          # rows of more than a slab (128 KiB), an uneven last slab
                                          (np.s_[6:1:-1, 1:, 2:-1], (7, 90, 300)),
                                          (np.s_[1:, 3:250, ::2], (40, 260, 100))])
def test_unshuffle_into_a_strided_place_of_a_larger_array(dtype, where, shape):
    """A chunk decodes straight into its place in the output: any strides, the bytes of each
    item gathered from the lanes as HDF5's shuffle laid them out, a slab of rows at a time."""
    big = np.zeros(shape, dtype)
    dest = big[where]
    values = np.random.default_rng(1).integers(-1000, 1000, dest.shape).astype(dtype)
    shuffled = numcodecs.Shuffle(np.dtype(dtype).itemsize).encode(np.ascontiguousarray(values))
    expected = big.copy()
    expected[where] = values
    unshuffle_into(shuffled, dest, np.dtype(dtype).itemsize)
    assert np.array_equal(big, expected)  # the place written, nothing around it
    with pytest.raises(ValueError):
        unshuffle_into(bytes(shuffled) + b"x", dest, np.dtype(dtype).itemsize)


@pytest.mark.parametrize("store", ["local", "s3"])
def test_shuffled_chunks_decoded_into_their_place_read_as_h5py(tmp_path, store, request):
    """Chunks (gzip + shuffle) whose place in the output is not contiguous decode straight
    into it; every selection equals h5py's (edges, steps, reversed order through numpy)."""
    path = str(tmp_path / "places.h5")
    rng = np.random.default_rng(8)
    data = (np.add.outer(np.arange(70), np.arange(50))[:, :, None] + rng.integers(0, 9, (70, 50, 6))).astype(">f4")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(16, 8, 6), compression="gzip", shuffle=True)
        f.create_dataset("c", data=data[..., :2].astype("c8"), chunks=(8, 16, 2), compression="gzip", shuffle=True)
    url = path
    if store == "s3":
        request.getfixturevalue("s3_server")
        url = f"s3://{S3_BUCKET}/{uuid.uuid4().hex}.h5"
        fsspec.filesystem("s3").put_file(path, url)
    picks = [np.s_[...], np.s_[16:48], np.s_[:, 8:40], np.s_[3:67, 5:45:1, 1:5], np.s_[::2, ::3], np.s_[32:48, 16:24]]
    with dosna_like.File(url, "r", rdcc_nbytes=0) as ours, h5py.File(path, "r") as theirs:
        for name in ("x", "c"):
            for pick in picks:
                got, want = ours[name][pick], theirs[name][pick]
                assert got.dtype == want.dtype and np.array_equal(got, want), (name, pick)



def test_a_copy_of_a_file_read_in_place_holds_its_data(layouts, tmp_path):
    """copy_store walks the store's keys: an HDF5 file read in place lists its chunks
    (they once listed documents only, and the copy read back as fill values)."""
    path, names = layouts
    extra = str(tmp_path / "fallback.h5")
    with h5py.File(extra, "w") as f:  # datasets read through h5py: chunked, contiguous, compact
        f.create_dataset("vstr", data=np.array([str(i) * (i % 7) for i in range(5000)], dtype=object),
                         dtype=h5py.string_dtype())
        seqs = np.empty(40, dtype=object)
        seqs[:] = [np.arange(i % 5, dtype="i2") for i in range(40)]
        f.create_dataset("vlen", data=seqs, dtype=h5py.vlen_dtype("i2"), chunks=(16,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((6,))
        h5py.h5d.create(f.id, b"tiny", h5py.h5t.NATIVE_INT64, space, dcpl=dcpl).write(
            h5py.h5s.ALL, h5py.h5s.ALL, np.arange(6, dtype="i8"))
    for source, wanted in ((path, names), (extra, ["vstr", "vlen", "tiny"])):
        dest = str(tmp_path / f"copy_{len(wanted)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Hdf5FallbackWarning)
            dosna_like.copy_store(source, dest)
            with dosna_like.File(dest, "r") as ours, h5py.File(source, "r") as theirs:
                for name in wanted:
                    if theirs[name].dtype.kind == "O" and theirs[name].shape:
                        a, b = ours[name][...], theirs[name][...]
                        assert a.shape == b.shape and all(np.array_equal(x, y) for x, y in zip(a, b)), name
                    else:
                        _same(ours[name], theirs[name], name)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_requests_per_read_refuses_what_is_not_a_positive_int(bad):
    config = dosna_like.get_config()
    with pytest.raises(ValueError, match="positive int or None"):
        config.hdf5_requests_per_read = bad
    assert config.hdf5_requests_per_read is None
