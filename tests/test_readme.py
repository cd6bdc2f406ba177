"""The README's snippets run as written, in the order a reader meets them.

Each ```python and ```sh block of README.md runs in one fresh directory, as
the README says to run them: with the project's virtual environment activated
(its ``bin`` first on PATH, so ``python`` and ``dosna-like`` are that
environment's) and, for the S3 snippet, the AWS environment pointing at a
local endpoint that has the bucket the README names.  Every block runs twice,
because a reader runs a snippet again after fixing a typo.  A block preceded by
``<!-- readme-test: not run (why) -->`` is skipped (the two ``make`` commands,
which CI runs itself).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_RUN = "<!-- readme-test: not run"
_FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M)
README_BUCKET = "dosna"  # the bucket backends/s3_local.py creates and the README's S3 snippet uses


class Snippet(NamedTuple):
    """One fenced block of the README: its language, code and first line's number."""

    lang: str
    code: str
    line: int
    skipped: bool


def snippets(text: str) -> list:
    """The python and sh blocks of a Markdown text, in order."""
    found = []
    for match in _FENCE.finditer(text):
        if match["lang"] not in ("python", "sh"):
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(Snippet(match["lang"], match["body"], text.count("\n", 0, match.start()) + 2,
                             before.startswith(NOT_RUN)))
    return found


def activated_env() -> dict:
    """The environment of a shell where the virtual environment running the tests is activated."""
    bin_dir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
                VIRTUAL_ENV=str(Path(sys.executable).parent.parent))


def run_snippet(snippet: Snippet, cwd: Path) -> subprocess.CompletedProcess:
    """Run one block as a reader would: python blocks with ``python``, sh blocks with a shell."""
    command = ["python", "-c", snippet.code] if snippet.lang == "python" else ["bash", "-e", "-c", snippet.code]
    return subprocess.run(command, cwd=cwd, env=activated_env(), capture_output=True, text=True, timeout=600)


@pytest.fixture
def readme_s3(s3_server):
    """The local endpoint in the AWS environment (conftest), with the README's bucket."""
    try:
        s3_server.create_bucket(README_BUCKET)
    except Exception as exc:  # botocore's error class for "you own it already"
        if "BucketAlreadyOwnedByYou" not in str(exc):
            raise
    return s3_server


def test_every_readme_snippet_runs_as_written_twice(readme_s3, tmp_path):
    blocks = [s for s in snippets(README.read_text(encoding="utf-8")) if not s.skipped]
    assert len(blocks) >= 5
    for attempt in ("first run", "rerun"):
        for snippet in blocks:
            proc = run_snippet(snippet, tmp_path)
            assert proc.returncode == 0, (f"README.md line {snippet.line} ({snippet.lang}), {attempt}:\n"
                                          f"{snippet.code}\n--- stderr ---\n{proc.stderr[-3000:]}")


def test_the_readme_says_how_to_use_the_virtual_environment():
    text = README.read_text(encoding="utf-8")
    assert ". .venv/bin/activate" in text and ".venv/bin/python examples/quickstart.py" in text
    skipped = [s for s in snippets(text) if s.skipped]
    assert [s.code.split()[:2] for s in skipped] == [["make", "demo"]]  # only the two commands are not run


# --------------------------------------------------- the harness checks itself
def test_the_extractor_finds_blocks_languages_and_skips():
    text = ("intro\n```python\nx = 1\n```\n\n<!-- readme-test: not run (demo) -->\n```sh\nmake demo\n```\n"
            "```text\nnot code\n```\n```sh\necho hi\n```\n")
    found = snippets(text)
    assert [(s.lang, s.code, s.line, s.skipped) for s in found] == [
        ("python", "x = 1\n", 3, False), ("sh", "make demo\n", 8, True), ("sh", "echo hi\n", 14, False)]


def test_a_failing_snippet_is_reported_as_failing(tmp_path):
    assert run_snippet(Snippet("python", "raise SystemExit(3)", 1, False), tmp_path).returncode == 3
    assert run_snippet(Snippet("sh", "false\necho not reached", 1, False), tmp_path).returncode != 0
    assert run_snippet(Snippet("python", "print(undefined_name)", 1, False), tmp_path).returncode != 0
    shell = run_snippet(Snippet("sh", "command -v python dosna-like", 1, False), tmp_path)
    assert shell.stdout.splitlines()[0] == str(Path(sys.executable).parent / "python")
