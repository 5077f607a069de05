"""Who may open a call: the secret's place at start, the call id's shape, browser origins."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from engine.protocol import CALL_ID_RULE, MAX_CALL_ID
from engine.records import Database
from engine.server import app as app_module
from engine.server import create_app
from engine.server.admission import loopback, unprotected
from engine.settings import Settings
from engine.testing.platform import PlatformCall
from tests.helpers import EXAMPLE

FLOWS = {
    "flows_dir": EXAMPLE / "flows",
    "prompts_dir": EXAMPLE / "prompts",
    "flow": "clinic_intake",
}


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


@pytest.mark.parametrize(
    "segment",
    ["call%00nul", "x" * 201, "call%20with%20spaces", "call%0Aline", "%C3%A9t%C3%A9", "a" * 129],
)
async def test_a_call_id_that_no_record_could_hold_is_refused_before_the_call(
    llm, start_server, call_log, segment
):
    # A NUL byte or an id over the call log's column lost the record (and turned /readyz 503).
    server = start_server()
    with pytest.raises(InvalidStatus) as refused:
        async with PlatformCall.connect(server.url(segment)):
            pass
    response = refused.value.response
    assert response.status_code == 400
    assert CALL_ID_RULE in response.body.decode()
    assert len(server.runtime.store) == 0  # no call state touched
    async with httpx.AsyncClient() as http:
        ready = await http.get(server.http("/readyz"))
        metrics = (await http.get(server.http("/metrics"))).text
    assert ready.status_code == 200
    assert 'dialplan_connections_refused_total{reason="call_id",status="400"} 1.0' in metrics


async def test_the_longest_call_id_is_taken_and_recorded(llm, start_server, call_log):
    server = start_server()
    call_id = "call_" + "a" * (MAX_CALL_ID - 5)
    async with PlatformCall.connect(server.url(call_id)) as call:
        assert (await call.response(0)).complete
    server.stop()
    record = Database(call_log).call(call_id)
    assert record is not None


async def opens(url: str, origin: str | None) -> int:
    """The status a call WebSocket with ``origin`` gets (101: it is open)."""
    try:
        async with PlatformCall.connect(url, origin=origin) as call:
            await call.response(0)
    except InvalidStatus as refused:
        return refused.response.status_code
    return 101


@pytest.mark.parametrize("console", [False, True])
async def test_web_pages_of_other_sites_may_not_open_a_call(
    no_llm, start_server, console_server, console
):
    # With no secret, any page on any site could drive a call from its visitor's browser.
    server = console_server() if console else start_server(agent="flow", **FLOWS)
    own = f"http://127.0.0.1:{server.settings.port}"
    assert await opens(server.url("call_platform"), None) == 101  # a server: no Origin
    for origin in ("https://evil.example", "null", f"http://localhost:{server.settings.port}"):
        assert await opens(server.url("call_page"), origin) == 403
    # The console's try-a-call page of this server (and only with the console on).
    assert await opens(server.url("call_try"), own) == (101 if console else 403)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(server.http("/metrics"))).text
    assert 'dialplan_connections_refused_total{reason="origin",status="403"}' in metrics
