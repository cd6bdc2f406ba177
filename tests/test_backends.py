"""``backends/s3_local.py``, run as a user runs it: it starts, or says why not, and
never leaves a server behind (on an error, Ctrl-C, SIGTERM, or a killed launcher).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backends.s3_local import HOST, LocalS3, S3ServerError, _free_port

SCRIPT = Path(__file__).resolve().parents[1] / "backends" / "s3_local.py"
BANNER_END = "Ctrl-C stops it."
# runs the launcher with some modules made unimportable, as in an interpreter that lacks them
BLOCKED_LAUNCH = """
import runpy, sys
blocked = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Blocker())
sys.argv = [sys.argv[2]] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


def freed(port: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while listening(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def launch(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def banner(proc: subprocess.Popen, timeout: float = 60) -> list:
    """The launcher's stdout lines up to the end of its banner."""
    lines: list = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(BANNER_END):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines and lines[-1] == BANNER_END, (lines, proc.poll())
    return lines


def one_line_error(stderr: str) -> str:
    assert stderr.startswith("s3_local.py: error: ") and stderr.count("\n") == 1, stderr
    return stderr


@pytest.fixture
def port():
    return _free_port()


# ------------------------------------------------------ cannot start: why
def test_a_busy_port_is_an_error_not_a_success_banner(port):
    with socket.socket() as taken:
        taken.bind((HOST, port))
        taken.listen(1)
        proc = subprocess.run([sys.executable, str(SCRIPT), "--port", str(port)], capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"port {port}" in one_line_error(proc.stderr) and "in use" in proc.stderr


@pytest.mark.parametrize("module", ["moto", "boto3", "flask"])
def test_a_missing_package_is_named_with_its_install_command_and_nothing_starts(port, module):
    proc = subprocess.run([sys.executable, "-c", BLOCKED_LAUNCH, module, str(SCRIPT), "--port", str(port)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    message = one_line_error(proc.stderr)
    assert module in message and 'pip install "moto[server]"' in message
    assert not listening(port)


def test_the_python_api_raises_with_the_reason(port):
    with socket.socket() as taken:
        taken.bind((HOST, port))
        taken.listen(1)
        server = LocalS3(port)
        with pytest.raises(S3ServerError, match="in use"):
            server.start()
        assert server.process is None  # nothing of ours is left running


# ------------------------------------------------- never a server behind
def test_a_failure_after_the_server_started_stops_it(port):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--port", str(port), "--bucket", "Not_A_Valid_Bucket!"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Not_A_Valid_Bucket!" in one_line_error(proc.stderr)
    assert freed(port)


def test_sigterm_stops_the_server_and_exits_0(port):
    proc = launch("--port", port)
    lines = banner(proc)
    assert lines[0].startswith(f"S3 endpoint: http://{HOST}:{port}") and listening(port)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert freed(port)


def test_the_server_stops_when_its_launcher_is_killed(port):
    proc = launch("--port", port, "--bucket", "")
    banner(proc)
    proc.kill()  # SIGKILL: the launcher cannot clean up; the server notices on its own
    proc.wait(10)
    assert freed(port, within=10)


def test_a_server_that_dies_is_reported_with_status_1(port):
    proc = launch("--port", port)
    pid = int(banner(proc)[0].rsplit("server pid ", 1)[1].rstrip(")"))
    os.kill(pid, signal.SIGKILL)
    assert proc.wait(30) == 1
    assert "stopped on its own" in one_line_error(proc.stderr.read())
