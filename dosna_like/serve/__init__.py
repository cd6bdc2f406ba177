"""``dosna-like serve``: h5web's viewer in a browser, over h5grove's HTTP API
served from dosna_like files (a store, an HDF5 file read in place, or a
prefix holding several files; local, memory://, S3 or any fsspec URL)."""
from __future__ import annotations

from .server import make_app, serve
from .sources import Served

__all__ = ["make_app", "serve", "Served"]
