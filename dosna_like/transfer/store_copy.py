"""``copy_store``: a file (or a subtree) to another store, chunk objects as they are."""
from __future__ import annotations

import posixpath
import time

from ..format.keys import chunk_key
from ..format.reserved import RESERVED
from ..hl.files import File
from ..index.nodes import doc_nbytes
from .common import INCOMPLETE, TransferReport, Workers, mark_incomplete, progress_bar, utc_now, worker_count



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
        dest = File(dest_url, "w" if overwrite else "w-", njobs=njobs,
                    storage_options=dest_storage_options if dest_storage_options is not None else storage_options)
        try:
            _copy_nodes(src, dest, nodes, base, prefix, wanted, njobs, progress, report)
        finally:
            dest.close()
    report.seconds = time.perf_counter() - start
    return report


def _copy_nodes(src, dest, nodes, base, prefix, wanted, njobs, progress, report) -> None:
    import copy as copymod

    root_doc = copymod.deepcopy(nodes[base].doc) if nodes[base].kind == "group" else None
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
                doc = copymod.deepcopy(nodes[p].doc)
                if doc.get("node_type") == "group":
                    state.write_doc(new, doc)
                    report.groups += 1
                    continue
                keys = sstore.list_keys(chunk_key(p, ()))
                for _ in workers.ordered(copy_chunk, [(k, chunk_key(new, ()) + k[len(chunk_key(p, ())):])
                                                       for k in keys]):
                    pass
                state.write_doc(new, doc)  # the document after its chunks
                report.datasets += 1
                report.raw_chunks += len(keys)
                n = doc_nbytes(doc)
                report.nbytes += n
                bar.update(n)
            workers.drain()
        if root_doc is not None:
            root_doc.setdefault("attributes", {}).setdefault(RESERVED, {}).pop(INCOMPLETE, None)
            state.write_doc("", root_doc)  # the subtree's attributes and links, and no mark
        else:
            mark_incomplete(dest, None)
    finally:
        bar.close()
