"""S3-compatible object storage through s3fs (AWS, CORTX, MinIO, Ceph RGW...).

What S3 adds to the generic fsspec back end:

* another writer may change the bucket at any time, so s3fs never answers a
  listing from its cache (``use_listings_cache=False``, also on the s3 layer
  of a chained URL such as ``simplecache::s3://...``);
* copies are server side (CopyObject);
* the search index fingerprints node documents by their ETag, read from LIST
  requests whose delimiter is ``/c/``: each array's chunk keys fold into one
  common prefix, so one LIST page covers ~1000 nodes whatever the number of
  chunks, and no chunk key is ever listed.  A plain PUT's ETag is the MD5 of
  the bytes, so our own writes predict theirs.

Reads of a chained URL go through its outer (caching) layers; listings and
the index scan go to the s3fs filesystem underneath (``inner_fs``).
"""
from __future__ import annotations

import asyncio

from fsspec.asyn import sync

from ..format.keys import CHUNK_DELIMITER, META_KEY
from .base import KindsOf, OfferDocument
from .fsspec_store import FsspecStore

__all__ = ["S3Store"]

_UPDATE_ATTEMPTS = 20


def _lost_race(exc: BaseException) -> bool:
    """Whether a conditional PUT failed because the object changed (412) or
    another conditional write was in flight (409)."""
    text = f"{type(exc).__name__} {exc} {exc.__cause__!r}"
    return any(mark in text for mark in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"))


class S3Store(FsspecStore):
    """A bucket or a prefix in one, through s3fs."""

    server_side_copy = True
    fingerprint_kind = "etag"

    @classmethod
    def prepare_options(cls, storage_options: dict, protocol: str, chained: bool) -> dict:
        # another writer may change the bucket: never answer listings from a stale cache
        options = dict(storage_options)
        if chained:  # fsspec hands each layer of a chain the options under its protocol's name
            options[protocol] = {"use_listings_cache": False, **options.get(protocol, {})}
        else:
            options.setdefault("use_listings_cache", False)
        return options

    def _update(self, key: str, change) -> bytes:
        """A conditional PUT (``If-Match`` the ETag read, ``If-None-Match: *``
        when there was none), redone from the newer object when another writer
        got in first."""
        bucket, _, name = self.path(key).partition("/")
        for _ in range(_UPDATE_ATTEMPTS):
            try:
                resp = sync(self.inner_fs.loop, self.inner_fs._call_s3, "get_object", Bucket=bucket, Key=name)
                old, etag = sync(self.inner_fs.loop, resp["Body"].read), resp.get("ETag")
                condition = {"IfMatch": etag}
            except FileNotFoundError:
                old, condition = None, {"IfNoneMatch": "*"}
            value = change(old)
            try:
                sync(self.inner_fs.loop, self.inner_fs._call_s3, "put_object",
                     Bucket=bucket, Key=name, Body=bytes(value), **condition)
                self.inner_fs.invalidate_cache(self.path(key))
                return value
            except Exception as exc:  # noqa: BLE001 - 412/409: someone else wrote first
                if not _lost_race(exc):
                    raise
        raise OSError(f"{self.url_for(key)}: still changing after {_UPDATE_ATTEMPTS} conditional writes")

    async def _list_all_pages(self, bucket: str, prefix: str) -> tuple:
        """Every LIST page under ``prefix`` with the ``/c/`` delimiter:
        ``([(key, etag)], [common prefix], pages)``."""
        contents, prefixes, pages = [], [], 0
        kwargs = {"Bucket": bucket, "Prefix": prefix, "Delimiter": CHUNK_DELIMITER}
        while True:
            resp = await self.inner_fs._call_s3("list_objects_v2", **kwargs)
            pages += 1
            contents += [(c["Key"], c.get("ETag", "").strip('"')) for c in resp.get("Contents", ())]
            prefixes += [p["Prefix"] for p in resp.get("CommonPrefixes", ())]
            if not resp.get("IsTruncated"):
                return contents, prefixes, pages
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def _scan_documents(self, kinds_of: KindsOf, offer: OfferDocument | None) -> dict:
        """ETags of the node documents from delimiter LISTs (no document read, no chunk listed)."""
        bucket, _, key_root = self.root.partition("/")
        base = key_root + "/" if key_root else ""
        found, listed, pending = {}, set(), [base]

        async def gather(prefixes):
            return await asyncio.gather(*(self._list_all_pages(bucket, p) for p in prefixes))

        while pending:
            listed.update(pending)
            owners = set()
            for contents, prefixes, pages in sync(self.inner_fs.loop, gather, pending):
                self.requests.add("list", pages)
                for key, etag in contents:
                    rel = key[len(base):]
                    if rel == META_KEY:
                        found[""] = etag
                    elif rel.endswith("/" + META_KEY) and key.startswith(base):
                        found[rel[:-len(META_KEY) - 1]] = etag
                owners.update(p[len(base):-len(CHUNK_DELIMITER)] for p in prefixes)
            # '<owner>/c/' holds chunks when the owner is an array, a child named 'c' when a group
            kinds = kinds_of({o: found[o] for o in owners if o in found})
            pending = [p for p in (f"{base}{o}/c" for o in owners if kinds.get(o) == "group") if p not in listed]
        return found
