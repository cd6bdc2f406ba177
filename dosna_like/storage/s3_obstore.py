"""Chunk GETs, PUTs and DELETEs through obstore (Rust's object_store) instead of aiobotocore.

Why: a GET through aiobotocore costs 2.4-2.9 ms of client CPU (request
signing, event hooks, header parsing in Python) against 1.1-1.3 ms through
obstore, measured side by side on the local endpoint (``benchmarks/
bench_s3_pipeline.py``); on a loaded machine the Python client's CPU is what
bounds a many-chunk read.  s3fs stays the filesystem (listings, copies,
conditional updates, tools): obstore only carries object bodies, configured
from the s3fs session (endpoint, region, credentials through botocore's own
resolution, refreshed every few minutes), with its own retries off, since
the one retry layer (:mod:`.retrying`) runs around it.  Node documents and
the sidecar stay on botocore (their ETags feed the search index).

Used when obstore is installed and the s3fs filesystem asks nothing obstore
would not send (extra request arguments such as SSE keys, versioned paths);
otherwise the aiobotocore path serves.  Errors become builtins that the retry
layer sorts: timeouts, connection failures and 5xx are retried.
"""
from __future__ import annotations

import asyncio
import datetime
import errno
import re

from .retrying import RequestRefused, TruncatedBodyError

try:  # an optional accelerator (the s3 extra installs it)
    import obstore
    from obstore.store import S3Store as _ObjectStore
except ImportError:  # pragma: no cover - exercised where obstore is not installed
    obstore = None

__all__ = ["ObstoreBodies", "usable_for"]

_CREDENTIAL_LIFETIME = datetime.timedelta(minutes=5)
_STATUS = re.compile(r"status(?: code)?: ([1-5]\d\d)\b")


def usable_for(fs) -> bool:
    """Whether obstore can carry this s3fs filesystem's requests unchanged."""
    return (obstore is not None and not getattr(fs, "s3_additional_kwargs", None)
            and not getattr(fs, "version_aware", False) and not getattr(fs, "requester_pays", False))


def _as_builtin(exc: BaseException) -> BaseException:
    """An obstore error as the builtin the retry layer sorts (it adds the operation and key)."""
    name = type(exc).__name__
    full = str(exc)
    text = (full.splitlines() or [""])[0]  # the rest is obstore's debug dump
    if name == "NotFoundError" or isinstance(exc, FileNotFoundError):
        return FileNotFoundError(errno.ENOENT, "no such key")
    if name in ("PermissionDeniedError", "UnauthenticatedError") or isinstance(exc, PermissionError):
        return PermissionError(errno.EACCES, text or name)
    if name in ("PreconditionError", "AlreadyExistsError", "NotModifiedError"):
        return RequestRefused(errno.EEXIST, "HTTP 412 PreconditionFailed")
    status = next((int(s) for s in _STATUS.findall(full)), None)
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return RequestRefused(errno.EIO, f"HTTP {status}: {text}")
    if status is not None:
        return OSError(errno.EIO, f"HTTP {status}: {text}")  # 5xx, 408, 429: retried
    if "timed out" in full or "TimedOut" in full:
        return TimeoutError(errno.ETIMEDOUT, text)
    if "body" in full.lower() or "decoding" in full.lower():
        return TruncatedBodyError(text)
    return ConnectionError(errno.ECONNRESET, text or name)


class ObstoreBodies:
    """Object bodies of one bucket through obstore, set up from an s3fs filesystem."""

    def __init__(self, fs, bucket: str):
        self.fs = fs
        self.bucket = bucket
        self._store = None
        self._lock = asyncio.Lock()

    async def _object_store(self):
        if self._store is not None:
            return self._store
        async with self._lock:
            if self._store is None:
                self._store = await self._build()
        return self._store

    async def _build(self):
        await self.fs.set_session()
        client = await self.fs.get_s3(self.bucket)
        endpoint = client.meta.endpoint_url
        config = client.meta.config
        options = {"connect_timeout": datetime.timedelta(seconds=config.connect_timeout or 5),
                   "read_timeout": datetime.timedelta(seconds=config.read_timeout or 15),
                   "pool_max_idle_per_host": "64"}
        if endpoint.startswith("http://"):
            options["allow_http"] = True
        kwargs = {"region": client.meta.region_name or "us-east-1", "client_options": options,
                  "retry_config": {"max_retries": 0, "retry_timeout": datetime.timedelta(seconds=1)}}
        if "amazonaws.com" not in endpoint:
            kwargs["endpoint"] = endpoint
        credentials = client._request_signer._credentials  # botocore resolved them (env, profile, role...)
        if credentials is None:
            kwargs["skip_signature"] = True
        else:
            async def provide():
                frozen = await credentials.get_frozen_credentials()
                return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                        "token": frozen.token,
                        "expires_at": datetime.datetime.now(datetime.timezone.utc) + _CREDENTIAL_LIFETIME}
            kwargs["credential_provider"] = provide
        return _ObjectStore(self.bucket, **kwargs)

    async def get(self, name: str):
        """The object's bytes (a read-only memoryview of obstore's buffer), or None when
        there is no such object."""
        store = await self._object_store()
        try:
            result = await obstore.get_async(store, name)
            data = await result.bytes_async()
        except Exception as exc:  # noqa: BLE001 - turned into a builtin below
            translated = _as_builtin(exc)
            if isinstance(translated, FileNotFoundError):
                return None
            raise translated from exc
        size = result.meta.get("size")
        if size is not None and len(data) != size:
            raise TruncatedBodyError(f"got {len(data)} of {size} bytes")
        # obstore's buffer, not a copy: ``bytes(data)`` cost a memcpy of every body on the
        # event loop's one thread, with the GIL held (57 ms of a 64 MiB sharded read)
        return memoryview(data)

    async def put(self, name: str, value) -> None:
        store = await self._object_store()
        try:
            # one PUT, as botocore's put_object: obstore's multipart upload (objects over 5 MiB)
            # costs 2 POSTs + a PUT per 5 MiB part, and its part uploads run as tasks of their own
            # that call the async credential provider with no event loop (a PermissionError)
            await obstore.put_async(store, name, value, use_multipart=False)
        except Exception as exc:  # noqa: BLE001 - turned into a builtin below
            raise _as_builtin(exc) from exc

    async def delete(self, name: str) -> None:
        store = await self._object_store()
        try:
            await obstore.delete_async(store, name)
        except Exception as exc:  # noqa: BLE001 - turned into a builtin below
            translated = _as_builtin(exc)
            if not isinstance(translated, FileNotFoundError):
                raise translated from exc
