"""Webhook headers are templates, and every webhook carries an Idempotency-Key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from engine.agent import CallInfo
from engine.errors import AuthoringErrors
from engine.flow import FlowRunner
from engine.flow.actions import idempotency_key
from engine.testing.server import free_port
from tests.helpers import project, write_project

FLOW = """\
flow: hooks
slots:
  party_size: {type: number}
states:
  ask:
    say: How many of you?
    collect: [party_size]
    next: [{to: book}]
  book:
    actions:
      - webhook:
          url: "http://127.0.0.1:PORT/hold"
          headers:
            Idempotency-Key: "{{ call.call_id }}-hold"
            X-Party: "table for {{ slots.party_size }}"
          body: {size: "{{ slots.party_size }}"}
      - webhook:
          url: "http://127.0.0.1:PORT/book"
          body: {size: "{{ slots.party_size }}"}
    say: Booked.
    end_call: true
"""


class Receiver:
    """A real HTTP receiver on 127.0.0.1: what each request's path, headers and body were."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: list[tuple[str, dict[str, str], object]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, dict(request.headers), await request.json()))
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", found.port).start()
    try:
        yield found
    finally:
        await runner.cleanup()


async def call(root: Path, call_id: str) -> None:
    runner = FlowRunner(project(root).open_flow("hooks"), call=CallInfo(call_id, flow="hooks"))
    runner.start()
    reply = await runner.say("four of us")
    assert reply.text == "Booked."
    runner.close()


async def test_headers_are_rendered_and_a_default_idempotency_key_is_sent(tmp_path, receiver):
    write_project(tmp_path, {"hooks": FLOW.replace("PORT", str(receiver.port))})
    await call(tmp_path, "call_a")
    (hold, hold_headers, hold_body), (book, book_headers, book_body) = receiver.seen
    assert (hold, hold_body, book, book_body) == ("/hold", {"size": 4}, "/book", {"size": 4})
    assert hold_headers["Idempotency-Key"] == "call_a-hold"  # the flow's own, rendered
    assert hold_headers["X-Party"] == "table for 4"
    url = f"http://127.0.0.1:{receiver.port}/book"
    key = idempotency_key("call_a", "webhook:book:1", url, {"size": 4})
    assert book_headers["Idempotency-Key"] == key
    assert key.startswith("call_a:webhook:book:1:")


async def test_the_key_is_the_same_for_every_attempt_and_new_for_another_call(tmp_path, receiver):
    write_project(tmp_path, {"hooks": FLOW.replace("PORT", str(receiver.port))})
    await call(tmp_path, "call_a")
    await call(tmp_path, "call_a")  # the same action tried again, as by another process
    await call(tmp_path, "call_b")
    keys = [headers["Idempotency-Key"] for path, headers, _ in receiver.seen if path == "/book"]
    assert keys[0] == keys[1] != keys[2]


def test_validate_checks_header_templates(tmp_path):
    broken = FLOW.replace('"table for {{ slots.party_size }}"', '"{{ slots.party | digits }}"')
    write_project(tmp_path, {"hooks": broken})
    with pytest.raises(AuthoringErrors) as raised:
        project(tmp_path).open_flow("hooks")
    assert [str(error) for error in raised.value.errors] == [
        f"{tmp_path / 'flows' / 'hooks.yaml'}:15: unknown slot 'party' (did you mean 'party_size'?)"
    ]
