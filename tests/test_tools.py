"""A test whose system tool is missing: skipped with one line and summed up; failed in CI."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import REPO

NEEDS_TMUX = "tests/test_chat.py::test_chat_in_a_real_terminal"


def pytest_run(*args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TESTS_WITHOUT_TOOLS"] = "tmux"  # as a machine without tmux sees it
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_missing_tool_skips_with_its_name_and_how_to_get_it():
    run = pytest_run(NEEDS_TMUX, ci=False)
    assert run.returncode == 0, run.stdout
    assert "tests skipped for a missing tool" in run.stdout
    assert "1 skipped: needs tmux (`tmux`), which is not installed: apt-get install tmux" in (
        run.stdout
    )


def test_in_ci_a_missing_tool_fails_the_run():
    run = pytest_run(NEEDS_TMUX, ci=True)
    assert run.returncode == 1, run.stdout
    assert "CI must install every tool" in run.stdout
    assert "1 error" in run.stdout
