"""How attribute values are shown to a person (``dosna-like info``) and in JSON
(``--json`` output): as the values h5py hands back, never in the encoding the
store keeps them in (base64 for bytes, JSON escapes for non-ASCII text).
"""
from __future__ import annotations

import base64
import json
import math

import numpy as np

from ..format.dtypes import is_empty
from ..index.query import plain

__all__ = ["attr_text", "jsonable"]


def jsonable(value):
    """An attribute value as JSON: lists for arrays, [re, im] for complex, strings for
    NaN; bytes as text when they are UTF-8 (``base64:...`` only when they are not)."""
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, str) and _escaped_bytes(value) is not None:
        return jsonable(_escaped_bytes(value))
    value = plain(value) if isinstance(value, (np.ndarray, np.generic)) else value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, complex):
        return [jsonable(value.real), jsonable(value.imag)]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return jsonable(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _escaped_bytes(text: str) -> bytes | None:
    """The bytes of a str h5py read from bytes that are not UTF-8 (with surrogate escapes,
    which cannot be printed or written as UTF-8); None for any other str."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return None


def attr_text(value) -> str:
    """An attribute value as a person reads it: text in quotes (unescaped), bytes
    as ``b'...'``, numbers, arrays and compounds as Python prints them."""
    if is_empty(value):
        return f"Empty({value.dtype})"
    if isinstance(value, (str, np.str_)) and _escaped_bytes(str(value)) is not None:
        return repr(_escaped_bytes(str(value)))
    if isinstance(value, (str, np.str_)):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, (bytes, np.bytes_)):
        return repr(bytes(value))
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim):
        return "[" + ", ".join(attr_text(v) for v in value) + "]"
    if isinstance(value, np.void):  # one compound value: its fields
        return "(" + ", ".join(attr_text(value[name]) for name in value.dtype.names) + ")"
    if isinstance(value, np.ndarray):
        return attr_text(value[()])
    if isinstance(value, np.generic):
        return attr_text(value.item())
    return repr(value)
