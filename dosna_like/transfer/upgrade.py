"""``dosna-like upgrade``: rewrite a store's node documents into the current layout.

Stores written by earlier versions stay readable as they are
(``format/documents.loads`` reads every layout); a document is moved to the
current one when it is next written.  This rewrites them all at once, so
that other Zarr tools see the current layout everywhere: an array's reserved
entry moves from its attributes to the ``dosna_like`` extension field, a
group's to its side object ``_dosna_like.json`` (written before the group's
``zarr.json`` loses it, so a run killed halfway leaves a store that opens), every
array gets ``dimension_names``, and the root gets zarr's consolidated
metadata of the whole hierarchy.  A document whose bytes would not change
is not written, so a second run writes nothing.  The search sidecar is then
rebuilt (the documents' fingerprints changed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import json

from ..format.documents import CONSOLIDATED_FINGERPRINTS, consolidated_root, dumps, loads, side_document
from ..format.keys import META_KEY, SIDE_KEY, SIDECAR_KEY, node_key
from ..index.sidecar import encode_sidecar, verify_index
from ..storage import open_store

__all__ = ["UpgradeReport", "upgrade_store"]


@dataclass
class UpgradeReport:
    """What :func:`upgrade_store` did: node paths rewritten, and how many nodes it saw."""

    rewritten: list = field(default_factory=list)
    nodes: int = 0


def _walk(store) -> tuple:
    """({path: stored zarr.json bytes}, {path: side object bytes}) of every node,
    level by level (one listing and one batch of GETs per group, then one of
    the groups' side objects; never a listing of chunk keys)."""
    root = store.get(node_key(""))
    if root is None:
        raise FileNotFoundError(f"{store.url}: no dosna_like file there (no root zarr.json)")
    found, groups, level = {"": root}, [""], [""]
    while level:
        nxt = []
        for group in level:
            for name, raw in store.get_children(group, META_KEY).items():
                path = f"{group}/{name}" if group else name
                found[path] = raw
                if loads(raw, node_key(path)).get("node_type") == "group":
                    nxt.append(path)
        groups += nxt
        level = nxt
    keys = {node_key(p, SIDE_KEY): p for p in groups}
    return found, {keys[k]: raw for k, raw in store.get_many(keys).items()}


def _same_document(path: str, new, old) -> bool:
    """Whether the document ``new`` would store is already stored (``old``).  The root's
    copy of every node's fingerprint (beside zarr's consolidated metadata) is not
    compared: kept as it is, an entry whose node changed is simply not used."""
    if bytes(new) == bytes(old):
        return True
    if path:
        return False
    try:
        stored = json.loads(old)
        stored.get("consolidated_metadata", {}).pop(CONSOLIDATED_FINGERPRINTS, None)
    except (ValueError, AttributeError):
        return False
    return json.loads(new) == stored


def upgrade_store(url, storage_options: dict | None = None) -> UpgradeReport:
    """Rewrite the node documents of the file at ``url`` into the current layout
    (idempotent); returns an :class:`UpgradeReport`."""
    store = open_store(url, storage_options)
    stored, sides = _walk(store)
    docs = {path: loads(raw, node_key(path), sides.get(path)) for path, raw in stored.items()}
    report = UpgradeReport(nodes=len(docs))
    new = {path: dumps(doc) for path, doc in docs.items() if path}
    new[""] = dumps(consolidated_root(docs[""], {p: d for p, d in docs.items() if p}))
    for path in sorted(new, key=lambda p: (p == "", p)):  # the root last: it describes the others
        side = side_document(docs[path], always=path in sides)
        rewrite = not _same_document(path, new[path], stored[path])
        changed = rewrite
        if side is not None and side != sides.get(path):
            store.set(node_key(path, SIDE_KEY), side)  # before the document loses the entry
            changed = True
        if rewrite:
            store.set(node_key(path), new[path])
        if changed:
            report.rewritten.append(path)
    if report.rewritten:
        nodes, _ = verify_index(store, None)  # the sidecar again, from the documents as they are now
        store.set(SIDECAR_KEY, encode_sidecar(nodes, store.fingerprint_kind))
    return report
