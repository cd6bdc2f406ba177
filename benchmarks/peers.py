"""The libraries being compared, behind one small interface.

Every peer stores one dataset per location and offers:

* ``supports(kind)`` -> None, or why it cannot use that kind of store
  (``local``, ``memory``, ``s3``, ``slowmem``);
* ``location(kind, workdir, name)`` -> a file path, directory or URL;
* ``create(loc, shape, dtype, chunks, compression, maxshape=None)`` -> context
  manager yielding a writable array-like (``ds[...] = data``);
* ``open(loc, rdcc_nbytes=None)`` -> context manager yielding a readable
  array-like; ``read(ds, key)`` -> numpy array (``ds[key]`` for h5py-likes);
* ``append(ds, block)``: grow axis 0 by ``len(block)`` and write the block there;
* ``create_many(loc, n, make)`` / ``walk_many(loc)``: the many-small-datasets
  case (``has_groups``; TensorStore has no groups or attributes);
* ``write(loc, data, chunks, compression)`` and ``remove(loc)``.

``compression`` is ``"none"``, ``"gzip"`` (deflate level 4 everywhere) or
``"fast"``: each system's fast codec, blosc-lz4 (clevel 5, byte shuffle) for
dosna_like, zarr and TensorStore, and LZF with the shuffle filter for h5py
(the fast codec HDF5 ships; blosc needs the hdf5plugin package).
Peers of the same ``family`` share their data: the njobs variants of
dosna_like read what the plain dosna_like peer wrote.
"""
from __future__ import annotations

import os
import shutil
import warnings
from contextlib import contextmanager

import numpy as np

GZIP_LEVEL = 4
BLOSC = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}
H5_RDCC_NSLOTS = 1_000_003  # prime, far more slots than chunks: no hash collisions
DATASET = "data"
FAKE_ENV = "DOSNA_BENCH_FAKE"
KINDS = ("local", "memory", "s3", "slowmem")
CODEC_LABEL = {"none": "none", "gzip": "gzip-4", "fast": "blosc-lz4 (h5py: lzf)"}


class StoreEnv:
    """Where the non-local kinds of store are: filled in by the cases that use them."""

    s3 = None          # a running S3 endpoint (benchmarks/s3_counting.py)
    bucket = "dosna-bench"
    slowmem = None     # the backends.latency.SlowMemoryFileSystem instance


class Peer:
    name = "?"        # row label in the results
    family = "?"      # peers of one family share files
    ext = ""          # file name suffix
    is_dosna = False  # failures of dosna peers are recorded, never raised
    is_floor = False  # the machine-floor rows of read_full (FloorPeer)
    kinds = ("local",)
    has_groups = True  # can run the many-small-datasets case
    env = StoreEnv

    def supports(self, kind: str):
        return None if kind in self.kinds else f"{self.family} has no {kind} store here"

    def location(self, kind: str, workdir: str, name: str) -> str:
        stem = f"{self.family}-{name}{self.ext}"
        if kind == "local":
            return os.path.join(workdir, stem)
        if kind == "s3":
            return f"s3://{self.env.bucket}/{stem}"
        return f"{kind}://bench/{stem}"

    def path(self, workdir: str, compression: str) -> str:
        return self.location("local", workdir, compression)

    @contextmanager
    def create(self, loc, shape, dtype, chunks, compression, maxshape=None, shards=None):
        raise NotImplementedError

    @contextmanager
    def open(self, loc, rdcc_nbytes=None):
        raise NotImplementedError

    def read(self, ds, key) -> np.ndarray:
        return np.asarray(ds[key])

    def append(self, ds, block: np.ndarray) -> None:
        n = ds.shape[0]
        ds.resize(n + len(block), axis=0)
        ds[n:n + len(block)] = block

    def write(self, loc, data: np.ndarray, chunks, compression, shards=None) -> None:
        """``shards``: Zarr v3 sharding, shards of that shape holding ``chunks``."""
        with self.create(loc, data.shape, data.dtype, chunks, compression, shards=shards) as ds:
            ds[...] = data

    def create_many(self, loc, n: int, make) -> None:
        raise NotImplementedError

    def walk_many(self, loc) -> int:
        raise NotImplementedError

    def remove(self, loc: str) -> None:
        if "://" in loc:
            return  # in-memory and remote locations are rewritten with overwrite
        if os.path.isdir(loc):
            shutil.rmtree(loc)
        elif os.path.exists(loc):
            os.remove(loc)

    def __repr__(self):
        return f"<Peer {self.name}>"


# --------------------------------------------------------- h5py and dosna_like
class H5LikePeer(Peer):
    """Anything with h5py's File/create_dataset API: h5py and dosna_like."""

    def __init__(self, module, name, family, ext, *, open_kwargs=None,
                 cache_kwargs=None, is_dosna=False, kinds=("local",)):
        self.module = module
        self.name = name
        self.family = family
        self.ext = ext
        self.open_kwargs = dict(open_kwargs or {})    # always passed to File()
        self.cache_kwargs = dict(cache_kwargs or {})  # passed with rdcc_nbytes
        self.is_dosna = is_dosna
        self.kinds = kinds

    def compression_kwargs(self, compression) -> dict:
        if compression == "none":
            return {}
        if compression == "gzip":
            return {"compression": "gzip", "compression_opts": GZIP_LEVEL}
        return {"compression": "blosc", "compression_opts": dict(BLOSC)}

    def file_kwargs(self, loc) -> dict:
        if loc.startswith("s3://"):
            return {"storage_options": self.env.s3.storage_options}
        if loc.startswith("slowmem://"):  # same options, so fsspec hands back the same instance
            return {"storage_options": {"latency": self.env.slowmem.latency}}
        return {}

    def File(self, loc, mode, **kwargs):
        return self.module.File(loc, mode, **self.file_kwargs(loc), **kwargs)

    @contextmanager
    def create(self, loc, shape, dtype, chunks, compression, maxshape=None, shards=None):
        # dosna_like only; without shards, one object per chunk as every other peer (object
        # stores would otherwise get dosna_like's default shards for small chunks)
        real_dosna = self.is_dosna and self.ext == ".dosna"  # not h5py, nor h5py faking dosna_like
        sharding = {"shards": False if shards is None else tuple(shards)} if real_dosna else {}
        with self.File(loc, "w", **self.open_kwargs) as f:
            yield f.create_dataset(DATASET, shape=shape, dtype=dtype, chunks=tuple(chunks),
                                   maxshape=maxshape, **self.compression_kwargs(compression), **sharding)

    @contextmanager
    def open(self, loc, rdcc_nbytes=None):
        kwargs = dict(self.open_kwargs)
        if rdcc_nbytes is not None:
            kwargs.update(rdcc_nbytes=rdcc_nbytes, **self.cache_kwargs)
        with self.File(loc, "r", **kwargs) as f:
            yield f[DATASET]

    def create_many(self, loc, n, make) -> None:
        with self.File(loc, "w", **self.open_kwargs) as f:
            for i in range(n):
                data, attrs = make(i)
                ds = f.create_dataset(f"group{i // 100}/d{i}", data=data)
                for key, value in attrs.items():
                    ds.attrs[key] = value

    def walk_many(self, loc) -> int:
        found = []

        def visit(name, obj):
            if isinstance(obj, self.module.Dataset):
                found.append(obj.attrs["units"])

        with self.File(loc, "r", **self.open_kwargs) as f:
            f.visititems(visit)
        return len(found)


class H5pyPeer(H5LikePeer):
    """h5py on a local HDF5 file; in memory through HDF5's core driver (file image)."""

    def __init__(self):
        import h5py
        super().__init__(h5py, "h5py", "h5py", ".h5",
                         cache_kwargs={"rdcc_nslots": H5_RDCC_NSLOTS},
                         kinds=("local", "memory", "s3"))
        self._images = {}  # memory location -> HDF5 file image (bytes)

    def compression_kwargs(self, compression) -> dict:
        if compression == "fast":
            return {"compression": "lzf", "shuffle": True}
        return super().compression_kwargs(compression)

    @contextmanager
    def create(self, loc, shape, dtype, chunks, compression, maxshape=None, shards=None):
        if loc.startswith("s3://"):
            raise NotImplementedError("h5py cannot write to object storage")
        if shards is not None:
            raise NotImplementedError("HDF5 has no shards")
        if not loc.startswith("memory://"):
            with super().create(loc, shape, dtype, chunks, compression, maxshape) as ds:
                yield ds
            return
        with self.module.File(loc, "w", driver="core", backing_store=False) as f:
            yield f.create_dataset(DATASET, shape=shape, dtype=dtype, chunks=tuple(chunks),
                                   maxshape=maxshape, **self.compression_kwargs(compression))
            f.flush()
            self._images[loc] = f.id.get_file_image()

    @contextmanager
    def open(self, loc, rdcc_nbytes=None):
        h5py = self.module
        if loc.startswith("s3://"):
            # HDF5 over an fsspec file object, the usual way to read HDF5 on S3
            import s3fs
            fs = s3fs.S3FileSystem(**self.env.s3.storage_options)
            with fs.open(loc, "rb") as fh, h5py.File(fh, "r") as f:
                yield f[DATASET]
            return
        if not loc.startswith("memory://"):
            with super().open(loc, rdcc_nbytes) as ds:
                yield ds
            return
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_fapl_core(backing_store=False)
        fapl.set_file_image(self._images[loc])
        if rdcc_nbytes is not None:
            fapl.set_cache(0, H5_RDCC_NSLOTS, rdcc_nbytes, 0.75)
        fid = h5py.h5f.open(loc.encode(), h5py.h5f.ACC_RDONLY, fapl=fapl)
        with h5py.File(fid) as f:
            yield f[DATASET]

    def upload(self, local_path: str, loc: str) -> None:
        """Put a local HDF5 file on S3 (h5py cannot write there itself)."""
        import s3fs
        fs = s3fs.S3FileSystem(**self.env.s3.storage_options)
        fs.put_file(local_path, loc)


# ---------------------------------------------------------------------- zarr
class ZarrPeer(Peer):
    """zarr-python 3: LocalStore, MemoryStore, FsspecStore (s3fs, slowmem); same chunks and codec."""

    name = family = "zarr"
    ext = ".zarr"
    kinds = KINDS

    def __init__(self):
        import zarr
        from zarr.codecs import BloscCodec, GzipCodec
        self.zarr = zarr
        self.codecs = {"none": None, "gzip": GzipCodec(level=GZIP_LEVEL),
                       "fast": BloscCodec(typesize=4, **BLOSC)}
        self._memory = {}  # memory location -> the MemoryStore's dict

    def store(self, loc, read_only=False):
        from zarr.storage import FsspecStore, LocalStore, MemoryStore
        if loc.startswith("memory://"):
            return MemoryStore(self._memory.setdefault(loc, {}), read_only=read_only)
        if loc.startswith("s3://"):
            return FsspecStore.from_url(loc, storage_options=self.env.s3.storage_options,
                                        read_only=read_only)
        if loc.startswith("slowmem://"):
            with warnings.catch_warnings():  # the test filesystem is not in async mode
                warnings.simplefilter("ignore")
                return FsspecStore(self.env.slowmem, path=loc[len("slowmem://"):], read_only=read_only)
        return LocalStore(loc, read_only=read_only)

    def _compressors(self, compression, dtype):
        codec = self.codecs[compression]
        if compression == "fast":
            codec = type(codec)(typesize=np.dtype(dtype).itemsize, **BLOSC)
        return codec

    @contextmanager
    def create(self, loc, shape, dtype, chunks, compression, maxshape=None, shards=None):
        if loc.startswith("memory://"):
            self._memory.pop(loc, None)
        yield self.zarr.create_array(
            store=self.store(loc), shape=shape, dtype=dtype, chunks=tuple(chunks),
            shards=None if shards is None else tuple(shards),
            compressors=self._compressors(compression, dtype), filters=None,
            fill_value=0, overwrite=True)

    @contextmanager
    def open(self, loc, rdcc_nbytes=None):
        # zarr has no chunk cache: rdcc_nbytes is ignored.
        yield self.zarr.open_array(store=self.store(loc, read_only=True), mode="r")

    def read(self, ds, key) -> np.ndarray:
        if isinstance(key, tuple) and any(isinstance(k, (list, np.ndarray)) for k in key):
            return np.asarray(ds.oindex[key])
        return np.asarray(ds[key])

    def append(self, ds, block) -> None:
        ds.append(block, axis=0)

    def create_many(self, loc, n, make) -> None:
        root = self.zarr.open_group(store=self.store(loc), mode="w")
        for i in range(n):
            data, attrs = make(i)
            group = root.require_group(f"group{i // 100}")
            arr = group.create_array(f"d{i}", shape=data.shape, dtype=data.dtype,
                                     chunks=data.shape, compressors=None, fill_value=0)
            arr[...] = data
            arr.attrs.update(attrs)

    def walk_many(self, loc) -> int:
        root = self.zarr.open_group(store=self.store(loc, read_only=True), mode="r")
        found = [arr.attrs["units"] for _, arr in root.members(max_depth=None)
                 if isinstance(arr, self.zarr.Array)]
        return len(found)


# --------------------------------------------------------------- TensorStore
class TSArray:
    """A TensorStore handle with numpy-style reads and writes."""

    def __init__(self, store):
        self.store = store

    @property
    def shape(self):
        return tuple(self.store.shape)

    def __getitem__(self, key):
        return self.store[key].read().result()

    def __setitem__(self, key, value):
        self.store[key].write(value).result()


class TensorStorePeer(Peer):
    """TensorStore's zarr3 driver on a local directory (file kvstore), memory or S3."""

    name = family = "tensorstore"
    ext = ".ts.zarr"
    kinds = ("local", "memory", "s3")
    has_groups = False  # a TensorStore is one array: no groups, no attributes

    def __init__(self):
        import tensorstore
        self.ts = tensorstore
        self._memory_context = tensorstore.Context()  # memory kvstores live in a context

    def kvstore(self, loc) -> dict:
        if loc.startswith("memory://"):
            return {"driver": "memory", "path": loc[len("memory://"):] + "/"}
        if loc.startswith("s3://"):
            bucket, _, path = loc[len("s3://"):].partition("/")
            return {"driver": "s3", "bucket": bucket, "path": path + "/",
                    "endpoint": self.env.s3.endpoint_url, "aws_region": "us-east-1",
                    "aws_credentials": {"type": "environment"}}
        return {"driver": "file", "path": loc}

    def context(self, loc, rdcc_nbytes=None):
        if loc.startswith("memory://"):
            return self._memory_context
        return self.ts.Context({"cache_pool": {"total_bytes_limit": rdcc_nbytes or 0}})

    @staticmethod
    def codecs(compression, dtype) -> list:
        chain = [{"name": "bytes", "configuration": {"endian": "little"}}]
        if compression == "gzip":
            chain.append({"name": "gzip", "configuration": {"level": GZIP_LEVEL}})
        elif compression == "fast":
            chain.append({"name": "blosc", "configuration": {
                **BLOSC, "typesize": np.dtype(dtype).itemsize, "blocksize": 0}})
        return chain

    @contextmanager
    def create(self, loc, shape, dtype, chunks, compression, maxshape=None, shards=None):
        codecs = self.codecs(compression, dtype)
        if shards is not None:  # Zarr v3 sharding_indexed, its index at the end with a crc32c (the default)
            codecs = [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": list(chunks), "codecs": codecs,
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                "index_location": "end"}}]
        metadata = {
            "shape": list(shape), "data_type": np.dtype(dtype).name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shards or chunks)}},
            "codecs": codecs, "fill_value": 0}
        store = self.ts.open({"driver": "zarr3", "kvstore": self.kvstore(loc), "metadata": metadata},
                             create=True, delete_existing=True, context=self.context(loc)).result()
        yield TSArray(store)

    @contextmanager
    def open(self, loc, rdcc_nbytes=None):
        spec = {"driver": "zarr3", "kvstore": self.kvstore(loc)}
        if rdcc_nbytes is not None:  # like h5py's cache: no revalidation of cached chunks
            spec["recheck_cached_data"] = "open"
        yield TSArray(self.ts.open(spec, read=True, context=self.context(loc, rdcc_nbytes)).result())

    def read(self, ds, key) -> np.ndarray:
        store = ds.store
        if isinstance(key, tuple) and any(isinstance(k, (list, np.ndarray)) for k in key):
            return store.oindex[key].read().result()
        return store[key].read().result()

    def append(self, ds, block) -> None:
        n = ds.shape[0]
        ds.store = ds.store.resize(exclusive_max=[n + len(block)] + [None] * (block.ndim - 1)).result()
        ds.store[n:n + len(block)].write(block).result()


# ------------------------------------------------------------------ building
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
    return H5LikePeer(module, name, "dosna_like", ".dosna", open_kwargs=open_kwargs,
                      is_dosna=True, kinds=KINDS)


class FloorPeer(Peer):
    """The machine floor of a raw full read, as a row of the read_full case.

    Reads dosna_like's uncompressed chunk files (the same bytes every peer
    stores) with one ``preadv`` each, in ``threads`` threads, into consecutive
    pieces of a freshly allocated array: page-cache copy + page faults and
    nothing else, no layout, no metadata.  No library can read that data
    faster with that many threads; its value is the bound for the "none"
    full-read goals.  Only ``ds[...]`` on local "none" files.
    """

    family = "dosna_like"
    ext = ".dosna"
    is_floor = True

    def __init__(self, threads: int):
        from concurrent.futures import ThreadPoolExecutor

        self.threads = threads
        self.name = f"floor[{threads} thread{'s' if threads > 1 else ''}]"
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    @contextmanager
    def open(self, loc, rdcc_nbytes=None):
        files = []
        for root, _, names in os.walk(os.path.join(loc, DATASET, "c")):
            files += [os.path.join(root, n) for n in names]
        yield sorted(files)

    def read(self, files, key) -> np.ndarray:
        if key is not Ellipsis:
            raise ValueError("the floor peer only reads ds[...]")
        sizes = [os.path.getsize(f) for f in files]
        offsets = np.cumsum([0] + sizes).tolist()
        out = np.empty(offsets[-1], dtype=np.uint8)
        view = memoryview(out)

        def one(i):
            fd = os.open(files[i], os.O_RDONLY)
            try:
                os.preadv(fd, [view[offsets[i]:offsets[i + 1]]], 0)
            finally:
                os.close(fd)

        if self.pool is None:
            for i in range(len(files)):
                one(i)
        else:
            list(self.pool.map(one, range(len(files))))
        return out


class TreeFloorPeer(Peer):
    """The machine floor of the many-small-datasets create, as a row of that case.

    Makes the files a dosna_like file of ``n`` small datasets in ten groups is
    made of, with plain ``os`` calls and fixed bytes: per group a directory and
    a ``zarr.json``, per dataset its directory, its ``c`` directory, one chunk
    file and a ``zarr.json``, each file written as the store writes (a
    temporary file renamed into place, so a crash never leaves half a file).
    No metadata is built, no attribute encoded: on a machine whose file
    system makes these calls dear, no store with one object per chunk and
    per node document creates the datasets faster.
    """

    name = "floor[files]"
    family = "floor"
    is_floor = True

    def create_many(self, loc, n, make) -> None:
        chunk, doc = bytes(make(0)[0].nbytes + 4), b"{}" * 300  # a chunk + crc32c, a document's size

        def put(path, raw):
            tmp = f"{path}.{os.getpid()}.partial"
            with open(tmp, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, path)

        os.makedirs(loc)
        put(os.path.join(loc, "zarr.json"), doc)
        for g in range(-(-n // 100)):
            os.mkdir(os.path.join(loc, f"group{g}"))
        for i in range(n):
            folder = os.path.join(loc, f"group{i // 100}", f"d{i}")
            os.mkdir(folder)
            os.mkdir(os.path.join(folder, "c"))
            put(os.path.join(folder, "c", "0"), chunk)
        for i in range(n):  # documents at close, after every chunk
            put(os.path.join(loc, f"group{i // 100}", f"d{i}", "zarr.json"), doc)
        for g in range(-(-n // 100)):
            put(os.path.join(loc, f"group{g}", "zarr.json"), doc)


def tensorstore_peer():
    """TensorStore when installed, else None."""
    try:
        return TensorStorePeer()
    except ImportError:
        return None


PEER_NAMES = ("h5py", "zarr", "tensorstore", "dosna_like")


def make_peers(dosna_module, names=None):
    """(base peers that write files, extra full-read peers: dosna njobs variants
    and the machine floor)."""
    base = [H5pyPeer(), ZarrPeer(), tensorstore_peer(), dosna_peer(dosna_module)]
    base = [p for p in base if p is not None]
    njobs = [dosna_peer(dosna_module, n) for n in (1, 2)]
    if names:
        base = [p for p in base if p.name in names]
        njobs = [p for p in njobs if "dosna_like" in names or p.name in names]
    if dosna_module is not None and not fake_dosna() and any(p.family == "dosna_like" for p in base):
        njobs += [FloorPeer(1), FloorPeer(2)]  # they read dosna_like's raw files
    return base, njobs


def peer_by_name(name: str) -> Peer:
    """Rebuild one peer in another process (memory probe)."""
    if name == "h5py":
        return H5pyPeer()
    if name == "zarr":
        return ZarrPeer()
    if name == "tensorstore":
        return TensorStorePeer()
    module, _, error = load_dosna()
    if module is None:
        raise ImportError(error)
    njobs = None
    if name.startswith("dosna_like[njobs="):
        njobs = int(name[len("dosna_like[njobs="):-1])
    return dosna_peer(module, njobs)
