"""Emptying a whole store (``File(url, "w")`` over an existing one) so that a kill or an
outage at any point leaves the old file, an empty store, or one that says it was being
replaced: never the old file with part of its chunks gone (reading as the fill value).

Why a marker: on S3 a recursive delete removes keys in listing order, 1000 per
request, so a store cut off halfway kept its root document (with its consolidated
metadata) and datasets whose chunks were partly deleted.  Here the root document
is first replaced (one atomic write) by :data:`REPLACING_ROOT`, which ``File``
opens only to replace it and zarr-python refuses (``must_understand``); then
every node document goes (each node gone at once, before its chunks), then the
rest, the marker last.  A local store swaps its directory for an empty one
instead where the system can, and marks its root the same way where it cannot.
"""
from __future__ import annotations

import json

from ..format.keys import META_KEY

__all__ = ["REPLACING_ROOT", "empty_in_order"]

REPLACING_ROOT = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {},
                             "dosna_like_replacing": {"must_understand": True}}).encode()


def empty_in_order(store) -> None:
    """Remove every key of ``store`` (a :class:`~.base.Store`) through its primitives:
    marker, node documents, the rest, the marker."""
    keys = store._list_keys("")
    if not keys:
        return
    store._set(META_KEY, REPLACING_ROOT)
    documents = [k for k in keys if k.endswith("/" + META_KEY)]
    rest = [k for k in keys if k != META_KEY and not k.endswith("/" + META_KEY)]
    for batch in (documents, rest):
        if batch:
            store._delete_many(batch)
    store._delete_many([META_KEY])
