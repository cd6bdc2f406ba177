"""Client-library errors (botocore, aiohttp...) as the builtins a user catches."""
from __future__ import annotations

import functools

from ..errors import StoreUnreachableError

__all__ = ["as_builtin", "is_missing", "translating"]


def is_missing(exc: BaseException) -> bool:
    """Whether a client error means "no such object" (fsspec raises either)."""
    return isinstance(exc, (FileNotFoundError, KeyError))


def as_builtin(exc: BaseException, url: str) -> BaseException:
    """Client-library errors (botocore...) as the builtin a user catches."""
    if isinstance(exc, OSError):
        return exc
    name = type(exc).__name__
    if "Credential" in name or "Signature" in name:
        return PermissionError(f"{url}: {exc}")
    if "Connect" in name or "Timeout" in name or "Endpoint" in name:
        return StoreUnreachableError(f"{url}: {exc}")
    return exc


def translating(method):
    """Make a contract method raise builtins for client-library errors."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            translated = as_builtin(exc, self.url)
            if translated is exc:
                raise
            raise translated from exc

    return wrapper
