"""What one spawned writer process of ``test_distributed.py`` runs.

A module of its own so the child imports only this and dosna_like, not dask
and the test module (a spawned process imports the module of its target).
"""
from __future__ import annotations

import os
import pickle

import numpy as np

__all__ = ["region_values", "write_region"]


def region_values(seed: int, shape: tuple) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def write_region(handle_payload: bytes, rows: slice, seed: int, queue) -> None:
    """Unpickle a dataset handle, write ``rows`` of it create one dataset of its own
    and set one attribute of the shared dataset."""
    ds = pickle.loads(handle_payload)
    ds[rows] = region_values(seed, (rows.stop - rows.start,) + ds.shape[1:])
    ds.file.create_dataset(f"by_{seed}", data=np.array([os.getpid()]))
    ds.attrs[f"writer_{seed}"] = seed  # the same node's attributes, from every process
    queue.put(os.getpid())
