"""Arrays whose chunks are byte ranges of an HDF5 file: zero-copy import.

``import_hdf5(src, dest, reference=True)`` writes a store whose arrays keep
no chunk objects of their own: each such array's document carries the
extension field :data:`TRANSFORMER` (the HDF5 file, its size and mtime or
ETag when imported) and a *reference table* beside its
``zarr.json`` (:data:`TABLE_NAME`) says where each chunk's bytes are in the
file.  :func:`referencing_store` puts a :class:`ReferencingStore` between
such an array's engine and its store:

- a chunk the table names is read from the file (``preadv`` into the output
  locally, merged concurrent range requests elsewhere); any other chunk
  from the store as usual;
- a chunk written or deleted through it is written to (deleted from) the
  store first and then dropped from the table (a conditional update of the
  table object), so the HDF5 file is never written: copy on write.  A
  writer stopped between the two steps leaves the old reference, i.e. the
  chunk as it was before the write;
- the table is read once per open array and is the truth for this process:
  another process's copy-on-write of a chunk is seen after reopening.

Why an extension field with ``"must_understand": true``: the Zarr v3 spec
says a reader that does not know such a field must refuse the document, and
zarr-python 3 does, on every path (the array, its group, consolidated
metadata), so no Zarr tool reads fill values where the file's data is.  (A
``storage_transformers`` entry would say the same, but zarr-python 3.1
checks it only when an array is opened by its own path: through its group it
reads fill values.)

Confinement: the file is named relative to the directory holding the store
when it lies under it, and such a name must stay under that directory
(:meth:`~dosna_like.storage.base.Store.confined_url`); any other file (an
absolute path, another host or protocol) is read only when the store is
opened with ``trust_links=True``.  A file whose size or mtime/ETag changed
since the import is refused: its offsets would be wrong.
"""
from __future__ import annotations

import json
import os
import threading

from ..errors import FormatError
from ..format.keys import chunk_prefix, node_key
from .base import Store
from .hdf5_open import open_source
from .hdf5_ranges import read_range, read_ranges

__all__ = ["TABLE_FORMAT", "TABLE_NAME", "TRANSFORMER", "ReferencingStore", "StaleReferenceError",
           "dump_table", "load_table", "referencing_store", "transformer_record"]

TRANSFORMER = "dosna_like_hdf5_references"  # the extension field naming the file
TABLE_NAME = "hdf5-refs.json"  # beside the array's zarr.json
TABLE_FORMAT = "dosna_like.hdf5-chunk-refs/1"
_IOV_MAX = 1024  # Linux's limit on buffers per preadv call


class StaleReferenceError(OSError):
    """The HDF5 file a store references changed (size, mtime or ETag) since its import."""


def transformer_record(file: str, fingerprint: dict) -> dict:
    """The extension field (``{TRANSFORMER: record}``) of an array whose chunks are in ``file``."""
    return {TRANSFORMER: {"must_understand": True, "file": file, "fingerprint": fingerprint, "table": TABLE_NAME}}


def dump_table(chunks: dict, pad_to: int) -> bytes:
    """A reference table: ``chunks`` maps a chunk key's tail after ``<path>/c``
    (``"/0/3"``; ``""`` for a 0-d array) to ``[file offset, size]``; ``pad_to``
    (raw contiguous data cut into chunks) pads a short last piece with zeros."""
    return json.dumps({"format": TABLE_FORMAT, "pad_to": int(pad_to), "chunks": chunks}).encode()


def load_table(raw: bytes | None, where: str) -> tuple:
    """(chunks, pad_to) of a stored reference table; FormatError naming ``where``."""
    try:
        table = json.loads(raw) if raw is not None else None
        if not isinstance(table, dict) or table.get("format") != TABLE_FORMAT:
            raise ValueError("not a reference table")
        chunks = {str(k): (int(v[0]), int(v[1])) for k, v in table["chunks"].items()}
        if any(o < 0 or s < 0 for o, s in chunks.values()):
            raise ValueError("negative offset or size")
        return chunks, int(table.get("pad_to", 0))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise FormatError(f"{where}: damaged HDF5 reference table ({exc})") from exc


def referencing_store(store: Store, path: str, doc: dict, trust_links: bool, sources: dict | None = None) -> Store:
    """The store the engine of the array at ``path`` (document ``doc``) reads through:
    ``store`` itself, or a :class:`ReferencingStore` when the array references an HDF5
    file.  FormatError for a storage transformer this library does not know.
    ``sources``: a dict shared by the arrays of one open file, so a file is opened once."""
    if doc.get("storage_transformers"):
        raise FormatError(f"node {'/' + path!r}: unsupported storage transformers {doc['storage_transformers']}")
    config = doc.get(TRANSFORMER)
    if config is None:
        return store
    if not isinstance(config, dict) or not isinstance(config.get("file"), str) or config.get("table") != TABLE_NAME:
        raise FormatError(f"node {'/' + path!r}: damaged {TRANSFORMER} record")
    return ReferencingStore(store, path, config["file"], config.get("fingerprint") or {}, trust_links,
                            {} if sources is None else sources)


class ReferencingStore(Store):
    """One array's view of ``inner``: chunks named in its reference table come from the HDF5 file."""

    def __init__(self, inner: Store, path: str, file: str, fingerprint: dict, trust_links: bool, sources: dict):
        super().__init__(inner.url, inner.root, inner.fs, protocol=inner.protocol, read_only=inner.read_only,
                         io_concurrency=inner.io_concurrency, storage_options=inner.storage_options)
        self.inner = inner
        self.requests = inner.requests  # one count per open file
        self.batches_async = inner.batches_async
        self.can_read_into = inner.can_read_into
        self.fingerprint_kind = inner.fingerprint_kind
        self.array_path = path
        self.prefix = chunk_prefix(path)
        self.table_key = node_key(path, TABLE_NAME)
        self.file_url = inner.sibling_url(file) if trust_links else inner.confined_url(file)
        self.file_fingerprint = fingerprint
        self._sources = sources
        self._lock = threading.Lock()
        self._table: dict | None = None
        self._pad_to = 0

    @property
    def identity(self) -> tuple:
        return self.inner.identity

    # ------------------------------------------------------- the table
    def table(self) -> dict:
        """{chunk key tail: (offset, size)} (read once)."""
        if self._table is None:
            with self._lock:
                if self._table is None:
                    chunks, self._pad_to = load_table(self.inner.get(self.table_key), self.table_key)
                    self._table = chunks
        return self._table

    def _ref(self, key: str):
        if not key.startswith(self.prefix):
            return None
        return self.table().get(key[len(self.prefix):])

    def _source(self) -> tuple:
        """The file's source (opened once per open store), checked against the import's fingerprint."""
        found = self._sources.get(self.file_url)
        if found is None:
            with self._lock:
                found = self._sources.get(self.file_url)
                if found is None:
                    opened = open_source(self.file_url, self.inner.storage_options)
                    if opened is None:
                        raise FileNotFoundError(f"/{self.array_path}: the HDF5 file it references, "
                                                f"{self.file_url}, is not there")
                    source, fingerprint = opened
                    if fingerprint != self.file_fingerprint:
                        raise StaleReferenceError(
                            f"/{self.array_path}: {self.file_url} changed since it was imported by reference "
                            f"(then {self.file_fingerprint}, now {fingerprint}); import it again")
                    found = self._sources[self.file_url] = source
        return found

    def _padded(self, data: bytes) -> bytes:
        short = self._pad_to - len(data)
        return data + bytes(short) if short > 0 else data

    def _drop(self, keys) -> None:
        """Forget the references of ``keys`` (their chunks now live in the store)."""
        table = self.table()
        gone = {k[len(self.prefix):] for k in keys if k.startswith(self.prefix)} & table.keys()
        if not gone:
            return

        def change(raw):
            chunks, pad_to = load_table(raw, self.table_key)
            return dump_table({k: list(v) for k, v in chunks.items() if k not in gone}, pad_to)

        self.inner.update(self.table_key, change)
        with self._lock:  # from the current table: another thread may have dropped others meanwhile
            self._table = {k: v for k, v in self._table.items() if k not in gone}

    # -------------------------------------------------------- reads
    def _get(self, key: str) -> bytes | None:
        ref = self._ref(key)
        if ref is None:
            return self.inner._get(key)
        return self._padded(read_range(self._source(), *ref))

    def _get_many(self, keys: list) -> dict:
        refs = {k: r for k in keys if (r := self._ref(k)) is not None}
        out = self.inner._get_many([k for k in keys if k not in refs]) if len(refs) < len(keys) else {}
        if refs:
            pieces, requests = read_ranges(self._source(), list(refs.values()), self.io_concurrency)
            self.requests.add("get", requests - len(refs))  # touching ranges went as one request
            out.update({k: self._padded(p) for k, p in zip(refs, pieces)})
        return out

    def _read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        ref = self._ref(key)
        if ref is None:
            return self.inner._read_into(key, nbytes, ranges)
        source = self._source()
        if ref[1] > nbytes or (ref[1] < nbytes and self._pad_to != nbytes):
            raise ValueError(f"{key}: {ref[1]} bytes referenced, expected {nbytes}")
        if source[0] != "fd" or ref[1] != nbytes:  # a copy: not a local file, or a short piece to pad
            data = memoryview(self._padded(read_range(source, *ref)))
            for offset, buffers in ranges:
                for buf in buffers:
                    buf[:] = data[offset:offset + len(buf)]
                    offset += len(buf)
            return True
        for offset, buffers in ranges:
            buffers = list(buffers)
            for i in range(0, len(buffers), _IOV_MAX):
                part = buffers[i:i + _IOV_MAX]
                if os.preadv(source[1], part, ref[0] + offset) != sum(len(b) for b in part):
                    raise ValueError(f"{key}: the HDF5 file ended early")
                offset += sum(len(b) for b in part)
        return True

    def _exists(self, key: str) -> bool:
        return self._ref(key) is not None or self.inner._exists(key)

    def _list_entries(self, prefix: str) -> list:
        return self.inner._list_entries(prefix)

    def _referenced_keys(self, prefix: str) -> dict:
        prefix = prefix.rstrip("/")
        keys = {self.prefix + tail: size for tail, (_, size) in self.table().items()}
        return {k: s for k, s in keys.items() if not prefix or k == prefix or k.startswith(prefix + "/")}

    def _list_keys(self, prefix: str) -> list:
        return sorted(set(self.inner._list_keys(prefix)) | set(self._referenced_keys(prefix)))

    def _list_sizes(self, prefix: str) -> dict:
        return {**self._referenced_keys(prefix), **self.inner._list_sizes(prefix)}

    def _is_empty_root(self) -> bool:
        return self.inner._is_empty_root()

    # ------------------------------------------------------- writes
    def _set(self, key: str, value) -> None:
        self.inner._set(key, value)
        self._drop([key])

    def _set_many(self, items: dict) -> None:
        self.inner._set_many(items)
        self._drop(items)

    def _write_from(self, key: str, ranges: list) -> None:
        self.inner._write_from(key, ranges)
        self._drop([key])

    def update(self, key: str, change) -> bytes:
        value = super().update(key, change)
        self._drop([key])  # after the update's lock is let go: dropping is an update of the table
        return value

    def _update(self, key, change):
        ref = self._ref(key)
        if ref is None:
            return self.inner._update(key, change)

        def from_reference(raw):  # the first write of a referenced chunk starts from the file's bytes
            return change(self._padded(read_range(self._source(), *ref)) if raw is None else raw)

        return self.inner._update(key, from_reference)

    def _delete_many(self, keys: list) -> None:
        self.inner._delete_many(keys)
        self._drop(keys)

    def _delete_prefix(self, prefix: str) -> None:
        self.inner._delete_prefix(prefix)

