"""HDF5 files in place on S3: a run's chunks are handed on as their bytes arrive (issue 13).

One request may cover a whole read (``hdf5_requests_per_read=1``); its chunks
are decoded while the rest of the body is still on the way, and a body cut
off halfway is asked again only for the bytes still missing.  Values are
compared with h5py reading the same file.
"""
from __future__ import annotations

import asyncio
import uuid

import boto3
import h5py
import numpy as np
import pytest

import dosna_like
from backends.fault_proxy import FaultProxy
from dosna_like.storage.hdf5_ranges import RunFetcher, merged_runs
from dosna_like.storage.hdf5_refs import stored_chunks
from dosna_like.storage.pipeline import call_on_loop
from dosna_like.storage.registry import filesystem_for

from .conftest import S3_BUCKET


class _TwoHalves:
    """A filesystem whose ranged reads deliver the first half, then wait for ``release``."""

    streams_ranges = True

    def __init__(self, data: bytes):
        self.data = data
        self.release: asyncio.Event | None = None
        self.calls: list = []

    async def _cat_file_into(self, path, start, buffer, arrived):
        self.calls.append((start, len(buffer)))
        half = len(buffer) // 2
        buffer[:half] = self.data[start:start + half]
        arrived(half)
        await self.release.wait()
        buffer[half:] = self.data[start + half:start + len(buffer)]
        arrived(len(buffer))


def test_a_range_is_handed_on_when_its_bytes_are_in_not_when_its_whole_run_is():
    data = bytes(range(256)) * 4
    fs = _TwoHalves(data)
    ranges = [(0, 100), (100, 300), (400, 112), (512, 512)]  # touching: one run
    fetcher = RunFetcher(("fs", fs, "f"), ranges, concurrency=4, limit=1 << 20)

    async def scenario():
        fs.release = asyncio.Event()
        tasks = [asyncio.ensure_future(fetcher.piece(i)) for i in range(len(ranges))]
        await asyncio.sleep(0.05)
        early = [t.done() for t in tasks]  # the first 512 bytes are in, the rest held back
        fs.release.set()
        pieces = [bytes(await t) for t in tasks]
        return early, pieces

    early, pieces = asyncio.run(scenario())
    assert early == [True, True, True, False]
    assert pieces == [data[o:o + n] for o, n in ranges]
    assert fs.calls == [(0, 1024)]  # one request for the run


def test_a_failed_run_raises_in_every_range_still_waiting_for_it():
    class Broken:
        streams_ranges = True

        async def _cat_file_into(self, path, start, buffer, arrived):
            arrived(10)
            raise OSError("connection lost for good")

    fetcher = RunFetcher(("fs", Broken(), "f"), [(0, 10), (10, 10), (20, 10)], concurrency=2, limit=1 << 20)

    async def scenario():
        return await asyncio.gather(*(fetcher.piece(i) for i in range(3)), return_exceptions=True)

    first, second, third = asyncio.run(scenario())
    assert isinstance(first, memoryview) and len(first) == 10
    assert isinstance(second, OSError) and isinstance(third, OSError)


def _upload(tmp_path, s3_server, data) -> tuple:
    path = str(tmp_path / "g.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(16, 64), compression="gzip", shuffle=True)
        chunks = sorted((r.byte_offset, r.size) for r in stored_chunks(f["x"]))
    key = f"{uuid.uuid4().hex[:10]}/g.h5"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1").upload_file(
        path, S3_BUCKET, key)
    return path, f"s3://{S3_BUCKET}/{key}", chunks


def _through(endpoint_url: str) -> dict:
    return {"key": "testing", "secret": "testing", "skip_instance_cache": True,
            "client_kwargs": {"endpoint_url": endpoint_url, "region_name": "us-east-1"}}


def test_a_body_cut_halfway_is_asked_again_only_for_the_missing_bytes(tmp_path, s3_server, monkeypatch):
    rng = np.random.default_rng(4)
    data = (np.add.outer(np.arange(512), np.arange(256)) % 61 + rng.integers(0, 5, (512, 256))).astype("f4")
    path, url, chunks = _upload(tmp_path, s3_server, data)
    runs = merged_runs(chunks, 1 << 40)  # the chunks lie back to back but for HDF5's index nodes
    first, size, members = max(runs, key=lambda run: len(run[2]))
    assert len(members) >= 8
    end = first + size
    whole = f"bytes={first}-{end - 1}"
    monkeypatch.setattr(dosna_like.get_config(), "hdf5_requests_per_read", 1)
    # the one GET of the largest run of chunks gets half its body, then the connection closes
    with FaultProxy(s3_server.port, fault_rate=1.0, faults=("truncate",),
                    only=lambda method, headers: headers.get("range") == whole) as proxy:
        with dosna_like.File(url, "r", storage_options=_through(proxy.endpoint_url), rdcc_nbytes=0) as f:
            proxy.ranges.clear()
            values = f["x"][...]
        assert proxy.counts["truncate"] == 1, proxy.counts
        asked = proxy.ranges
    with h5py.File(path, "r") as theirs:
        expected = theirs["x"][...]
    assert values.dtype == expected.dtype and np.array_equal(values, expected)
    assert whole in asked and len(asked) == len(runs) + 1, (asked, runs)
    again = [r for r in asked if r != whole and r.endswith(f"-{end - 1}")]
    assert len(again) == 1, asked
    resumed = int(again[0].split("=")[1].split("-")[0])
    assert first < resumed < end  # the rest only


def test_a_range_past_the_end_of_the_object_is_an_os_error_at_once(tmp_path, s3_server):
    data = np.arange(4096, dtype="f4").reshape(64, 64)
    _, url, _ = _upload(tmp_path, s3_server, data)
    fs, key = filesystem_for(url, {"retry_attempts": 10})
    size = fs.info(key)["size"]
    buffer = memoryview(bytearray(100))
    with pytest.raises(OSError, match="ends there"):
        call_on_loop(fs.inner_fs.loop, fs._cat_file_into, key, size - 40, buffer, lambda n: None)


def test_a_cached_raw_chunk_does_not_keep_its_whole_run(tmp_path, s3_server):
    """Uncompressed chunks arrive as views into their run's buffer; one kept in the chunk cache
    is a copy of its own, so the cache never holds a whole run through a small chunk."""
    data = np.arange(64 * 64, dtype="<i4").reshape(64, 64)
    path = str(tmp_path / "raw.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(8, 64))
    key = f"{uuid.uuid4().hex[:10]}/raw.h5"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1").upload_file(
        path, S3_BUCKET, key)
    with dosna_like.File(f"s3://{S3_BUCKET}/{key}", "r", rdcc_nbytes=1 << 20) as f:
        assert np.array_equal(f["x"][:24], data[:24])  # three chunks, touching: one run
        io = f["x"]._io
        cached = [io.cache.get((i, 0)) for i in range(3)]
    assert all(c is not None for c in cached)
    for chunk in cached:
        assert _largest_buffer_held(chunk) == chunk.nbytes


def _largest_buffer_held(array) -> int:
    """The size of the largest buffer ``array`` keeps alive (its bases, through memoryviews)."""
    largest, obj = 0, array
    while obj is not None:
        if isinstance(obj, memoryview):
            largest, obj = max(largest, memoryview(obj.obj).nbytes if obj.obj is not None else 0), obj.obj
        elif isinstance(obj, np.ndarray):
            largest, obj = max(largest, obj.nbytes), obj.base
        else:
            largest, obj = max(largest, memoryview(obj).nbytes), None
    return largest
