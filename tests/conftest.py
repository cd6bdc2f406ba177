"""Shared fixtures: every API test runs once per store kind.

``file_url`` gives a fresh, not-yet-existing file location on the store kind
under test; pass it to ``dosna_like.File`` exactly as a user would.  The S3
kind talks over HTTP to a real local endpoint (moto's server, started once per
test session by ``backends/s3_local.py``); the AWS environment variables point
every client at it, so tests pass no storage options.  If the endpoint cannot
start, S3 tests fail: they never skip.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backends.s3_local import LocalS3  # noqa: E402

STORE_KINDS = ["memory", "local", "s3"]
S3_BUCKET = "dosna-tests"


def run_json_script(script: str, *args, timeout: float = 300) -> dict:
    """Run ``script`` in a fresh Python process (``python -c script args...``) and
    return the JSON its last line of output prints; fails with its stderr."""
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_threads(target, args) -> None:
    """``target(arg)`` in one thread per item of ``args``, all started, then joined; the
    first exception a thread raised is raised here (a bare Thread would only print it)."""
    errors = []

    def guarded(arg):
        try:
            target(arg)
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class HttpCounter:
    """Counts the HTTP requests botocore sends (by method) for an s3fs filesystem."""

    def __init__(self, fs):
        fs.connect()
        self.counts = collections.Counter()
        fs.s3.meta.events.register("before-send.s3", self._hook)

    def _hook(self, request, **kwargs):
        self.counts[request.method] += 1

    def take(self) -> dict:
        out = dict(self.counts)
        self.counts.clear()
        return out


@pytest.fixture(scope="session")
def s3_server():
    server = LocalS3().start()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        server.create_bucket(S3_BUCKET)
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def file_url(store_kind, tmp_path, request) -> str:
    name = f"f-{uuid.uuid4().hex[:12]}.h5"
    if store_kind == "memory":
        return f"memory://tests/{name}"
    if store_kind == "local":
        return str(tmp_path / name)
    if store_kind == "s3":
        request.getfixturevalue("s3_server")
        return f"s3://{S3_BUCKET}/{name}"
    raise AssertionError(store_kind)


@pytest.fixture(params=["local", "s3"])
def tool_url(request, tmp_path) -> str:
    """A local or S3 file URL for tests where other tools (zarr-python, xarray) open the
    store themselves: memory:// stores live in this process's dosna_like only."""
    if request.param == "local":
        return str(tmp_path / f"t-{uuid.uuid4().hex[:8]}.h5")
    request.getfixturevalue("s3_server")
    return f"s3://{S3_BUCKET}/t-{uuid.uuid4().hex[:12]}.h5"


@pytest.fixture
def h5_path(tmp_path) -> str:
    """A fresh path for the real-h5py side of a differential test."""
    return str(tmp_path / f"ref-{uuid.uuid4().hex[:8]}.h5")
