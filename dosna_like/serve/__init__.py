"""``dosna-like serve``: h5web's viewer in a browser, over h5grove's HTTP API
served from dosna_like files (a store, an HDF5 file read in place, or a
prefix holding several files; local, memory://, S3 or any fsspec URL).

``server.serve`` runs it; ``sources`` says what is served, ``grove`` gives
h5grove's content model over dosna_like objects, ``limits`` bounds responses.
Nothing is imported here, so the pure parts load without h5grove and tornado.
"""
from __future__ import annotations

__all__: list = []
