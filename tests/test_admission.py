"""Who may open a call: the secret's place at start, the call id's shape, browser origins."""

from __future__ import annotations

from typing import Any

import pytest

from engine.server import app as app_module
from engine.server import create_app
from engine.server.admission import loopback, unprotected
from engine.settings import Settings


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.11", False),
        ("voice.example.com", False),
    ],
)
def test_loopback_addresses(host, expected):
    assert loopback(host) is expected


def test_a_server_other_machines_reach_without_a_secret_is_unprotected():
    assert unprotected(Settings(host="0.0.0.0"))
    assert not unprotected(Settings(host="0.0.0.0", secret="a-long-path-secret"))
    assert not unprotected(Settings(host="127.0.0.1"))


class Lines:
    """Stands in for the server's logger: what it was told, by level."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, *args: object, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record


@pytest.mark.parametrize(("secret", "warned"), [(None, True), ("a-long-path-secret", False)])
async def test_serving_other_machines_without_a_secret_is_warned_at_start(
    monkeypatch, tmp_path, no_llm, secret, warned
):
    lines = Lines()
    monkeypatch.setattr(app_module, "log", lines)
    settings = Settings(
        host="0.0.0.0",
        secret=secret,
        agent="prompt",
        database_url=f"sqlite:///{tmp_path / 'calls.db'}",
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.test_app():
        pass
    found = [fields for level, event, fields in lines.lines if event == "server.unprotected"]
    assert bool(found) is warned
    if warned:
        assert [level for level, event, _ in lines.lines if event == "server.unprotected"] == [
            "warning"
        ]
        assert "DIALPLAN_SECRET" in found[0]["fix"]
