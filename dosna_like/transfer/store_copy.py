"""``copy_store``: a file (or a subtree) to another store, chunk objects as they are."""
from __future__ import annotations

import copy
import posixpath
import time

from ..chunks.pending import pending_chunks
from ..codecs.pipeline import ChunkCodec
from ..format.documents import ArrayMeta
from ..format.keys import chunk_key, chunk_prefix, parse_chunk_key
from ..format.reserved import edit_reserved, reserved_of
from ..hl.files import File
from ..index.nodes import doc_nbytes
from .common import INCOMPLETE, TransferReport, Workers, create_destination, mark_incomplete, progress_bar, utc_now, worker_count

__all__ = ["copy_store"]


# ============================================================ store copy
def copy_store(src_url, dest_url, *, storage_options: dict | None = None,
               dest_storage_options: dict | None = None, overwrite: bool = False,
               njobs: int | None = None, progress=None, path: str = "") -> TransferReport:
    """Copy a file (or the subtree at ``path`` of it) to a new store, chunk objects as they are.

    Documents are copied unchanged (codecs, attributes, links), each array's
    after its chunks; the new file's root gets the subtree's attributes.
    Nothing is decoded: throughput is that of the two stores.
    """

    start = time.perf_counter()
    report = TransferReport(source=str(src_url), dest=str(dest_url))
    with File(src_url, "r", njobs=njobs, storage_options=storage_options) as src:
        nodes = src._state.index.nodes()
        base = path.strip("/")
        if base and base not in nodes:
            raise KeyError(f"{path!r} does not exist in {src_url}")
        prefix = base + "/" if base else ""
        if base and nodes[base].kind == "dataset":  # one dataset: keep its name
            prefix = posixpath.dirname(base)
            prefix = prefix + "/" if prefix else ""
            wanted = [base]
        else:
            wanted = sorted(p for p in nodes if p.startswith(prefix) and p != base)
        dest = create_destination(dest_url, overwrite, njobs=njobs, storage_options=dest_storage_options
                                  if dest_storage_options is not None else storage_options)
        try:
            _copy_nodes(src, dest, nodes, base, prefix, wanted, njobs, progress, report)
        finally:
            dest.close()
    report.seconds = time.perf_counter() - start
    return report


def _held_chunks(store, path: str, doc: dict) -> dict:
    """{coords: stored bytes} of the chunks a writable handle of the array in this process
    holds and has not stored yet (the edge chunk of appends, ``chunks/pending.py``): what a
    reader sees of them, encoded as that handle will store them."""
    pending = pending_chunks(store, path)
    if not pending:
        return {}
    meta = ArrayMeta.from_document(doc, path)
    codec = ChunkCodec(meta.codecs, meta.dtype, meta.chunks)
    found = {}
    for coords in pending.coords():
        chunk = pending.snapshot(coords)
        if chunk is not None:
            found[coords] = bytes(codec.encode(chunk))
    return found


def _link_count(doc: dict, path: str) -> int:
    """How many links a group document records (soft, hard and external), as import and export count them."""
    return len(reserved_of(doc, path).get("links", {}))


def _copy_nodes(src, dest, nodes, base, prefix, wanted, njobs, progress, report) -> None:
    root_doc = copy.deepcopy(nodes[base].doc) if nodes[base].kind == "group" else None
    mark_incomplete(dest, {"source": str(src.filename), "started": utc_now()})
    sstore, dstore, state = src.store, dest.store, dest._state
    arrays = [p for p in wanted if nodes[p].kind == "dataset"]
    total = sum(doc_nbytes(nodes[p].doc) for p in arrays)
    bar = progress_bar(total, "copy", progress)
    try:
        with Workers(worker_count(njobs, dstore)) as workers:
            def copy_chunk(item):
                old_key, new_key = item
                raw = sstore.get(old_key)
                if raw is not None:
                    dstore.set(new_key, raw)

            for p in wanted:
                new = p[len(prefix):]
                doc = copy.deepcopy(nodes[p].doc)
                if doc.get("node_type") == "group":
                    state.write_doc(new, doc)
                    if nodes[p].kind == "group":  # a committed datatype is a Zarr group too, not a group
                        report.groups += 1
                    report.links += _link_count(doc, p)
                    continue
                # Object to object at store level, not through the engine: an array
                # copies even when this library cannot decode it (another tool's codec)
                held = _held_chunks(sstore, p, nodes[p].doc)
                found = ((k, parse_chunk_key(p, k)) for k in sstore.list_keys(chunk_prefix(p)))
                keys = [(k, chunk_key(new, coords)) for k, coords in found
                        if coords is not None and coords not in held]
                for _ in workers.ordered(copy_chunk, keys):
                    pass
                for coords, raw in held.items():
                    dstore.set(chunk_key(new, coords), raw)
                state.write_doc(new, doc)  # the document after its chunks
                report.datasets += 1
                report.raw_chunks += len(keys) + len(held)
                n = doc_nbytes(doc)
                report.nbytes += n
                bar.update(n)
            workers.drain()
        if root_doc is not None:
            report.links += _link_count(root_doc, base)
            edit_reserved(root_doc.setdefault("attributes", {}), base).pop(INCOMPLETE, None)
            state.write_doc("", root_doc)  # the subtree's attributes and links, and no mark
        else:
            mark_incomplete(dest, None)
    finally:
        bar.close()
