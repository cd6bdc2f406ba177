"""What a new user meets before any code: the license, the Makefile's install
output, and how much the test suite leaves behind on disk.
"""
from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Stands in for the interpreter Makefile is given (PYTHON=...): "-m venv DIR" makes
# DIR/bin/python a copy of this script, "-m pip ..." prints what pip and setuptools
# print (progress lines, warnings, the editable-install box); the project's own
# install (``pip install -e``) exits $FAKE_PIP_STATUS.
FAKE_PYTHON = r"""#!/usr/bin/env bash
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0
fi
if [ "$1 $2" = "-m pip" ]; then
    echo "Collecting numpy>=1.24"
    echo "Collecting zarr<3.2,>=3.1"
    echo "Requirement already satisfied: pip in ./venv"
    echo "WARNING: Location 'file:///somewhere/simple/zarr/' is ignored" >&2
    echo "  BuildBackendWarning: Editable installation." >&2
    echo "          Please be careful with folders in your working directory with the same" >&2
    echo "Installing collected packages: numpy, zarr, dosna_like"
    echo "Successfully installed numpy-2.4 zarr-3.1 dosna_like-0.1.0"
    case " $* " in *" -e "*) exit "${FAKE_PIP_STATUS:-0}" ;; esac  # only the project's install fails
    exit 0
fi
exit 2
"""


def make_venv(tmp_path: Path, status: int = 0) -> subprocess.CompletedProcess:
    if shutil.which("make") is None:  # pragma: no cover - the README's commands need make anyway
        pytest.fail("make is not installed")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "venv", f"PYTHON={fake}",
                           f"VENV={tmp_path / 'venv'}"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, FAKE_PIP_STATUS=str(status)))


def test_the_install_shows_progress_and_keeps_pip_noise_in_a_log(tmp_path):
    proc = make_venv(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "==> installing dosna_like" in out and "..." in out and "done" in out
    assert f". {tmp_path / 'venv'}/bin/activate" in out  # how to use what was installed
    for noise in ("WARNING", "Please be careful", "Collecting", "Successfully installed"):
        assert noise not in out
    log = (tmp_path / "venv" / "install.log").read_text()
    assert "Please be careful" in log and "Successfully installed" in log
    assert (tmp_path / "venv" / ".installed").exists()


def test_a_failed_install_shows_the_end_of_its_log_and_is_not_marked_done(tmp_path):
    proc = make_venv(tmp_path, status=1)  # pip fails inside the progress pipe: the pipe must fail too
    assert proc.returncode != 0
    assert "the install failed" in proc.stdout and "Successfully installed" in proc.stdout
    assert not (tmp_path / "venv" / ".installed").exists()


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]
    assert "make test" in (ROOT / "README.md").read_text()


def test_the_license_file_matches_the_package_metadata():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "BSD-3-Clause"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Copyright (c) 2026, the dosna_like developers" in text
    assert "Neither the name of the copyright holder nor the names of its" in text


def test_passing_tests_leave_no_temporary_data_behind(tmp_path):
    """Run a small session with the project's pytest settings: the temporary
    directory of a passing test is gone when it ends, a failing test's is kept."""
    (tmp_path / "test_sample.py").write_text(
        "def test_passes(tmp_path):\n    (tmp_path / 'big').write_bytes(bytes(2**20))\n\n"
        "def test_fails(tmp_path):\n    (tmp_path / 'evidence').write_bytes(b'x')\n    assert False\n")
    base = tmp_path / "base"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-c", str(ROOT / "setup.cfg"), "--rootdir", str(tmp_path), f"--basetemp={base}",
                           str(tmp_path / "test_sample.py")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout + proc.stderr
    left = sorted(p.name for p in base.rglob("*") if p.is_file())
    assert left == ["evidence"]
