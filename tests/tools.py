"""The system tools some tests need, and what happens where one is missing.

A test that needs a program (Graphviz's ``dot``, ``redis-server``, Chromium, PostgreSQL, tmux,
nginx, systemd) says so with ``@pytest.mark.needs("dot")`` or calls :func:`require` from a
fixture. Where the program is missing the test is skipped with one line naming it and how to get
it, and the run ends with a summary of what was skipped and why (see ``conftest.py``). Under
``CI=true`` a missing program fails the test instead: CI installs every tool (``.ci/run``), so a
skip there would hide a test that never ran.

``TESTS_WITHOUT_TOOLS=dot,tmux`` makes the listed programs count as missing, to try a run as a
machine without them would see it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Tool:
    """A program some tests need."""

    command: str
    what: str
    debian: str

    def missing(self) -> str:
        """The one line a skip (or, in CI, a failure) says."""
        return (
            f"needs {self.what} (`{self.command}`), which is not installed: "
            f"apt-get install {self.debian}, or run `make test-all`"
        )


TOOLS = {
    tool.command: tool
    for tool in (
        Tool("dot", "Graphviz", "graphviz"),
        Tool("redis-server", "Redis", "redis-server"),
        Tool("chromium", "Chromium", "chromium"),
        Tool("initdb", "PostgreSQL", "postgresql"),
        Tool("tmux", "tmux", "tmux"),
        Tool("nginx", "nginx", "nginx-light"),
        Tool("systemd-analyze", "systemd", "systemd"),
        Tool("chattr", "chattr", "e2fsprogs"),
    )
}


def hidden() -> frozenset[str]:
    """The programs this run treats as missing (``TESTS_WITHOUT_TOOLS``)."""
    names = os.environ.get("TESTS_WITHOUT_TOOLS", "")
    return frozenset(name.strip() for name in names.split(",") if name.strip())


def find(command: str) -> Path | None:
    """Where ``command`` is, or ``None`` where this machine lacks it."""
    if command in hidden():
        return None
    found = shutil.which(command)
    if found:
        return Path(found)
    if command == "initdb":  # Debian keeps PostgreSQL's programs off the PATH
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        return versions[-1] if versions else None
    if command == "nginx" and Path("/usr/sbin/nginx").is_file():
        return Path("/usr/sbin/nginx")
    return None


def in_ci() -> bool:
    """Whether this run is CI's, where every tool must be there."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(command: str) -> Path:
    """The path of ``command``; skips the test where it is missing (fails it in CI)."""
    found = find(command)
    if found is not None:
        return found
    reason = TOOLS[command].missing()
    if in_ci():
        pytest.fail(f"{reason} (CI must install every tool: see .ci/run)", pytrace=False)
    pytest.skip(reason)
