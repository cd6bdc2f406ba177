"""The command-line query language: ``key=value``, ``temp>=300``, ``path~*raw*``...

Each condition becomes one query dict of :mod:`dosna_like.index.query`;
``dosna-like search`` and the viewer's search box (``dosna-like serve``) read
conditions with :func:`build_query`.
"""
from __future__ import annotations

import json
import re
import shlex

__all__ = ["build_query", "parse_expr", "parse_query_text", "QueryTextError", "SPECIAL_KEYS"]

SPECIAL_KEYS = {"path": "$path", "kind": "$kind", "ndim": "$ndim", "dtype": "$dtype"}
_EXPR = re.compile(r"^(?P<key>[^=!<>~]+?)\s*(?P<op>>=|<=|!=|==|=|>|<|~)(?P<value>.*)$", re.S)
_OPS = {"=": "$eq", "==": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "~": "$glob"}
_SWAPPED = {"=>": ">=", "=<": "<=", "<>": "!=", "=!": "!="}  # operators typed the wrong way round



class QueryTextError(ValueError):
    """A condition or ``--query`` that cannot be read."""


def _literal(text: str):
    """A JSON literal (number, true/false/null, "quoted", [list]) or the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_expr(expr: str) -> dict:
    """One command-line condition as a query dict.

    ``key=value`` (equality; a value that reads as a number or true/false
    also matches the same text stored as a string), ``!=``, ``>``, ``>=``,
    ``<``, ``<=``, ``key~glob``; a bare ``key`` means the attribute exists and
    ``!key`` that it does not.  ``path``, ``kind``, ``ndim`` and ``dtype``
    mean the node's own fields; write ``attrs.path`` for an attribute named so.
    """
    match = _EXPR.match(expr)
    if match is None:
        name = expr.strip()
        if not name or any(c in name for c in "=<>~"):
            raise QueryTextError(f"cannot read the condition {expr!r}")
        if name.startswith("!"):
            return {name[1:].strip(): {"$exists": False}}
        return {name: {"$exists": True}}
    key, op, text = match["key"].strip(), _OPS[match["op"]], match["value"].strip()
    if text[:1] in ("=", "<", ">", "!", "~"):  # temp=>300 is a typo, not temp = ">300"
        fix = _SWAPPED.get(match["op"] + text[0])
        hint = f"did you mean '{key}{fix}{text[1:].strip()}'? " if fix else ""
        raise QueryTextError(f"cannot read the condition {expr!r}: {hint}(a value that really starts with "
                           f"{text[0]!r} is written as JSON: {key}{match['op']}'\"{text}\"')")
    if key.startswith("attrs."):
        key = key[len("attrs."):]
    else:
        key = SPECIAL_KEYS.get(key, key)
    if op == "$glob":
        return {key: {"$glob": text}}
    if not text and op not in ("$eq", "$ne"):
        raise QueryTextError(f"the condition {expr!r} has no value")
    value = _literal(text)
    if op in ("$eq", "$ne") and not isinstance(value, str) and not key.startswith("$"):
        choices = [value, text]  # 2 matches 2 and "2"
        return {key: {"$in" if op == "$eq" else "$nin": choices}}
    return {key: {op: value}}


def build_query(exprs: list, query_json: str | None) -> dict | None:
    parts = [parse_expr(e) for e in exprs]
    if query_json:
        try:
            parts.append(json.loads(query_json))
        except ValueError as exc:
            raise QueryTextError(f"--query is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise QueryTextError("--query nests too deeply") from exc
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def parse_query_text(text: str) -> dict | None:
    """Conditions separated by spaces (shell quoting) as one query dict."""
    return build_query(shlex.split(text), None)
