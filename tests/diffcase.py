"""Helpers for differential tests: run the same code against h5py and dosna_like.

The contract under test is "``import dosna_like as h5py`` keeps h5py code
working": same values, dtypes, shapes and exception *types*.

An *op* is a callable ``op(mod, f)`` where ``mod`` is the module under test
(``h5py`` or ``dosna_like``) and ``f`` an open, writable, empty ``File``.  A
*file op* is ``fop(mod, path)`` and gets a fresh, not-yet-existing location
instead (for file-mode / reopen tests).  Ops must return plain data (numpy
arrays / scalars, Python scalars, str, tuples, lists, dicts, dtypes, slices,
types); returning a library object (Dataset, Group, ...) is a test bug and is
rejected by :func:`normalize`.

Outcome comparison rules (:func:`assert_same_outcome`):

* both raised: the dosna_like exception must be an instance of the *class* of
  the h5py exception (``isinstance(e_dosna, type(e_h5py))``).  So a subclass is
  accepted (e.g. FileNotFoundError where h5py raises OSError) but a sibling or
  base class is not (OSError where h5py raises FileNotFoundError fails).
  Messages are not compared.
* both returned: values are compared structurally; numpy arrays must have the
  same shape, dtype and values (NaN == NaN; object arrays also compare the
  Python type of each element); numpy scalars must have the same numpy type;
  Python values must have the same Python type and compare equal.
* anything else (only one side raised) fails.

Harness self-test: set ``DIFF_SELFTEST=1`` to run the whole differential suite
with h5py standing in for dosna_like (``memory://`` parametrisations are
skipped); everything must pass trivially.
"""
from __future__ import annotations

import dataclasses
import math
import os
import types
from typing import Any, Callable

import h5py
import numpy as np
import pytest


# --------------------------------------------------------------------------
# module under test
# --------------------------------------------------------------------------

def _selftest_module() -> types.ModuleType:
    """h5py wearing a dosna_like hat (accepts and ignores dosna-only kwargs)."""
    mod = types.ModuleType("dosna_like_selftest")

    class File(h5py.File):
        def __init__(self, name, mode="r", *, njobs=None, rdcc_nbytes=None,
                     storage_options=None, **kw):
            if rdcc_nbytes is not None:
                kw["rdcc_nbytes"] = rdcc_nbytes
            super().__init__(name, mode, **kw)

    def __getattr__(attr):
        return getattr(h5py, attr)

    mod.File = File
    mod.__getattr__ = __getattr__
    return mod


def selftest() -> bool:
    return bool(os.environ.get("DIFF_SELFTEST"))


def skip_if_selftest_url(url: str) -> None:
    """In self-test mode h5py cannot open ``memory://`` URLs: skip those."""
    if selftest() and str(url).startswith("memory://"):
        import pytest
        pytest.skip("DIFF_SELFTEST: h5py cannot open memory:// URLs")


_DOSNA = None


def dosna_module():
    global _DOSNA
    if _DOSNA is None:
        if selftest():
            _DOSNA = _selftest_module()
        else:
            import dosna_like
            _DOSNA = dosna_like
    return _DOSNA


# Store kinds these differential tests run on: every kind, S3 included (the
# real local endpoint over HTTP).  DIFF_STORE_KINDS=memory,local narrows a
# local run; CI always runs all three.
STORE_KINDS = [k for k in os.environ.get("DIFF_STORE_KINDS", "memory,local,s3").split(",") if k]


@pytest.fixture(params=STORE_KINDS)
def diff_store_kind(request) -> str:
    """The differential store kinds (all three by default): a test module overrides conftest's
    ``store_kind`` with it (``store_kind = diff_store_kind``)."""
    return request.param


# --------------------------------------------------------------------------
# outcomes
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Raised:
    exc: BaseException

    def __repr__(self):
        return f"Raised({type(self.exc).__module__}.{type(self.exc).__qualname__}: {self.exc})"


@dataclasses.dataclass
class Returned:
    value: Any

    def __repr__(self):
        return f"Returned({self.value!r})"


_PLAIN = (type(None), bool, int, float, complex, str, bytes, np.dtype, slice, type)


def normalize(v):
    """Detach a result from the library (copy arrays), reject library objects."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, np.generic):
        return v
    if isinstance(v, _PLAIN):
        return v
    if isinstance(v, (tuple, list)):
        return type(v)(normalize(x) for x in v)
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset)):
        return type(v)(v)
    return Opaque(f"{type(v).__module__}.{type(v).__qualname__}")


@dataclasses.dataclass(frozen=True)
class Opaque:
    """Stands for a returned library object (Dataset, Group...): such a value
    cannot be compared, so an op whose h5py run returns one is a test bug."""
    typename: str


def outcome(fn: Callable[[], Any]):
    try:
        value = fn()
    except Exception as e:  # noqa: BLE001 - we record every failure kind
        return Raised(e)
    return Returned(normalize(value))


def _scalar_equal(a, b) -> bool:
    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001
        return False
    # NaN-aware for float / complex
    try:
        ca, cb = complex(a), complex(b)
    except (TypeError, ValueError):
        return False
    def same(x, y):
        return (x == y) or (math.isnan(x) and math.isnan(y))
    return same(ca.real, cb.real) and same(ca.imag, cb.imag)


def assert_same_value(h, d, where="result"):
    """Structural comparison of an h5py result ``h`` and a dosna_like result ``d``."""
    assert not isinstance(h, Opaque), (
        f"test bug at {where}: op returned a library object ({h.typename}); "
        "return plain data (arrays, scalars, names)")
    if isinstance(h, np.ndarray):
        assert isinstance(d, np.ndarray), f"{where}: h5py gave ndarray, dosna gave {type(d)!r}: {d!r}"
        assert d.shape == h.shape, f"{where}: shape h5py={h.shape} dosna={d.shape}"
        assert d.dtype == h.dtype, f"{where}: dtype h5py={h.dtype!r} dosna={d.dtype!r}"
        if h.dtype == object:
            for i, (x, y) in enumerate(zip(h.ravel(), d.ravel())):
                assert type(x) is type(y), f"{where}[{i}]: element type h5py={type(x)!r} dosna={type(y)!r}"
        np.testing.assert_array_equal(d, h, err_msg=where, strict=True)
        return
    if isinstance(h, np.generic):
        assert type(d) is type(h), f"{where}: type h5py={type(h)!r} ({h!r}) dosna={type(d)!r} ({d!r})"
        assert _scalar_equal(h, d), f"{where}: h5py={h!r} dosna={d!r}"
        return
    assert type(d) is type(h), f"{where}: type h5py={type(h)!r} ({h!r}) dosna={type(d)!r} ({d!r})"
    if isinstance(h, (tuple, list)):
        assert len(d) == len(h), f"{where}: length h5py={len(h)} dosna={len(d)}: {h!r} vs {d!r}"
        for i, (x, y) in enumerate(zip(h, d)):
            assert_same_value(x, y, f"{where}[{i}]")
        return
    if isinstance(h, dict):
        assert list(d) == list(h), f"{where}: keys h5py={list(h)} dosna={list(d)}"
        for k in h:
            assert_same_value(h[k], d[k], f"{where}[{k!r}]")
        return
    assert _scalar_equal(h, d), f"{where}: h5py={h!r} dosna={d!r}"


def assert_same_outcome(h, d, where="result"):
    if isinstance(h, Raised):
        assert isinstance(d, Raised), (
            f"{where}: h5py raised {h!r} but dosna_like returned {d!r}")
        assert isinstance(d.exc, type(h.exc)), (
            f"{where}: exception type differs: h5py {h!r} vs dosna_like {d!r}")
        return
    assert isinstance(d, Returned), f"{where}: h5py returned {h!r} but dosna_like raised {d!r}"
    assert_same_value(h.value, d.value, where)


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    """One differential case.

    ``raises`` is a sanity check on the *test itself*: it states whether the
    op is meant to exercise an error path.  If h5py does not agree, the test
    is wrong (e.g. a typo raising AttributeError on both sides) and the case
    fails instead of passing vacuously.  The expected exception *type* always
    comes from h5py.  ``post(mod, f)``, if given, runs after ``op`` (whether it
    raised or not) and its outcome is compared too (state after an op).
    """
    id: str
    op: Callable
    raises: bool = False
    post: Callable | None = None
    file_level: bool = False


def _check_declared(case: Case, oc, what):
    if case.raises and what == "op":
        assert isinstance(oc, Raised), (
            f"test bug in case {case.id!r}: declared raises=True but h5py returned {oc!r}")
    else:
        assert isinstance(oc, Returned), (
            f"test bug in case {case.id!r}: h5py unexpectedly raised in {what}: {oc!r}")


def _run_open(mod, location, case: Case):
    f = mod.File(location, "w")
    try:
        res = outcome(lambda: case.op(mod, f))
        post = outcome(lambda: case.post(mod, f)) if case.post else None
    finally:
        f.close()
    return res, post


def _run_file_level(mod, location, case: Case):
    res = outcome(lambda: case.op(mod, location))
    post = outcome(lambda: case.post(mod, location)) if case.post else None
    return res, post


def run_case(case: Case, h5_path: str, file_url: str):
    """Run ``case`` on h5py and on dosna_like; assert identical outcomes."""
    skip_if_selftest_url(file_url)
    runner = _run_file_level if case.file_level else _run_open
    h_res, h_post = runner(h5py, h5_path, case)
    _check_declared(case, h_res, "op")
    if h_post is not None:
        _check_declared(case, h_post, "post")
    d_res, d_post = runner(dosna_module(), file_url, case)
    assert_same_outcome(h_res, d_res, f"{case.id}: op")
    if h_post is not None:
        assert_same_outcome(h_post, d_post, f"{case.id}: post")
    return h_res, d_res


def run_both(op, h5_path, file_url, *, raises=False, post=None, file_level=False):
    """One-off form of :func:`run_case` for ad-hoc tests."""
    return run_case(Case("adhoc", op, raises, post, file_level), h5_path, file_url)


# ------------------------------------------- nested compounds with h5py's marks
TIMES = np.array(["2020-01-01T00:00:00.000000001", "1969-07-20T20:17:40"], dtype="M8[ns]")


def marked_nested(m, base: str = "u2") -> np.dtype:
    """Members carrying h5py's marks two levels deep, in an array-of-compounds member too, and
    an opaque V3 one level deep (``m``: h5py or dosna_like; ``base``: the enum's base type)."""
    inner = np.dtype([("c", m.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype=base)),
                      ("t", m.opaque_dtype(TIMES.dtype)), ("v", "<f4")])
    return np.dtype([("p", [("q", inner), ("w", m.opaque_dtype(np.dtype("V3")))]),
                     ("arr", inner, (2,)), ("k", "<i2")])


def marked_records(m, base: str = "u2") -> np.ndarray:
    """Two records of :func:`marked_nested`."""
    out = np.zeros(2, marked_nested(m, base))
    out["p"]["q"]["c"], out["p"]["q"]["t"], out["p"]["q"]["v"] = [42, 1], TIMES, [1.5, -2]
    out["p"]["w"] = [b"abc", b"xyz"]
    out["arr"]["c"] = [[1, 0], [42, 42]]
    out["arr"]["t"] = [TIMES, TIMES[::-1]]
    out["k"] = [7, -7]
    return out
