"""Run the test suite that ships inside the h5py wheel (``h5py/tests``) with
``import h5py`` giving dosna_like (``dosna_like.install_as_h5py()``).

    python tests/h5py_suite/run_suite.py [--real] [--json OUT] [--write-found OUT] [pytest args]

The wheel's tests are copied into a temporary package (so that their relative
imports, ``from .. import h5t``, find a parent) and run by ``pytest.main`` in
this process.  ``exclusions.txt`` next to this file lists the tests left out,
each with its reason: they need HDF5's low-level API (``h5py.h5a``,
``h5py.h5t.TypeID``...) or HDF5's on-disk format.  The low-level modules are
stand-ins here only, never in dosna_like: any use of them raises
``LowLevelAPIUsed``, so a test that reaches for them is found and listed
(``--write-found``) rather than guessed.  ``--real`` runs the same tests on the
real h5py, whose passes are the baseline: the figure is
``passed with dosna_like / (passed with h5py, not excluded)``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
import shutil
import sys
import tempfile
import types

import pytest

HERE = Path(__file__).resolve().parent
EXCLUSIONS = HERE / "exclusions.txt"
COPY_PACKAGE = "h5py_wheel_suite"
# h5py's low-level (Cython) modules the wheel's tests import at module top
LOW_LEVEL = ("h5", "h5a", "h5d", "h5f", "h5fd", "h5g", "h5i", "h5l", "h5o", "h5p", "h5pl", "h5r",
             "h5s", "h5t", "h5z", "_hl.selections", "_hl.selections2", "_hl.filters")


class LowLevelAPIUsed(AttributeError):
    """A test reached for HDF5's low-level API, which dosna_like does not have."""


class _LowLevelName:
    """A low-level name (``h5py.h5a.open``): importing it works, so one test's use
    does not stop a whole file from being collected; calling or reading it raises."""

    def __init__(self, qualname: str):
        self._qualname = qualname

    def __call__(self, *args, **kwds):
        raise LowLevelAPIUsed(f"HDF5 low-level API: {self._qualname}")

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _LowLevelName(f"{self._qualname}.{attr}")

    def __repr__(self) -> str:
        return f"<HDF5 low-level API: {self._qualname}>"


class _LowLevel(types.ModuleType):
    """A stand-in low-level module (``h5py.h5a``...): every name it lacks is a _LowLevelName."""

    def __init__(self, name: str, fallback=None):
        super().__init__(name)
        self._fallback = fallback

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if self._fallback is not None and hasattr(self._fallback, attr):
            return getattr(self._fallback, attr)
        return _LowLevelName(f"{self.__name__}.{attr}")


def read_exclusions(path: Path = EXCLUSIONS) -> dict:
    """``{test id or file prefix: reason}`` from ``exclusions.txt`` (``id | reason`` lines)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            test, _, reason = line.partition("|")
            out[test.strip()] = reason.strip()
    return out


def excluded(test_id: str, exclusions: dict) -> str | None:
    for prefix, reason in exclusions.items():
        if test_id == prefix or test_id.startswith(prefix + "::") or (
                prefix.endswith(".py") and test_id.startswith(prefix)):
            return reason
    return None


def copy_suite() -> Path:
    """The wheel's tests, copied as ``<tmp>/h5py_wheel_suite/tests``; found without importing h5py."""
    spec = importlib.util.find_spec("h5py")
    source = Path(spec.submodule_search_locations[0]) / "tests"
    root = Path(tempfile.mkdtemp(prefix="h5py-suite-"))
    package = root / COPY_PACKAGE
    shutil.copytree(source, package / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    # what the tests import from their parent package (h5py in the wheel)
    (package / "__init__.py").write_text("from h5py import h5a, h5t\n")
    (package / "h5py_warnings.py").write_text("from h5py.h5py_warnings import H5pyDeprecationWarning\n")
    return root


class _FastReader:
    """h5py's Cython reader (``Dataset._fast_reader``), which the suite's
    ``assertNumpyBehavior`` reads with after ``dset[s]``: here it is ``dset[s]``
    again, so those tests check dosna_like's indexing (values and exception
    types against numpy) instead of being left out.  In this process only."""

    def __init__(self, dataset):
        self._dataset = dataset

    def read(self, key: tuple):
        return self._dataset[key]


def install_dosna_like() -> None:
    import dosna_like  # here, not at top: --real must not import it
    h5py = dosna_like.install_as_h5py()
    h5py.Dataset._fast_reader = property(_FastReader)
    for name in LOW_LEVEL:  # dosna_like's part of a module (h5py.h5t's dtype helpers) stays
        module = _LowLevel(f"h5py.{name}", fallback=sys.modules.get(f"h5py.{name}"))
        sys.modules[f"h5py.{name}"] = module
        owner = h5py._hl if name.startswith("_hl.") else h5py
        setattr(owner, name.rpartition(".")[2], module)
    for name, module in list(sys.modules.items()):  # h5py._hl.base.product and other helpers
        if name.startswith("h5py._hl.") and not isinstance(module, _LowLevel):
            module.__getattr__ = _missing_in(name)


def _missing_in(module_name: str):
    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _LowLevelName(f"{module_name}.{attr}")
    return __getattr__


class Recorder:
    """Each test's outcome (setup or call failure counts), and whether it hit LowLevelAPIUsed."""

    def __init__(self):
        self.outcomes: dict = {}
        self.low_level: dict = {}

    def pytest_runtest_logreport(self, report):
        test_id = report.nodeid.split("tests/", 1)[-1]
        text = report.longreprtext if report.failed else ""
        if "HDF5 low-level API:" in text:
            line = next((ln for ln in text.splitlines() if "HDF5 low-level API:" in ln), "")
            self.low_level[test_id] = "HDF5 low-level API: " + line.split("HDF5 low-level API:", 1)[-1].strip()
        if report.when == "call" or report.outcome != "passed":
            if report.failed or test_id not in self.outcomes:
                self.outcomes[test_id] = report.outcome


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="run on the real h5py (the baseline)")
    parser.add_argument("--json", help="write {test id: outcome} here")
    parser.add_argument("--write-found", help="write the tests that used the low-level API here")
    parser.add_argument("--baseline", help="the --json of a --real run: print passed of applicable")
    args, pytest_args = parser.parse_known_args(argv)
    root = copy_suite()
    if not args.real:
        install_dosna_like()
    recorder = Recorder()
    tests = root / COPY_PACKAGE / "tests"
    # excluded files are not even collected (faster, and a low-level import cannot break collection)
    ignored = [f"--ignore={tests / name}" for name in read_exclusions() if "::" not in name]
    try:
        pytest.main([str(tests), *ignored, "--continue-on-collection-errors", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                     "--rootdir", str(root), "-W", "ignore", "--no-header", "-o", "addopts=",
                     "--tb=line", *pytest_args], plugins=[recorder])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(recorder.outcomes, indent=0, sort_keys=True))
    if args.write_found:
        Path(args.write_found).write_text("".join(f"{t} | {why}\n"
                                                  for t, why in sorted(recorder.low_level.items())))
    passed = sum(o == "passed" for o in recorder.outcomes.values())
    print(f"h5py suite ({'h5py' if args.real else 'dosna_like'}): {passed} passed of {len(recorder.outcomes)} run")
    if args.baseline:
        got, applicable = figure(json.loads(Path(args.baseline).read_text()), recorder.outcomes, read_exclusions())
        print(f"h5py suite figure: {got} passed of {applicable} applicable ({100 * got / max(applicable, 1):.1f}%)")
    return 0


def figure(baseline: dict, outcomes: dict, exclusions: dict) -> tuple:
    """(passed, applicable): applicable tests pass with the real h5py and are not excluded."""
    applicable = [t for t, o in baseline.items() if o == "passed" and excluded(t, exclusions) is None]
    return sum(outcomes.get(t) == "passed" for t in applicable), len(applicable)


if __name__ == "__main__":
    sys.exit(main())
