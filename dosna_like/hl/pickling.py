"""Pickling handles: a File, Group, Dataset or view travels as where to find it.

h5py handles cannot be pickled (they wrap an HDF5 file id), which is the wall
its users hit with ``dask.distributed`` and ``multiprocessing``.  A handle here
is only a store URL and a node path over shared state, so it pickles as
``(URL, storage_options, mode, njobs, rdcc_nbytes)`` for its file plus
``(path, name, own njobs)`` for itself, and is rebuilt in the receiving
process over one open file per (URL, options, mode): the first handle a
process unpickles opens the file, the others reuse it (a worker running a
thousand chunk tasks opens the store once).

Why this cache and these rules:

- In the process that pickled the handle the original open file is reused, so
  a same-process round trip shares its caches and sees its writes at once.
- A writable handle reopens in ``"r+"``: a file created with ``"w"`` is never
  truncated again by a worker.
- A file opened in another process keeps no decoded-chunk cache: chunks other
  processes write are read from the store (dask tasks are chunk-aligned, so
  nothing is lost); a dataset whose pickled shape or chunks differ from what the
  worker's cached document says has its document read again.
"""
from __future__ import annotations

import importlib
import os
import threading
import warnings
import weakref

from ..errors import IncompleteFileWarning

__all__ = ["file_spec", "handle_reduce", "open_for_worker", "restore_handle"]

_lock = threading.Lock()
# files this process opened to serve unpickled handles: (url, options, mode) -> File
_opened: dict = {}
# files opened here by the user, remembered when one of their handles is pickled,
# so a round trip in the same process lands on the same open file (weak: never keeps it open)
_origin: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


def _options_key(options: dict) -> str:
    """A hashable, order-independent spelling of storage options."""
    return repr(sorted((str(k), repr(v)) for k, v in (options or {}).items()))


def file_spec(state) -> dict:
    """What reopens the file of ``state`` in another process."""
    store = state.store
    return {"url": store.url, "storage_options": dict(store.storage_options),
            "mode": "r" if state.read_only else "r+", "njobs": state.njobs,
            "rdcc_nbytes": state.rdcc_nbytes, "pid": os.getpid(),
            "trust_links": bool(getattr(state, "trust_links", False)),
            "hdf5_refs": getattr(store, "hdf5_refs", None)}  # an HDF5 file opened in place: its map's place


def _cache_key(spec: dict) -> tuple:
    return spec["url"], _options_key(spec["storage_options"]), spec["mode"], spec.get("trust_links", False)


def open_for_worker(file_cls, spec: dict):
    """The open file ``spec`` names in this process: the user's own when the handle
    was pickled here, else one opened once per process and kept for later handles."""
    key = _cache_key(spec)
    with _lock:
        if spec.get("pid") == os.getpid():
            f = _origin.get(key)
            if f is not None and f:
                return f
        f = _opened.get(key)
        if f is None or not f:
            with warnings.catch_warnings():
                # a file being imported is incomplete while its workers write: the caller was told
                warnings.simplefilter("ignore", IncompleteFileWarning)
                # no chunk cache in a worker: other processes' chunk writes must be seen
                extra = {"trust_links": True} if spec.get("trust_links") else {}
                if spec.get("hdf5_refs") is not None:
                    extra["hdf5_refs"] = spec["hdf5_refs"]
                f = _opened[key] = file_cls(spec["url"], spec["mode"], njobs=spec["njobs"], rdcc_nbytes=0,
                                            storage_options=spec["storage_options"] or None, **extra)
        return f


def handle_reduce(handle) -> tuple:
    """``__reduce__`` of a File, Group or Dataset (a closed one refuses, as h5py's closed ids do)."""
    handle._check_open()
    state = handle._state
    state.flush_documents()  # another process reads the node documents from the store
    spec = file_spec(state)
    file = state.file
    if file is not None and spec["pid"] == os.getpid():
        with _lock:
            _origin.setdefault(_cache_key(spec), file)
    meta = _layout(state, handle._path) if getattr(type(handle), "_io", None) is not None else None
    own = {"path": handle._path, "name": handle._name, "njobs": handle._njobs, "meta": meta,
           "is_file": handle is file}
    return restore_handle, (_class_ref(type(file)), _class_ref(type(handle)), spec, own)


def _class_ref(cls) -> tuple:
    """(module, name) of a handle class where it is defined: ``install_as_h5py()`` gives
    the classes h5py's module names (``h5py._hl.dataset``), which a worker without
    the install could not import, so the home module it records is used."""
    return vars(cls).get("_home_module", cls.__module__), cls.__qualname__


def _class_from_ref(ref):
    if isinstance(ref, type):  # a handle pickled before classes were sent by name
        return ref
    module, qualname = ref
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _layout(state, path: str):
    """(shape, chunks) of the array at ``path`` as this process knows it, or None."""
    try:
        meta = state.array_io(path).meta
    except (KeyError, ValueError, OSError):
        return None
    return tuple(meta.shape), tuple(meta.chunks or ())


def restore_handle(file_cls, handle_cls, spec: dict, own: dict):
    """Rebuild a pickled handle over this process's open file of ``spec``."""
    file_cls, handle_cls = _class_from_ref(file_cls), _class_from_ref(handle_cls)
    f = open_for_worker(file_cls, spec)
    if own["is_file"]:
        return f
    state = f._state
    path = own["path"]
    if own["meta"] is not None and path in state._docs and _layout(state, path) != own["meta"]:
        state.forget(path)  # the array changed since this process read its document
    handle = handle_cls(state, path, inherit=f, name=own["name"])
    handle._njobs = own["njobs"]
    return handle
