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

Every request runs under one retry layer (:mod:`.retrying`): botocore makes
one attempt and s3fs none of its own, and each request gets at most
``retry_attempts`` tries and ``retry_seconds`` in all (storage options, or
``get_config().io_retry_attempts``/``io_retry_seconds``), so a dead or silent
endpoint fails within that time with a builtin error naming the operation and
the key.  Objects are read with one GET each (no HEAD), and a body shorter
than its ``Content-Length`` is retried, never returned.
"""
from __future__ import annotations

import asyncio
import functools
import random
import time
import weakref


from ..format.keys import CHUNK_DELIMITER, META_KEY, SIDE_KEY
from .base import KindsOf, OfferDocument, node_fingerprint
from .fsspec_store import _MISSING, FsspecStore
from .pipeline import call_on_loop
from .retrying import RetryBudget, TruncatedBodyError
from .s3_budgeted import BudgetedFilesystem, check_downloads
from .s3_obstore import ObstoreBodies, usable_for

# storage options that set our retry budget, not s3fs's
_BUDGET_OPTIONS = ("retry_attempts", "retry_seconds", "body_client")
# s3fs filesystem -> {bucket: ObstoreBodies}: one connection pool per endpoint and bucket
_BODIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

__all__ = ["S3Store"]

_UPDATE_ATTEMPTS = 20
_UPDATE_PAUSE_MAX = 0.25  # seconds, the longest random pause between conditional writes of one object


def _single_attempt(options: dict) -> dict:
    """s3fs options with botocore's own retries off (ours replace them), unless the user set
    botocore's retries explicitly."""
    config = dict(options.get("config_kwargs") or {})
    config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
    options["config_kwargs"] = config
    return options


def _is_chunk(key: str) -> bool:
    """Chunk objects go through obstore; node documents and the sidecar stay on botocore,
    whose ETags and request hooks the search index and its tests rely on."""
    return CHUNK_DELIMITER in "/" + key


def _is_no_such_key(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return isinstance(exc, FileNotFoundError)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404") or status == 404


async def _sync_in_thread(func, *args):
    """An s3fs call made through its sync API, from a thread, so the retry layer can time it out."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


def _lost_race(exc: BaseException) -> bool:
    """Whether a conditional PUT failed because the object changed (412) or
    another conditional write was in flight (409)."""
    text = f"{type(exc).__name__} {exc} {exc.__cause__!r}"
    return any(mark in text for mark in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"))


def _innermost(fs):
    """The filesystem below the cache layers of a chain (``fs`` itself when there are none)."""
    while getattr(fs, "fs", None) is not None:  # a cache layer (which also claims async_impl from below)
        fs = fs.fs
    return fs


def _without_budget(options: dict) -> dict:
    """``options`` without the retry budget's keys, which s3fs would refuse."""
    return {k: v for k, v in options.items() if k not in _BUDGET_OPTIONS}


class S3Store(FsspecStore):
    """A bucket or a prefix in one, through s3fs."""

    server_side_copy = True
    fingerprint_kind = "etag"
    own_options = _BUDGET_OPTIONS

    @classmethod
    def prepare_options(cls, storage_options: dict, protocol: str, chained: bool) -> dict:
        # another writer may change the bucket: never answer listings from a stale cache
        options = _without_budget(storage_options)
        if chained:  # fsspec hands each layer of a chain the options under its protocol's name
            nested = _without_budget(options.get(protocol, {}))  # the budget is ours, not s3fs's
            options[protocol] = _single_attempt({"use_listings_cache": False, **nested})
        else:
            options = _single_attempt({"use_listings_cache": False, **options})
        return options

    @classmethod
    def filesystem_for_reads(cls, fs, protocol: str, storage_options: dict):
        inner = _innermost(fs)
        nested = storage_options.get(protocol) if isinstance(storage_options.get(protocol), dict) else {}
        inner.retries = 1  # s3fs's own retry loops: off, as for a store
        return BudgetedFilesystem(fs, inner, RetryBudget.from_options({**nested, **storage_options}))

    def __init__(self, url: str, root: str, fs, **settings):
        super().__init__(url, root, fs, **settings)
        options = self.storage_options
        nested = options.get(self.protocol) if isinstance(options.get(self.protocol), dict) else {}
        self.budget = RetryBudget.from_options({**nested, **options})
        # s3fs's own retry loops (a class attribute, not an option): off, also in the s3fs a
        # chain's cache layers fetch through (another instance with skip_instance_cache)
        for s3fs in {id(x): x for x in (self.inner_fs, _innermost(fs))}.values():
            s3fs.retries = 1
            if self._through_layers:
                check_downloads(s3fs)
        # object bodies through obstore where it can carry them ("body_client": "botocore" opts out)
        client = {**nested, **options}.get("body_client", "auto")
        if client not in ("auto", "obstore", "botocore"):
            raise ValueError(f"body_client must be 'auto', 'obstore' or 'botocore', not {client!r}")
        self._bodies = None
        if client != "botocore" and not self._through_layers and usable_for(self.inner_fs):
            bucket = self.root.partition("/")[0]
            self._bodies = _BODIES.setdefault(self.inner_fs, {}).setdefault(
                bucket, ObstoreBodies(self.inner_fs, bucket))
        elif client == "obstore":
            raise ValueError("body_client='obstore' needs the obstore package and a plain s3:// URL")

    # ------------------------------------------------ one retry layer
    def _run(self, op: str, key: str, attempt):
        """Run ``attempt()`` (a coroutine factory) under the retry budget, from a thread."""
        return call_on_loop(self.inner_fs.loop, self.budget.run, op, self.url_for(key), attempt)

    async def _client(self, bucket: str):
        await self.inner_fs.set_session()
        return await self.inner_fs.get_s3(bucket)

    async def _call(self, name: str, **kwargs):
        """One botocore call, with the s3fs filesystem's extra request arguments."""
        client = await self._client(kwargs.get("Bucket"))
        method = getattr(client, name)
        return await method(**self.inner_fs._get_s3_method_kwargs(method, **kwargs))

    async def _get_once(self, key: str):
        bucket, _, name = self.path(key).partition("/")
        if self._bodies is not None and _is_chunk(key):
            return await self._bodies.get(name)
        try:
            resp = await self._call("get_object", Bucket=bucket, Key=name)
        except Exception as exc:  # noqa: BLE001 - only "no such key" is an answer here
            if _is_no_such_key(exc):
                return None
            raise
        async with resp["Body"] as body:
            data = await body.read()
        expected = resp.get("ContentLength")
        if expected is not None and len(data) != expected:
            raise TruncatedBodyError(f"got {len(data)} of {expected} bytes")
        return data

    async def _put_once(self, key: str, value) -> None:
        bucket, _, name = self.path(key).partition("/")
        if self._bodies is not None and _is_chunk(key):
            await self._bodies.put(name, value)
            return
        await self._call("put_object", Bucket=bucket, Key=name, Body=value)

    def _in_layers(self, func, *args):
        """A coroutine factory: one try of the synchronous ``func(*args)`` through a chain's
        cache layers, in an I/O thread (the budget stops waiting when its time is spent).
        ``args[0]`` is the key (or keys): a failed try drops the layers' copy of it, since
        ``blockcache`` marks blocks as held before fetching them."""
        def attempt():
            try:
                return func(*args)
            except Exception:
                self._forget_cached(args[0] if isinstance(args[0], list) else [args[0]])
                raise
        return lambda: asyncio.get_running_loop().run_in_executor(self._threads(), attempt)

    async def _fetch_async(self, key: str):
        if self._through_layers:
            return await self.budget.run("GET", self.url_for(key),
                                         self._in_layers(super()._get, key))
        return await self.budget.run("GET", self.url_for(key), lambda: self._get_once(key))

    async def _store_async(self, key: str, value) -> None:
        if self._through_layers:
            if value is None:
                await self.budget.run("DELETE", self.url_for(key),
                                      self._in_layers(super()._delete_many, [key]))
            else:
                await self.budget.run("PUT", self.url_for(key), self._in_layers(super()._set, key, value))
        elif value is None:
            await self.budget.run("DELETE", self.url_for(key), lambda: self._delete_once(key))
        else:
            value = bytes(value)
            await self.budget.run("PUT", self.url_for(key), lambda: self._put_once(key, value))
        if not self._through_layers:
            self.inner_fs.invalidate_cache(self.path(key))

    async def _delete_once(self, key: str) -> None:
        bucket, _, name = self.path(key).partition("/")
        if self._bodies is not None and _is_chunk(key):
            await self._bodies.delete(name)
            return
        await self._call("delete_object", Bucket=bucket, Key=name)

    def _get(self, key: str):
        if self._through_layers:
            return self._run("GET", key, self._in_layers(super()._get, key))
        raw = self._run("GET", key, lambda: self._get_once(key))
        # one object asked for is handed out as bytes (``get_raw``, ``read_direct_chunk``);
        # batches keep obstore's buffer (no copy per body)
        return raw if raw is None or isinstance(raw, bytes) else bytes(raw)

    async def _range_once(self, key: str, start: int, stop: int | None):
        try:
            return await self.inner_fs._cat_file(self.path(key), start=start, end=stop, **self._cat_kwargs)
        except _MISSING:
            return None

    def _get_range(self, key: str, start: int, stop: int | None):
        if self._through_layers:
            return self._run("GET", key, self._in_layers(super()._get_range, key, start, stop))
        return self._run("GET", key, lambda: self._range_once(key, start, stop))

    def _get_ranges(self, requests: list) -> list:
        """Each range under its own budget, ``io_concurrency`` in flight."""
        if self._through_layers:
            return list(self._threads().map(lambda r: self._get_range(*r), requests))

        async def every():
            room = asyncio.Semaphore(max(1, self.io_concurrency))

            async def one(key, start, stop):
                async with room:
                    return await self.budget.run("GET", self.url_for(key), lambda: self._range_once(key, start, stop))
            return await asyncio.gather(*(one(*r) for r in requests))
        return call_on_loop(self.inner_fs.loop, every)

    def _set(self, key: str, value) -> None:
        if self._through_layers:
            self._run("PUT", key, self._in_layers(super()._set, key, value))
            return
        value = bytes(value)
        self._run("PUT", key, lambda: self._put_once(key, value))
        self.inner_fs.invalidate_cache(self.path(key))

    def _exists(self, key: str) -> bool:
        async def probe():
            try:
                await self.inner_fs._info(self.path(key))
                return True
            except FileNotFoundError:
                return False
        return self._run("HEAD", key, probe)

    def _list_entries(self, prefix: str) -> list:
        return self._run("LIST", prefix, lambda: _sync_in_thread(super(S3Store, self)._list_entries, prefix))

    def _list_keys(self, prefix: str) -> list:
        return self._run("LIST", prefix, lambda: _sync_in_thread(super(S3Store, self)._list_keys, prefix))

    def _list_sizes(self, prefix: str) -> dict:
        return self._run("LIST", prefix, lambda: _sync_in_thread(super(S3Store, self)._list_sizes, prefix))

    def _is_empty_root(self) -> bool:
        return self._run("LIST", "", lambda: _sync_in_thread(super(S3Store, self)._is_empty_root))

    def _delete_many(self, keys: list) -> None:
        self._run("DELETE", keys[0], lambda: _sync_in_thread(super(S3Store, self)._delete_many, keys))

    def _delete_prefix(self, prefix: str) -> None:
        self._run("DELETE", prefix, lambda: _sync_in_thread(super(S3Store, self)._delete_prefix, prefix))

    def _copy_keys(self, keys: list, dests: list) -> None:
        self._run("COPY", keys[0], lambda: _sync_in_thread(super(S3Store, self)._copy_keys, keys, dests))

    def _update(self, key: str, change) -> bytes:
        """A conditional PUT (``If-Match`` the ETag read, ``If-None-Match: *``
        when there was none), redone from the newer object when another writer
        got in first."""
        bucket, _, name = self.path(key).partition("/")

        async def read():
            try:
                resp = await self._call("get_object", Bucket=bucket, Key=name)
            except Exception as exc:  # noqa: BLE001 - only "no such key" is an answer here
                if _is_no_such_key(exc):
                    return None, {"IfNoneMatch": "*"}
                raise
            async with resp["Body"] as body:
                data = await body.read()
            if resp.get("ContentLength") not in (None, len(data)):
                raise TruncatedBodyError(f"got {len(data)} of {resp['ContentLength']} bytes")
            return data, {"IfMatch": resp["ETag"]}

        for attempt in range(_UPDATE_ATTEMPTS):
            old, condition = self._run("GET", key, read)
            value = bytes(change(old))
            try:
                self._run("PUT", key, lambda: self._call("put_object", Bucket=bucket, Key=name, Body=value,
                                                         **condition))
                self.inner_fs.invalidate_cache(self.path(key))
                self._forget_cached([key])
                return value
            except OSError as exc:  # 412/409: someone else wrote first
                if not _lost_race(exc):
                    raise
            # before reading again, a random pause that doubles: writers that keep meeting on
            # one object fall out of step (retried at once, two of them could take turns
            # losing until the attempts ran out, on a loaded machine)
            if attempt + 1 < _UPDATE_ATTEMPTS:
                time.sleep(random.uniform(0, min(_UPDATE_PAUSE_MAX, 0.002 * 2 ** attempt)))
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
            return await asyncio.gather(*(self.budget.run("LIST", f"s3://{bucket}/{p}",
                                                          functools.partial(self._list_all_pages, bucket, p))
                                          for p in prefixes))

        while pending:
            listed.update(pending)
            owners = set()
            sides = {}  # a group's side object is listed with its document (same prefix)
            for contents, prefixes, pages in call_on_loop(self.inner_fs.loop, gather, pending):
                self.requests.add("list", pages)
                for key, etag in contents:
                    rel = key[len(base):]
                    for name, table in ((META_KEY, found), (SIDE_KEY, sides)):
                        if rel == name:
                            table[""] = etag
                        elif rel.endswith("/" + name) and key.startswith(base):
                            table[rel[:-len(name) - 1]] = etag
                owners.update(p[len(base):-len(CHUNK_DELIMITER)] for p in prefixes)
            for path, etag in sides.items():
                if path in found:
                    found[path] = node_fingerprint(found[path], etag)
            # '<owner>/c/' holds chunks when the owner is an array, a child named 'c' when a group
            kinds = kinds_of({o: found[o] for o in owners if o in found})
            pending = [p for p in (f"{base}{o}/c" for o in owners if kinds.get(o) == "group") if p not in listed]
        return found
