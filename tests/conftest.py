"""Shared fixtures: the test LLM server, and real dialplan servers on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.server.logs import configure
from engine.settings import Settings
from engine.testing.llm_server import LLMTestServer
from engine.testing.server import ServerThread


def pytest_configure(config: pytest.Config) -> None:
    """Log as a server does (plain lines, warnings and up) in tests that run code in-process."""
    configure("WARNING")


@pytest.fixture(autouse=True)
def call_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every server a test starts keeps its call log in a fresh file, never in the repository."""
    url = f"sqlite:///{tmp_path_factory.mktemp('records') / 'dialplan.db'}"
    monkeypatch.setenv("DIALPLAN_DATABASE_URL", url)
    for name in ("DIALPLAN_WEBHOOK_URL", "DIALPLAN_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return url


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
    """Start a real server: ``start_server(greeting="", secret="s3")``; stopped after the test."""
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
    from tests.helpers import postgres_server, programs

    if programs() is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    with postgres_server() as url:
        yield url


@pytest.fixture
def redis() -> Iterator[Any]:
    """A ``redis-server`` of this test (a :class:`tests.helpers.RedisServer`), on a free port.

    Skipped where redis-server is not installed (``.ci/run`` installs it).
    """
    from tests.helpers import redis_server

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    with redis_server() as server:
        yield server
