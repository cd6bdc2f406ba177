"""The reserved metadata namespace: what Zarr v3 cannot say, kept in the node's
attributes under one key that ``.attrs`` never shows.
"""
from __future__ import annotations


RESERVED = "_dosna_like"
