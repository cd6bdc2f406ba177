"""Measurement machinery shared by all cases: rows, interleaving, guarding.

A case calls :func:`measure` with the peers to compare, an optional
``warmup(peer)`` (untimed: warms the page cache and checks the result against
numpy) and a ``trial(peer, rep)`` returning one measured value (or
``(value, extra_dict)``). Within every repetition each peer runs once, and the
order of the peers rotates from one repetition to the next, so drift (thermal,
background load, page-cache writeback) hits all of them alike.

Failures of dosna_like peers never stop the run: the row is marked "n/a" with
the error message. Failures of h5py or zarr are bugs in the harness and raise.
"""
from __future__ import annotations

import gc
import os
import signal
import statistics
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Row:
    case: str
    variant: str
    peer: str
    unit: str                       # "s" or "us"
    nbytes: int | None = None       # bytes moved per trial, for MB/s
    times: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    status: str = "ok"              # "ok" or "n/a"
    error: str | None = None
    median: float | None = None
    speedup_vs_h5py: float | None = None
    speedup_vs_zarr: float | None = None
    speedup_vs_tensorstore: float | None = None

    def fail(self, error: str) -> None:
        self.status, self.error = "n/a", error

    def finish(self) -> None:
        if self.status == "ok" and self.times:
            self.median = statistics.median(self.times)
        elif self.status == "ok":
            self.fail("no measurement")


class PeerFailure(Exception):
    """A dosna_like peer failed; the message goes into the results."""


class WrongResult(AssertionError):
    pass


def check_equal(got, expected, what: str) -> None:
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise WrongResult(f"wrong result for {what}: shape {got.shape}, "
                          f"expected {expected.shape}")
    if not np.array_equal(got, expected):
        raise WrongResult(f"wrong result for {what}: values differ from numpy")


@contextmanager
def time_limit(seconds: float):
    def on_alarm(signum, frame):
        raise TimeoutError(f"gave up after {seconds:g} s (--timeout)")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def guarded(peer, fn, timeout: float):
    """Run fn(); for dosna peers turn any exception into PeerFailure."""
    if not peer.is_dosna:
        return fn()
    try:
        with time_limit(timeout):
            return fn()
    except Exception as exc:  # noqa: BLE001 - record, don't crash
        message = str(exc).strip().splitlines()
        message = message[0][:300] if message else ""
        raise PeerFailure(f"{type(exc).__name__}: {message}") from exc


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def rotated(items: list, k: int) -> list:
    if not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]


def quiesce() -> None:
    """Untimed, before every trial: flush dirty pages (so the kernel's writeback
    of an earlier write does not compete with the next peer's timing) and
    collect garbage (so no peer pays for another's)."""
    gc.collect()
    if hasattr(os, "sync"):
        os.sync()


def measure(bench, case, variant, peers, trial, *, warmup=None, unit="s",
            nbytes=None, unavailable=None) -> dict:
    """Run trial(peer, rep) for every repetition, peers interleaved."""
    rows, live = {}, []
    for peer in peers:
        row = Row(case, variant, peer.name, unit, nbytes)
        rows[peer.name] = row
        bench.rows.append(row)
        reason = unavailable(peer) if unavailable else None
        if reason:
            row.fail(reason)
        else:
            live.append(peer)

    def attempt(peer, fn):
        try:
            return True, guarded(peer, fn, bench.cfg.timeout)
        except PeerFailure as exc:
            rows[peer.name].fail(str(exc))
            return False, None

    if warmup is not None:
        live = [p for p in live if attempt(p, lambda p=p: warmup(p))[0]]
    for rep in range(bench.cfg.repeat):
        for peer in rotated(live, rep):
            row = rows[peer.name]
            if row.status != "ok":
                continue
            quiesce()
            ok, value = attempt(peer, lambda: trial(peer, rep))
            if not ok:
                continue
            if isinstance(value, tuple):
                value, extra = value
                for key, val in extra.items():
                    row.extra.setdefault(key, []).append(val)
            row.times.append(value)

    for row in rows.values():
        row.finish()
        shown = (f"{row.median:.4g} {row.unit}" if row.status == "ok"
                 else f"n/a ({row.error})")
        log(f"  {case:<10} {variant:<16} {row.peer:<20} {shown}")
    return rows
