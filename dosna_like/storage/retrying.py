"""One retry layer for object storage: a budget of attempts and seconds per request.

Why one layer of ours: s3fs retries inside ``_call_s3`` and again around
``_cat_file``, and botocore retries underneath both, so a store that accepts
connections and never answers held one chunk read for 454 s in 125 HTTP
attempts (issue 18).  The S3 back end turns the other layers off (one botocore
attempt, ``retries=1`` for s3fs) and runs every request through
:meth:`RetryBudget.run`: at most ``attempts`` tries and ``seconds`` in all,
each try cut off when the time is spent.

Errors are told apart by the names of their classes (botocore and aiohttp
are optional dependencies, imported by s3fs only): timeouts, dropped or
refused connections, HTTP 5xx and throttling, checksum mismatches
(``FlexibleChecksumError``) and damaged bodies (``ClientPayloadError``, a body
shorter than its ``Content-Length``) are retried; everything ends as a
builtin exception (``TimeoutError``, ``ConnectionError``,
``PermissionError``, ``FileNotFoundError``, ``OSError`` with the HTTP status)
whose message names the operation and the key.
"""
from __future__ import annotations

import asyncio
import errno
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping

from ..config import get_config

__all__ = ["RequestRefused", "RetryBudget", "TruncatedBodyError", "final_error", "is_transient"]

_TIMEOUTS = {"ReadTimeoutError", "ConnectTimeoutError", "TimeoutError", "timeout", "ServerTimeoutError",
             "FSTimeoutError"}
_CONNECTIONS = {"EndpointConnectionError", "ConnectionClosedError", "ClientConnectionError",
                "ServerDisconnectedError", "ClientOSError", "ProxyConnectionError", "HTTPClientError",
                "ConnectionError"}
_DAMAGED = {"FlexibleChecksumError", "ClientPayloadError", "ResponseParserError", "IncompleteReadError",
            "IncompleteRead", "TruncatedBodyError", "ContentLengthError", "ChecksumError"}
_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
              "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests", "XAmzContentSHA256Mismatch",
              "BadDigest"}
_MISSING = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "ExpiredToken",
           "InvalidToken", "AllAccessDisabled"}


class RequestRefused(OSError):
    """The store answered and refused the request (a 4xx other than throttling): not retried."""


class TruncatedBodyError(Exception):
    """A response body shorter (or longer) than its ``Content-Length``."""


def _names(exc: BaseException) -> set:
    return {cls.__name__ for cls in type(exc).__mro__}


def _client_error(exc: BaseException):
    """The botocore ``ClientError`` behind ``exc`` (s3fs puts it in ``__cause__``), or None."""
    for candidate in (exc, exc.__cause__):
        if candidate is not None and isinstance(getattr(candidate, "response", None), Mapping) \
                and "Error" in candidate.response:
            return candidate
    return None


def _status(err) -> tuple:
    """(HTTP status or None, error code) of a botocore ClientError."""
    response = err.response
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status, str(response["Error"].get("Code", ""))


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed (timeouts, lost connections, 5xx, throttling, damaged bodies)."""
    if isinstance(exc, RequestRefused):
        return False
    err = _client_error(exc)
    if err is not None:
        status, code = _status(err)
        return code in _THROTTLED or (status is not None and status >= 500)
    names = _names(exc)
    if names & (_TIMEOUTS | _CONNECTIONS | _DAMAGED):
        return True
    if isinstance(exc, asyncio.TimeoutError):
        return True
    # a bare OSError from the network stack (reset, broken pipe); not the file-like ones
    return isinstance(exc, OSError) and not isinstance(
        exc, (FileNotFoundError, PermissionError, FileExistsError, IsADirectoryError, NotADirectoryError))


def final_error(op: str, url: str, exc: BaseException, attempts: int, elapsed: float) -> BaseException:
    """The builtin exception a user sees for ``exc`` ending operation ``op`` on ``url``."""
    where = f"S3 {op} {url}"
    tries = f"after {attempts} attempt{'s' * (attempts != 1)} in {elapsed:.1f} s"
    err = _client_error(exc)
    if err is not None:
        status, code = _status(err)
        message = err.response["Error"].get("Message") or code
        if code in _MISSING or status == 404:
            return FileNotFoundError(errno.ENOENT, f"{where}: no such key or bucket ({code})")
        if code in _DENIED or status == 403:
            return PermissionError(errno.EACCES, f"{where}: access denied ({code}: {message})")
        return OSError(errno.EIO, f"{where}: HTTP {status} {code}: {message} ({tries})")
    names = _names(exc)
    if isinstance(exc, (FileNotFoundError, PermissionError, FileExistsError)):
        return type(exc)(exc.errno or errno.EIO, f"{where}: {exc.strerror or exc}")
    if isinstance(exc, RequestRefused):
        return OSError(exc.errno or errno.EIO, f"{where}: {exc.strerror or exc}")
    if names & _CREDENTIALS:
        return PermissionError(errno.EACCES, f"{where}: no usable credentials ({exc})")
    if names & _TIMEOUTS or isinstance(exc, asyncio.TimeoutError):
        return TimeoutError(errno.ETIMEDOUT, f"{where}: no answer ({tries})")
    if names & _CONNECTIONS or isinstance(exc, ConnectionError):
        return ConnectionError(errno.ECONNREFUSED, f"{where}: connection failed: {exc} ({tries})")
    if names & _DAMAGED:
        return OSError(errno.EIO, f"{where}: damaged response: {type(exc).__name__}: {exc} ({tries})")
    if isinstance(exc, OSError):
        return OSError(exc.errno or errno.EIO, f"{where}: {exc} ({tries})")
    if "BotoCoreError" in names:
        return OSError(errno.EIO, f"{where}: {type(exc).__name__}: {exc}")
    return exc  # a programming error: not dressed up as an I/O failure


async def _within(awaitable, seconds: float):
    """``await awaitable``, cut off after ``seconds`` (asyncio.timeout where there is one:
    wait_for costs a task per request)."""
    if _timeout is None:  # Python 3.10
        return await asyncio.wait_for(awaitable, seconds)
    async with _timeout(seconds):
        return await awaitable


_timeout = getattr(asyncio, "timeout", None)


@dataclass(frozen=True)
class RetryBudget:
    """At most ``attempts`` tries and ``seconds`` in all for one request.

    Defaults come from ``get_config().io_retry_attempts`` / ``io_retry_seconds``;
    ``storage_options={"retry_attempts": n, "retry_seconds": s}`` sets them per store.
    """

    attempts: int = 5
    seconds: float = 30.0

    def __post_init__(self):
        if int(self.attempts) < 1 or not float(self.seconds) > 0:
            raise ValueError(f"a retry budget needs attempts >= 1 and seconds > 0, not "
                             f"{self.attempts!r} and {self.seconds!r}")

    @classmethod
    def from_options(cls, options: Mapping) -> "RetryBudget":
        config = get_config()
        return cls(int(options.get("retry_attempts", config.io_retry_attempts)),
                   float(options.get("retry_seconds", config.io_retry_seconds)))

    async def run(self, op: str, url: str, attempt: Callable[[], Awaitable]):
        """``await attempt()`` until it succeeds, fails for good, or the budget is spent."""
        start = time.monotonic()
        deadline = start + self.seconds
        last: BaseException | None = None
        tries = 0
        while tries < self.attempts:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tries += 1
            try:
                return await _within(attempt(), remaining)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - sorted below, never swallowed
                if not is_transient(exc):
                    raise final_error(op, url, exc, tries, time.monotonic() - start) from exc
                last = exc
            pause = min(0.05 * 2 ** tries, 2.0, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(pause)
        if last is None:
            last = asyncio.TimeoutError()
        raise final_error(op, url, last, tries, time.monotonic() - start) from last
