"""Kill -9 at random points of writes, creates, deletes and ``File(path, "w")``.

    .venv/bin/python scripts/reliability/crash_trials.py               # 8 trials per kind (40)
    .venv/bin/python scripts/reliability/crash_trials.py --trials 3    # quicker
    .venv/bin/python scripts/reliability/crash_trials.py --json out.json

Each trial prepares a local store, starts a writer in a subprocess, SIGKILLs
it after a random delay, then checks what is left (issue 18, crash safety):

- the store opens in every mode (``r``, ``r+``, ``a``, ``w-``/``x`` refuse it
  with FileExistsError, ``w``), or is an empty directory, which every mode
  treats as no file (``r`` raises FileNotFoundError, ``w``/``a`` create);
- every chunk reads without error, holding only values the writer wrote;
- an append (resize + write in steps, ``ds.flush()`` every third step) loses
  only rows written since its last flush: the flushed rows read back exactly,
  a later row reads as written or as the fill value (README, "Crash safety");
- nothing of a killed create or delete shows in a dataset created again
  under that name (it reads all fill values);
- a dataset a killed delete did not get to is whole;
- no temporary file (``*.partial``) is left once a writer has written again;
- no leftover beside the store (a swapped-out root) survives the next ``"w"``.

The quick version of this harness (a few trials) is
``tests/test_reliability.py::test_kill_9_trials``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["KINDS", "REPLACE_POINTS", "check_replaced", "check_store", "main", "replace_interrupted", "run_trials"]

SHAPE, CHUNKS = (256, 256), (32, 32)
KINDS = ("write", "create", "delete", "truncate", "append")
# where replace_interrupted stops File(url, "w"): before its n-th removal (0: the marker root
# document written, nothing removed; then among the node documents, then the rest: chunk keys
# on S3, node folders locally), or before the marker's own removal
REPLACE_POINTS = {"local": ("0", "1", "3", "4", "5", "last"), "s3": ("0", "2", "4", "60", "150", "last")}

_WRITER = r"""
import sys, numpy as np, dosna_like
kind, url = sys.argv[1], sys.argv[2]
print("ready", flush=True)
k = 0
if kind == "write":
    with dosna_like.File(url, "r+") as f:
        ds = f["x"]
        rng = np.random.default_rng(int(sys.argv[3]))
        while True:
            k += 1
            r, c = rng.integers(0, 200, 2)
            if k % 2:
                ds[r:r + 50, c:c + 50] = k            # partial chunks: read-modify-write
            else:
                ds[(r // 32) * 32:(r // 32) * 32 + 64] = k  # whole chunk rows
elif kind == "create":
    with dosna_like.File(url, "a") as f:
        while True:
            k += 1
            for name in ("d0", "d1", "g/d2"):
                if name in f:
                    del f[name]
                f.create_dataset(name, data=np.full((256, 256), 1000 + k), chunks=(32, 32))
elif kind == "delete":
    with dosna_like.File(url, "a") as f:
        while True:
            k += 1
            for name in ("d0", "d1", "g"):
                if name in f:
                    del f[name]
            f.create_dataset("d0", data=np.full((256, 256), 7), chunks=(32, 32))
            f.create_dataset("d1", data=np.full((256, 256), 7), chunks=(32, 32))
            f.create_dataset("g/d2", data=np.full((256, 256), 7), chunks=(32, 32))
elif kind == "append":  # row r holds r + 1; "flushed n" once rows < n are stored
    with dosna_like.File(url, "r+") as f:
        ds = f["x"]
        rng = np.random.default_rng(int(sys.argv[3]))
        while True:
            k += 1
            n, step = ds.shape[0], int(rng.integers(1, 50))
            ds.resize(n + step, axis=0)
            ds[n:n + step] = np.arange(n + 1, n + step + 1)[:, None]
            if k % 3 == 0:
                ds.flush()
                print("flushed", n + step, flush=True)
elif kind == "truncate":
    while True:
        k += 1
        with dosna_like.File(url, "w") as f:
            for name in ("d0", "d1", "g/d2"):
                f.create_dataset(name, data=np.full((256, 256), 7), chunks=(32, 32))
"""


# File(url, "w") over an old store, SIGKILLed when its emptying is about to make its
# ``point``-th removal (one key per delete on S3; "last": the marker root document) — local
# stores through the ordered path (as where the directory swap is not available) — or cut
# off there by an outage (a ConnectionError, as the S3 retry budget ends in)
_REPLACER = r"""
import json, os, shutil, signal, sys, numpy as np, dosna_like
from dosna_like.storage import LocalStore, S3Store, Store, local
url, point, how, opts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
local._exchange = lambda a, b: False  # the ordered path, as where the swap is not available
state = {"on": False, "n": 0}
def step(target):
    if state["on"] and (str(state["n"]) == point or (point == "last" and target in ("zarr.json", root_doc))):
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ConnectionError("injected outage")
    state["n"] += 1
root_doc = os.path.join(url, "zarr.json")
def one_by_one(original):
    def delete_many(self, keys):
        for key in keys:
            step(key)
            original(self, [key])
    return delete_many
S3Store._delete_many = one_by_one(S3Store._delete_many)
def in_listing_order(self, prefix):  # what s3fs's rm(recursive=True) does, 1000 keys per request
    was, state["on"] = state["on"], state["on"] or prefix == ""
    self._delete_many(self._list_keys(prefix))
    state["on"] = was
S3Store._delete_prefix = in_listing_order
def counted(original):
    def remove(path, *args, **kwargs):
        step(path)
        return original(path, *args, **kwargs)
    return remove
local._remove_quietly = counted(local._remove_quietly)
local.shutil = type(shutil)("shutil_counted")
local.shutil.rmtree = counted(shutil.rmtree)
def watched(original):
    def empty_root(self):
        state["on"] = True
        original(self)
        state["on"] = False
    return empty_root
Store._empty_root = watched(getattr(Store, "_empty_root", lambda self: None))
LocalStore._empty_root = watched(LocalStore._empty_root)
try:
    with dosna_like.File(url, "w", storage_options=opts or None) as f:
        for name in ("d0", "d1", "g/d2"):
            f.create_dataset(name, data=np.full((256, 256), 8), chunks=(32, 32))
except ConnectionError:
    print("cut off", flush=True)
"""


def replace_interrupted(url: str, point: str, how: str = "kill", storage_options: dict | None = None) -> list:
    """Problems left by ``File(url, "w")`` over an old store (datasets of 7s), killed (``how="kill"``)
    or cut off by an outage (``"outage"``) before deleting its ``point``-th key: the store must
    hold the old file whole, or the new one (8s), or be empty, or refuse every mode but ``"w"``
    with a clear OSError; never a dataset reading anything else (the fill value)."""
    import dosna_like
    opts = storage_options or None
    with dosna_like.File(url, "w", storage_options=opts) as f:
        for name in ("d0", "d1", "g/d2"):  # one object per chunk (no default shards): 200 keys to kill among
            f.create_dataset(name, data=np.full(SHAPE, 7), chunks=CHUNKS, shards=False)
    proc = subprocess.run([sys.executable, "-c", _REPLACER, url, point, how, json.dumps(storage_options or {})],
                          capture_output=True, text=True, timeout=300)
    problems = []
    if how == "kill" and proc.returncode != -signal.SIGKILL:
        problems.append(f"the writer was not killed at {point}: {proc.returncode} {proc.stderr[-300:]}")
    if how == "outage" and "cut off" not in proc.stdout:
        problems.append(f"no outage at {point}: {proc.returncode} {proc.stderr[-300:]}")
    return problems + check_replaced(url, storage_options)


def check_replaced(url: str, storage_options: dict | None = None) -> list:
    """The problems of a store an interrupted ``File(url, "w")`` left (see :func:`replace_interrupted`)."""
    import dosna_like
    opts = storage_options or None
    problems = []
    try:
        with dosna_like.File(url, "r", storage_options=opts) as f:
            for name in ("d0", "d1", "g/d2"):
                if name in f:
                    values = f[name][...]
                    if not ((values == 7).all() or (values == 8).all()):
                        problems.append(f"{name} reads {np.unique(values)[:5]}: neither the old nor the new data")
    except FileNotFoundError:
        pass  # emptied: no file
    except OSError as exc:
        if "interrupted" not in str(exc):
            problems.append(f"'r' raised an unclear {type(exc).__name__}: {exc}")
        for mode in ("r+", "a"):
            try:
                dosna_like.File(url, mode, storage_options=opts).close()
                problems.append(f"mode {mode!r} opened a store being replaced")
            except OSError as again:
                if "interrupted" not in str(again):
                    problems.append(f"{mode!r} raised an unclear {type(again).__name__}: {again}")
    with dosna_like.File(url, "w", storage_options=opts) as f:  # never wedged
        f.create_dataset("fresh", data=np.arange(4))
    with dosna_like.File(url, "r", storage_options=opts) as f:
        if list(f) != ["fresh"]:
            problems.append(f"after 'w' the store holds {list(f)}")
    return problems


def _prepare(kind: str, url: str) -> None:
    import dosna_like
    with dosna_like.File(url, "w") as f:
        if kind == "write":
            f.create_dataset("x", shape=SHAPE, dtype="i8", chunks=CHUNKS)
        elif kind == "append":
            f.create_dataset("x", shape=(0, 64), maxshape=(None, 64), dtype="i8", chunks=(32, 64))
        else:
            for name in ("d0", "d1", "g/d2"):
                f.create_dataset(name, data=np.full(SHAPE, 7), chunks=CHUNKS)


def _partials(root: str) -> list:
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.join(folder, n) for n in files if n.endswith(".partial")]
    return found


def _open_modes(url: str) -> dict:
    """What each mode does on the store: 'ok', or the exception's type name."""
    import dosna_like
    outcome = {}
    for mode in ("r", "r+", "a", "w-", "x"):
        try:
            with dosna_like.File(url, mode) as f:
                list(f)
            outcome[mode] = "ok"
        except Exception as exc:  # noqa: BLE001 - the type is the finding
            outcome[mode] = type(exc).__name__
    return outcome


def _modes_fine(outcome: dict, empty: bool) -> bool:
    if empty:  # an empty directory is no file yet
        return outcome["r"] == outcome["r+"] == "FileNotFoundError" and outcome["a"] == "ok"
    return outcome["r"] == outcome["r+"] == outcome["a"] == "ok" and \
        outcome["w-"] == outcome["x"] == "FileExistsError"


def check_appended(values: np.ndarray, flushed: int) -> list:
    """An append killed after its last flush of ``flushed`` rows: those read back
    exactly; a row after them holds what was written or the fill value (0)."""
    rows = np.arange(1, len(values) + 1)[:, None]
    if len(values) < flushed:
        return [f"x: {len(values)} rows after {flushed} were flushed"]
    if not (values[:flushed] == rows[:flushed]).all():
        return ["x: a flushed row reads other values"]
    later = values[flushed:]
    if not ((later == rows[flushed:]) | (later == 0)).all():
        return ["x: an unflushed row reads values never written"]
    return []


def check_store(kind: str, url: str, flushed: int = 0) -> list:
    """The problems found in the store a killed writer of ``kind`` left (empty: none);
    ``flushed``: the rows an append had flushed."""
    import dosna_like
    from dosna_like.errors import CorruptChunkError
    problems = []
    empty = os.path.isdir(url) and not os.listdir(url)
    outcome = _open_modes(url)
    if not _modes_fine(outcome, empty):
        problems.append(f"modes: {outcome}")
        return problems
    if empty:
        return problems
    with dosna_like.File(url, "r+") as f:
        names = ("x",) if kind in ("write", "append") else ("d0", "d1", "g/d2")
        for name in names:
            if name not in f:
                continue
            try:
                values = f[name][...]
            except CorruptChunkError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if kind == "append":
                problems += check_appended(values, flushed)
            elif kind == "write":
                if values.min() < 0:
                    problems.append(f"{name}: values never written")
            elif kind in ("delete", "truncate"):
                if not (values == 7).all():  # a dataset not yet deleted is whole
                    problems.append(f"{name}: {np.unique(values)[:5]} instead of 7 throughout")
            elif not ((values == values.flat[0]).all() and (values.flat[0] > 1000 or values.flat[0] == 7)):
                problems.append(f"{name}: a finished create holds {np.unique(values)[:5]}")
        if kind not in ("write", "append"):
            for name in ("d0", "d1", "g/d2"):  # created again under the name: nothing shows through
                if name in f:
                    del f[name]
                again = f.create_dataset(name, shape=SHAPE, dtype="i8", chunks=CHUNKS)
                if again[...].any():
                    problems.append(f"{name}: a killed writer's chunks resurfaced in a new dataset")
        else:
            f["x"][...] = f["x"][...]  # every chunk directory written again
    if kind == "write" and _partials(url):
        problems.append(f"temporary files left after a rewrite: {len(_partials(url))}")
    with dosna_like.File(url, "w"):
        pass
    parent, name = os.path.split(url.rstrip(os.sep))
    trash = [n for n in os.listdir(parent) if n.startswith(f".{name}.")]
    if trash:
        problems.append(f"left beside the store after 'w': {trash}")
    return problems


def _one_trial(kind: str, url: str, delay: float, seed: int) -> dict:
    _prepare(kind, url)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, kind, url, str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = proc.stdout.readline().strip()
    time.sleep(delay)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    partials = len(_partials(url))
    problems = [] if ready == "ready" and alive else [f"writer ended before the kill: {err[-500:]}"]
    flushed = [int(line.split()[1]) for line in out.splitlines() if line.startswith("flushed ")]
    problems += check_store(kind, url, flushed[-1] if flushed else 0)
    return {"kind": kind, "delay": round(delay, 3), "partials_at_kill": partials, "problems": problems}


def run_trials(trials_per_kind: int, seed: int = 0, workdir: str | None = None, max_delay: float = 1.5) -> dict:
    """Run the trials; ``{"trials": [...], "summary": {...}}``."""
    rng = random.Random(seed)
    results = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for i in range(trials_per_kind):
            for kind in KINDS:
                url = os.path.join(tmp, f"{kind}-{i}")
                results.append(_one_trial(kind, url, rng.uniform(0.05, max_delay), rng.randrange(2**31)))
    failed = [r for r in results if r["problems"]]
    summary = {
        "trials": len(results),
        "stores_opening_in_every_mode": sum(not any(p.startswith("modes") for p in r["problems"]) for r in results),
        "resurfaced": sum(any("resurfaced" in p for p in r["problems"]) for r in results),
        "trials_with_problems": len(failed),
        "killed_with_temporary_files": sum(r["partials_at_kill"] > 0 for r in results),
    }
    return {"trials": results, "summary": summary}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=8, help="trials per kind (4 kinds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    report = run_trials(args.trials, args.seed)
    for r in report["trials"]:
        if r["problems"]:
            print(f"{r['kind']:9} delay {r['delay']:.3f}s: {'; '.join(r['problems'])}")
    print(json.dumps(report["summary"], indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 1 if report["summary"]["trials_with_problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
