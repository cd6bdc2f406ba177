"""Shared fixtures: every API test runs once per store kind.

``file_url`` gives a fresh, not-yet-existing file location on the store kind
under test; pass it to ``dosna_like.File`` exactly as a user would.
"""
from __future__ import annotations

import uuid

import pytest

STORE_KINDS = ["memory", "local"]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def file_url(store_kind, tmp_path) -> str:
    name = f"f-{uuid.uuid4().hex[:12]}.h5"
    if store_kind == "memory":
        return f"memory://tests/{name}"
    if store_kind == "local":
        return str(tmp_path / name)
    raise AssertionError(store_kind)


@pytest.fixture
def h5_path(tmp_path) -> str:
    """A fresh path for the real-h5py side of a differential test."""
    return str(tmp_path / f"ref-{uuid.uuid4().hex[:8]}.h5")
