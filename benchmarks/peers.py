"""The libraries being compared, behind one small interface.

Every peer stores one dataset per file and offers:

* ``create(path, shape, dtype, chunks, compression)`` -> context manager
  yielding a writable array-like (``ds[...] = data``);
* ``open(path, rdcc_nbytes=None)`` -> context manager yielding a read-only
  array-like (numpy-style slicing);
* ``write(path, data, chunks, compression)`` -> create + ``ds[...] = data``;
* ``remove(path)``.

``compression`` is ``"none"`` or ``"gzip"`` (deflate level 4 everywhere).
Peers of the same ``family`` share their files: the njobs variants of
dosna_like read the files written by the plain dosna_like peer.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import numpy as np

GZIP_LEVEL = 4
H5_RDCC_NSLOTS = 1_000_003  # prime, far more slots than chunks: no hash collisions
DATASET = "data"
FAKE_ENV = "DOSNA_BENCH_FAKE"


class Peer:
    name = "?"        # row label in the results
    family = "?"      # peers of one family share files
    ext = ""          # file name suffix
    is_dosna = False  # failures of dosna peers are recorded, never raised

    def path(self, workdir: str, compression: str) -> str:
        return os.path.join(workdir, f"{self.family}-{compression}{self.ext}")

    @contextmanager
    def create(self, path, shape, dtype, chunks, compression):
        raise NotImplementedError

    @contextmanager
    def open(self, path, rdcc_nbytes=None):
        raise NotImplementedError

    def write(self, path, data: np.ndarray, chunks, compression) -> None:
        with self.create(path, data.shape, data.dtype, chunks, compression) as ds:
            ds[...] = data

    def remove(self, path: str) -> None:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)

    def __repr__(self):
        return f"<Peer {self.name}>"


class H5LikePeer(Peer):
    """Anything with h5py's File/create_dataset API: h5py and dosna_like."""

    def __init__(self, module, name, family, ext, *, open_kwargs=None,
                 cache_kwargs=None, is_dosna=False):
        self.module = module
        self.name = name
        self.family = family
        self.ext = ext
        self.open_kwargs = dict(open_kwargs or {})    # always passed to File()
        self.cache_kwargs = dict(cache_kwargs or {})  # passed with rdcc_nbytes
        self.is_dosna = is_dosna

    @contextmanager
    def create(self, path, shape, dtype, chunks, compression):
        comp = {} if compression == "none" else {
            "compression": "gzip", "compression_opts": GZIP_LEVEL}
        with self.module.File(path, "w", **self.open_kwargs) as f:
            yield f.create_dataset(DATASET, shape=shape, dtype=dtype,
                                   chunks=tuple(chunks), **comp)

    @contextmanager
    def open(self, path, rdcc_nbytes=None):
        kwargs = dict(self.open_kwargs)
        if rdcc_nbytes is not None:
            kwargs.update(rdcc_nbytes=rdcc_nbytes, **self.cache_kwargs)
        with self.module.File(path, "r", **kwargs) as f:
            yield f[DATASET]


class ZarrPeer(Peer):
    """zarr-python 3 on a LocalStore directory, same chunks and codec."""

    name = family = "zarr"
    ext = ".zarr"

    def __init__(self):
        import zarr
        from zarr.codecs import GzipCodec
        from zarr.storage import LocalStore
        self.zarr, self.GzipCodec, self.LocalStore = zarr, GzipCodec, LocalStore

    @contextmanager
    def create(self, path, shape, dtype, chunks, compression):
        compressors = (None if compression == "none"
                       else self.GzipCodec(level=GZIP_LEVEL))
        yield self.zarr.create_array(
            store=self.LocalStore(path), shape=shape, dtype=dtype,
            chunks=tuple(chunks), compressors=compressors, filters=None,
            fill_value=0, overwrite=True)

    @contextmanager
    def open(self, path, rdcc_nbytes=None):
        # zarr has no chunk cache: rdcc_nbytes is ignored.
        yield self.zarr.open_array(
            store=self.LocalStore(path, read_only=True), mode="r")


def h5py_peer() -> Peer:
    import h5py
    return H5LikePeer(h5py, "h5py", "h5py", ".h5",
                      cache_kwargs={"rdcc_nslots": H5_RDCC_NSLOTS})


def fake_dosna() -> bool:
    return os.environ.get(FAKE_ENV, "") not in ("", "0")


def load_dosna():
    """(module, version, error). With DOSNA_BENCH_FAKE=1 the module is h5py."""
    if fake_dosna():
        import h5py
        return h5py, f"FAKE (h5py {h5py.__version__})", None
    try:
        import dosna_like
        dosna_like.File  # noqa: B018 - fail early on an empty package
        return dosna_like, getattr(dosna_like, "__version__", "unknown"), None
    except Exception as exc:  # noqa: BLE001 - any import failure means n/a
        return None, "n/a", f"{type(exc).__name__}: {exc}"


def dosna_peer(module, njobs=None) -> Peer:
    """dosna_like (or h5py when faked); njobs=None keeps the library default."""
    name = "dosna_like" if njobs is None else f"dosna_like[njobs={njobs}]"
    if module is None:
        return H5LikePeer(None, name, "dosna_like", ".dosna", is_dosna=True)
    if fake_dosna():  # h5py knows neither njobs nor a directory store
        return H5LikePeer(module, name, "dosna_like", ".fake.h5", is_dosna=True)
    open_kwargs = {} if njobs is None else {"njobs": njobs}
    return H5LikePeer(module, name, "dosna_like", ".dosna",
                      open_kwargs=open_kwargs, is_dosna=True)


def make_peers(dosna_module, names=None):
    """(base peers that write files, extra dosna njobs peers for full reads)."""
    base = [h5py_peer(), ZarrPeer(), dosna_peer(dosna_module)]
    njobs = [dosna_peer(dosna_module, n) for n in (1, 2)]
    if names:
        base = [p for p in base if p.name in names]
        njobs = [p for p in njobs if "dosna_like" in names or p.name in names]
    return base, njobs


def peer_by_name(name: str) -> Peer:
    """Rebuild one peer in another process (memory probe)."""
    if name == "h5py":
        return h5py_peer()
    if name == "zarr":
        return ZarrPeer()
    module, _, error = load_dosna()
    if module is None:
        raise ImportError(error)
    njobs = None
    if name.startswith("dosna_like[njobs="):
        njobs = int(name[len("dosna_like[njobs="):-1])
    return dosna_peer(module, njobs)
