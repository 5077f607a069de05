"""Shared fixtures: the test LLM server, and real dialplan servers on 127.0.0.1.

Also the rule for tests that need a system tool (``@pytest.mark.needs("dot")``,
:mod:`tests.tools`): skipped with a line naming the tool where it is missing, failed in CI, and
summed up at the end of the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.server.logs import configure
from engine.settings import Settings
from engine.testing.llm_server import LLMTestServer
from engine.testing.server import ServerThread
from tests import tools


def pytest_configure(config: pytest.Config) -> None:
    """Log as a server does (plain lines, warnings and up) in tests that run code in-process."""
    configure("WARNING")
    config.addinivalue_line(
        "markers", "needs(command): the test runs a system tool (tests/tools.py)"
    )
    config.addinivalue_line(
        "markers", "model: the test needs a real model server (opt-in: `make test-model`)"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (in CI: fail) a test whose tools are missing, before its fixtures start anything."""
    for marker in item.iter_markers("needs"):
        for command in marker.args:
            tools.require(command)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per missing tool: how many tests it skipped and how to get it."""
    missing: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ")
        (missing if reason.startswith("needs ") else other)[reason] += 1
    if missing:
        terminalreporter.section("tests skipped for a missing tool")
        for reason, count in sorted(missing.items()):
            terminalreporter.line(f"{count:4d} skipped: {reason}")
        terminalreporter.line("CI installs every tool and fails on such a skip (.ci/run).")
    if other:
        terminalreporter.section("tests skipped for another reason")
        for reason, count in sorted(other.items()):
            terminalreporter.line(f"{count:4d} skipped: {reason}")
    notes = terminalreporter.config.stash.get(NOTES, [])
    if notes:
        terminalreporter.section("reported by the tests")
        for note in notes:
            terminalreporter.line(note)


NOTES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def notes(pytestconfig: pytest.Config) -> list[str]:
    """Lines a test reports (numbers it measured), printed at the end of the run."""
    return pytestconfig.stash.setdefault(NOTES, [])


@pytest.fixture(autouse=True)
def call_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every server a test starts keeps its call log in a fresh file, never in the repository."""
    url = f"sqlite:///{tmp_path_factory.mktemp('records') / 'dialplan.db'}"
    monkeypatch.setenv("DIALPLAN_DATABASE_URL", url)
    # Servers a test starts read a fixed day, never the machine's clock: "tomorrow" must mean
    # the same day whatever weekday CI runs on (the booking flow is closed on Mondays).
    monkeypatch.setenv("DIALPLAN_TODAY", TODAY)
    for name in ("DIALPLAN_WEBHOOK_URL", "DIALPLAN_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return url


@pytest.fixture(autouse=True)
def table_book(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh table book of the example restaurant: one test's bookings take no table from
    another's (every test's servers run on the same day, so they would)."""
    from engine.examples import booking

    book = booking.Book()
    monkeypatch.setattr(booking, "BOOK", book)
    return book


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as server:
        yield server


@pytest.fixture
def llm(llm_server: LLMTestServer, monkeypatch: pytest.MonkeyPatch) -> LLMTestServer:
    """The test LLM, reset, and configured as the model of servers started in this test."""
    llm_server.reset()
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    return llm_server


@pytest.fixture
def no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model configured at all."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerThread]]:
    """Start a real server: ``start_server(greeting="", agent="flow")``; stopped after the test."""
    started: list[ServerThread] = []

    def start(
        app_factory: Callable[[Settings], Any] | None = None, **settings: Any
    ) -> ServerThread:
        settings.setdefault("agent", "prompt")
        base = Settings(log_level="WARNING", **settings)
        server = ServerThread(base, app=app_factory(base) if app_factory else None)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


CONSOLE_TOKEN = "console-test-token-5d1f"
TODAY = "2026-11-25"  # a Wednesday; tests of other days set DIALPLAN_TODAY or a clock themselves


@pytest.fixture
def console_server(start_server: Callable[..., ServerThread]) -> Callable[..., ServerThread]:
    """Start a real server running the example flows with the console on (token above)."""
    from tests.helpers import EXAMPLE

    def start(**settings: Any) -> ServerThread:
        settings.setdefault("agent", "flow")
        settings.setdefault("flows_dir", EXAMPLE / "flows")
        settings.setdefault("prompts_dir", EXAMPLE / "prompts")
        settings.setdefault("flow", "clinic_intake")
        settings.setdefault("console_token", CONSOLE_TOKEN)
        return start_server(**settings)

    return start


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a PostgreSQL server of this test session (skipped where none is installed)."""
    from tests.helpers import postgres_server

    tools.require("initdb")
    with postgres_server() as server:
        yield server.url


@pytest.fixture
def redis() -> Iterator[Any]:
    """A ``redis-server`` of this test (a :class:`tests.helpers.RedisServer`), on a free port.

    Skipped where redis-server is not installed (``.ci/run`` installs it).
    """
    from tests.helpers import redis_server

    tools.require("redis-server")
    with redis_server() as server:
        yield server
