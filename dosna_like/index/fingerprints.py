"""Fingerprints of node documents, as each kind of store lists them cheaply."""
from __future__ import annotations

from typing import Callable
import hashlib
import os

from ..format.keys import META_KEY
from ..storage.base import Store

from ..format.keys import CHUNK_DELIMITER, SIDECAR_KEY



# ============================================================ fingerprints
def _md5(raw) -> str:
    return hashlib.md5(bytes(raw)).hexdigest()


class _LocalFingerprints:
    """Local directories: ``stat`` of each document; one ``scandir`` per group."""

    kind = "stat"

    @staticmethod
    def _of(st: os.stat_result) -> str:
        return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"

    def predict(self, store: Store, key: str, raw) -> str:
        try:
            return self._of(os.stat(store.path(key)))
        except OSError:
            return ""

    def scan(self, store: Store, kinds_of: Callable) -> dict:
        try:
            found = {"": self._of(os.stat(store.path(META_KEY)))}
        except (FileNotFoundError, NotADirectoryError):
            return {}
        level = [""]
        while level:
            new = {}
            for group in level:
                store.requests.add("list")
                try:
                    entries = list(os.scandir(store.path(group)))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for entry in entries:
                    if entry.name == META_KEY or entry.name.endswith(".partial") or entry.name == SIDECAR_KEY:
                        continue
                    try:
                        st = os.stat(os.path.join(entry.path, META_KEY))
                    except (FileNotFoundError, NotADirectoryError):
                        continue
                    new[f"{group}/{entry.name}" if group else entry.name] = self._of(st)
            found.update(new)
            kinds = kinds_of(new)
            level = [p for p in new if kinds.get(p) == "group"]
        return found


class _S3Fingerprints:
    """S3 through s3fs: ETags from LIST requests whose delimiter folds chunk keys."""

    kind = "etag"

    def predict(self, store: Store, key: str, raw) -> str:
        return _md5(raw)  # the ETag S3 gives a plain PUT

    @staticmethod
    async def _list(fs, bucket: str, prefix: str) -> tuple:
        contents, prefixes, pages = [], [], 0
        kwargs = {"Bucket": bucket, "Prefix": prefix, "Delimiter": CHUNK_DELIMITER}
        while True:
            resp = await fs._call_s3("list_objects_v2", **kwargs)
            pages += 1
            contents += [(c["Key"], c.get("ETag", "").strip('"')) for c in resp.get("Contents", ())]
            prefixes += [p["Prefix"] for p in resp.get("CommonPrefixes", ())]
            if not resp.get("IsTruncated"):
                return contents, prefixes, pages
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def scan(self, store: Store, kinds_of: Callable) -> dict:
        import asyncio

        from fsspec.asyn import sync

        fs = store.fs
        bucket, _, key_root = store.root.partition("/")
        base = key_root + "/" if key_root else ""
        found, listed, pending = {}, set(), [base]

        async def gather(prefixes):
            return await asyncio.gather(*(self._list(fs, bucket, p) for p in prefixes))

        while pending:
            listed.update(pending)
            owners = set()
            for contents, prefixes, pages in sync(fs.loop, gather, pending):
                store.requests.add("list", pages)
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


class _ContentFingerprints:
    """Any other fsspec store: MD5 of each document (the listing names them, a batch reads them)."""

    kind = "md5"

    def predict(self, store: Store, key: str, raw) -> str:
        return _md5(raw)

    def scan(self, store: Store, kinds_of: Callable, offer: Callable | None = None) -> dict:
        keys = [k for k in store.list_keys("") if k == META_KEY or k.endswith("/" + META_KEY)]
        found = {}
        for key, raw in store.get_many(keys).items():
            path = key[:-len(META_KEY)].rstrip("/")
            found[path] = _md5(raw)
            if offer is not None:
                offer(path, raw)
        return found


def fingerprints_for(store: Store):
    """The fingerprint scheme for a store: stat (local), etag (S3), md5 (others)."""
    if store.is_local:
        return _LocalFingerprints()
    try:
        from s3fs import S3FileSystem
    except ImportError:  # pragma: no cover - s3fs is a dependency
        S3FileSystem = ()
    if isinstance(store.fs, S3FileSystem):
        return _S3Fingerprints()
    return _ContentFingerprints()
